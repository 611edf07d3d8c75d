package dev.microgpt.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.ops.RmsNorm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The facts the host and the kernels must agree on but cannot share, since one is Java and the other CUDA C++ compiled
 * before it: each is checked here against the kernel source's {@code #define}, so changing one side alone fails the
 * build instead of a launch. Needs no GPU and no nvcc: it reads kernels/ as text.
 */
class KernelConstantsTest {

    private static final Path KERNELS = Path.of("kernels");

    @Test
    void matmulLaunchesUseTheTileAndBlockTheKernelsAreWrittenFor() throws IOException {
        assertEquals(KernelLibrary.TILE, (int) define("matmul.cuh", "MM_TILE"));
        assertEquals(KernelLibrary.MATMUL_BLOCK, (int) define("matmul.cuh", "MM_THREADS"));
    }

    @Test
    void fusedStepIndexesTheWeightBlocksInTheLayoutsOrder() throws IOException {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(16, 4, 3, 16, 27));
        var blocks = layout.weightBlocks();
        assertEquals(layout.wte(), blocks.get((int) define("step.cu", "TENSOR_WTE")));
        assertEquals(layout.wpe(), blocks.get((int) define("step.cu", "TENSOR_WPE")));
        assertEquals(layout.lmHead(), blocks.get((int) define("step.cu", "TENSOR_LM_HEAD")));
        int global = (int) define("step.cu", "TENSORS_GLOBAL");
        int perLayer = (int) define("step.cu", "TENSORS_PER_LAYER");
        assertEquals(global + perLayer * layout.layers().size(), blocks.size());
        for (int l = 0; l < layout.layers().size(); l++) {
            ParameterLayout.Layer w = layout.layer(l);
            int first = global + perLayer * l;
            assertEquals(w.attnQkv(), blocks.get(first + (int) define("step.cu", "LAYER_QKV")));
            assertEquals(w.attnWo(), blocks.get(first + (int) define("step.cu", "LAYER_WO")));
            assertEquals(w.mlpFc1(), blocks.get(first + (int) define("step.cu", "LAYER_FC1")));
            assertEquals(w.mlpFc2(), blocks.get(first + (int) define("step.cu", "LAYER_FC2")));
        }
    }

    @Test
    void rmsnormUsesTheCpuTwinsEpsilon() throws IOException {
        assertEquals((float) RmsNorm.EPS, (float) define("rmsnorm.cuh", "RMSNORM_EPS"));
    }

    /** The number a {@code #define NAME value} line of kernels/FILE gives (a trailing f or comment ignored). */
    private static double define(String file, String name) throws IOException {
        Matcher m = Pattern.compile("(?m)^#define " + name + " ([0-9.eE+-]+)f?\\b").matcher(
                Files.readString(KERNELS.resolve(file)));
        if (!m.find()) {
            throw new AssertionError("kernels/" + file + " has no #define " + name + " with a number");
        }
        return Double.parseDouble(m.group(1));
    }
}
