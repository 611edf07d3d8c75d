package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
        assertEquals("the fastest for 1 document per step", parse().mode(1).why());
        assertEquals("the fastest for 8 documents per step", parse().mode(8).why());
        assertEquals("graph", label(1));
        assertEquals("fused", label(2));
        assertEquals("fused", label(128));
    }

    @Test
    void theOtherFlagsAskForTheModeThatRunsThem() {
        assertEquals("fused-k16", label(1, "--steps-per-launch", "16"));
        assertEquals("for --steps-per-launch", parse("--steps-per-launch", "16").mode(1).why());
        assertEquals("fused-b4", label(1, "--fused-blocks", "4"));
        assertEquals("for --fused-blocks", parse("--fused-blocks", "4").mode(1).why());
        assertEquals("graph-cublas", label(1, "--gemm", "cublas"));
    }

    @Test
    void aModeGivenIsKeptAtEveryBatchSize() {
        assertEquals("--gpu-mode", parse("--gpu-mode", "eager").mode(1).why());
        assertEquals("eager", label(1, "--gpu-mode", "eager"));
        assertEquals("graph", label(128, "--gpu-mode", "graph"));
        assertEquals("fused", label(1, "--gpu-mode", "fused"));
    }
}
