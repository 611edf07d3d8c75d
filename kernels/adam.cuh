// Adam, exactly microgpt.py's update, followed by clearing the gradient for the next step. CPU twin:
// dev.microgpt.engine.Adam (with AdamConfig.learningRateAt).
// Tested through the kernels that use it (emulated in CI): dev.microgpt.gpu.KernelParityTest#adamUpdate (adam.cu)
// and GpuEngineParityTest (step.cu).
//
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   m_hat = m / (1 - b1^(step + 1));   v_hat = v / (1 - b2^(step + 1))
//   p -= lr_t * m_hat / (sqrt(v_hat) + eps),   lr_t = lr * (1 - step / num_steps)
//   g = 0
// The per-step factors (lr_t, the two bias corrections, 1 - beta) are computed in double, as the CPU twin does,
// then rounded once; the per-parameter arithmetic is float.
//
// Device functions shared by adam.cu and the fused step (step.cu).

#pragma once

#include "common.cuh"

// The step's factors, the same for every parameter.
struct AdamFactors {
    float lr_t;
    float m_corr;
    float v_corr;
    float b1;
    float b2;
    float one_minus_b1;
    float one_minus_b2;
    float eps;
};

__device__ __forceinline__ AdamFactors adam_factors(double lr, double beta1, double beta2, double eps,
                                                    const StepScalars* ss) {
    int step = ss->step;
    double t1 = (double)(step + 1);
    AdamFactors f;
    f.lr_t = (float)(lr * (1.0 - (double)step / (double)ss->num_steps));
    f.m_corr = (float)(1.0 - pow(beta1, t1));
    f.v_corr = (float)(1.0 - pow(beta2, t1));
    f.b1 = (float)beta1;
    f.b2 = (float)beta2;
    f.one_minus_b1 = (float)(1.0 - beta1);
    f.one_minus_b2 = (float)(1.0 - beta2);
    f.eps = (float)eps;
    return f;
}

// Updates parameter i with its gradient g.    params, m, v [P]
__device__ __forceinline__ void adam_update_element(long i, float g, float* params, float* m, float* v,
                                                    const AdamFactors& f) {
    float mi = f.b1 * m[i] + f.one_minus_b1 * g;
    float vi = f.b2 * v[i] + f.one_minus_b2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    float m_hat = mi / f.m_corr;
    float v_hat = vi / f.v_corr;
    params[i] -= f.lr_t * m_hat / (sqrtf(v_hat) + f.eps);
}

// Updates parameters i = first, first + stride, ... < num_params and clears their gradients (a grid-stride loop:
// every thread of the grid passes its global index as first and the grid's thread count as stride).
//   params, grads, m, v [P]
__device__ __forceinline__ void adam_update_strided(float* params, float* grads, float* m, float* v,
                                                    long num_params, long first, long stride,
                                                    const AdamFactors& f) {
    for (long i = first; i < num_params; i += stride) {
        adam_update_element(i, grads[i], params, m, v, f);
        grads[i] = 0.0f;
    }
}
