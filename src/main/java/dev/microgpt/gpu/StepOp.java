package dev.microgpt.gpu;

import jcuda.driver.CUstream;

/**
 * One operation of a training step, issued on the engine's stream by exactly one driver or library call (a kernel
 * launch, an asynchronous copy, a cuBLAS call). Hand kernels read the step's positions n from device memory and so
 * issue the same call at every step; a cuBLAS call takes n from the host, so what it issues depends on it.
 */
interface StepOp {

    /** Issues the call for a step of {@code positions} positions (1..block_size); rows t >= positions are not touched. */
    void enqueue(CUstream stream, int positions);

    /** Whether what {@link #enqueue} issues depends on positions: a step of ops that never do is one graph for all. */
    boolean dependsOnPositions();
}
