package dev.microgpt.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The engine's and the benchmark's names for the GPU options (bench/run.sh's rows use them). */
class GpuOptionsTest {

    @Test
    void labelsNameTheModeAndACublasBackend() {
        assertEquals("eager", new GpuOptions(GpuMode.eager, GemmBackend.hand).label());
        assertEquals("graph", new GpuOptions(GpuMode.graph, GemmBackend.hand).label());
        assertEquals("eager-cublas", new GpuOptions(GpuMode.eager, GemmBackend.cublas).label());
        assertEquals("graph-cublas", new GpuOptions(GpuMode.graph, GemmBackend.cublas).label());
        assertEquals("fused", new GpuOptions(GpuMode.fused, GemmBackend.hand).label());
        assertEquals("fused-b4", new GpuOptions(GpuMode.fused, GemmBackend.hand, 4, 1).label());
        assertEquals("fused-k16", new GpuOptions(GpuMode.fused, GemmBackend.hand, 0, 16).label());
    }

    @Test
    void refusesWhatNoModeCanRun() {
        String cublasFused = assertThrows(IllegalArgumentException.class,
                () -> new GpuOptions(GpuMode.fused, GemmBackend.cublas)).getMessage();
        assertTrue(cublasFused.contains("--gemm cublas applies to eager and graph modes"), cublasFused);
        String blocksEager = assertThrows(IllegalArgumentException.class,
                () -> new GpuOptions(GpuMode.eager, GemmBackend.hand, 2, 1)).getMessage();
        assertTrue(blocksEager.contains("--fused-blocks 2 needs --gpu-mode fused"), blocksEager);
        String negative = assertThrows(IllegalArgumentException.class,
                () -> new GpuOptions(GpuMode.fused, GemmBackend.hand, -1, 1)).getMessage();
        assertTrue(negative.contains("--fused-blocks must be 0"), negative);
        String stepsGraph = assertThrows(IllegalArgumentException.class,
                () -> new GpuOptions(GpuMode.graph, GemmBackend.hand, 0, 8)).getMessage();
        assertTrue(stepsGraph.contains("--steps-per-launch 8 needs --gpu-mode fused"), stepsGraph);
        assertThrows(IllegalArgumentException.class, () -> new GpuOptions(GpuMode.fused, GemmBackend.hand, 0, 0));
        assertThrows(IllegalArgumentException.class,
                () -> new GpuOptions(GpuMode.fused, GemmBackend.hand, 0, GpuEngine.LOSS_BATCH + 1));
    }

    /** A fused launch runs at most LOSS_BATCH documents: K steps of B, K x B at most 256, and one step always. */
    @Test
    void aLaunchsStepsAreLimitedByItsDocuments() {
        assertEquals(256, GpuOptions.maxStepsPerLaunch(1));
        assertEquals(85, GpuOptions.maxStepsPerLaunch(3));
        assertEquals(8, GpuOptions.maxStepsPerLaunch(32));
        assertEquals(1, GpuOptions.maxStepsPerLaunch(256));
        assertEquals(1, GpuOptions.maxStepsPerLaunch(4096));
        GpuOptions k16 = new GpuOptions(GpuMode.fused, GemmBackend.hand, 0, 16);
        k16.checkBatchSize(16);
        String tooMany = assertThrows(IllegalArgumentException.class, () -> k16.checkBatchSize(17)).getMessage();
        assertEquals("--steps-per-launch 16 with --batch-size 17: a fused launch runs at most 256 documents, 15 steps of"
                + " 17; lower one of them", tooMany);
        assertEquals(new GpuOptions(GpuMode.fused, GemmBackend.hand, 0, 15), k16.withStepsPerLaunchAtMost(15));
        assertEquals(k16, k16.withStepsPerLaunchAtMost(256));
        new GpuOptions(GpuMode.graph, GemmBackend.cublas).checkBatchSize(1);
        String cublas = assertThrows(IllegalArgumentException.class,
                () -> new GpuOptions(GpuMode.graph, GemmBackend.cublas).checkBatchSize(2)).getMessage();
        assertEquals("--gemm cublas trains one document a step; drop --gemm cublas, or drop --batch-size 2", cublas);
    }
}
