// Causal multi-head self-attention over a whole document, all heads and positions in one launch, and its
// backward in one launch (the math: attention.cuh, shared with the fused step in step.cu).
// CPU twin: dev.microgpt.ops.Attention (and ops.Softmax).
// Test: dev.microgpt.gpu.KernelParityTest#attentionForward and #attentionBackward (on the emulated device in CI).
//
// Launch (both kernels): block 128 threads (4 warps; any multiple of 32 up to 1024 works), one warp per
// (position, head):
//   attention_forward   grid (CEIL_DIV(T, warps), H)
//   attention_backward  grid (CEIL_DIV(T, warps), H, 2): blockIdx.z = 0 makes dq (a warp per query row t),
//                       blockIdx.z = 1 makes dk and dv (a warp per key row u); dqkv is overwritten (rows t < n),
//                       no zeroing needed
//   dynamic shared memory, both: warps * ATTN_SCRATCH_FLOATS(D, T) * 4 = warps * (D + 2*T + 64) * 4 bytes
//   (4 warps: T = 128, D = 128 -> 7168 bytes; T = 16, D = 4 -> 1600 bytes).
// Limits: D = C / H and T arbitrary as long as the shared memory stays <= 48 KiB (the default dynamic limit
// without cuFuncSetAttribute): with 4 warps D + 2T <= 3008, e.g. T = 1024 with D = 128 (the model needs T <= 128,
// C <= 128). n = StepScalars.positions; rows t >= n are neither read nor written, except that
// attention_forward writes zeros to probs[h, t, u] for t < n, t < u < T (the masked entries).

#include "attention.cuh"

// This warp's scratch in the block's dynamic shared memory.
__device__ __forceinline__ float* attention_warp_scratch(int D, int T) {
    extern __shared__ float attn_smem[];
    return attn_smem + (long)warp_in_block() * ATTN_SCRATCH_FLOATS(D, T);
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
    if (t < step_positions(ss, T)) {  // only warp-level synchronisation inside, so whole warps may skip
        attention_forward_row(t, blockIdx.y, out, probs, qkv, C, H, T, attention_warp_scratch(C / H, T));
    }
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
    int n = step_positions(ss, T);
    if (r >= n) {
        return;
    }
    float* scratch = attention_warp_scratch(C / H, T);
    if (blockIdx.z == 0) {
        attention_backward_query_row(r, blockIdx.y, dqkv, dout, qkv, probs, out, C, H, T, scratch);
    } else {
        attention_backward_key_row(r, blockIdx.y, dqkv, dout, qkv, probs, out, C, H, T, n, scratch);
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
