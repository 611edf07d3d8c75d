package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuLaunchCooperativeKernel;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;

/**
 * One kernel launch with every argument bound. The engine's launches never change between steps (per-step values
 * live in device memory), so each is built once and enqueued again and again without allocating. A cooperative
 * launch guarantees that all its blocks are resident together, which grid-wide syncs need.
 */
record Launch(String kernel, CUfunction function, int gridX, int gridY, int gridZ, int block, int sharedBytes,
              Pointer arguments, boolean cooperative, String call) implements StepOp {

    Launch(String kernel, CUfunction function, int gridX, int gridY, int gridZ, int block, int sharedBytes,
           Pointer arguments) {
        this(kernel, function, gridX, gridY, gridZ, block, sharedBytes, arguments, false,
                "cuLaunchKernel(" + kernel + ")");
    }

    /** A cooperative launch of a one-dimensional grid. */
    static Launch cooperative(String kernel, CUfunction function, int blocks, int block, int sharedBytes,
                              Pointer arguments) {
        return new Launch(kernel, function, blocks, 1, 1, block, sharedBytes, arguments, true,
                "cuLaunchCooperativeKernel(" + kernel + ", " + blocks + " blocks)");
    }

    void enqueue(CUstream stream) {
        int result = cooperative
                ? cuLaunchCooperativeKernel(function, gridX, gridY, gridZ, block, 1, 1, sharedBytes, stream, arguments)
                : cuLaunchKernel(function, gridX, gridY, gridZ, block, 1, 1, sharedBytes, stream, arguments, null);
        Cuda.check(result, call);
    }

    /** The kernel reads n from the step scalars on the device. */
    @Override
    public void enqueue(CUstream stream, int positions) {
        enqueue(stream);
    }

    @Override
    public boolean dependsOnPositions() {
        return false;
    }
}
