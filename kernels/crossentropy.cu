// Softmax cross-entropy over the logits of every position, loss and gradient in one launch (the row math:
// crossentropy.cuh, shared with the fused step in step.cu). CPU twin: dev.microgpt.ops.CrossEntropy.
// Test: dev.microgpt.gpu.KernelParityTest#crossEntropy (on the emulated device in CI, kernels/emu).
//
//   losses[step] = (1 / n) * sum_{t < n} -log p[t][tokens[t + 1]]       (one float per training step)
//   dlogits[t, j] = (p[t, j] - (j == tokens[t + 1])) / n                 t < n
// with n = StepScalars.positions and step = StepScalars.step. losses is a device array of num_steps floats
// so the host can copy losses back in batches; losses[step] is written only while 0 <= step < num_steps.
//
// Launch: grid 1, block 1024 threads (any multiple of 32 up to 1024), no dynamic shared memory (128 B static).
// One block, a warp per row (rows t = warp, warp + warps, ...), so the loss sum is deterministic and needs no
// atomics or zeroing. Fine for the character-level vocabularies this model trains on; every warp makes three
// passes over its rows' V logits.
// dlogits may be the same buffer as logits.

#include "crossentropy.cuh"

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
    int warps = blockDim.x >> 5;
    float inv_n = 1.0f / (float)n;
    float loss_sum = 0.0f;  // this warp's rows
    for (int t = warp_in_block(); t < n; t += warps) {
        loss_sum += crossentropy_row(t, dlogits, logits, tokens, V, inv_n);
    }
    float total = block_sum(lane_id() == 0 ? loss_sum : 0.0f, scratch);
    if (threadIdx.x == 0) {
        store_step_loss(losses, ss, inv_n * total);
    }
}
