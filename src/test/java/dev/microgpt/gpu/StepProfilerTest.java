package dev.microgpt.gpu;

import static dev.microgpt.gpu.GpuEngineParityTest.floatWeights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RandomDocuments;
import dev.microgpt.testing.RequiresGpu;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The benchmark's profile of a step (StepProfiler): issued with the stream held (StreamGate), it times every operation
 * of the step, and the step it runs is a whole training step, the same as one trained without a profiler.
 */
@RequiresGpu
class StepProfilerTest {

    @ParameterizedTest
    @EnumSource(GpuMode.class)
    void aProfiledStepTimesEachOperationAndTrainsAsAStepDoes(GpuMode mode) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(16, 4, 1, 16, 27));
        Random random = new Random(11);
        double[] weights = floatWeights(layout, random);
        DocumentBatch batch = DocumentBatch.of(RandomDocuments.of(random, 9, 27), 8);
        double[] trained = new double[layout.size()];
        try (GpuEngine gpu = new GpuEngine(layout, weights, mode)) {
            gpu.submitStep(batch, AdamConfig.MICROGPT, 0, 10);
            gpu.collectLosses(new double[gpu.lossBatch()]);
            gpu.readParameters(trained);
        }
        double[] profiled = new double[layout.size()];
        try (GpuEngine gpu = new GpuEngine(layout, weights, mode); StepProfiler profiler = new StepProfiler(gpu)) {
            float[] millis = profiler.profile(batch, AdamConfig.MICROGPT, 0, 10);
            if (mode != GpuMode.fused) {
                assertEquals(7 + 14, millis.length, "the step's kernels at n_layer 1, as eager mode launches them");
            }
            for (float ms : millis) {
                assertTrue(ms >= 0 && Float.isFinite(ms), "operation time " + ms);
            }
            float[] again = profiler.profile(batch, AdamConfig.MICROGPT, 1, 10); // the stream was let go
            assertEquals(millis.length, again.length);
            gpu.readParameters(profiled);
        }
        double[] oneStepOnly = new double[layout.size()];
        try (GpuEngine gpu = new GpuEngine(layout, weights, mode); StepProfiler profiler = new StepProfiler(gpu)) {
            profiler.profile(batch, AdamConfig.MICROGPT, 0, 10);
            gpu.readParameters(oneStepOnly);
        }
        assertArrayEquals(trained, oneStepOnly, 0.0, "the profiled step's weights are the trained step's, bit for bit");
        assertTrue(!java.util.Arrays.equals(oneStepOnly, profiled), "the second profiled step trained on");
    }
}
