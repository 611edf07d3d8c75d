// Shared tiled matrix-multiply device code for the linear layers (linear.cu) and the fused QKV (qkv.cu).
//
// One thread block computes a 32 x 32 tile of C[M, N] = sum_k A(m, k) B(k, n) with 256 threads (16 x 16,
// each thread a 2 x 2 set of outputs at rows ty, ty + 16 and columns tx, tx + 16 of the tile), stepping
// through K in slices of 32 staged in shared memory (2 x 32 x 33 floats = 8.4 KB, static).
//
// The three products of a bias-free linear layer y = x W^T, W [out, in] row-major as in ParameterLayout:
//   forward  y [n, out]  = x [n, in]  . W^T      M = n,   N = out, K = in   A k-contiguous, B k-contiguous
//   dx       dx [n, in]  = dy [n, out] . W       M = n,   N = in,  K = out  A k-contiguous, B n-contiguous
//   dW       dW [out,in] += dy^T . x             M = out, N = in,  K = n    A m-contiguous, B n-contiguous
// Operands are read through a "K_CONTIG" template flag: element (mn, k) of an operand with leading
// dimension ld is P[mn * ld + k] when K_CONTIG, else P[k * ld + mn]. Loads are arranged so that
// consecutive threads read consecutive addresses in both cases. Out-of-range elements load as 0.
#pragma once

#include "common.cuh"

#define MM_TILE 32
#define MM_THREADS 256

// Loads the [MM_TILE (k), MM_TILE (mn)] slice of an operand starting at (mn0, k0) into S[k][mn].
// mask: optional, same indexing as P; an element whose mask value is <= 0 loads as 0 (the ReLU backward:
// the mask is the ReLU's output).
template <bool K_CONTIG>
__device__ __forceinline__ void mm_load_tile(float (*S)[MM_TILE + 1], const float* __restrict__ P,
                                             const float* __restrict__ mask, int ld,
                                             int mn0, int mn_limit, int k0, int k_limit) {
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
        if (gmn < mn_limit && gk < k_limit) {
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
// mm_load_tile. Must be called by all MM_THREADS threads of the block (it synchronises the block).
// As, Bs: the caller's shared staging tiles, [MM_TILE][MM_TILE + 1] each, as [k][m] and [k][n].
template <bool K_CONTIG_A, bool K_CONTIG_B>
__device__ __forceinline__ void mm_tile(float (*As)[MM_TILE + 1], float (*Bs)[MM_TILE + 1],
                                        const float* __restrict__ A, const float* __restrict__ maskA, int lda,
                                        const float* __restrict__ B, int ldb,
                                        int M, int N, int K, int m0, int n0, MmEpilogue ep) {
    const int tx = threadIdx.x % 16;
    const int ty = threadIdx.x / 16;
    float acc00 = 0.0f, acc01 = 0.0f, acc10 = 0.0f, acc11 = 0.0f;
    for (int k0 = 0; k0 < K; k0 += MM_TILE) {
        mm_load_tile<K_CONTIG_A>(As, A, maskA, lda, m0, M, k0, K);
        mm_load_tile<K_CONTIG_B>(Bs, B, nullptr, ldb, n0, N, k0, K);
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
        if (m >= M) {
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
// The linear layer's two launches, as block-level device functions shared by linear.cu and qkv.cu.
// ---------------------------------------------------------------------------------------------------------

// y [T, out] = x [T, in] . W^T (+ relu, + residual), rows t < n. Grid (CEIL_DIV(out, 32), CEIL_DIV(T, 32)).
__device__ __forceinline__ void linear_forward_block(float* y, const float* __restrict__ x,
                                                     const float* __restrict__ w, const float* residual,
                                                     int in, int out, bool relu, int n) {
    int m0 = blockIdx.y * MM_TILE;
    int n0 = blockIdx.x * MM_TILE;
    if (m0 >= n) {
        return;  // the whole block is past the step's positions (uniform: no barrier is skipped)
    }
    __shared__ float As[MM_TILE][MM_TILE + 1];
    __shared__ float Bs[MM_TILE][MM_TILE + 1];
    MmEpilogue ep{y, residual, out, false, relu};
    mm_tile<true, true>(As, Bs, x, nullptr, in, w, in, n, out, in, m0, n0, ep);
}

// Both gradients of y = x W^T in one launch. Grid (CEIL_DIV(in, 32), CEIL_DIV(T, 32) + CEIL_DIV(out, 32)):
// blockIdx.y < CEIL_DIV(T, 32): a tile of dx [T, in] = dy . W (overwritten, rows t < n);
// otherwise: a tile of dW [out, in] += dy^T . x over t < n.
// dy_mask: optional [T, out] (the forward's ReLU output): dy counts only where dy_mask > 0.
// dx may be null (its blocks then do nothing).
__device__ __forceinline__ void linear_backward_block(float* dx, float* dw, const float* __restrict__ dy,
                                                      const float* __restrict__ x, const float* __restrict__ w,
                                                      const float* __restrict__ dy_mask,
                                                      int in, int out, int T, int n) {
    __shared__ float As[MM_TILE][MM_TILE + 1];
    __shared__ float Bs[MM_TILE][MM_TILE + 1];
    int row_tiles = CEIL_DIV(T, MM_TILE);
    int n0 = blockIdx.x * MM_TILE;
    if ((int)blockIdx.y < row_tiles) {
        int m0 = blockIdx.y * MM_TILE;
        if (dx == nullptr || m0 >= n) {
            return;
        }
        MmEpilogue ep{dx, nullptr, in, false, false};
        mm_tile<true, false>(As, Bs, dy, dy_mask, out, w, in, n, in, out, m0, n0, ep);
    } else {
        int m0 = (blockIdx.y - row_tiles) * MM_TILE;
        MmEpilogue ep{dw, nullptr, in, true, false};
        mm_tile<false, false>(As, Bs, dy, dy_mask, out, x, in, out, in, n, m0, n0, ep);
    }
}
