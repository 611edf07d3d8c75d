// Causal multi-head self-attention within each document of a step, all documents, heads and positions in one launch,
// and its backward in one launch (the math: attention.cuh, shared with the fused step in step.cu).
// CPU twin: dev.microgpt.ops.Attention (and ops.Softmax).
// Test: dev.microgpt.gpu.KernelParityTest#attentionForward and #attentionBackward (on the emulated device in CI).
//
// Launch (both kernels): block 128 threads (4 warps; any multiple of 32 up to 1024 works), one warp per
// (row, head), a row being position t of document b (row b * T + t of the step's B * T):
//   attention_forward   grid (CEIL_DIV(B * T, warps), H)
//   attention_backward  grid (CEIL_DIV(B * T, warps), H, 2): blockIdx.z = 0 makes dq (a warp per query row t),
//                       blockIdx.z = 1 makes dk and dv (a warp per key row u); dqkv is overwritten (rows t < n_b),
//                       no zeroing needed
//   dynamic shared memory, both: warps * ATTN_SCRATCH_FLOATS(D, T) * 4 bytes, which attention_shared_bytes
//   returns (4 warps: T = 128, D = 128 -> 7168 bytes; T = 16, D = 4 -> 1600 bytes).
// Limits: D = C / H and T arbitrary as long as the shared memory stays <= 48 KiB (the default dynamic limit
// without cuFuncSetAttribute): with 4 warps D + 2T <= 3008, e.g. T = 1024 with D = 128 (the model needs T <= 128,
// C <= 128). Each document attends within itself: probs [B, H, T, T], document b's block at b * H * T * T. Rows
// t >= n_b are neither read nor written, except that attention_forward writes zeros to probs[b, h, t, u] for
// t < n_b, t < u < T (the masked entries).

#include "attention.cuh"

// This warp's scratch in the block's dynamic shared memory.
__device__ __forceinline__ float* attention_warp_scratch(int D, int T) {
    extern __shared__ float attn_smem[];
    return attn_smem + (long)warp_in_block() * ATTN_SCRATCH_FLOATS(D, T);
}

extern "C" __global__ void
attention_forward(float* __restrict__ out,          // [B * T, C] output: heads concatenated, rows t < n_b
                  float* __restrict__ probs,        // [B, H, T, T] output: attention weights, rows t < n_b
                  const float* __restrict__ qkv,    // [B * T, 3C] q | k | v
                  int C,
                  int H,                            // heads; D = C / H
                  int T,                            // block_size
                  const int* __restrict__ slots,    // [B][slot_ints]: the documents (common.cuh, Batch)
                  int slot_ints, int B) {
    int r = held_warp_row(slots, slot_ints, B, T);
    if (r >= 0) {  // only warp-level synchronisation inside: whole warps may skip
        long b = r / T;
        attention_forward_row(r % T, blockIdx.y, out + b * T * C, probs + b * H * T * T, qkv + b * T * 3 * C, C, H,
                              T, attention_warp_scratch(C / H, T));
    }
}

extern "C" __global__ void
attention_backward(float* __restrict__ dqkv,        // [B * T, 3C] output: dq | dk | dv, rows t < n_b overwritten
                   const float* __restrict__ dout,  // [B * T, C] gradient of out
                   const float* __restrict__ qkv,   // [B * T, 3C] the forward's q | k | v
                   const float* __restrict__ probs, // [B, H, T, T] the forward's attention weights
                   const float* __restrict__ out,   // [B * T, C] the forward's output
                   int C,
                   int H,                           // heads; D = C / H
                   int T,                           // block_size
                   const int* __restrict__ slots,   // [B][slot_ints]: the documents (common.cuh, Batch)
                   int slot_ints, int B) {
    int r = held_warp_row(slots, slot_ints, B, T);  // query row t (z = 0) or key row u (z = 1) of document b
    if (r < 0) {
        return;
    }
    long b = r / T;
    long tc = b * T * C;
    float* doc_dqkv = dqkv + 3 * tc;
    const float* doc_qkv = qkv + 3 * tc;
    const float* doc_probs = probs + b * H * T * T;
    float* scratch = attention_warp_scratch(C / H, T);
    if (blockIdx.z == 0) {
        attention_backward_query_row(r % T, blockIdx.y, doc_dqkv, dout + tc, doc_qkv, doc_probs, out + tc, C, H, T,
                                     scratch);
    } else {
        attention_backward_key_row(r % T, blockIdx.y, doc_dqkv, dout + tc, doc_qkv, doc_probs, out + tc, C, H, T,
                                   Batch{slots, slot_ints, B, T}.positions((int)b), scratch);
    }
}

// bytes[0] = the dynamic shared memory, in bytes, that attention_forward and attention_backward need in a block of
// `warps` warps: the host asks rather than repeating ATTN_SCRATCH_FLOATS.
// Launch: grid 1, block 1 (once per shape, when the step's launches are built).
extern "C" __global__ void
attention_shared_bytes(long long* bytes,            // [1] output
                       int C, int H, int T, int warps) {
    bytes[0] = (long long)warps * ATTN_SCRATCH_FLOATS(C / H, T) * (long long)sizeof(float);
}
