// RMSNorm without gain, one row per warp: y = x * s with s = (mean(x^2) + 1e-5)^-0.5, and its backward
//   dx[j] (+)= s dy[j] - x[j] s^3 / C * sum_i dy[i] x[i].
// CPU twin: dev.microgpt.ops.RmsNorm (the embedding variants: plus dev.microgpt.ops.Embedding). Tested through the
// kernels that use them (emulated in CI): dev.microgpt.gpu.KernelParityTest#rmsnormForward, #rmsnormBackward,
// #embeddingRmsnormForward, #embeddingBackward (rmsnorm.cu) and GpuEngineParityTest (step.cu).
//
// Device functions shared by the eager kernels (rmsnorm.cu: a warp per row, rows from the grid) and the fused
// step (step.cu: every warp of a persistent grid takes rows in turn). Each *_row function is called by all 32
// lanes of one warp for one row that holds a position; it synchronises nothing beyond the warp. The embedding's
// weight gradients are items, one thread each (embedding_backward_item).

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

// y[r] = rmsnorm(x[r]); scale[r] = s.    y, x [rows, C]; scale [rows]
__device__ __forceinline__ void rmsnorm_forward_row(int r, float* y, float* scale, const float* x, int C) {
    const float* xt = x + (long)r * C;
    float* yt = y + (long)r * C;
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
        scale[r] = s;
    }
}

// dx[r] += (accumulate) or = the gradient through the norm of row r.    dx, dy, x [rows, C]; scale [rows]
__device__ __forceinline__ void rmsnorm_backward_row(int r, float* dx, const float* dy, const float* x,
                                                     const float* scale, int C, bool accumulate) {
    const float* dyt = dy + (long)r * C;
    const float* xt = x + (long)r * C;
    float* dxt = dx + (long)r * C;
    float s = scale[r];
    float coupling = rms_coupling(dyt, xt, s, C);
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float g = fmaf(s, dyt[j], coupling * xt[j]);
        dxt[j] = accumulate ? dxt[j] + g : g;
    }
}

// Row r (position t of its document) of the model's input: emb[r] = wte[tokens[t]] + wpe[t] (kept for the
// backward); y[r] = rmsnorm(emb[r]); scale[r] = s.
//   emb, y [rows, C]; scale [rows]; tokens [T + 1] (the row's document); wte [V, C]; wpe [T, C]
__device__ __forceinline__ void embedding_rmsnorm_forward_row(int r, int t, float* emb, float* y, float* scale,
                                                              const int* tokens, const float* wte,
                                                              const float* wpe, int C) {
    const float* te = wte + (long)tokens[t] * C;
    const float* pe = wpe + (long)t * C;
    float* et = emb + (long)r * C;
    float sum_sq = 0.0f;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        float v = te[j] + pe[j];
        et[j] = v;
        sum_sq = fmaf(v, v, sum_sq);
    }
    float s = rms_scale(warp_sum(sum_sq), C);
    float* yt = y + (long)r * C;
    for (int j = lane_id(); j < C; j += WARP_SIZE) {
        yt[j] = et[j] * s;  // this lane wrote et[j] above
    }
    if (lane_id() == 0) {
        scale[r] = s;
    }
}

// The embedding's gradients, (V + T) * C items: item i < V * C adds to dwte[v, c] (v = i / C, c = i % C) the
// d_emb[r, c] of every row r whose input token is v, item V * C + t * C + c adds to dwpe[t, c] the d_emb[r, c] of
// every row at position t; each sums the batch's rows that hold positions in row order, so the gradient is the
// same at every run, with no atomics (d_emb is the rmsnorm backward of the residual stream's gradient).
//   dwte [V, C]; dwpe [T, C]; d_emb [rows, C]
__device__ __forceinline__ void embedding_backward_item(long i, float* dwte, float* dwpe, const float* d_emb,
                                                        const Batch& batch, int C, int V) {
    int c = (int)(i % C);
    int row = (int)(i / C);
    float sum = 0.0f;
    if (row < V) {
        for (int b = 0; b < batch.B; b++) {
            const int* tokens = batch.tokens(b);
            int n = batch.positions(b);
            for (int t = 0; t < n; t++) {
                if (tokens[t] == row) {
                    sum += d_emb[((long)b * batch.T + t) * C + c];
                }
            }
        }
        dwte[(long)row * C + c] += sum;
    } else {
        int t = row - V;
        for (int b = 0; b < batch.B; b++) {
            if (t < batch.positions(b)) {
                sum += d_emb[((long)b * batch.T + t) * C + c];
            }
        }
        dwpe[(long)t * C + c] += sum;
    }
}
