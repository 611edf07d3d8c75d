package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import jcuda.driver.CUdevice;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

/**
 * One user's share of the GPU: the process's {@link PrimaryContext}, made current on the constructing thread, and a
 * non-blocking stream of its own for all of a run's work. Closing it destroys the stream; the context stays.
 */
final class GpuContext implements AutoCloseable {

    private final PrimaryContext primary;
    private final CUstream stream = new CUstream();

    GpuContext() {
        primary = PrimaryContext.current();
        Cuda.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    }

    /** CUDA contexts are current per thread; every entry point of the engine calls this first. */
    void makeCurrent() {
        primary.makeCurrent();
    }

    /** The kernels, loaded into the context once for the process. */
    KernelLibrary kernels() {
        return primary.kernels();
    }

    /** The device's name, e.g. "NVIDIA H100 80GB HBM3". */
    String deviceName() {
        return name(primary.device());
    }

    /** A device's name, as the driver gives it. */
    static String name(CUdevice device) {
        byte[] name = new byte[256];
        Cuda.check(jcuda.driver.JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        int end = 0;
        while (end < name.length && name[end] != 0) {
            end++;
        }
        return new String(name, 0, end, java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** A CU_DEVICE_ATTRIBUTE_* of the device. */
    int attribute(int attribute) {
        return Cuda.attribute(primary.device(), attribute);
    }

    CUstream stream() {
        return stream;
    }

    /** Waits for the stream; kernel faults of earlier launches surface here. */
    void synchronize(String after) {
        Cuda.check(cuStreamSynchronize(stream), "cuStreamSynchronize (after " + after + ")");
    }

    /** As {@link #synchronize}, after training steps [first, first + count); the message is made only on failure. */
    void synchronizeSteps(int first, int count) {
        int result = cuStreamSynchronize(stream);
        if (result != jcuda.driver.CUresult.CUDA_SUCCESS) {
            Cuda.check(result, "cuStreamSynchronize (after steps " + (first + 1) + ".." + (first + count) + ")");
        }
    }

    @Override
    public void close() {
        Cuda.check(cuStreamDestroy(stream), "cuStreamDestroy");
    }
}
