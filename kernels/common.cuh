// Shared device helpers for every kernel family in kernels/*.cu.
//
// Conventions used by all families (the JCuda side relies on them):
//   * float32 everywhere, row-major buffers; weights are the ParameterLayout's [out, in] matrices.
//   * T is the model's block_size: every activation buffer has T rows ([T, C], [T, 3C], [H, T, T] ...), and
//     every kernel is launched for all T rows. The number of positions n of the current step (the tokens of
//     the document minus one, 1 <= n <= T) is read from StepScalars on the device; rows t >= n are neither
//     read nor written unless a kernel's comment says otherwise. That keeps every launch's arguments and
//     grid identical from step to step, so a whole step can be captured once in a CUDA graph.
//   * tokens is a device int array [T + 1]: tokens[t] is the input at position t, tokens[t + 1] its target.
//   * Every kernel is an extern "C" __global__ function so that JCuda finds it by name in the PTX
//     (cuModuleGetFunction(module, "rmsnorm_forward")).
#pragma once

#include <cuda_runtime.h>

// ---------------------------------------------------------------------------------------------------------
// StepScalars: the per-step values kernels read from device memory (one struct, 16 bytes, 4-byte aligned).
// The host rewrites it before each step (one 16-byte H2D copy, e.g. together with tokens); kernels never
// write it.
//
//   offset  type  field      meaning
//   0       int   step       0-based number of the step being run: Adam's bias correction and learning-rate
//                            decay, and the slot losses[step] that the cross-entropy kernel writes
//   4       int   positions  n, the positions trained this step (document tokens - 1), 1 <= n <= T;
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

// Positions of this step, clamped to the T rows the buffers have.
__device__ __forceinline__ int step_positions(const StepScalars* ss, int T) {
    int n = ss->positions;
    return n < 0 ? 0 : (n > T ? T : n);
}

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
// CEIL_DIV(T, blockDim.x / 32) blocks.
__device__ __forceinline__ int warp_row() {
    return blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
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
