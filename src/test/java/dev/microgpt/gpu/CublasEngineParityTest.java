package dev.microgpt.gpu;

import static dev.microgpt.gpu.GpuEngineParityTest.assertGradientsAgree;
import static dev.microgpt.gpu.GpuEngineParityTest.assertLossesFollow;
import static dev.microgpt.gpu.GpuEngineParityTest.floatWeights;
import static dev.microgpt.gpu.GpuEngineParityTest.losses;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RandomDocuments;
import dev.microgpt.testing.BuiltinDataset;
import dev.microgpt.testing.RequiresCublas;
import dev.microgpt.train.TrainingRun;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GPU engine with cuBLAS for its linear layers ({@code --gemm cublas}) against the hand kernels and the CPU
 * reference. Skipped, with the probe's reason, where no GPU is usable or libcublas.so.12 cannot load.
 */
@RequiresCublas
class CublasEngineParityTest {

    private static GpuOptions cublas(GpuMode mode) {
        return new GpuOptions(mode, GemmBackend.cublas);
    }

    /** Both engines in float32, differing only in summation order inside the GEMMs. */
    @ParameterizedTest(name = "n_embd = block_size = {0}, n_layer = {1}")
    @CsvSource({"16, 1", "64, 1", "16, 2"})
    void wholeStepGradientsMatchTheHandKernels(int size, int layers) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(size, 4, layers, size, 27));
        Random random = new Random(size);
        double[] weights = floatWeights(layout, random);
        try (GpuEngine hand = new GpuEngine(layout, weights);
             GpuEngine blas = new GpuEngine(layout, weights, cublas(GpuMode.eager))) {
            assertGradientsAgree(hand, blas, size, random);
        }
    }

    /** Graph mode captures a graph per document length here: the names have many lengths. */
    @ParameterizedTest(name = "64/64, {0}")
    @EnumSource(value = GpuMode.class, names = {"eager", "graph"})
    void twoHundredStepsOnNamesFollowTheCpuEngine(GpuMode mode) throws Exception {
        TrainingRun run = TrainingRun.prepare(BuiltinDataset.documents(), new TrainingRun.Shape(64, 4, 1, 64), 42);
        double[] cpuLosses = losses(new FastEngine(run.layout(), run.initialParams()), run, 200);
        double[] gpuLosses;
        try (GpuEngine gpu = new GpuEngine(run.layout(), run.initialParams(), cublas(mode))) {
            assertEquals("gpu-" + mode + "-cublas", gpu.name());
            gpuLosses = losses(gpu, run, 200);
        }
        assertLossesFollow(cpuLosses, gpuLosses, 64, "64/64 " + mode + " cuBLAS");
    }

    /**
     * Eager mode issues 8 + 19 n_layer operations a step: the hand kernels' 7 + 14 n_layer, with each of the four
     * layers' backward as two GEMMs (dx and dW) and a residual copy before attn_wo's and mlp_fc2's forward. The
     * profile times each of them, after a step trained without it.
     */
    @Test
    void launchesPerStepCountsEveryCallAndTheProfileTimesEach() {
        int layers = 2;
        ParameterLayout layout = new ParameterLayout(new ModelConfig(32, 4, layers, 32, 27));
        Random random = new Random(3);
        try (GpuEngine gpu = new GpuEngine(layout, floatWeights(layout, random), cublas(GpuMode.eager));
             StepProfiler profiler = new StepProfiler(gpu)) {
            int ops = 8 + 19 * layers;
            assertEquals(1 + ops, gpu.launchesPerStep(), "the staging copy and every operation");
            DocumentBatch batch = DocumentBatch.of(RandomDocuments.of(random, 12, 27), 11);
            gpu.submitStep(batch, AdamConfig.MICROGPT, 0, 10); // cuBLAS loads its kernels, before any stream is held
            gpu.collectLosses(new double[gpu.lossBatch()]);
            float[] millis = profiler.profile(batch, AdamConfig.MICROGPT, 1, 10);
            assertEquals(ops, millis.length);
            for (float ms : millis) {
                assertTrue(ms >= 0 && Float.isFinite(ms), "operation time " + ms);
            }
        }
    }
}
