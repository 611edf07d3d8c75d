package dev.microgpt.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The engine's and the benchmark's names for the GPU options (bench/run.sh's rows use them). */
class GpuOptionsTest {

    @Test
    void labelsNameTheModeAndACublasBackend() {
        assertEquals("eager", new GpuOptions(GpuMode.eager, GemmBackend.hand).label());
        assertEquals("graph", new GpuOptions(GpuMode.graph, GemmBackend.hand).label());
        assertEquals("eager-cublas", new GpuOptions(GpuMode.eager, GemmBackend.cublas).label());
        assertEquals("graph-cublas", new GpuOptions(GpuMode.graph, GemmBackend.cublas).label());
    }
}
