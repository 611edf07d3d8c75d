package dev.microgpt.gpu;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxReset;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;

/**
 * Device 0's primary context, retained once for the life of the process and never released, with the kernels loaded
 * into it: engines, the probe and tests come and go without creating the context or compiling the PTX again. What an
 * engine owns is its stream and its memory ({@link GpuContext}).
 */
final class PrimaryContext {

    private static PrimaryContext instance;

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private KernelLibrary kernels; // loaded when first asked for

    private PrimaryContext() {
        Cuda.check(cuInit(0), "cuInit");
        Cuda.check(cuDeviceGet(device, 0), "cuDeviceGet(0)");
        Cuda.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
    }

    /** The retained context, current on the calling thread (contexts are current per thread). */
    static synchronized PrimaryContext current() {
        if (instance == null) {
            instance = new PrimaryContext();
        }
        instance.makeCurrent();
        return instance;
    }

    void makeCurrent() {
        Cuda.check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    CUdevice device() {
        return device;
    }

    /** The kernels of kernels/*.cu, loaded into this context once (KernelLibrary says which modules load lazily). */
    synchronized KernelLibrary kernels() {
        if (kernels == null) {
            kernels = new KernelLibrary(architecture());
        }
        return kernels;
    }

    /** The device's architecture as nvcc names it: sm_90 for compute capability 9.0. */
    private String architecture() {
        return "sm_" + Cuda.attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                + Cuda.attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    }

    /**
     * Destroys everything made on the context (memory, streams, modules) and clears the error a kernel fault left it
     * in, keeping it retained: for tests that fault on purpose. Nothing made before may be used after.
     */
    static synchronized void resetAfterFault() {
        if (instance != null) {
            instance.kernels = null;
            Cuda.check(cuDevicePrimaryCtxReset(instance.device), "cuDevicePrimaryCtxReset");
        }
    }
}
