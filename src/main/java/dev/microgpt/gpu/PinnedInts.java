package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;

import java.nio.ByteOrder;
import java.nio.IntBuffer;
import jcuda.Pointer;

/**
 * Page-locked host memory of 32-bit elements: asynchronous copies need it (a Java array may move while a copy from
 * it is in flight). Read and written through an {@link IntBuffer} view, or as floats through {@link #floats()}.
 */
final class PinnedInts implements AutoCloseable {

    private final Pointer host = new Pointer();
    private final IntBuffer ints;
    private final java.nio.FloatBuffer floats;

    PinnedInts(String name, int length) {
        long bytes = (long) length * DeviceArray.ELEMENT_BYTES;
        Cuda.check(cuMemAllocHost(host, bytes), "cuMemAllocHost(" + name + ", " + bytes + " bytes)");
        java.nio.ByteBuffer view = host.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
        this.ints = view.asIntBuffer();
        this.floats = view.asFloatBuffer();
    }

    IntBuffer ints() {
        return ints;
    }

    java.nio.FloatBuffer floats() {
        return floats;
    }

    /** The host address of element {@code index}, for a copy. */
    Pointer at(int index) {
        return host.withByteOffset((long) index * DeviceArray.ELEMENT_BYTES);
    }

    @Override
    public void close() {
        Cuda.check(cuMemFreeHost(host), "cuMemFreeHost");
    }
}
