package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;

/**
 * One kernel launch with every argument bound. The engine's launches never change between steps (per-step values
 * live in device memory), so each is built once and enqueued again and again without allocating.
 */
record Launch(String kernel, CUfunction function, int gridX, int gridY, int gridZ, int block, int sharedBytes,
              Pointer arguments, String call) {

    Launch(String kernel, CUfunction function, int gridX, int gridY, int gridZ, int block, int sharedBytes,
           Pointer arguments) {
        this(kernel, function, gridX, gridY, gridZ, block, sharedBytes, arguments, "cuLaunchKernel(" + kernel + ")");
    }

    void enqueue(CUstream stream) {
        Cuda.check(cuLaunchKernel(function, gridX, gridY, gridZ, block, 1, 1, sharedBytes, stream, arguments, null),
                call);
    }
}
