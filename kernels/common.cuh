// Shared device helpers for every kernel family in kernels/*.cu.
//
// Conventions used by all families (the JCuda side relies on them):
//   * float32 everywhere, row-major buffers; weights are the ParameterLayout's [out, in] matrices.
//   * A step trains on B documents (--batch-size; 1 as microgpt.py). T is the model's block_size: every
//     activation buffer has B * T rows ([B * T, C], [B * T, 3C], [B, H, T, T] ...), row r = b * T + t being
//     position t of document b, and every kernel is launched for all B * T rows. Document b's number of positions
//     n_b (its tokens minus one, 1 <= n_b <= T) is read from its StepScalars on the device; rows t >= n_b are
//     neither read nor written unless a kernel's comment says otherwise. That keeps every launch's arguments and
//     grid identical from step to step, so a whole step can be captured once in a CUDA graph.
//   * The documents come as B slots of slot_ints ints (Batch below): slot b holds document b's T + 1 tokens
//     (tokens[t] is the input at position t, tokens[t + 1] its target), then its StepScalars.
//   * Every kernel is an extern "C" __global__ function so that JCuda finds it by name in the PTX
//     (cuModuleGetFunction(module, "rmsnorm_forward")).
#pragma once

#include <cuda_runtime.h>

// ---------------------------------------------------------------------------------------------------------
// StepScalars: the per-document values kernels read from device memory (one struct, 16 bytes, 4-byte aligned),
// at the end of each document's slot. The host writes them with the tokens (one H2D copy for the step's slots);
// kernels never write them.
//
//   offset  type  field      meaning
//   0       int   step       0-based number of the step being run: Adam's bias correction and learning-rate
//                            decay, and the slot losses[step] that the cross-entropy kernel writes (the same in
//                            every document of a step)
//   4       int   positions  n_b, the positions this document trains (its tokens - 1), 1 <= n_b <= T;
//                            kernels clamp it to [0, T]
//   8       int   num_steps  steps in the whole run: lr_t = lr * (1 - step / num_steps); also the length of
//                            the losses array (losses[step] is written only while step < num_steps)
//   12      int   reserved   keep 0 (pads the struct to 16 bytes)
// ---------------------------------------------------------------------------------------------------------
struct StepScalars {
    int step;
    int positions;
    int num_steps;
    int reserved;
};
static_assert(sizeof(StepScalars) == 16, "StepScalars is 4 ints; the host writes it as int[4]");

// Positions of a document, clamped to the T rows the buffers have.
__device__ __forceinline__ int step_positions(const StepScalars* ss, int T) {
    int n = ss->positions;
    return n < 0 ? 0 : (n > T ? T : n);
}

// ---------------------------------------------------------------------------------------------------------
// Batch: a step's B documents, slot b at slots + b * slot_ints (T + 1 tokens, then StepScalars), and which of
// the B * T activation rows hold positions. The host stages the slots (dev.microgpt.gpu.StepInput); kernels take
// them as (const int* slots, int slot_ints, int B) after T.
// ---------------------------------------------------------------------------------------------------------
struct Batch {
    const int* slots;  // [B][slot_ints]
    int slot_ints;
    int B;
    int T;

    __device__ __forceinline__ const int* tokens(int b) const {
        return slots + (long)b * slot_ints;
    }

    __device__ __forceinline__ const StepScalars* scalars(int b) const {
        return reinterpret_cast<const StepScalars*>(tokens(b) + T + 1);
    }

    // n_b.
    __device__ __forceinline__ int positions(int b) const {
        return step_positions(scalars(b), T);
    }

    // B * T, the rows of every activation buffer.
    __device__ __forceinline__ int rows() const {
        return B * T;
    }

    // One past the last row that holds a position: (B - 1) T + n_(B - 1) (n for one document).
    __device__ __forceinline__ int row_limit() const {
        return (B - 1) * T + positions(B - 1);
    }

    // Whether row r (< rows()) is a position of its document: r % T < n_(r / T).
    __device__ __forceinline__ bool holds(int r) const {
        return r % T < positions(r / T);
    }

    // Whether any of rows [r0, r0 + count) holds a position (uniform across the threads that ask).
    __device__ __forceinline__ bool holds_any(int r0, int count) const {
        int end = r0 + count < rows() ? r0 + count : rows();
        // A document's held rows come first, so its first row in the range tells: check one row per document.
        for (int r = r0; r < end; r += T - r % T) {
            if (holds(r)) {
                return true;
            }
        }
        return false;
    }

    // Document b alone, as a batch of one.
    __device__ __forceinline__ Batch document(int b) const {
        return Batch{tokens(b), slot_ints, 1, T};
    }

    // The step's scalars (step and num_steps are the same in every slot).
    __device__ __forceinline__ const StepScalars* step() const {
        return scalars(0);
    }
};

#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))
#define WARP_SIZE 32
#define FULL_MASK 0xffffffffu

// Sum / max over the 32 lanes of a warp; every lane gets the result. All 32 lanes must call them.
__device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(FULL_MASK, v, offset);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, offset));
    }
    return v;
}

__device__ __forceinline__ int lane_id() {
    return threadIdx.x & (WARP_SIZE - 1);
}

__device__ __forceinline__ int warp_in_block() {
    return threadIdx.x >> 5;
}

// "Warp per row" kernels: row handled by this warp when blockDim.x is a multiple of 32 and the grid is
// CEIL_DIV(B * T, blockDim.x / 32) blocks.
__device__ __forceinline__ int warp_row() {
    return blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
}

// The row of a step's B * T this warp takes (warp_row()), or -1 where it is past them or holds no position.
__device__ __forceinline__ int held_warp_row(const int* slots, int slot_ints, int B, int T) {
    const Batch batch{slots, slot_ints, B, T};
    int r = warp_row();
    return r < batch.rows() && batch.holds(r) ? r : -1;
}

// Block-wide sum for a block of up to 1024 threads (blockDim.x a multiple of 32). scratch: >= 32 floats of
// shared memory. Every thread of the block must call it; every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane_id() == 0) {
        scratch[warp_in_block()] = v;
    }
    __syncthreads();
    v = lane_id() < warps ? scratch[lane_id()] : 0.0f;
    return warp_sum(v);
}
