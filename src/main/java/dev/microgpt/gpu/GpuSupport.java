package dev.microgpt.gpu;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;

import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Whether the GPU engine can run in this process, decided once and cached, through the driver API alone (the engine
 * uses nothing else). Where the driver library is missing, JCuda's driver class fails to link on first touch and
 * stays broken for the JVM's life: the probe is the one place that touches it first, and keeps the reason.
 */
public final class GpuSupport {

    /** The oldest compute capability the kernels' PTX targets (pom.xml, cuda.arch compute_75). */
    private static final int MIN_CAPABILITY = 75;
    /** What the emulated device (kernels/emu) calls itself: a device of that name is a CPU, not a GPU. */
    private static final String EMULATED_MARK = "emulated";

    /**
     * @param usable   whether a GpuEngine can be created
     * @param reason   why not (empty when usable)
     * @param device   the device's name, compute capability and driver, when usable
     * @param emulated whether the device is the emulated one (kernels/emu): it runs the kernels on the CPU, correctly and
     *                 thousands of times slower, so its timings are no GPU's and --device auto never picks it
     */
    public record Status(boolean usable, String reason, String device, boolean emulated) {
        static Status unavailable(String reason) {
            return new Status(false, reason, "", false);
        }
    }

    private GpuSupport() {
    }

    /**
     * The cached answer; the first call probes, loading the kernels but the fused step's: machine code where the build
     * made it for this GPU (H100, H200), else PTX, which the driver compiles for it, for seconds unless its compute
     * cache (~/.nv/ComputeCache, CUDA_CACHE_PATH) holds them already.
     */
    public static Status status() {
        return Holder.STATUS;
    }

    /**
     * Loads every kernel module, the fused step's too (the engine loads it when first used), and says how they loaded:
     * for a proof on hardware (bench.GpuProbe), where a module loaded from PTX instead of machine code shows.
     */
    public static String loadEveryKernel() {
        if (!status().usable()) {
            throw new IllegalStateException("the GPU engine is not usable: " + status().reason());
        }
        KernelLibrary kernels = PrimaryContext.current().kernels();
        kernels.loadAll();
        return kernels.loading();
    }

    private static final class Holder {
        static final Status STATUS = probe();
    }

    private static Status probe() {
        for (String family : KernelLibrary.FAMILIES) {
            if (GpuSupport.class.getResource("/kernels/" + family + ".ptx") == null) {
                return Status.unavailable("kernels not built: /kernels/" + family + ".ptx is not in this build (nvcc"
                        + " was not found when it was built; rebuild where nvcc is on PATH)");
            }
        }
        int initialised;
        try {
            initialised = JCudaDriver.cuInit(0);
        } catch (Throwable e) { // UnsatisfiedLinkError: no libcuda.so.1, or JCuda's natives cannot load here
            return Status.unavailable("no CUDA driver: the driver library could not be loaded ("
                    + CublasSupport.cause(e) + ")");
        }
        if (initialised == CUresult.CUDA_ERROR_NO_DEVICE) {
            return Status.unavailable("no CUDA device");
        }
        if (initialised != CUresult.CUDA_SUCCESS) {
            return Status.unavailable("the CUDA driver could not be initialised (" + CUresult.stringFor(initialised)
                    + ")");
        }
        try {
            int[] count = {0};
            Cuda.check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
            if (count[0] == 0) {
                return Status.unavailable("no CUDA device");
            }
            int[] driver = {0};
            Cuda.check(JCudaDriver.cuDriverGetVersion(driver), "cuDriverGetVersion");
            CUdevice device = new CUdevice();
            Cuda.check(JCudaDriver.cuDeviceGet(device, 0), "cuDeviceGet(0)");
            int capability = 10 * Cuda.attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                    + Cuda.attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            String name = GpuContext.name(device);
            if (capability < MIN_CAPABILITY) {
                return Status.unavailable(name + " has compute capability " + capability / 10 + "." + capability % 10
                        + "; the kernels need " + MIN_CAPABILITY / 10 + "." + MIN_CAPABILITY % 10 + " or newer");
            }
            PrimaryContext.current().kernels(); // the modules load here, or the reason they cannot is found here
            return new Status(true, "", name + " (compute capability " + capability / 10 + "." + capability % 10
                    + "), driver CUDA " + driver[0] / 1000 + "." + driver[0] % 1000 / 10, name.contains(EMULATED_MARK));
        } catch (CudaException e) {
            String hint = e.getMessage().contains("UNSUPPORTED_PTX_VERSION")
                    ? "; the driver is older than the nvcc that built the kernels (PTX 9.0 from nvcc 13 needs R580+)"
                    : "";
            return Status.unavailable("the GPU cannot run the kernels: " + e.getMessage() + hint);
        } catch (Throwable e) {
            return Status.unavailable("the CUDA driver cannot be used (" + e + ")");
        }
    }
}
