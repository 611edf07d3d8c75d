package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuDriverGetVersion;

import jcuda.runtime.JCuda;
import jcuda.runtime.cudaError;

/**
 * Whether the GPU engine can run in this process, decided once and cached. It is asked before any other JCuda
 * class is touched: where the driver is missing, JCuda's driver class fails to link and stays broken for the JVM's
 * life, while the runtime's {@code cudaGetDeviceCount} merely returns an error code.
 */
public final class GpuSupport {

    /**
     * @param usable whether a GpuEngine can be created
     * @param reason why not (empty when usable)
     * @param device the GPU's name and driver, when usable
     */
    public record Status(boolean usable, String reason, String device) {
        static Status unavailable(String reason) {
            return new Status(false, reason, "");
        }
    }

    private GpuSupport() {
    }

    /** The cached answer; the first call probes (tens of milliseconds with a GPU, less without). */
    public static Status status() {
        return Holder.STATUS;
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
        int[] count = {0};
        try {
            int result = JCuda.cudaGetDeviceCount(count);
            if (result != cudaError.cudaSuccess) {
                return Status.unavailable("no usable CUDA driver or device (" + cudaError.stringFor(result) + ")");
            }
        } catch (Throwable e) { // UnsatisfiedLinkError and friends: JCuda's natives cannot load on this platform
            return Status.unavailable("the JCuda native libraries cannot load here (" + e + ")");
        }
        if (count[0] == 0) {
            return Status.unavailable("no CUDA device");
        }
        try (GpuContext context = new GpuContext(); KernelLibrary kernels = new KernelLibrary()) {
            int[] driver = {0};
            Cuda.check(cuDriverGetVersion(driver), "cuDriverGetVersion");
            return new Status(true, "", context.deviceName() + ", driver CUDA " + driver[0] / 1000 + "."
                    + driver[0] % 1000 / 10);
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
