// RMSNorm without gain, row by row: y = x * s with s = (mean(x^2) + 1e-5)^-0.5, and its backward
//   dx[j] (+)= s dy[j] - x[j] s^3 / C * sum_i dy[i] x[i].
// CPU twin: dev.microgpt.ops.RmsNorm (the fused variants: plus dev.microgpt.ops.Embedding).
//
// Kernels:
//   rmsnorm_forward             y = rmsnorm(x), saving s per row
//   rmsnorm_backward            dx += or = the gradient through the norm (+= for the residual stream)
//   embedding_rmsnorm_forward   emb = wte[tok] + wpe; y = rmsnorm(emb)       (the model's input, one launch)
//   rmsnorm_embedding_backward  d(emb) = rmsnorm backward of dy; dwte[tok] += d(emb); dwpe[t] += d(emb)
//
// Launch (all): one warp per row, lanes over the C columns. block 128 threads (any multiple of 32 works),
// grid CEIL_DIV(T, block / 32), no dynamic shared memory. n = StepScalars.positions; rows t >= n skipped.

#include "common.cuh"

#define RMSNORM_EPS 1e-5f

// s = (sum_sq / C + eps)^-0.5, with a correctly rounded sqrt and division (no rsqrtf approximation).
__device__ __forceinline__ float rms_scale(float sum_sq, int C) {
    return 1.0f / sqrtf(sum_sq * (1.0f / (float)C) + RMSNORM_EPS);
}

// Normalises the row xt into yt; returns s. The whole warp calls it.
__device__ __forceinline__ float rms_row(float* __restrict__ yt, const float* xt, int C) {
    float ss = 0.0f;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float v = xt[j];
        ss = fmaf(v, v, ss);
    }
    float s = rms_scale(warp_sum(ss), C);
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        yt[j] = xt[j] * s;
    }
    return s;
}

// Coupling term -s^3 / C * sum_i dy[i] x[i] of the row. The whole warp calls it.
__device__ __forceinline__ float rms_coupling(const float* __restrict__ dyt, const float* __restrict__ xt,
                                              float s, int C) {
    float dot = 0.0f;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        dot = fmaf(dyt[j], xt[j], dot);
    }
    return -s * s * s / (float)C * warp_sum(dot);
}

extern "C" __global__ void
rmsnorm_forward(float* __restrict__ y,              // [T, C] output, rows t < n
                float* __restrict__ scale,          // [T] output: s of each row t < n
                const float* __restrict__ x,        // [T, C]
                int C,
                int T,                              // block_size
                const StepScalars* __restrict__ ss) {
    int t = warp_row();
    if (t >= step_positions(ss, T)) {
        return;
    }
    float s = rms_row(y + (long)t * C, x + (long)t * C, C);
    if (lane_id() == 0) {
        scale[t] = s;
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
    if (t >= step_positions(ss, T)) {
        return;
    }
    const float* dyt = dy + (long)t * C;
    const float* xt = x + (long)t * C;
    float* dxt = dx + (long)t * C;
    float s = scale[t];
    float coupling = rms_coupling(dyt, xt, s, C);
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float g = fmaf(s, dyt[j], coupling * xt[j]);
        dxt[j] = accumulate ? dxt[j] + g : g;
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
    if (t >= step_positions(ss, T)) {
        return;
    }
    const float* te = wte + (long)tokens[t] * C;
    const float* pe = wpe + (long)t * C;
    float* et = emb + (long)t * C;
    float sum_sq = 0.0f;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float v = te[j] + pe[j];
        et[j] = v;
        sum_sq = fmaf(v, v, sum_sq);
    }
    float s = rms_scale(warp_sum(sum_sq), C);
    float* yt = y + (long)t * C;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        yt[j] = et[j] * s;  // this lane wrote et[j] above
    }
    if (lane_id() == 0) {
        scale[t] = s;
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
    if (t >= step_positions(ss, T)) {
        return;
    }
    const float* dyt = dy + (long)t * C;
    const float* et = emb + (long)t * C;
    float s = scale[t];
    float coupling = rms_coupling(dyt, et, s, C);
    float* te = dwte + (long)tokens[t] * C;
    float* pe = dwpe + (long)t * C;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float g = fmaf(s, dyt[j], coupling * et[j]);
        atomicAdd(te + j, g);
        pe[j] += g;
    }
}
