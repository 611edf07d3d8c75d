package dev.microgpt.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernel build (pom.xml's compile-kernels step): where nvcc was found, every kernels/*.cu became
 * /kernels/NAME.ptx on the classpath, for the architecture the build was asked for.
 */
class KernelBuildTest {

    private static final Pattern VERSION = Pattern.compile("(?m)^\\s*\\.version\\s+(\\d+)\\.(\\d+)\\s*$");
    private static final Pattern TARGET = Pattern.compile("(?m)^\\s*\\.target\\s+([A-Za-z0-9_]+)");
    private static final Pattern LOOSE_FLOAT_ARITHMETIC = Pattern.compile(
            "(?m)^\\s*(@!?%\\w+\\s+)?(mul|add|sub)(\\.(ftz|sat))*\\.f(32|64)\\s.*$");

    @Test
    void everyKernelSourceHasItsPtxAndNothingElseIsThere() throws IOException {
        KernelBuild build = KernelBuild.load().requireBuilt();
        List<String> sources = build.sourceFamilies();
        assertFalse(sources.isEmpty(), "no kernels/*.cu in " + build.sourceDir());
        assertEquals(sources, build.ptxFamilies(),
                "the .cu files in " + build.sourceDir() + " and the /kernels/*.ptx on the classpath differ");
    }

    /** Beside every PTX its machine code for cuda.sass (the H100's sm_90), which that GPU loads without a JIT. */
    @Test
    void everyPtxHasItsMachineCode() throws IOException {
        KernelBuild build = KernelBuild.load().requireBuilt();
        assumeFalse(build.cudaSass().isEmpty(), "skipped: built with -Dcuda.sass= (no machine code)");
        assertEquals(build.ptxFamilies(), build.machineCodeFamilies(), "the /kernels/*.ptx and *." + build.cudaSass()
                + ".cubin on the classpath differ");
        for (String family : build.machineCodeFamilies()) {
            ByteBuffer elf = ByteBuffer.wrap(build.machineCode(family)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x464c457f, elf.getInt(0), family + ": not an ELF file");
            assertEquals(190, elf.getShort(18), family + ": not CUDA machine code (ELF e_machine EM_CUDA)");
        }
    }

    @Test
    void everyKernelFamilyIsKnownToTheTests() throws IOException {
        KernelBuild build = KernelBuild.load();
        assertEquals(new ArrayList<>(KernelBuild.EXPECTED_ENTRIES.keySet()), build.sourceFamilies(),
                "kernels/*.cu and KernelBuild.EXPECTED_ENTRIES differ: a new or renamed family must list its entry "
                        + "points there (the GPU engine looks them up by name)");
    }

    @Test
    void everyPtxDeclaresItsVersionAndTheRequestedTarget() throws IOException {
        KernelBuild build = KernelBuild.load().requireBuilt();
        String arch = build.cudaArch();
        Matcher archNumber = Pattern.compile("(?:compute|sm)_(\\d+[a-z]?)").matcher(arch);
        assertTrue(archNumber.matches(), "cuda.arch '" + arch + "' is not compute_NN or sm_NN");
        String expectedTarget = "sm_" + archNumber.group(1);
        for (String family : build.ptxFamilies()) {
            String ptx = build.ptx(family);
            Matcher v = VERSION.matcher(ptx);
            assertTrue(v.find(), family + ".ptx declares no .version");
            assertTrue(Integer.parseInt(v.group(1)) >= 7, family + ".ptx has .version " + v.group(1) + "."
                    + v.group(2) + ", older than any nvcc this project supports");
            Matcher t = TARGET.matcher(ptx);
            assertTrue(t.find(), family + ".ptx declares no .target");
            assertEquals(expectedTarget, t.group(1), family + ".ptx was built for another architecture than "
                    + "cuda.arch=" + arch + " (stale build output?)");
            assertTrue(ptx.contains(".address_size 64"), family + ".ptx is not 64-bit");
        }
    }

    /**
     * The fused step reads, in later stages, buffers that other blocks wrote earlier in the same launch. Loads through
     * the read-only (non-coherent) cache are only valid for data no thread writes during the kernel, so not one may
     * appear in it; they would come from {@code const __restrict__} pointers, which its device functions avoid.
     */
    @Test
    void theFusedStepHasNoNonCoherentLoads() throws IOException {
        KernelBuild build = KernelBuild.load().requireBuilt();
        String ptx = build.ptx("step");
        assertTrue(ptx.contains(".entry train_step_fused("), "step.ptx has no train_step_fused entry");
        assertFalse(ptx.contains("ld.global.nc"), "step.ptx loads through the non-coherent cache (ld.global.nc)");
    }

    /**
     * The GPU rounds as the emulated device does, which the parity suite runs in CI: a multiply, add or subtract of
     * floats or doubles without a rounding modifier may be fused by ptxas with a neighbour into one rounding (PTX ISA,
     * "add", "mul"), which the emulator's kernels never do, so every one must carry {@code .rn} (nvcc -fmad=false,
     * pom.xml's kernels.flags; without it adam.ptx alone has 74 such). The kernels write fmaf where they want one.
     */
    @Test
    void noFloatMultiplyOrAddIsLeftForPtxasToFuse() throws IOException {
        KernelBuild build = KernelBuild.load().requireBuilt();
        for (String family : build.ptxFamilies()) {
            Matcher loose = LOOSE_FLOAT_ARITHMETIC.matcher(build.ptx(family));
            assertFalse(loose.find(), () -> family + ".ptx has " + loose.group().strip() + ", which ptxas may fuse"
                    + " with a neighbour into an fma; build the kernels with -fmad=false");
        }
    }
}
