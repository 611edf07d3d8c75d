package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemHostGetDevicePointer;
import static jcuda.driver.JCudaDriver.cuStreamWaitValue32;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamWaitValue_flags;

/**
 * Holds a stream's work until the host has issued all of it, so that the GPU then runs it back to back: the stream
 * waits ({@code cuStreamWaitValue32}) for a word of page-locked host memory to equal {@link #OPEN}, which the host
 * writes when it is done. Timing events around each operation then time the operation on the GPU, not the host's
 * issue (a launch through JCuda takes longer than many of the step's kernels run).
 */
final class StreamGate implements AutoCloseable {

    private static final int SHUT = 0;
    private static final int OPEN = 1;

    private final PinnedInts word = new PinnedInts("the stream gate's word", 1); // [1]: SHUT or OPEN
    private final CUdeviceptr wordOnDevice = new CUdeviceptr();

    StreamGate() {
        word.ints().put(0, SHUT);
        Cuda.check(cuMemHostGetDevicePointer(wordOnDevice, word.at(0), 0), "cuMemHostGetDevicePointer");
    }

    /**
     * Runs {@code issue}, which puts work on {@code stream}, with the stream held until it returns (or throws): the
     * work starts on the GPU only once all of it is queued. {@code issue} must not wait for the stream: the GPU would
     * wait for the host, and the host for the GPU.
     */
    void issueHeld(CUstream stream, Runnable issue) {
        word.ints().put(0, SHUT);
        Cuda.check(cuStreamWaitValue32(stream, wordOnDevice, OPEN, CUstreamWaitValue_flags.CU_STREAM_WAIT_VALUE_EQ),
                "cuStreamWaitValue32");
        try {
            issue.run();
        } finally {
            word.ints().put(0, OPEN); // also on a failure: a stream left held would hang every later wait for it
        }
    }

    @Override
    public void close() {
        word.close();
    }
}
