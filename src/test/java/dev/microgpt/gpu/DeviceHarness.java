package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32;

import java.util.ArrayDeque;
import java.util.Deque;
import jcuda.Pointer;

/**
 * A test's slice of the GPU: the context and stream, the kernels, and device arrays made from host values, all freed
 * on close. Construct it only where {@link GpuSupport#status()} is usable (JCuda's driver class must not be touched
 * before that probe).
 *
 * <p>Uploads and poisoning use the synchronous copy and memset of the legacy default stream, which the context's
 * non-blocking stream does not wait for; {@link #run} therefore synchronises the whole context before it enqueues, so
 * that a kernel always sees every value written before it.
 */
final class DeviceHarness implements AutoCloseable {

    /** The bits of a quiet float NaN, written over every output before a kernel runs. */
    static final int NAN_BITS = Float.floatToRawIntBits(Float.NaN);

    private final GpuContext context;
    private final KernelLibrary kernels;
    private final Deque<DeviceArray> arrays = new ArrayDeque<>();

    DeviceHarness() {
        context = new GpuContext();
        kernels = context.kernels();
    }

    KernelLibrary kernels() {
        return kernels;
    }

    GpuContext context() {
        return context;
    }

    jcuda.driver.CUstream stream() {
        return context.stream();
    }

    /** A float array holding {@code values} rounded to float. */
    DeviceArray floats(String name, double[] values) {
        float[] host = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            host[i] = (float) values[i];
        }
        DeviceArray array = allocate(name, values.length);
        array.upload(host);
        return array;
    }

    /** A float array of {@code length} NaNs: whatever a kernel does not write stays NaN. */
    DeviceArray poisoned(String name, int length) {
        DeviceArray array = allocate(name, length);
        Cuda.check(cuMemsetD32(array.at(0), NAN_BITS, length), "cuMemsetD32(" + name + ")");
        return array;
    }

    /** An int array holding {@code values}. */
    DeviceArray ints(String name, int[] values) {
        DeviceArray array = allocate(name, values.length);
        Cuda.check(cuMemcpyHtoD(array.at(0), Pointer.to(values), (long) values.length * DeviceArray.ELEMENT_BYTES),
                "cuMemcpyHtoD(" + name + ")");
        return array;
    }

    /**
     * A step's documents as StepInput stages them (kernels/common.cuh, Batch): document b's T + 1 tokens, then its
     * StepScalars {step, positions[b], num_steps, 0}.
     */
    DocumentSlots documents(int t, int[][] tokens, int[] positions, int step, int numSteps) {
        int slotInts = t + 5;
        int[] slots = new int[positions.length * slotInts];
        for (int b = 0; b < positions.length; b++) {
            System.arraycopy(tokens[b], 0, slots, b * slotInts, t + 1);
            System.arraycopy(new int[] {step, positions[b], numSteps, 0}, 0, slots, b * slotInts + t + 1, 4);
        }
        return new DocumentSlots(ints("documents", slots).at(0), slotInts, positions.length, t);
    }

    /** StepScalars (kernels/README.md): int[4] {step, positions, num_steps, reserved = 0}. */
    DeviceArray stepScalars(int step, int positions, int numSteps) {
        return ints("step_scalars", new int[] {step, positions, numSteps, 0});
    }

    /** Enqueues the launch on the context's stream after everything written so far, and waits for it. */
    void run(Launch launch) {
        Cuda.check(cuCtxSynchronize(), "cuCtxSynchronize (before " + launch.kernel() + ")");
        launch.enqueue(context.stream());
        context.synchronize(launch.kernel());
    }

    /** Every element of the array, widened to double. */
    double[] download(DeviceArray array) {
        float[] host = new float[(int) array.length()];
        array.download(host);
        double[] values = new double[host.length];
        for (int i = 0; i < host.length; i++) {
            values[i] = host[i];
        }
        return values;
    }

    private DeviceArray allocate(String name, int length) {
        DeviceArray array = new DeviceArray(name, length);
        arrays.push(array);
        return array;
    }

    /** Frees the arrays (newest first) and destroys the stream; the first failure is thrown. */
    @Override
    public void close() {
        RuntimeException failure = null;
        while (!arrays.isEmpty()) {
            DeviceArray array = arrays.pop();
            failure = attempt(array::close, failure);
        }
        failure = attempt(context::close, failure);
        if (failure != null) {
            throw failure;
        }
    }

    private static RuntimeException attempt(Runnable step, RuntimeException failure) {
        try {
            step.run();
        } catch (RuntimeException e) {
            if (failure == null) {
                return e;
            }
            failure.addSuppressed(e);
        }
        return failure;
    }
}
