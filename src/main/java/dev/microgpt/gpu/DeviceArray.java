package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/** A device allocation of 32-bit elements (float or int), freed on close. */
final class DeviceArray implements AutoCloseable {

    static final int ELEMENT_BYTES = 4;

    private final CUdeviceptr base = new CUdeviceptr();
    private final long length;
    private final String name;

    DeviceArray(String name, long length) {
        if (length <= 0) {
            throw new IllegalArgumentException(name + ": length must be positive, got " + length);
        }
        this.name = name;
        this.length = length;
        Cuda.check(cuMemAlloc(base, length * ELEMENT_BYTES), "cuMemAlloc(" + name + ", " + length * ELEMENT_BYTES + " bytes)");
    }

    long length() {
        return length;
    }

    /** The device address of element {@code index}. */
    CUdeviceptr at(long index) {
        if (index < 0 || index >= length) {
            throw new IndexOutOfBoundsException(name + "[" + index + "] of " + length);
        }
        return index == 0 ? base : base.withByteOffset(index * ELEMENT_BYTES);
    }

    /**
     * Copy of host floats into elements [0, src.length), complete when this returns. The device must be idle. A copy
     * from pageable memory may return once the data is staged, before it reaches the device, and the engine's
     * non-blocking stream would not wait for it: hence the context synchronisation.
     */
    void upload(float[] src) {
        upload(Pointer.to(src), (long) src.length * ELEMENT_BYTES);
    }

    /** As {@link #upload(float[])}, for int elements. */
    void upload(int[] src) {
        upload(Pointer.to(src), (long) src.length * ELEMENT_BYTES);
    }

    private void upload(Pointer src, long bytes) {
        Cuda.check(cuMemcpyHtoD(base, src, bytes), "cuMemcpyHtoD(" + name + ")");
        Cuda.check(cuCtxSynchronize(), "cuCtxSynchronize (after cuMemcpyHtoD(" + name + "))");
    }

    /** Synchronous copy of the first dst.length 64-bit values (two elements each) into host longs. */
    void download(long[] dst) {
        Cuda.check(cuMemcpyDtoH(Pointer.to(dst), base, (long) dst.length * Long.BYTES), "cuMemcpyDtoH(" + name + ")");
    }

    /** Synchronous copy of elements [0, dst.length) into host floats. The device must be idle. */
    void download(float[] dst) {
        Cuda.check(cuMemcpyDtoH(Pointer.to(dst), base, (long) dst.length * ELEMENT_BYTES), "cuMemcpyDtoH(" + name + ")");
    }

    @Override
    public void close() {
        Cuda.check(cuMemFree(base), "cuMemFree(" + name + ")");
    }
}
