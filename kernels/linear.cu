// Linear layer (bias-free), forward and backward: y = x W^T with W [out, in] as stored in ParameterLayout.
// CPU twin: dev.microgpt.ops.Linear (and FastEngine's relu / addRows around it).
// Test: dev.microgpt.gpu.KernelParityTest#linearForward and #linearBackward (on the emulated device in CI).
//
//   forward   y[r, o] = relu?( sum_i x[r, i] W[o, i] ) + residual[r, o]?        rows r that hold positions
//   backward  dx[r, i] = sum_o dy'[r, o] W[o, i]                (overwritten)    rows r that hold positions
//             dW[o, i] += sum_r dy'[r, o] x[r, i]                (accumulated, over every document's positions)
//             with dy' = dy masked by the forward's ReLU output (relu_out > 0) when the forward fused a ReLU.
// Rows are the step's B * T (R below): row b * T + t is position t of document b (common.cuh, Batch).
//
// Uses of the model:  lm_head  x = final stream [R, C],  W [V, C],   y = logits [R, V]
//                     attn_wo  x = attn out [R, C],       W [C, C],   y = mid [R, C], residual = block input
//                     mlp_fc1  x = mlp norm [R, C],       W [4C, C],  y = hidden [R, 4C], relu = 1
//                     mlp_fc2  x = hidden [R, 4C],        W [C, 4C],  y = block output [R, C], residual = mid
// Matmul code is shared with qkv.cu and the fused step (step.cu) through matmul.cuh (32 x 32 tiles, 256 threads
// per block).
// Rows t >= n_b of y / dx are not written.

#include "common.cuh"
#include "matmul.cuh"

// Launch: grid (CEIL_DIV(out, 32), CEIL_DIV(B * T, 32)), block 256, no dynamic shared memory (8.4 KB static).
extern "C" __global__ void __launch_bounds__(MM_THREADS)
linear_forward(float* y,                            // [B * T, out] output, rows that hold positions written
               const float* __restrict__ x,         // [B * T, in]
               const float* __restrict__ w,         // [out, in]
               const float* residual,               // [B * T, out] added to the output, or NULL; may equal y
               int in, int out,
               int relu,                            // 1: y = max(x W^T, 0) (+ residual), 0: no ReLU
               int T,                               // block_size
               const int* __restrict__ slots,       // [B][slot_ints]: the documents (common.cuh, Batch)
               int slot_ints, int B) {
    linear_forward_block(y, x, w, residual, in, out, relu != 0, Batch{slots, slot_ints, B, T});
}

// Launch: grid (CEIL_DIV(in, 32), CEIL_DIV(B * T, 32) + CEIL_DIV(out, 32)), block 256, no dynamic shared
// memory. The first CEIL_DIV(B * T, 32) rows of blocks compute dx, the rest dW (one launch for both gradients).
extern "C" __global__ void __launch_bounds__(MM_THREADS)
linear_backward(float* dx,                          // [B * T, in] overwritten where rows hold positions; or NULL
                float* dw,                          // [out, in] accumulated into (+=)
                const float* __restrict__ dy,       // [B * T, out] gradient of the output
                const float* __restrict__ x,        // [B * T, in] the forward's input
                const float* __restrict__ w,        // [out, in]
                const float* __restrict__ relu_out, // [B * T, out] the forward's (ReLU'd) output, or NULL: no mask
                int in, int out,
                int T,                              // block_size
                const int* __restrict__ slots,      // [B][slot_ints]: the documents (common.cuh, Batch)
                int slot_ints, int B) {
    linear_backward_block(dx, dw, dy, x, w, relu_out, in, out, Batch{slots, slot_ints, B, T});
}
