// RMSNorm without gain, one row per warp: y = x * s with s = (mean(x^2) + 1e-5)^-0.5, and its backward
//   dx[j] (+)= s dy[j] - x[j] s^3 / C * sum_i dy[i] x[i].
// CPU twin: dev.microgpt.ops.RmsNorm (the embedding variants: plus dev.microgpt.ops.Embedding).
//
// Device functions shared by the eager kernels (rmsnorm.cu: a warp per row t, rows from the grid) and the fused
// step (step.cu: every warp of a persistent grid takes rows in turn). Each *_row function is called by all 32
// lanes of one warp for one row t < n; it synchronises nothing beyond the warp.

#pragma once

#include "common.cuh"

#define RMSNORM_EPS 1e-5f

// s = (sum_sq / C + eps)^-0.5, with a correctly rounded sqrt and division (no rsqrtf approximation).
__device__ __forceinline__ float rms_scale(float sum_sq, int C) {
    return 1.0f / sqrtf(sum_sq * (1.0f / (float)C) + RMSNORM_EPS);
}

// Coupling term -s^3 / C * sum_i dy[i] x[i] of the row.
__device__ __forceinline__ float rms_coupling(const float* dyt, const float* xt, float s, int C) {
    float dot = 0.0f;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        dot = fmaf(dyt[j], xt[j], dot);
    }
    return -s * s * s / (float)C * warp_sum(dot);
}

// y[t] = rmsnorm(x[t]); scale[t] = s.    y, x [T, C]; scale [T]
__device__ __forceinline__ void rmsnorm_forward_row(int t, float* y, float* scale, const float* x, int C) {
    const float* xt = x + (long)t * C;
    float* yt = y + (long)t * C;
    float sum_sq = 0.0f;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float v = xt[j];
        sum_sq = fmaf(v, v, sum_sq);
    }
    float s = rms_scale(warp_sum(sum_sq), C);
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        yt[j] = xt[j] * s;
    }
    if (lane_id() == 0) {
        scale[t] = s;
    }
}

// dx[t] += (accumulate) or = the gradient through the norm of row t.    dx, dy, x [T, C]; scale [T]
__device__ __forceinline__ void rmsnorm_backward_row(int t, float* dx, const float* dy, const float* x,
                                                     const float* scale, int C, bool accumulate) {
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

// emb[t] = wte[tokens[t]] + wpe[t] (kept for the backward); y[t] = rmsnorm(emb[t]); scale[t] = s.
//   emb, y [T, C]; scale [T]; tokens [T + 1]; wte [V, C]; wpe [T, C]
__device__ __forceinline__ void embedding_rmsnorm_forward_row(int t, float* emb, float* y, float* scale,
                                                              const int* tokens, const float* wte,
                                                              const float* wpe, int C) {
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

// The backward of embedding_rmsnorm_forward_row: d(emb) = rmsnorm backward of dy[t], added to dwte[tokens[t]]
// (atomically: a token may occur at several positions) and to dwpe[t].
//   dwte [V, C]; dwpe, dy, emb [T, C]; scale [T]; tokens [T + 1]
__device__ __forceinline__ void rmsnorm_embedding_backward_row(int t, float* dwte, float* dwpe, const float* dy,
                                                               const float* emb, const float* scale,
                                                               const int* tokens, int C) {
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
