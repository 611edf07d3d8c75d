// Causal multi-head self-attention, one warp per (position, head). CPU twin: dev.microgpt.ops.Attention (and
// ops.Softmax). Tested through the kernels that use it (emulated in CI): dev.microgpt.gpu.KernelParityTest
// #attentionForward and #attentionBackward (attention.cu) and GpuEngineParityTest (step.cu).
//
// qkv [T, 3C] holds q in columns [0, C), k in [C, 2C), v in [2C, 3C); head h uses columns h*D .. h*D+D-1 of
// each third, D = C / H. With scale = 1 / sqrt(D):
//   forward   p[h, t, u] = softmax_{u <= t}(q_t . k_u * scale)        probs [H, T, T], row t: u in [0, t]
//             out[t, h*D + d] = sum_{u <= t} p[h, t, u] v_u[d]        out [T, C], heads concatenated
//   backward  dp[t, u] = dout_t . v_u,   w_t = sum_u p[t, u] dp[t, u] = dout_t . out_t
//             ds[t, u] = p[t, u] (dp[t, u] - w_t) * scale
//             dq_t = sum_{u <= t} ds[t, u] k_u,  dk_u = sum_{t >= u} ds[t, u] q_t,  dv_u = sum_{t >= u} p[t, u] dout_t
// The backward reads the forward's output (out) to get w_t = dout_t . out_t, so every gradient row is built by
// one warp without atomics: a warp per query row t makes dq_t, a warp per key row u makes dk_u and dv_u.
//
// Device functions shared by the eager kernels (attention.cu) and the fused step (step.cu). Each *_row function
// is called by all 32 lanes of one warp with its own scratch: ATTN_SCRATCH_FLOATS(D, T) floats of shared memory
// (AttentionWarp below). Only warp-level synchronisation is used.

#pragma once

#include "common.cuh"

#define ATTN_SCRATCH_FLOATS(D, T) ((D) + 2 * (T) + 64)

// What a warp working on one head needs: the head's width D, the row stride of qkv, the score scale 1 / sqrt(D),
// and its scratch, laid out [D] vec | [T] a | [T] b | [64] red.
struct AttentionWarp {
    int D;
    int stride;
    float scale;
    float* vec;
    float* a;
    float* b;
    float* red;
};

__device__ __forceinline__ AttentionWarp attention_warp(int C, int H, int T, float* scratch) {
    AttentionWarp w;
    w.D = C / H;
    w.stride = 3 * C;
    w.scale = 1.0f / sqrtf((float)w.D);
    w.vec = scratch;
    w.a = w.vec + w.D;
    w.b = w.a + T;
    w.red = w.b + T;
    return w;
}

// dst[d] = sum_{u in [u0, u1)} wgt[u] * rows[u * stride + d] for d < D, the whole warp cooperating:
// for D >= 32 lanes take columns d = lane, lane + 32, ...; for D < 32 the warp splits into 32 / D groups of
// D lanes, group g summing rows u0 + g, u0 + g + G, ..., and the groups' partial sums are added through
// red (>= 32 floats of this warp's shared scratch). wgt is the warp's shared array; both ways end at a __syncwarp,
// so that every lane has read it before any lane writes it again.
__device__ __forceinline__ void warp_weighted_rows(float* dst, const float* wgt, const float* rows, int stride,
                                                   int u0, int u1, int D, float* red) {
    int lane = lane_id();
    if (D >= WARP_SIZE) {
        for (int d = lane; d < D; d += WARP_SIZE) {
            float acc = 0.0f;
            for (int u = u0; u < u1; u++) {
                acc = fmaf(wgt[u], rows[(long)u * stride + d], acc);
            }
            dst[d] = acc;
        }
        __syncwarp();
        return;
    }
    int groups = WARP_SIZE / D;
    int g = lane / D;
    int d = lane - g * D;
    float acc = 0.0f;
    if (g < groups) {
        for (int u = u0 + g; u < u1; u += groups) {
            acc = fmaf(wgt[u], rows[(long)u * stride + d], acc);
        }
    }
    __syncwarp();
    red[lane] = acc;
    __syncwarp();
    if (lane < D) {
        float total = 0.0f;
        for (int i = 0; i < groups; i++) {
            total += red[i * D + lane];
        }
        dst[lane] = total;
    }
    __syncwarp();
}

// Query row t < n of head h: probs[h, t, :] (zeros for u > t, up to T) and out[t, h*D .. h*D+D-1].
//   out [T, C]; probs [H, T, T]; qkv [T, 3C]
__device__ __forceinline__ void attention_forward_row(int t, int h, float* out, float* probs, const float* qkv,
                                                      int C, int H, int T, float* scratch) {
    int lane = lane_id();
    AttentionWarp w = attention_warp(C, H, T, scratch);
    int D = w.D;
    int stride = w.stride;
    float* sq = w.vec;  // q_t
    float* sp = w.a;    // scores, then probabilities, [t + 1]

    const float* q = qkv + (long)t * stride + h * D;
    const float* k = qkv + C + h * D;
    const float* v = qkv + 2 * C + h * D;
    for (int d = lane; d < D; d += WARP_SIZE) {
        sq[d] = q[d];
    }
    __syncwarp();
    float mx = -INFINITY;
    for (int u = lane; u <= t; u += WARP_SIZE) {
        const float* ku = k + (long)u * stride;
        float dot = 0.0f;
        for (int d = 0; d < D; d++) {
            dot = fmaf(sq[d], ku[d], dot);
        }
        float s = dot * w.scale;
        sp[u] = s;
        mx = fmaxf(mx, s);
    }
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int u = lane; u <= t; u += WARP_SIZE) {
        float e = expf(sp[u] - mx);
        sp[u] = e;
        sum += e;
    }
    float inv = 1.0f / warp_sum(sum);
    float* prow = probs + ((long)h * T + t) * T;
    for (int u = lane; u < T; u += WARP_SIZE) {
        float p = 0.0f;
        if (u <= t) {
            p = sp[u] * inv;
            sp[u] = p;
        }
        prow[u] = p;
    }
    __syncwarp();
    warp_weighted_rows(out + (long)t * C + h * D, sp, v, stride, 0, t + 1, D, w.red);
}

// dq_t of head h (query row t < n), written into dqkv[t, h*D ..].
//   dqkv [T, 3C]; dout, out [T, C]; qkv [T, 3C]; probs [H, T, T]
__device__ __forceinline__ void attention_backward_query_row(int t, int h, float* dqkv, const float* dout,
                                                             const float* qkv, const float* probs, const float* out,
                                                             int C, int H, int T, float* scratch) {
    int lane = lane_id();
    AttentionWarp w = attention_warp(C, H, T, scratch);
    int D = w.D;
    int stride = w.stride;
    float* svec = w.vec;  // dout_t
    float* sa = w.a;      // ds[t, u]
    const float* k = qkv + C + h * D;
    const float* v = qkv + 2 * C + h * D;
    const float* dot_ = dout + (long)t * C + h * D;
    const float* oot = out + (long)t * C + h * D;
    float wpart = 0.0f;
    for (int d = lane; d < D; d += WARP_SIZE) {
        float g = dot_[d];
        svec[d] = g;
        wpart = fmaf(g, oot[d], wpart);
    }
    __syncwarp();  // svec written by lane d % 32, read by every lane below
    float wt = warp_sum(wpart);
    const float* prow = probs + ((long)h * T + t) * T;
    for (int u = lane; u <= t; u += WARP_SIZE) {
        const float* vu = v + (long)u * stride;
        float dp = 0.0f;
        for (int d = 0; d < D; d++) {
            dp = fmaf(svec[d], vu[d], dp);
        }
        sa[u] = prow[u] * (dp - wt) * w.scale;
    }
    __syncwarp();
    warp_weighted_rows(dqkv + (long)t * stride + h * D, sa, k, stride, 0, t + 1, D, w.red);
}

// dk_u and dv_u of head h (key row u < n, over the query rows t in [u, n)), written into dqkv[u, C + h*D ..]
// and dqkv[u, 2C + h*D ..]. Shapes as attention_backward_query_row.
__device__ __forceinline__ void attention_backward_key_row(int u, int h, float* dqkv, const float* dout,
                                                           const float* qkv, const float* probs, const float* out,
                                                           int C, int H, int T, int n, float* scratch) {
    int lane = lane_id();
    AttentionWarp w = attention_warp(C, H, T, scratch);
    int D = w.D;
    int stride = w.stride;
    float* svec = w.vec;  // v_u
    float* sa = w.a;      // ds[t, u] over t
    float* sb = w.b;      // p[t, u] over t
    const float* q = qkv + h * D;
    const float* vu = qkv + 2 * C + h * D + (long)u * stride;
    const float* prob = probs + (long)h * T * T;
    for (int d = lane; d < D; d += WARP_SIZE) {
        svec[d] = vu[d];
    }
    __syncwarp();
    for (int t = u + lane; t < n; t += WARP_SIZE) {
        const float* dot_ = dout + (long)t * C + h * D;
        const float* oot = out + (long)t * C + h * D;
        float dp = 0.0f;
        float wt = 0.0f;
        for (int d = 0; d < D; d++) {
            float g = dot_[d];
            dp = fmaf(g, svec[d], dp);
            wt = fmaf(g, oot[d], wt);
        }
        float p = prob[(long)t * T + u];
        sa[t] = p * (dp - wt) * w.scale;
        sb[t] = p;
    }
    __syncwarp();
    float* drow = dqkv + (long)u * stride + h * D;
    warp_weighted_rows(drow + C, sa, q, stride, u, n, D, w.red);
    warp_weighted_rows(drow + 2 * C, sb, dout + h * D, C, u, n, D, w.red);
}
