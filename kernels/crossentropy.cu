// Softmax cross-entropy over the logits of every position, loss and gradient in one launch.
// CPU twin: dev.microgpt.ops.CrossEntropy (forward then backward).
//
//   p[t] = softmax(logits[t])        target_t = tokens[t + 1]
//   losses[step] = (1 / n) * sum_{t < n} -log p[t][target_t]       (one float per training step)
//   dlogits[t, j] = (p[t, j] - (j == target_t)) / n                  t < n
// with n = StepScalars.positions and step = StepScalars.step. losses is a device array of num_steps floats
// so the host can copy losses back in batches; losses[step] is written only while 0 <= step < num_steps.
// -log p[target] is computed as (max + log(sum exp(l - max))) - l[target], the stable form.
//
// Launch: grid 1, block 1024 threads (any multiple of 32 up to 1024), no dynamic shared memory (128 B static).
// One block, a warp per row (rows t = warp, warp + warps, ...), so the loss sum is deterministic and needs no
// atomics or zeroing. Fine for the character-level vocabularies this model trains on; every warp makes three
// passes over its rows' V logits.
// dlogits may be the same buffer as logits (each element is read and then written by the same lane).

#include "common.cuh"

extern "C" __global__ void __launch_bounds__(1024)
crossentropy_forward_backward(float* dlogits,                    // [T, V] output, rows t < n (may equal logits)
                              float* __restrict__ losses,        // [num_steps] output: losses[step] = mean loss
                              const float* logits,               // [T, V]
                              const int* __restrict__ tokens,    // [T + 1]: targets tokens[t + 1]
                              int V,
                              int T,                             // block_size
                              const StepScalars* __restrict__ ss) {
    __shared__ float scratch[32];
    int n = step_positions(ss, T);
    int lane = lane_id();
    int warps = blockDim.x >> 5;
    float inv_n = 1.0f / (float)n;
    float loss_sum = 0.0f;  // meaningful in lane 0 of each warp
    for (int t = warp_in_block(); t < n; t += warps) {
        const float* lt = logits + (long)t * V;
        float* dt = dlogits + (long)t * V;
        int target = tokens[t + 1];
        float mx = -INFINITY;
        for (int j = lane; j < V; j += WARP_SIZE) {
            mx = fmaxf(mx, lt[j]);
        }
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int j = lane; j < V; j += WARP_SIZE) {
            sum += expf(lt[j] - mx);
        }
        sum = warp_sum(sum);
        float target_logit = lt[target];  // read by every lane before any lane overwrites (in-place use)
        __syncwarp();
        float inv_sum = 1.0f / sum;
        for (int j = lane; j < V; j += WARP_SIZE) {
            float p = expf(lt[j] - mx) * inv_sum;
            dt[j] = (p - (j == target ? 1.0f : 0.0f)) * inv_n;
        }
        loss_sum += (mx + logf(sum)) - target_logit;
    }
    float total = block_sum(lane == 0 ? loss_sum : 0.0f, scratch);
    if (threadIdx.x == 0) {
        int step = ss->step;
        if (step >= 0 && step < ss->num_steps) {
            losses[step] = inv_n * total;
        }
    }
}
