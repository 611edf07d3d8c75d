// Adam over every parameter in one launch, then the gradients are cleared for the next step (the math:
// adam.cuh, shared with the fused step in step.cu). CPU twin: dev.microgpt.engine.Adam.
// Test: dev.microgpt.gpu.KernelParityTest#adamUpdate (on the emulated device in CI, kernels/emu).
// step and num_steps come from StepScalars (device memory), so the launch's arguments never change between
// steps. The hyper-parameters come as double, as the CPU twin uses them.
//
// Launch: grid CEIL_DIV(num_params, 256) blocks of 256 threads, no shared memory (a grid-stride loop, so any
// grid size is correct; the suggested one gives one parameter per thread).

#include "adam.cuh"

extern "C" __global__ void __launch_bounds__(256)
adam_update(float* __restrict__ params,             // [P] updated in place
            float* __restrict__ grads,              // [P] read, then zeroed
            float* __restrict__ m,                  // [P] first moments, updated
            float* __restrict__ v,                  // [P] second moments, updated
            int num_params,                         // P
            double lr,                              // base learning rate (0.01 in microgpt.py)
            double beta1,                           // 0.85
            double beta2,                           // 0.99
            double eps,                             // 1e-8
            const StepScalars* __restrict__ ss) {
    adam_update_strided(params, grads, m, v, num_params, blockIdx.x * (long)blockDim.x + threadIdx.x,
                        (long)gridDim.x * blockDim.x, adam_factors(lr, beta1, beta2, eps, ss));
}
