// Linear layer (bias-free), forward and backward: y = x W^T with W [out, in] as stored in ParameterLayout.
// CPU twin: dev.microgpt.ops.Linear (and FastEngine's relu / addRows around it).
// Test: dev.microgpt.gpu.KernelParityTest#linearForward and #linearBackward (on the emulated device in CI).
//
//   forward   y[t, o] = relu?( sum_i x[t, i] W[o, i] ) + residual[t, o]?        t < n
//   backward  dx[t, i] = sum_o dy'[t, o] W[o, i]                (overwritten)    t < n
//             dW[o, i] += sum_{t < n} dy'[t, o] x[t, i]          (accumulated)
//             with dy' = dy masked by the forward's ReLU output (relu_out > 0) when the forward fused a ReLU.
//
// Uses of the model:  lm_head  x = final stream [T, C],  W [V, C],   y = logits [T, V]
//                     attn_wo  x = attn out [T, C],       W [C, C],   y = mid [T, C], residual = block input
//                     mlp_fc1  x = mlp norm [T, C],       W [4C, C],  y = hidden [T, 4C], relu = 1
//                     mlp_fc2  x = hidden [T, 4C],        W [C, 4C],  y = block output [T, C], residual = mid
// Matmul code is shared with qkv.cu and the fused step (step.cu) through matmul.cuh (32 x 32 tiles, 256 threads
// per block).
// n = StepScalars.positions; rows t >= n of y / dx are not written.

#include "common.cuh"
#include "matmul.cuh"

// Launch: grid (CEIL_DIV(out, 32), CEIL_DIV(T, 32)), block 256, no dynamic shared memory (8.4 KB static).
extern "C" __global__ void __launch_bounds__(MM_THREADS)
linear_forward(float* y,                            // [T, out] output, rows t < n written
               const float* __restrict__ x,         // [T, in]
               const float* __restrict__ w,         // [out, in]
               const float* residual,               // [T, out] added to the output, or NULL; may equal y
               int in, int out,
               int relu,                            // 1: y = max(x W^T, 0) (+ residual), 0: no ReLU
               int T,                               // block_size: rows of x and y
               const StepScalars* __restrict__ ss) {
    linear_forward_block(y, x, w, residual, in, out, relu != 0, step_positions(ss, T));
}

// Launch: grid (CEIL_DIV(in, 32), CEIL_DIV(T, 32) + CEIL_DIV(out, 32)), block 256, no dynamic shared memory.
// The first CEIL_DIV(T, 32) rows of blocks compute dx, the rest dW (one launch for both gradients).
extern "C" __global__ void __launch_bounds__(MM_THREADS)
linear_backward(float* dx,                          // [T, in] overwritten, rows t < n; or NULL: not computed
                float* dw,                          // [out, in] accumulated into (+=)
                const float* __restrict__ dy,       // [T, out] gradient of the output
                const float* __restrict__ x,        // [T, in] the forward's input
                const float* __restrict__ w,        // [out, in]
                const float* __restrict__ relu_out, // [T, out] the forward's (ReLU'd) output, or NULL: no mask
                int in, int out,
                int T,                              // block_size: rows of x, dy and dx
                const StepScalars* __restrict__ ss) {
    linear_backward_block(dx, dw, dy, x, w, relu_out, in, out, T, step_positions(ss, T));
}
