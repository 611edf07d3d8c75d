package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.gpu.GpuOptions;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The GPU options as the command line gives them, and the mode taken where --gpu-mode is not given. */
class GpuFlagsTest {

    private static GpuFlags parse(String... args) {
        GpuFlags flags = new GpuFlags();
        new CommandLine(flags).parseArgs(args);
        return flags;
    }

    private static String label(int batchSize, String... args) {
        GpuOptions options = parse(args).options(batchSize);
        return options.label();
    }

    @Test
    void withoutAModeTheFastestForTheBatchIsTaken() {
        assertFalse(parse().modeGiven());
        assertEquals("graph", label(1));
        assertEquals("fused", label(2));
        assertEquals("fused", label(128));
    }

    @Test
    void theOtherFlagsAskForTheModeThatRunsThem() {
        assertEquals("fused-k16", label(1, "--steps-per-launch", "16"));
        assertEquals("fused-b4", label(1, "--fused-blocks", "4"));
        assertEquals("graph-cublas", label(1, "--gemm", "cublas"));
    }

    @Test
    void aModeGivenIsKeptAtEveryBatchSize() {
        assertTrue(parse("--gpu-mode", "eager").modeGiven());
        assertEquals("eager", label(1, "--gpu-mode", "eager"));
        assertEquals("graph", label(128, "--gpu-mode", "graph"));
        assertEquals("fused", label(1, "--gpu-mode", "fused"));
    }
}
