// Shared tiled matrix-multiply device code for the linear layers (linear.cu), the fused QKV (qkv.cu) and the
// fused training step (step.cu). CPU twin: dev.microgpt.ops.Linear. Tested through those kernels (emulated in CI):
// dev.microgpt.gpu.KernelParityTest#linearForward, #linearBackward, #qkvForward, #qkvBackward, and GpuEngineParityTest.
//
// One thread block computes a 32 x 32 tile of C[M, N] = sum_k A(m, k) B(k, n) with 256 threads (16 x 16,
// each thread a 2 x 2 set of outputs at rows ty, ty + 16 and columns tx, tx + 16 of the tile), stepping
// through K in slices of 32 staged in shared memory (2 x 32 x 33 floats = 8.4 KB: static in the eager kernels,
// carved from the dynamic shared memory in the fused step).
//
// The three products of a bias-free linear layer y = x W^T, W [out, in] row-major as in ParameterLayout, over the
// R = B * T activation rows of a step (Batch, common.cuh):
//   forward  y [R, out]  = x [R, in]  . W^T      M = R,   N = out, K = in   A k-contiguous, B k-contiguous
//   dx       dx [R, in]  = dy [R, out] . W       M = R,   N = in,  K = out  A k-contiguous, B n-contiguous
//   dW       dW [out,in] += dy^T . x             M = out, N = in,  K = R    A m-contiguous, B n-contiguous
// Operands are read through a "K_CONTIG" template flag: element (mn, k) of an operand with leading
// dimension ld is P[mn * ld + k] when K_CONTIG, else P[k * ld + mn]. Loads are arranged so that
// consecutive threads read consecutive addresses in both cases. Out-of-range elements load as 0, and so do the
// elements of activation rows that hold no position (Batch::holds): in the forward and dx those rows are M
// (neither read nor written), in dW they are K (left out of the sum over the batch's rows).
#pragma once

#include "common.cuh"

#define MM_TILE 32
#define MM_THREADS 256

// A [MM_TILE][MM_TILE + 1] staging tile in shared memory (the + 1 keeps column reads free of bank conflicts).
typedef float (*MmStage)[MM_TILE + 1];

// Loads the [MM_TILE (k), MM_TILE (mn)] slice of an operand starting at (mn0, k0) into S[k][mn].
// mask: optional, same indexing as P; an element whose mask value is <= 0 loads as 0 (the ReLU backward:
// the mask is the ReLU's output). mn_rows, k_rows: optional; an element whose mn (k) index is a row that holds
// no position loads as 0.
template <bool K_CONTIG>
__device__ __forceinline__ void mm_load_tile(MmStage S, const float* P,
                                             const float* mask, int ld,
                                             int mn0, int mn_limit, int k0, int k_limit,
                                             const Batch* mn_rows, const Batch* k_rows) {
    #pragma unroll
    for (int r = 0; r < (MM_TILE * MM_TILE) / MM_THREADS; r++) {
        int idx = threadIdx.x + r * MM_THREADS;
        int fast = idx % MM_TILE;  // consecutive threads: consecutive addresses in global memory
        int slow = idx / MM_TILE;
        int mn = K_CONTIG ? slow : fast;
        int k = K_CONTIG ? fast : slow;
        int gmn = mn0 + mn;
        int gk = k0 + k;
        float val = 0.0f;
        if (gmn < mn_limit && gk < k_limit && (mn_rows == nullptr || mn_rows->holds(gmn))
            && (k_rows == nullptr || k_rows->holds(gk))) {
            long off = K_CONTIG ? (long)gmn * ld + gk : (long)gk * ld + gmn;
            val = P[off];
            if (mask != nullptr && !(mask[off] > 0.0f)) {
                val = 0.0f;
            }
        }
        S[k][mn] = val;
    }
}

// Epilogue of a tile: C[m, n] (row-major, leading dimension ldc) = (accumulate ? C[m, n] : 0)
//   + (residual ? residual[m, n] : 0) + (relu ? max(acc, 0) : acc).
// residual may alias C (each element is read and written by the same thread).
struct MmEpilogue {
    float* C;
    const float* residual;
    int ldc;
    bool accumulate;
    bool relu;
};

// C tile (m0, n0) of C[M, N] = sum_{k < K} A(m, k) B(k, n). A(m, k) is operand A with leading dimension lda
// (K_CONTIG_A picks the layout), likewise B(k, n) with (n, k) as its (mn, k). maskA masks A like
// mm_load_tile. m_rows (optional): M indexes activation rows, and rows that hold no position are neither read
// nor written; k_rows (optional): K does, and those rows are left out of the sum. Must be called by all
// MM_THREADS threads of the block (it synchronises the block).
// As, Bs: the caller's shared staging tiles, [MM_TILE][MM_TILE + 1] each, as [k][m] and [k][n].
template <bool K_CONTIG_A, bool K_CONTIG_B>
__device__ __forceinline__ void mm_tile(MmStage As, MmStage Bs,
                                        const float* A, const float* maskA, int lda,
                                        const float* B, int ldb,
                                        int M, int N, int K, int m0, int n0, MmEpilogue ep,
                                        const Batch* m_rows, const Batch* k_rows) {
    const int tx = threadIdx.x % 16;
    const int ty = threadIdx.x / 16;
    float acc00 = 0.0f, acc01 = 0.0f, acc10 = 0.0f, acc11 = 0.0f;
    for (int k0 = 0; k0 < K; k0 += MM_TILE) {
        mm_load_tile<K_CONTIG_A>(As, A, maskA, lda, m0, M, k0, K, m_rows, k_rows);
        mm_load_tile<K_CONTIG_B>(Bs, B, nullptr, ldb, n0, N, k0, K, nullptr, k_rows);
        __syncthreads();
        #pragma unroll 8
        for (int k = 0; k < MM_TILE; k++) {
            float a0 = As[k][ty];
            float a1 = As[k][ty + 16];
            float b0 = Bs[k][tx];
            float b1 = Bs[k][tx + 16];
            acc00 = fmaf(a0, b0, acc00);
            acc01 = fmaf(a0, b1, acc01);
            acc10 = fmaf(a1, b0, acc10);
            acc11 = fmaf(a1, b1, acc11);
        }
        __syncthreads();
    }
    float acc[2][2] = {{acc00, acc01}, {acc10, acc11}};
    #pragma unroll
    for (int i = 0; i < 2; i++) {
        int m = m0 + ty + 16 * i;
        if (m >= M || (m_rows != nullptr && !m_rows->holds(m))) {
            continue;
        }
        #pragma unroll
        for (int j = 0; j < 2; j++) {
            int n = n0 + tx + 16 * j;
            if (n >= N) {
                continue;
            }
            long off = (long)m * ep.ldc + n;
            float v = acc[i][j];
            if (ep.relu) {
                v = fmaxf(v, 0.0f);
            }
            if (ep.residual != nullptr) {
                v += ep.residual[off];
            }
            if (ep.accumulate) {
                v += ep.C[off];
            }
            ep.C[off] = v;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The linear layer's products as tile functions, shared by the eager kernels (linear.cu and qkv.cu: one tile per
// thread block, the tile from blockIdx) and the fused step (step.cu: a persistent grid takes tiles in turn).
// Every function is called by all MM_THREADS threads of a block with block-uniform arguments; As, Bs are the
// caller's [MM_TILE][MM_TILE + 1] shared staging tiles (MM_STAGING_FLOATS floats together).
// ---------------------------------------------------------------------------------------------------------

#define MM_STAGING_FLOATS (2 * MM_TILE * (MM_TILE + 1))

// Tiles of the forward y [rows, out] (rows = B * T, Batch): CEIL_DIV(rows.row_limit(), 32) row tiles by
// CEIL_DIV(out, 32) column tiles. Tile (row_tile, col_tile) of y = x [rows, in] . W^T (+ relu, + residual), over
// the rows that hold positions.
__device__ __forceinline__ void linear_forward_tile(int row_tile, int col_tile, float* y, const float* x,
                                                    const float* w, const float* residual, int in, int out,
                                                    bool relu, const Batch& rows, MmStage As, MmStage Bs) {
    int m0 = row_tile * MM_TILE;
    if (!rows.holds_any(m0, MM_TILE)) {
        return;  // no row of the tile holds a position (uniform: no barrier is skipped)
    }
    MmEpilogue ep{y, residual, out, false, relu};
    mm_tile<true, true>(As, Bs, x, nullptr, in, w, in, rows.row_limit(), out, in, m0, col_tile * MM_TILE, ep, &rows,
                        nullptr);
}

// Tile (row_tile, col_tile) of dx [rows, in] = dy . W, overwritten over the rows that hold positions (row and
// column tiles as the forward's, with in for out). dy_mask: optional [rows, out] (the forward's ReLU output): dy
// counts only where dy_mask > 0.
__device__ __forceinline__ void linear_backward_dx_tile(int row_tile, int col_tile, float* dx, const float* dy,
                                                        const float* w, const float* dy_mask, int in, int out,
                                                        const Batch& rows, MmStage As, MmStage Bs) {
    int m0 = row_tile * MM_TILE;
    if (!rows.holds_any(m0, MM_TILE)) {
        return;
    }
    MmEpilogue ep{dx, nullptr, in, false, false};
    mm_tile<true, false>(As, Bs, dy, dy_mask, out, w, in, rows.row_limit(), in, out, m0, col_tile * MM_TILE, ep,
                         &rows, nullptr);
}

// Tile (row_tile, col_tile) of dW [out, in] += dy^T . x, summed over every row that holds a position, of every
// document, in row order (CEIL_DIV(out, 32) row tiles by CEIL_DIV(in, 32) column tiles); dy_mask as in
// linear_backward_dx_tile.
__device__ __forceinline__ void linear_backward_dw_tile(int row_tile, int col_tile, float* dw, const float* dy,
                                                        const float* x, const float* dy_mask, int in, int out,
                                                        const Batch& rows, MmStage As, MmStage Bs) {
    MmEpilogue ep{dw, nullptr, in, true, false};
    mm_tile<false, false>(As, Bs, dy, dy_mask, out, x, in, out, in, rows.row_limit(), row_tile * MM_TILE,
                          col_tile * MM_TILE, ep, nullptr, &rows);
}

// The eager launches' shape: grid (CEIL_DIV(out, 32), CEIL_DIV(B * T, 32)), one tile per block.
__device__ __forceinline__ void linear_forward_block(float* y, const float* x, const float* w, const float* residual,
                                                     int in, int out, bool relu, const Batch& rows) {
    __shared__ float As[MM_TILE][MM_TILE + 1];
    __shared__ float Bs[MM_TILE][MM_TILE + 1];
    linear_forward_tile(blockIdx.y, blockIdx.x, y, x, w, residual, in, out, relu, rows, As, Bs);
}

// Both gradients in one launch. Grid (CEIL_DIV(in, 32), CEIL_DIV(B * T, 32) + CEIL_DIV(out, 32)):
// blockIdx.y < CEIL_DIV(B * T, 32) makes a tile of dx, the rest a tile of dW. dx may be null (its blocks then do
// nothing).
__device__ __forceinline__ void linear_backward_block(float* dx, float* dw, const float* dy, const float* x,
                                                      const float* w, const float* dy_mask, int in, int out,
                                                      const Batch& rows) {
    __shared__ float As[MM_TILE][MM_TILE + 1];
    __shared__ float Bs[MM_TILE][MM_TILE + 1];
    int row_tiles = CEIL_DIV(rows.rows(), MM_TILE);
    if ((int)blockIdx.y < row_tiles) {
        if (dx != nullptr) {
            linear_backward_dx_tile(blockIdx.y, blockIdx.x, dx, dy, w, dy_mask, in, out, rows, As, Bs);
        }
    } else {
        linear_backward_dw_tile(blockIdx.y - row_tiles, blockIdx.x, dw, dy, x, dy_mask, in, out, rows, As, Bs);
    }
}
