package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemHostGetDevicePointer;
import static jcuda.driver.JCudaDriver.cuStreamWaitValue32;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamWaitValue_flags;

/**
 * Holds a stream's work until the host has issued all of it, so that the GPU then runs it back to back: the stream
 * waits ({@code cuStreamWaitValue32}) for a word of page-locked host memory to equal {@link #OPEN}, which the host
 * writes when it is done. Timing events around each operation then time the operation on the GPU, not the host's
 * issue (a launch through JCuda takes longer than many of the step's kernels run).
 *
 * <p>A driver call that waits for the GPU while the stream is held (a library loading its kernels on first use may
 * synchronise the context) would wait for ever, the GPU for the host and the host for the GPU: a watchdog opens the
 * gate after {@link #WATCHDOG_SECONDS} s, and {@link #issueHeld} says that it had to.
 */
final class StreamGate implements AutoCloseable {

    private static final int SHUT = 0;
    private static final int OPEN = 1;
    /** Far longer than issuing a step takes (microseconds a launch), far shorter than a test's patience. */
    static final int WATCHDOG_SECONDS = 5;

    private final PinnedInts word = new PinnedInts("the stream gate's word", 1); // [1]: SHUT or OPEN
    private final CUdeviceptr wordOnDevice = new CUdeviceptr();
    private final ScheduledExecutorService watchdog;

    StreamGate() {
        try {
            word.ints().put(0, SHUT);
            Cuda.check(cuMemHostGetDevicePointer(wordOnDevice, word.at(0), 0), "cuMemHostGetDevicePointer");
        } catch (RuntimeException e) {
            word.close();
            throw e;
        }
        watchdog = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "stream gate watchdog");
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Runs {@code issue}, which puts work on {@code stream}, with the stream held until it returns (or throws): the
     * work starts on the GPU only once all of it is queued. Returns false where the watchdog had to open the gate
     * first, because {@code issue} waited for the stream: then the work did not run back to back.
     */
    boolean issueHeld(CUstream stream, Runnable issue) {
        word.ints().put(0, SHUT);
        Cuda.check(cuStreamWaitValue32(stream, wordOnDevice, OPEN, CUstreamWaitValue_flags.CU_STREAM_WAIT_VALUE_EQ),
                "cuStreamWaitValue32");
        AtomicBoolean forced = new AtomicBoolean();
        ScheduledFuture<?> timer = watchdog.schedule(() -> {
            forced.set(true);
            word.ints().put(0, OPEN);
        }, WATCHDOG_SECONDS, TimeUnit.SECONDS);
        try {
            issue.run();
        } finally {
            timer.cancel(false);
            word.ints().put(0, OPEN); // also on a failure: a stream left held would hang every later wait for it
        }
        return !forced.get();
    }

    /** Frees the word; the stream must have run past every wait on it (the caller synchronises it first). */
    @Override
    public void close() {
        watchdog.shutdownNow();
        word.close();
    }
}
