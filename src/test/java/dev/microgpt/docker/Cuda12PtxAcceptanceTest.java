package dev.microgpt.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.docker.DriverRequirements.PtxIsa;
import dev.microgpt.docker.JcudaPtxCompiler.Result;
import dev.microgpt.docker.ProjectFiles.KernelBuild;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a CUDA 12.0 driver (R525, the Docker image's documented minimum) does with the kernels, shown without a GPU
 * by the CUDA 12.0 PTX assembler that JCuda ships ({@link JcudaPtxCompiler}): it accepts PTX ISA 8.0, which the
 * image's nvcc 12.0 writes, and refuses anything newer, such as the ISA 9.0 of nvcc 13. Skipped, saying why, where
 * JCuda's native library cannot be had.
 */
class Cuda12PtxAcceptanceTest {

    private static final Pattern CURRENT = Pattern.compile("current version is '(\\d+\\.\\d+)'");
    private static final Pattern VERSION_LINE = Pattern.compile("(?m)^(\\s*)\\.version\\s+\\d+\\.\\d+\\s*$");
    private static final Pattern TARGET = Pattern.compile("(?m)^\\s*\\.target\\s+(sm_\\d+[a-z]?)");

    private static JcudaPtxCompiler compiler;
    private static String unavailable;

    @BeforeAll
    static void loadCompiler() {
        StringBuilder reason = new StringBuilder();
        compiler = JcudaPtxCompiler.find(reason).orElse(null);
        unavailable = reason.toString();
    }

    private static JcudaPtxCompiler compiler() {
        assumeTrue(compiler != null, () -> "skipped: " + unavailable);
        return compiler;
    }

    /** A one-kernel PTX module declaring ISA {@code version}. */
    private static String probe(String version) {
        return ".version " + version + "\n.target sm_75\n.address_size 64\n\n.visible .entry probe()\n{\n\tret;\n}\n";
    }

    @Test
    void jcudasCompilerIsCuda12_0AndLoadsExactlyWhatTheTableGivesR525() {
        JcudaPtxCompiler c = compiler();
        String release = c.version();
        String isa = DriverRequirements.ptxOfNvcc(release).orElseThrow(() -> new AssertionError(
                "JCuda's nvPTXCompiler is CUDA " + release + ", not in DriverRequirements' table"));

        Result same = c.compile(probe(isa), "--gpu-name=sm_75");
        assertTrue(same.ok(), "CUDA " + release + "'s compiler refused PTX ISA " + isa + ": " + same);

        PtxIsa next = nextIsa(isa);
        Result newer = c.compile(probe(next.version()), "--gpu-name=sm_75");
        assertEquals("NVPTXCOMPILE_ERROR_UNSUPPORTED_PTX_VERSION", newer.name(), newer.toString());
        Matcher m = CURRENT.matcher(newer.log());
        assertTrue(m.find(), "no 'current version' in the compiler's log: " + newer.log());
        assertEquals(isa, m.group(1), "the newest PTX ISA CUDA " + release + " accepts");
        assertEquals("NVPTXCOMPILE_ERROR_UNSUPPORTED_PTX_VERSION", c.compile(probe("9.0"), "--gpu-name=sm_75").name(),
                "CUDA " + release + "'s compiler must refuse nvcc 13's PTX ISA 9.0");

        System.out.printf("JCuda's nvPTXCompiler (CUDA %s, from %s) accepts PTX ISA %s and refuses %s and 9.0: a "
                + "CUDA %s driver (%s) loads up to ISA %s%n", release, c.origin(), isa, next.version(), release,
                DriverRequirements.forPtx(isa).orElseThrow().branch(), isa);
    }

    @Test
    void theBuiltKernelsLoadOnTheImagesMinimumDriver() {
        JcudaPtxCompiler c = compiler();
        Optional<KernelBuild> found = ProjectFiles.kernelBuild();
        assumeTrue(found.isPresent() && found.get().built() && !found.get().ptx().isEmpty(),
                "skipped: no built /kernels/*.ptx on the classpath (no nvcc when Maven ran)");
        KernelBuild build = found.get();
        String compilerIsa = DriverRequirements.ptxOfNvcc(c.version()).orElseThrow();
        String imageIsa = DriverRequirements.ptxOfNvcc(ProjectFiles.dockerfileArgs().get("CUDA_VERSION"))
                .orElseThrow();
        assumeTrue(compareIsa(imageIsa, compilerIsa) <= 0, "skipped: the Docker image's PTX ISA " + imageIsa
                + " is newer than JCuda's compiler (" + compilerIsa + ") understands");

        Map<String, String> versions = build.ptxVersions();
        for (Map.Entry<String, String> kernel : build.ptx().entrySet()) {
            String name = kernel.getKey();
            String ptx = kernel.getValue();
            String version = versions.get(name);
            Matcher t = TARGET.matcher(ptx);
            assertTrue(t.find(), name + ".ptx declares no .target");
            if (compareIsa(version, compilerIsa) <= 0) {
                // PTX a CUDA 12.0 toolkit could have written (the Docker image's build): loads as it is.
                for (String gpu : new String[] {t.group(1), "sm_90"}) {
                    Result r = c.compile(ptx, "--gpu-name=" + gpu);
                    assertTrue(r.ok(), name + ".ptx (ISA " + version + ") was refused for " + gpu + ": " + r);
                }
            } else {
                // Newer PTX (nvcc 13 here): a CUDA 12.0 driver refuses it, as docker/README.md's table says ...
                Result as = c.compile(ptx, "--gpu-name=" + t.group(1));
                assertEquals("NVPTXCOMPILE_ERROR_UNSUPPORTED_PTX_VERSION", as.name(), name + ".ptx (ISA " + version
                        + ") should be refused by CUDA " + c.version() + ": " + as);
                // ... but the kernels use nothing newer than ISA 8.0: relabelled, the same code assembles, so what
                // the image's nvcc 12.0 writes from these sources loads from R525 on.
                Matcher v = VERSION_LINE.matcher(ptx);
                assertTrue(v.find(), name + ".ptx declares no .version");
                String relabelled = v.replaceFirst("$1.version " + compilerIsa);
                for (String gpu : new String[] {t.group(1), "sm_90"}) {
                    Result r = c.compile(relabelled, "--gpu-name=" + gpu);
                    assertTrue(r.ok(), name + ".ptx uses PTX features newer than ISA " + compilerIsa + " (for " + gpu
                            + "), so the Docker image's nvcc 12.0 build may not load on R525 as documented: " + r);
                }
            }
        }
        System.out.printf("%d kernels (PTX ISA %s) checked with CUDA %s's PTX compiler: %s%n", versions.size(),
                String.join(",", new TreeSet<>(versions.values())), c.version(),
                versions.values().stream().allMatch(v -> compareIsa(v, compilerIsa) <= 0)
                        ? "accepted as built"
                        : "refused as built (needs a newer driver, as documented), accepted relabelled ISA " + compilerIsa);
    }

    private static PtxIsa nextIsa(String isa) {
        var table = DriverRequirements.table();
        for (int i = 0; i + 1 < table.size(); i++) {
            if (table.get(i).version().equals(isa)) {
                return table.get(i + 1);
            }
        }
        throw new AssertionError("no PTX ISA after " + isa + " in DriverRequirements' table");
    }

    private static int compareIsa(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        int major = Integer.compare(Integer.parseInt(x[0]), Integer.parseInt(y[0]));
        return major != 0 ? major : Integer.compare(Integer.parseInt(x[1]), Integer.parseInt(y[1]));
    }
}
