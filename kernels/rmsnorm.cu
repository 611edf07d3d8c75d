// RMSNorm kernels, one warp per row, and the embedding's gradients (the math: rmsnorm.cuh, shared with the fused
// step in step.cu).
// CPU twin: dev.microgpt.ops.RmsNorm (the embedding kernels: plus dev.microgpt.ops.Embedding).
// Test: dev.microgpt.gpu.KernelParityTest#rmsnormForward, #rmsnormBackward, #embeddingRmsnormForward and
// #embeddingBackward (on the emulated device in CI, kernels/emu).
//
// Kernels:
//   rmsnorm_forward             y = rmsnorm(x), saving s per row
//   rmsnorm_backward            dx += or = the gradient through the norm (+= for the residual stream)
//   embedding_rmsnorm_forward   emb = wte[tok] + wpe; y = rmsnorm(emb)       (the model's input, one launch)
//   embedding_backward          dwte[tok] += d(emb); dwpe[t] += d(emb), summed over the batch in row order
//
// Launch (the row kernels): one warp per row of the step's B * T, lanes over the C columns. block 128 threads (any
// multiple of 32 works), grid CEIL_DIV(B * T, block / 32), no dynamic shared memory. Rows t >= n_b are skipped.
// embedding_backward: a thread per item, grid CEIL_DIV((V + T) * C, 256) blocks of 256 threads (a grid-stride
// loop: any grid is correct).

#include "rmsnorm.cuh"

extern "C" __global__ void
rmsnorm_forward(float* __restrict__ y,              // [B * T, C] output, rows that hold positions
                float* __restrict__ scale,          // [B * T] output: s of each row
                const float* __restrict__ x,        // [B * T, C]
                int C,
                int T,                              // block_size
                const int* __restrict__ slots,      // [B][slot_ints]: the documents (common.cuh, Batch)
                int slot_ints, int B) {
    int r = held_warp_row(slots, slot_ints, B, T);
    if (r >= 0) {
        rmsnorm_forward_row(r, y, scale, x, C);
    }
}

extern "C" __global__ void
rmsnorm_backward(float* __restrict__ dx,            // [B * T, C] gradient of x: += (accumulate=1) or = (0)
                 const float* __restrict__ dy,      // [B * T, C] gradient of y
                 const float* __restrict__ x,       // [B * T, C] the forward's input
                 const float* __restrict__ scale,   // [B * T] s from the forward
                 int C,
                 int accumulate,                    // 1: dx += (residual stream), 0: dx = (overwrite)
                 int T,                             // block_size
                 const int* __restrict__ slots,     // [B][slot_ints]: the documents (common.cuh, Batch)
                 int slot_ints, int B) {
    int r = held_warp_row(slots, slot_ints, B, T);
    if (r >= 0) {
        rmsnorm_backward_row(r, dx, dy, x, scale, C, accumulate != 0);
    }
}

extern "C" __global__ void
embedding_rmsnorm_forward(float* __restrict__ emb,        // [B * T, C] output: wte[tokens[t]] + wpe[t]
                          float* __restrict__ y,          // [B * T, C] output: rmsnorm(emb), the residual stream
                          float* __restrict__ scale,      // [B * T] output: s per row
                          const float* __restrict__ wte,  // [V, C]
                          const float* __restrict__ wpe,  // [T, C]
                          int C,
                          int T,                          // block_size
                          const int* __restrict__ slots,  // [B][slot_ints]: the documents and their tokens
                          int slot_ints, int B) {
    int r = held_warp_row(slots, slot_ints, B, T);
    if (r >= 0) {
        embedding_rmsnorm_forward_row(r, r % T, emb, y, scale, Batch{slots, slot_ints, B, T}.tokens(r / T), wte, wpe,
                                      C);
    }
}

extern "C" __global__ void __launch_bounds__(256)
embedding_backward(float* __restrict__ dwte,          // [V, C] accumulated into (+=)
                   float* __restrict__ dwpe,          // [T, C] accumulated into (+=)
                   const float* __restrict__ d_emb,   // [B * T, C] gradient of wte[tokens[t]] + wpe[t]
                   int C,
                   int V,
                   int T,                             // block_size
                   const int* __restrict__ slots,     // [B][slot_ints]: the documents and their tokens
                   int slot_ints, int B) {
    const Batch batch{slots, slot_ints, B, T};
    long items = (long)(V + T) * C;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < items; i += (long)gridDim.x * blockDim.x) {
        embedding_backward_item(i, dwte, dwpe, d_emb, batch, C, V);
    }
}
