// Fused query/key/value projection: the layer's wq, wk, wv ([C, C] each, adjacent in ParameterLayout) read
// as one [3C, C] block W, so one launch produces q | k | v for every position.
// CPU twin: dev.microgpt.ops.Linear over the [3C, C] block (FastEngine: Linear.forward(..., qkvOffset, ...)).
// Test: dev.microgpt.gpu.KernelParityTest#qkvForward and #qkvBackward (on the emulated device in CI).
//
//   forward   qkv[t, j] = sum_i x[t, i] W[j, i]       j in [0, 3C): q = columns [0, C), k = [C, 2C), v = [2C, 3C)
//   backward  dx[t, i] = sum_j dqkv[t, j] W[j, i]      (overwritten)
//             dW[j, i] += sum_{t < n} dqkv[t, j] x[t, i]   (accumulated; dW is the [3C, C] block of dwq|dwk|dwv)
// x is the block's normalised input (rmsnorm of the residual stream). Head h of q/k/v sits at columns
// h*D .. h*D+D-1 within each C-wide third (D = C / H), as attention.cu reads them.
// n = StepScalars.positions; rows t >= n of qkv / dx are not written.
// The matmul device code is linear.cu's (matmul.cuh), so the two cannot drift apart.

#include "common.cuh"
#include "matmul.cuh"

// Launch: grid (CEIL_DIV(3C, 32), CEIL_DIV(T, 32)), block 256, no dynamic shared memory.
extern "C" __global__ void __launch_bounds__(MM_THREADS)
qkv_forward(float* qkv,                       // [T, 3C] output, rows t < n written
            const float* __restrict__ x,      // [T, C] normalised block input
            const float* __restrict__ w,      // [3C, C] wq | wk | wv
            int C,
            int T,                            // block_size
            const StepScalars* __restrict__ ss) {
    linear_forward_block(qkv, x, w, nullptr, C, 3 * C, false, step_positions(ss, T));
}

// Launch: grid (CEIL_DIV(C, 32), CEIL_DIV(T, 32) + CEIL_DIV(3C, 32)), block 256, no dynamic shared memory.
extern "C" __global__ void __launch_bounds__(MM_THREADS)
qkv_backward(float* dx,                       // [T, C] gradient of the normalised input, overwritten (t < n)
             float* dw,                       // [3C, C] dwq | dwk | dwv, accumulated into (+=)
             const float* __restrict__ dqkv,  // [T, 3C] from attention_backward
             const float* __restrict__ x,     // [T, C] the forward's normalised input
             const float* __restrict__ w,     // [3C, C] wq | wk | wv
             int C,
             int T,                           // block_size
             const StepScalars* __restrict__ ss) {
    linear_backward_block(dx, dw, dqkv, x, w, nullptr, C, 3 * C, T, step_positions(ss, T));
}
