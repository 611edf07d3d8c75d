package dev.microgpt.gpu;

import java.util.Set;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/** Checks the result codes of CUDA driver calls (JCuda's own exceptions are off: they do not say which call failed). */
final class Cuda {

    /**
     * The errors of a kernel that faulted. A GPU runs kernels after their launch returns, so the fault comes back from
     * whichever call follows, often not the launch of the kernel at fault (and from every call after: the context is
     * lost).
     */
    private static final Set<Integer> KERNEL_FAULTS = Set.of(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS,
            CUresult.CUDA_ERROR_LAUNCH_TIMEOUT, CUresult.CUDA_ERROR_HARDWARE_STACK_ERROR,
            CUresult.CUDA_ERROR_ILLEGAL_INSTRUCTION, CUresult.CUDA_ERROR_MISALIGNED_ADDRESS,
            CUresult.CUDA_ERROR_INVALID_ADDRESS_SPACE, CUresult.CUDA_ERROR_INVALID_PC, CUresult.CUDA_ERROR_LAUNCH_FAILED);

    private Cuda() {
    }

    /** Throws unless {@code result} is CUDA_SUCCESS, with the driver's own description of the error. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: " + CUresult.stringFor(result) + describe(result)
                    + (KERNEL_FAULTS.contains(result) ? " (a kernel's fault, reported by the call after it: with"
                    + " CUDA_LAUNCH_BLOCKING=1 and --gpu-mode eager each kernel is a launch that waits for it, so the"
                    + " failing one is named)" : ""));
        }
    }

    /** A CU_DEVICE_ATTRIBUTE_* of {@code device}. */
    static int attribute(CUdevice device, int attribute) {
        int[] value = {0};
        check(JCudaDriver.cuDeviceGetAttribute(value, attribute, device),
                "cuDeviceGetAttribute(" + CUdevice_attribute.stringFor(attribute) + ")");
        return value[0];
    }

    /**
     * ": " and what cuGetErrorString says of result ("an illegal memory access was encountered"; the emulated device
     * adds what it saw: the kernel, the thread, the address), or nothing where the driver has no words for it.
     */
    private static String describe(int result) {
        String[] text = {null};
        return JCudaDriver.cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null ? ": " + text[0]
                : "";
    }
}
