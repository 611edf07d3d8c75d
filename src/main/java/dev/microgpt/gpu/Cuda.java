package dev.microgpt.gpu;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/** Checks the result codes of CUDA driver calls (JCuda's own exceptions are off: they do not say which call failed). */
final class Cuda {

    private Cuda() {
    }

    /** Throws unless {@code result} is CUDA_SUCCESS, with the driver's own description of the error. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: " + CUresult.stringFor(result) + describe(result));
        }
    }

    /**
     * ": " and what cuGetErrorString says of result ("an illegal memory access was encountered"; the emulated device
     * adds what it saw: the kernel, the thread, the address), or nothing where the driver has no words for it.
     */
    private static String describe(int result) {
        String[] text = {null};
        return JCudaDriver.cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null ? ": " + text[0]
                : "";
    }
}
