package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import java.util.List;
import jcuda.driver.CUevent;

/**
 * The benchmark's look inside a training step (dev.microgpt.bench.StepBenchmark): the step's operations issued one by
 * one with an event pair around each (kernel launch, cuBLAS call, copy), and each one's GPU time: what the GPU is busy
 * with in a step, apart from the overhead of issuing it. The stream is held while they are issued ({@link StreamGate})
 * and then runs them back to back, so a pair times its operation, not the wait for the host's next launch.
 */
public final class StepProfiler implements AutoCloseable {

    private final GpuEngine engine;
    private final StreamGate gate;

    /** A profiler of {@code engine}'s steps, holding a word of page-locked memory until closed. */
    public StepProfiler(GpuEngine engine) {
        this.engine = engine;
        engine.context().makeCurrent();
        this.gate = new StreamGate();
    }

    /**
     * Runs one training step of the engine so, and returns each operation's GPU milliseconds in issue order. Profile
     * steps after the engine has trained one: the first use of a library (cuBLAS) may load kernels, and wait for the
     * GPU, while the stream is held (IllegalStateException, after {@link StreamGate#WATCHDOG_SECONDS} s).
     */
    public float[] profile(DocumentBatch batch, AdamConfig adam, int step, int numSteps) {
        List<StepOp> ops = engine.stageForProfile(batch, adam, step, numSteps);
        int positions = batch.positions(0);
        GpuContext gpu = engine.context();
        CUevent[] events = new CUevent[2 * ops.size()];
        try {
            for (int i = 0; i < events.length; i++) {
                events[i] = new CUevent();
                Cuda.check(cuEventCreate(events[i], 0), "cuEventCreate");
            }
            boolean backToBack;
            try {
                backToBack = gate.issueHeld(gpu.stream(), () -> {
                    for (int i = 0; i < ops.size(); i++) {
                        Cuda.check(cuEventRecord(events[2 * i], gpu.stream()), "cuEventRecord");
                        ops.get(i).enqueue(gpu.stream(), positions);
                        Cuda.check(cuEventRecord(events[2 * i + 1], gpu.stream()), "cuEventRecord");
                    }
                });
            } finally {
                gpu.synchronize("a profiled step"); // past the wait before anything frees the gate's word
            }
            if (!backToBack) {
                throw new IllegalStateException("a profiled step's issue waited for the GPU while its stream was held,"
                        + " so its times would count that wait; profile only after the engine has trained a step");
            }
            float[] millis = new float[ops.size()];
            float[] elapsed = new float[1];
            for (int i = 0; i < millis.length; i++) {
                Cuda.check(cuEventElapsedTime(elapsed, events[2 * i], events[2 * i + 1]), "cuEventElapsedTime");
                millis[i] = elapsed[0];
            }
            return millis;
        } finally {
            for (CUevent e : events) {
                if (e != null) {
                    cuEventDestroy(e);
                }
            }
        }
    }

    @Override
    public void close() {
        engine.context().makeCurrent();
        gate.close();
    }
}
