package dev.microgpt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.microgpt.gpu.GpuSupport;
import dev.microgpt.testing.BuiltinDataset;
import dev.microgpt.testing.RequiresGpu;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The benchmark takes no timing on the emulated device: its GPU rows say so instead of giving a number, unless
 * --time-emulated asks for one, as a rehearsal of the GPU rows' code.
 */
@RequiresGpu
class EmulatedTimingsTest {

    @TempDir
    Path dir;

    @Test
    void gpuRowsOnTheEmulatedDeviceAreUnavailableSayingWhy() throws Exception {
        String row = stepBenchmark("--gpu-mode", "fused");
        assertTrue(row.contains("\"unavailable\":") && row.contains("emulated") && row.contains("not the timings of a GPU")
                && !row.contains("ms_per_step"), row);
    }

    /** What runs only on a GPU otherwise: the row's launches and busy time, profiled over the repeat's steps. */
    @Test
    void timeEmulatedMeasuresTheGpuRowsOnTheEmulatedDevice() throws Exception {
        for (String mode : new String[] {"eager", "fused"}) {
            JsonObject row = JsonParser.parseString(stepBenchmark("--gpu-mode", mode, "--batch-size", "2",
                    "--time-emulated")).getAsJsonObject();
            assertTrue(row.get("device").getAsString().contains("emulated"), row.toString());
            assertEquals(2, row.get("batch_size").getAsInt(), row.toString());
            assertTrue(row.get("median_ms_per_step").getAsDouble() > 0, row.toString());
            assertTrue(row.get("launches_per_step").getAsDouble() >= 1, row.toString());
            assertTrue(row.get("gpu_busy_ms_per_step").getAsDouble() > 0, row.toString());
            assertFalse(row.has("unavailable") || row.has("error"), row.toString());
        }
    }

    /** StepBenchmark's row for one GPU step after one of warm-up, with these options. */
    private String stepBenchmark(String... options) throws Exception {
        assumeTrue(GpuSupport.status().emulated(), "the GPU here is not the emulated device");
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = System.out;
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            List<String> args = new ArrayList<>(List.of("--input", BuiltinDataset.writeTo(dir).toString(), "--engine",
                    "gpu", "--warmup-steps", "1", "--steps", "1", "--repeats", "1"));
            args.addAll(List.of(options));
            exit = new CommandLine(new StepBenchmark()).execute(args.toArray(String[]::new));
        } finally {
            System.setOut(out);
        }
        String row = captured.toString(StandardCharsets.UTF_8).strip();
        assertEquals(0, exit, row);
        return row;
    }
}
