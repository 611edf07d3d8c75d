package dev.microgpt.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.testing.RequiresGpu;
import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * Which form of the kernels loads (KernelLibrary): the build's machine code on the GPU it was made for (pom.xml's
 * cuda.sass), with no JIT; the PTX elsewhere, and on the emulated device, which refuses machine code.
 */
@RequiresGpu
class KernelLoadingTest {

    /** What the emulated device says it is: compute capability 9.0 (kernels/emu). */
    private static final String EMULATED_ARCHITECTURE = "sm_90";

    /** Every module, the fused step's too (loaded when first used), on the GPU the build made machine code for. */
    @Test
    void theGpuTheMachineCodeWasMadeForLoadsIt() throws IOException {
        String sass = builtMachineCode();
        GpuSupport.Status gpu = GpuSupport.status();
        assumeFalse(gpu.emulated(), "the emulated device runs no machine code");
        String loading = GpuSupport.loadEveryKernel();
        assumeTrue(!sass.isEmpty() && loading.contains(" for " + sass), "no machine code for this GPU (" + loading + ")");
        assertEquals("machine code for " + sass, loading);
    }

    @Test
    void theEmulatedDeviceRefusesMachineCodeAndLoadsThePtx() throws IOException {
        GpuSupport.Status gpu = GpuSupport.status();
        assumeTrue(gpu.emulated(), "the GPU here is " + gpu.device());
        String refused = builtMachineCode().equals(EMULATED_ARCHITECTURE)
                ? " (the machine code refused: CUDA_ERROR_NO_BINARY_FOR_GPU)" : ""; // none tried for another GPU
        assertEquals("PTX, compiled by the driver for " + EMULATED_ARCHITECTURE + refused, GpuSupport.loadEveryKernel());
    }

    /** The architecture the build assembled machine code for (kernels.properties' cuda.sass), empty for none. */
    private static String builtMachineCode() throws IOException {
        Properties build = new Properties();
        try (InputStream in = KernelLoadingTest.class.getResourceAsStream("/kernels/kernels.properties")) {
            assumeTrue(in != null, "no kernels.properties: the kernels were not built");
            build.load(in);
        }
        return build.getProperty("cuda.sass", "");
    }
}
