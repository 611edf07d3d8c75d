package dev.microgpt.gpu;

import jcuda.driver.CUresult;

/** Checks the result codes of CUDA driver calls (JCuda's own exceptions are off: they do not say which call failed). */
final class Cuda {

    private Cuda() {
    }

    /** Throws unless {@code result} is CUDA_SUCCESS. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: " + CUresult.stringFor(result));
        }
    }
}
