package dev.microgpt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.gpu.GpuSupport;
import dev.microgpt.testing.BuiltinDataset;
import dev.microgpt.testing.RequiresGpu;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The benchmark takes no timing on the emulated device: its GPU rows say so instead of giving a number. */
@RequiresGpu
class EmulatedTimingsTest {

    @TempDir
    Path dir;

    @Test
    void gpuRowsOnTheEmulatedDeviceAreUnavailableSayingWhy() throws Exception {
        assumeTrue(GpuSupport.status().emulated(), "the GPU here is not the emulated device");
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = System.out;
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = new CommandLine(new StepBenchmark()).execute("--input", BuiltinDataset.writeTo(dir).toString(),
                    "--engine", "gpu", "--gpu-mode", "fused", "--warmup-steps", "1", "--steps", "1", "--repeats", "1");
        } finally {
            System.setOut(out);
        }
        String row = captured.toString(StandardCharsets.UTF_8).strip();
        assertEquals(0, exit, row);
        assertTrue(row.contains("\"unavailable\":") && row.contains("emulated") && row.contains("not the timings of a GPU")
                && !row.contains("ms_per_step"), row);
    }
}
