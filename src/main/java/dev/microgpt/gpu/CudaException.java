package dev.microgpt.gpu;

/** A CUDA call that failed; the message names the call and CUDA's error. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }
}
