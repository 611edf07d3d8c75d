package dev.microgpt.gpu;

import java.util.Deque;
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

    /**
     * Closes every resource, most recent first, even when one fails; then throws the first failure. Native resources
     * are released in the reverse order of their creation (memory before the context that owns it).
     */
    static void closeAll(Deque<AutoCloseable> resources) {
        RuntimeException failure = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e instanceof RuntimeException r ? r : new CudaException(e.toString());
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
