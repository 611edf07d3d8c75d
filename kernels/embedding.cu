// Token + position embedding: x[t] = wte[tokens[t]] + wpe[t], and its backward (scatter-add of dx into the
// two tables). CPU twin: dev.microgpt.ops.Embedding.
// (The model normalises the embedding right away; rmsnorm.cu has the fused embedding_rmsnorm_forward and
// rmsnorm_embedding_backward, which the training step uses instead of these two.)
//
// Launch (both kernels): one warp per position, lanes over the C columns. block 128 threads (any multiple of
// 32 works), grid CEIL_DIV(T, block / 32), no dynamic shared memory. n = StepScalars.positions; rows t >= n
// are skipped.

#include "common.cuh"

extern "C" __global__ void
embedding_forward(float* __restrict__ x,              // [T, C] output, rows t < n written
                  const int* __restrict__ tokens,     // [T + 1] token ids of the document
                  const float* __restrict__ wte,      // [V, C]
                  const float* __restrict__ wpe,      // [T, C]
                  int C,
                  int T,                              // block_size: rows of wpe and x
                  const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t >= step_positions(ss, T)) {
        return;
    }
    const float* te = wte + (long)tokens[t] * C;
    const float* pe = wpe + (long)t * C;
    float* xt = x + (long)t * C;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        xt[j] = te[j] + pe[j];
    }
}

extern "C" __global__ void
embedding_backward(float* dwte,                       // [V, C] accumulated into (atomicAdd: tokens repeat)
                   float* __restrict__ dwpe,          // [T, C] accumulated into (+=, one row per position)
                   const float* __restrict__ dx,      // [T, C] gradient of x
                   const int* __restrict__ tokens,    // [T + 1]
                   int C,
                   int T,                             // block_size
                   const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t >= step_positions(ss, T)) {
        return;
    }
    float* te = dwte + (long)tokens[t] * C;
    float* pe = dwpe + (long)t * C;
    const float* g = dx + (long)t * C;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float v = g[j];
        atomicAdd(te + j, v);
        pe[j] += v;
    }
}
