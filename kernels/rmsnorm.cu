// RMSNorm kernels, one warp per row (the math: rmsnorm.cuh, shared with the fused step in step.cu).
// CPU twin: dev.microgpt.ops.RmsNorm (the fused variants: plus dev.microgpt.ops.Embedding).
// Test: dev.microgpt.gpu.KernelParityTest#rmsnormForward, #rmsnormBackward, #embeddingRmsnormForward and
// #rmsnormEmbeddingBackward (on the emulated device in CI, kernels/emu).
//
// Kernels:
//   rmsnorm_forward             y = rmsnorm(x), saving s per row
//   rmsnorm_backward            dx += or = the gradient through the norm (+= for the residual stream)
//   embedding_rmsnorm_forward   emb = wte[tok] + wpe; y = rmsnorm(emb)       (the model's input, one launch)
//   rmsnorm_embedding_backward  d(emb) = rmsnorm backward of dy; dwte[tok] += d(emb); dwpe[t] += d(emb)
//
// Launch (all): one warp per row, lanes over the C columns. block 128 threads (any multiple of 32 works),
// grid CEIL_DIV(T, block / 32), no dynamic shared memory. n = StepScalars.positions; rows t >= n skipped.

#include "rmsnorm.cuh"

extern "C" __global__ void
rmsnorm_forward(float* __restrict__ y,              // [T, C] output, rows t < n
                float* __restrict__ scale,          // [T] output: s of each row t < n
                const float* __restrict__ x,        // [T, C]
                int C,
                int T,                              // block_size
                const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t < step_positions(ss, T)) {
        rmsnorm_forward_row(t, y, scale, x, C);
    }
}

extern "C" __global__ void
rmsnorm_backward(float* __restrict__ dx,            // [T, C] gradient of x: += (accumulate=1) or = (0), t < n
                 const float* __restrict__ dy,      // [T, C] gradient of y
                 const float* __restrict__ x,       // [T, C] the forward's input
                 const float* __restrict__ scale,   // [T] s from the forward
                 int C,
                 int accumulate,                    // 1: dx += (residual stream), 0: dx = (overwrite)
                 int T,                             // block_size
                 const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t < step_positions(ss, T)) {
        rmsnorm_backward_row(t, dx, dy, x, scale, C, accumulate != 0);
    }
}

extern "C" __global__ void
embedding_rmsnorm_forward(float* __restrict__ emb,        // [T, C] output: wte[tokens[t]] + wpe[t] (kept for backward)
                          float* __restrict__ y,          // [T, C] output: rmsnorm(emb), the residual stream's start
                          float* __restrict__ scale,      // [T] output: s per row
                          const int* __restrict__ tokens, // [T + 1]
                          const float* __restrict__ wte,  // [V, C]
                          const float* __restrict__ wpe,  // [T, C]
                          int C,
                          int T,                          // block_size
                          const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t < step_positions(ss, T)) {
        embedding_rmsnorm_forward_row(t, emb, y, scale, tokens, wte, wpe, C);
    }
}

extern "C" __global__ void
rmsnorm_embedding_backward(float* dwte,                     // [V, C] accumulated into (atomicAdd: tokens repeat)
                           float* __restrict__ dwpe,        // [T, C] accumulated into (+=)
                           const float* __restrict__ dy,    // [T, C] gradient of the normalised embedding (the
                                                            //        residual stream's gradient at the bottom)
                           const float* __restrict__ emb,   // [T, C] the forward's wte[tok] + wpe
                           const float* __restrict__ scale, // [T] s from embedding_rmsnorm_forward
                           const int* __restrict__ tokens,  // [T + 1]
                           int C,
                           int T,                           // block_size
                           const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t < step_positions(ss, T)) {
        rmsnorm_embedding_backward_row(t, dwte, dwpe, dy, emb, scale, tokens, C);
    }
}
