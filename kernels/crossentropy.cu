// Softmax cross-entropy over the logits of every position, loss and gradient in one launch (the row math:
// crossentropy.cuh, shared with the fused step in step.cu). CPU twin: dev.microgpt.ops.CrossEntropy.
// Test: dev.microgpt.gpu.KernelParityTest#crossEntropy (on the emulated device in CI, kernels/emu).
//
//   losses[step] = (1 / B) * sum_b (1 / n_b) * sum_{t < n_b} -log p[b, t][tokens_b[t + 1]]   (one float per step)
//   dlogits[b, t, j] = (p[b, t, j] - (j == tokens_b[t + 1])) / (n_b B)                          t < n_b
// with n_b = document b's StepScalars.positions and step = StepScalars.step. losses is a device array of num_steps
// floats so the host can copy losses back in batches; losses[step] is written only while 0 <= step < num_steps.
//
// Launch: grid 1, block 1024 threads (any multiple of 32 up to 1024), no dynamic shared memory (128 B static).
// One block, a warp per row (rows r = warp, warp + warps, ... of the step's B * T), so the loss sum is
// deterministic and needs no atomics or zeroing. Fine for the character-level vocabularies this model trains on;
// every warp makes three passes over its rows' V logits.
// dlogits may be the same buffer as logits.

#include "crossentropy.cuh"

extern "C" __global__ void __launch_bounds__(1024)
crossentropy_forward_backward(float* dlogits,                    // [B * T, V] output, rows t < n_b (may be logits)
                              float* __restrict__ losses,        // [num_steps] output: losses[step] = mean loss
                              const float* logits,               // [B * T, V]
                              int V,
                              int T,                             // block_size
                              const int* __restrict__ slots,     // [B][slot_ints]: the documents and their targets
                              int slot_ints, int B) {
    __shared__ float scratch[32];
    const Batch batch{slots, slot_ints, B, T};
    int warps = blockDim.x >> 5;
    float inv_b = 1.0f / (float)B;
    float loss_sum = 0.0f;  // this warp's rows, each over its document's positions
    for (int r = warp_in_block(); r < batch.rows(); r += warps) {
        int b = r / T;
        int n = batch.positions(b);
        if (r % T < n) {
            float inv_n = 1.0f / (float)n;
            long doc = (long)b * T * V;
            loss_sum += inv_n * crossentropy_row(r % T, dlogits + doc, logits + doc, batch.tokens(b), V, inv_n * inv_b);
        }
    }
    float total = block_sum(lane_id() == 0 ? loss_sum : 0.0f, scratch);
    if (threadIdx.x == 0) {
        store_step_loss(losses, batch.step(), inv_b * total);
    }
}
