package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

/** Device 0's primary context, made current on this thread, and one non-blocking stream for all of a run's work. */
final class GpuContext implements AutoCloseable {

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();

    GpuContext() {
        Cuda.check(cuInit(0), "cuInit");
        Cuda.check(cuDeviceGet(device, 0), "cuDeviceGet(0)");
        Cuda.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        try {
            makeCurrent();
            Cuda.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        } catch (RuntimeException e) {
            cuDevicePrimaryCtxRelease(device);
            throw e;
        }
    }

    /** CUDA contexts are current per thread; every entry point of the engine calls this first. */
    void makeCurrent() {
        Cuda.check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** The device's name, e.g. "NVIDIA H100 80GB HBM3". */
    String deviceName() {
        return name(device);
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
        int[] value = {0};
        Cuda.check(jcuda.driver.JCudaDriver.cuDeviceGetAttribute(value, attribute, device),
                "cuDeviceGetAttribute(" + jcuda.driver.CUdevice_attribute.stringFor(attribute) + ")");
        return value[0];
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

    /**
     * Destroys the stream and releases the context, even when the first fails: after a kernel fault every call fails
     * with it, and only the context's last release gives the process a working device again.
     */
    @Override
    public void close() {
        try {
            Cuda.check(cuStreamDestroy(stream), "cuStreamDestroy");
        } finally {
            Cuda.check(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
        }
    }
}
