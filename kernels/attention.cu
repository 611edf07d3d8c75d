// Causal multi-head self-attention over a whole document, all heads and positions in one launch, and its
// backward in one launch. CPU twin: dev.microgpt.ops.Attention (and ops.Softmax).
//
// qkv [T, 3C] holds q in columns [0, C), k in [C, 2C), v in [2C, 3C); head h uses columns h*D .. h*D+D-1 of
// each third, D = C / H. With scale = 1 / sqrt(D):
//   forward   p[h, t, u] = softmax_{u <= t}(q_t . k_u * scale)        probs [H, T, T], row t: u in [0, t]
//             out[t, h*D + d] = sum_{u <= t} p[h, t, u] v_u[d]        out [T, C], heads concatenated
//   backward  dp[t, u] = dout_t . v_u,   w_t = sum_u p[t, u] dp[t, u] = dout_t . out_t
//             ds[t, u] = p[t, u] (dp[t, u] - w_t) * scale
//             dq_t = sum_{u <= t} ds[t, u] k_u,  dk_u = sum_{t >= u} ds[t, u] q_t,  dv_u = sum_{t >= u} p[t, u] dout_t
// The backward reads the forward's output (out) to get w_t = dout_t . out_t, so every gradient row can be
// built by one warp without atomics: blocks with blockIdx.z = 0 make dq (a warp per query row t), blocks with
// blockIdx.z = 1 make dk and dv (a warp per key row u). dqkv is overwritten (rows t < n), no zeroing needed.
//
// Launch (both kernels): block 128 threads (4 warps; any multiple of 32 up to 1024 works), one warp per
// (position, head):
//   attention_forward   grid (CEIL_DIV(T, warps), H)
//   attention_backward  grid (CEIL_DIV(T, warps), H, 2)
//   dynamic shared memory, both: ATTN_SMEM_BYTES = warps * (D + 2*T + 64) * 4 bytes
//   (4 warps: T = 128, D = 128 -> 7168 bytes; T = 16, D = 4 -> 1600 bytes).
// Limits: D = C / H and T arbitrary as long as ATTN_SMEM_BYTES <= 48 KiB (the default dynamic limit without
// cuFuncSetAttribute): with 4 warps D + 2T <= 3008, e.g. T = 1024 with D = 128 (the model needs T <= 128,
// C <= 128). n = StepScalars.positions; rows t >= n are neither read nor written, except that
// attention_forward writes zeros to probs[h, t, u] for t < n, t < u < T (the masked entries).

#include "common.cuh"

// Per-warp scratch in dynamic shared memory: [D] vec | [T] a | [T] b | [64] reduction.
__device__ __forceinline__ float* attn_warp_scratch(int D, int T) {
    extern __shared__ float attn_smem[];
    return attn_smem + (long)warp_in_block() * (D + 2 * T + 64);
}

// dst[d] = sum_{u in [u0, u1)} wgt[u] * rows[u * stride + d] for d < D, the whole warp cooperating:
// for D >= 32 lanes take columns d = lane, lane + 32, ...; for D < 32 the warp splits into 32 / D groups of
// D lanes, group g summing rows u0 + g, u0 + g + G, ..., and the groups' partial sums are added through
// red (>= 32 floats of this warp's shared scratch). wgt is the warp's shared array.
__device__ __forceinline__ void warp_weighted_rows(float* __restrict__ dst, const float* wgt,
                                                   const float* __restrict__ rows, int stride,
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

extern "C" __global__ void
attention_forward(float* __restrict__ out,          // [T, C] output: heads concatenated, rows t < n
                  float* __restrict__ probs,        // [H, T, T] output: attention weights, rows t < n
                  const float* __restrict__ qkv,    // [T, 3C] q | k | v
                  int C,
                  int H,                            // heads; D = C / H
                  int T,                            // block_size
                  const StepScalars* __restrict__ ss) {
    int t = warp_row();
    int h = blockIdx.y;
    int n = step_positions(ss, T);
    if (t >= n) {
        return;  // only warp-level synchronisation below, so whole warps may leave
    }
    int lane = lane_id();
    int D = C / H;
    int stride = 3 * C;
    float scale = 1.0f / sqrtf((float)D);
    float* sq = attn_warp_scratch(D, T);  // q_t
    float* sp = sq + D;                   // scores, then probabilities, [t + 1]
    float* red = sp + 2 * T;

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
        float s = dot * scale;
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
    warp_weighted_rows(out + (long)t * C + h * D, sp, v, stride, 0, t + 1, D, red);
}

extern "C" __global__ void
attention_backward(float* __restrict__ dqkv,        // [T, 3C] output: dq | dk | dv, rows t < n overwritten
                   const float* __restrict__ dout,  // [T, C] gradient of out
                   const float* __restrict__ qkv,   // [T, 3C] the forward's q | k | v
                   const float* __restrict__ probs, // [H, T, T] the forward's attention weights
                   const float* __restrict__ out,   // [T, C] the forward's output
                   int C,
                   int H,                           // heads; D = C / H
                   int T,                           // block_size
                   const StepScalars* __restrict__ ss) {
    int r = warp_row();  // query row t (z = 0) or key row u (z = 1)
    int h = blockIdx.y;
    int n = step_positions(ss, T);
    if (r >= n) {
        return;
    }
    int lane = lane_id();
    int D = C / H;
    int stride = 3 * C;
    float scale = 1.0f / sqrtf((float)D);
    float* svec = attn_warp_scratch(D, T);
    float* sa = svec + D;
    float* sb = sa + T;
    float* red = sb + T;
    const float* q = qkv + h * D;
    const float* k = qkv + C + h * D;
    const float* v = qkv + 2 * C + h * D;
    const float* prob = probs + (long)h * T * T;

    if (blockIdx.z == 0) {
        // dq_t: a warp per query row t.
        int t = r;
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
        const float* prow = prob + (long)t * T;
        for (int u = lane; u <= t; u += WARP_SIZE) {
            const float* vu = v + (long)u * stride;
            float dp = 0.0f;
            for (int d = 0; d < D; d++) {
                dp = fmaf(svec[d], vu[d], dp);
            }
            sa[u] = prow[u] * (dp - wt) * scale;
        }
        __syncwarp();
        warp_weighted_rows(dqkv + (long)t * stride + h * D, sa, k, stride, 0, t + 1, D, red);
    } else {
        // dk_u and dv_u: a warp per key row u, over the query rows t in [u, n).
        int u = r;
        const float* vu = v + (long)u * stride;
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
            sa[t] = p * (dp - wt) * scale;
            sb[t] = p;
        }
        __syncwarp();
        float* drow = dqkv + (long)u * stride + h * D;
        warp_weighted_rows(drow + C, sa, q, stride, u, n, D, red);
        warp_weighted_rows(drow + 2 * C, sb, dout + h * D, C, u, n, D, red);
    }
}
