// Softmax cross-entropy of one position's logits, loss and gradient together. CPU twin:
// dev.microgpt.ops.CrossEntropy (forward then backward). Tested through the kernels that use it (emulated in CI):
// dev.microgpt.gpu.KernelParityTest#crossEntropy (crossentropy.cu) and GpuEngineParityTest (step.cu).
//
//   p[t] = softmax(logits[t])        target_t = tokens[t + 1]
//   loss_t = -log p[t][target_t] = (max + log(sum exp(l - max))) - l[target], the stable form
//   dlogits[t, j] = (p[t, j] - (j == target_t)) / (n B)
// The step's loss, the mean over its B documents of each one's mean of loss_t over t < n_b, is summed by the
// caller: crossentropy.cu within its one block, the fused step (step.cu) across its grid.
//
// Device function shared by crossentropy.cu and step.cu, called by all 32 lanes of one warp for one row t < n.

#pragma once

#include "common.cuh"

// Writes dlogits[t] = (p - onehot) * scale (the document's weight in the step's loss over its positions, 1 / (n B))
// and returns loss_t (on every lane). dlogits may be the same buffer as logits: each element is read and then
// written by the same lane, and the target's logit is read by every lane before any lane writes.
//   dlogits, logits [T, V] (the document's rows); tokens [T + 1]
__device__ __forceinline__ float crossentropy_row(int t, float* dlogits, const float* logits, const int* tokens,
                                                  int V, float scale) {
    int lane = lane_id();
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
    float target_logit = lt[target];
    __syncwarp();
    float inv_sum = 1.0f / sum;
    for (int j = lane; j < V; j += WARP_SIZE) {
        float p = expf(lt[j] - mx) * inv_sum;
        dt[j] = (p - (j == target ? 1.0f : 0.0f)) * scale;
    }
    return (mx + logf(sum)) - target_logit;
}

// losses[step] = mean, while 0 <= step < num_steps (the host sizes losses to the run's steps).
__device__ __forceinline__ void store_step_loss(float* losses, const StepScalars* ss, float mean) {
    int step = ss->step;
    if (step >= 0 && step < ss->num_steps) {
        losses[step] = mean;
    }
}
