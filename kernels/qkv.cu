// Fused query/key/value projection: the layer's wq, wk, wv ([C, C] each, adjacent in ParameterLayout) read
// as one [3C, C] block W, so one launch produces q | k | v for every position.
// CPU twin: dev.microgpt.ops.Linear over the [3C, C] block (DocumentPass: Linear.forward over Layer.attnQkv).
// Test: dev.microgpt.gpu.KernelParityTest#qkvForward and #qkvBackward (on the emulated device in CI).
//
//   forward   qkv[r, j] = sum_i x[r, i] W[j, i]       j in [0, 3C): q = columns [0, C), k = [C, 2C), v = [2C, 3C)
//   backward  dx[r, i] = sum_j dqkv[r, j] W[j, i]      (overwritten)
//             dW[j, i] += sum_r dqkv[r, j] x[r, i]     (accumulated; dW is the [3C, C] block of dwq|dwk|dwv)
// over the rows r of the step's B * T that hold positions (common.cuh, Batch).
// x is the block's normalised input (rmsnorm of the residual stream). Head h of q/k/v sits at columns
// h*D .. h*D+D-1 within each C-wide third (D = C / H), as attention.cu reads them.
// Rows t >= n_b of qkv / dx are not written.
// The matmul device code is linear.cu's (matmul.cuh), so the two cannot drift apart.

#include "common.cuh"
#include "matmul.cuh"

// Launch: grid (CEIL_DIV(3C, 32), CEIL_DIV(B * T, 32)), block 256, no dynamic shared memory.
extern "C" __global__ void __launch_bounds__(MM_THREADS)
qkv_forward(float* qkv,                       // [B * T, 3C] output, rows that hold positions written
            const float* __restrict__ x,      // [B * T, C] normalised block input
            const float* __restrict__ w,      // [3C, C] wq | wk | wv
            int C,
            int T,                            // block_size
            const int* __restrict__ slots,    // [B][slot_ints]: the documents (common.cuh, Batch)
            int slot_ints, int B) {
    linear_forward_block(qkv, x, w, nullptr, C, 3 * C, false, Batch{slots, slot_ints, B, T});
}

// Launch: grid (CEIL_DIV(C, 32), CEIL_DIV(B * T, 32) + CEIL_DIV(3C, 32)), block 256, no dynamic shared memory.
extern "C" __global__ void __launch_bounds__(MM_THREADS)
qkv_backward(float* dx,                       // [B * T, C] gradient of the normalised input, overwritten
             float* dw,                       // [3C, C] dwq | dwk | dwv, accumulated into (+=)
             const float* __restrict__ dqkv,  // [B * T, 3C] from attention_backward
             const float* __restrict__ x,     // [B * T, C] the forward's normalised input
             const float* __restrict__ w,     // [3C, C] wq | wk | wv
             int C,
             int T,                           // block_size
             const int* __restrict__ slots,   // [B][slot_ints]: the documents (common.cuh, Batch)
             int slot_ints, int B) {
    linear_backward_block(dx, dw, dqkv, x, w, nullptr, C, 3 * C, Batch{slots, slot_ints, B, T});
}
