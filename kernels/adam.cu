// Adam over every parameter in one launch, exactly microgpt.py's update, then the gradients are cleared
// for the next step. CPU twin: dev.microgpt.engine.Adam (with AdamConfig.learningRateAt).
//
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   m_hat = m / (1 - b1^(step + 1));   v_hat = v / (1 - b2^(step + 1))
//   p -= lr_t * m_hat / (sqrt(v_hat) + eps),   lr_t = lr * (1 - step / num_steps)
//   g = 0
// step and num_steps come from StepScalars (device memory), so the launch's arguments never change between
// steps. The hyper-parameters come as double and the per-step factors (lr_t, the two bias corrections, 1 - beta)
// are computed in double by every thread, as the CPU twin does, then rounded once; the per-parameter arithmetic is
// float.
//
// Launch: grid CEIL_DIV(num_params, 256) blocks of 256 threads, no shared memory (a grid-stride loop, so any
// grid size is correct; the suggested one gives one parameter per thread).

#include "common.cuh"

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
    int step = ss->step;
    double t1 = (double)(step + 1);
    float lr_t = (float)(lr * (1.0 - (double)step / (double)ss->num_steps));
    float m_corr = (float)(1.0 - pow(beta1, t1));
    float v_corr = (float)(1.0 - pow(beta2, t1));
    float b1 = (float)beta1;
    float b2 = (float)beta2;
    float one_minus_b1 = (float)(1.0 - beta1);
    float one_minus_b2 = (float)(1.0 - beta2);
    float eps_f = (float)eps;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < num_params; i += (long)gridDim.x * blockDim.x) {
        float g = grads[i];
        float mi = b1 * m[i] + one_minus_b1 * g;
        float vi = b2 * v[i] + one_minus_b2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        float m_hat = mi / m_corr;
        float v_hat = vi / v_corr;
        params[i] -= lr_t * m_hat / (sqrtf(v_hat) + eps_f);
        grads[i] = 0.0f;
    }
}
