package dev.microgpt.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.microgpt.model.ParameterLayout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A checkpoint is a valid safetensors file: an independent reader written from the format's README
 * (read_safetensors.py, Python standard library only) parses it and finds the names, dtypes, shapes and values the
 * layout says. Skipped, saying so, where python3 is not installed.
 */
class SafetensorsInteropTest {

    private static final String SCRIPT = "/checkpoint/read_safetensors.py";

    @TempDir
    static Path scratch;
    private static Path script;

    @BeforeAll
    static void python3AndTheScript() throws IOException, InterruptedException {
        assumeTrue(python3Runs(), "skipped: python3 is not installed or does not run, so the independent reader cannot");
        script = scratch.resolve("read_safetensors.py");
        try (InputStream in = SafetensorsInteropTest.class.getResourceAsStream(SCRIPT)) {
            Files.copy(in, script);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void anIndependentReaderFindsWhatTheLayoutSays(DType dtype) throws IOException, InterruptedException {
        Checkpoint checkpoint = TestCheckpoints.random(TestCheckpoints.SMALL, dtype, 20 + dtype.ordinal());
        Path path = scratch.resolve("run-" + dtype + ".ckpt");
        CheckpointFile.write(path, checkpoint);

        JsonObject read = runReader(path);

        ParameterLayout layout = new ParameterLayout(checkpoint.config());
        long p = layout.size();
        assertEquals(3 * p * dtype.bytes(), read.get("buffer_length").getAsLong());
        assertEquals(0, (8 + read.get("header_length").getAsLong()) % 8, "the buffer starts 8-byte aligned");
        JsonObject metadata = read.getAsJsonObject("metadata");
        assertEquals(read.get("buffer_sha256").getAsString(), metadata.get("data_sha256").getAsString());
        assertEquals("microgpt-checkpoint", metadata.get("format").getAsString());
        assertEquals(dtype.name(), metadata.get("dtype").getAsString());
        assertEquals(TestCheckpoints.VOCABULARY, metadata.get("vocabulary").getAsString());

        JsonArray tensors = read.getAsJsonArray("tensors");
        List<ParameterLayout.Tensor> layoutTensors = layout.tensors();
        assertEquals(3 * layoutTensors.size(), tensors.size());
        Map<String, double[]> arrays = Map.of("", checkpoint.params(), "adam_m.", checkpoint.adamM(),
                "adam_v.", checkpoint.adamV());
        int i = 0;
        for (String prefix : List.of("", "adam_m.", "adam_v.")) {
            double[] values = arrays.get(prefix);
            for (ParameterLayout.Tensor t : layoutTensors) {
                JsonObject entry = tensors.get(i++).getAsJsonObject();
                String name = prefix + t.name();
                assertEquals(name, entry.get("name").getAsString());
                assertEquals(dtype.name(), entry.get("dtype").getAsString(), name);
                assertEquals("[" + t.rows() + "," + t.cols() + "]", entry.get("shape").toString(), name);
                assertEquals(stored(values[t.offset()], dtype), entry.get("first").getAsDouble(), name + " first");
                assertEquals(stored(values[t.end() - 1], dtype), entry.get("last").getAsDouble(), name + " last");
            }
        }
    }

    private static double stored(double value, DType dtype) {
        return dtype == DType.F32 ? (float) value : value;
    }

    private static JsonObject runReader(Path checkpoint) throws IOException, InterruptedException {
        Process python = new ProcessBuilder("python3", script.toString(), checkpoint.toString())
                .redirectErrorStream(true).start();
        String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, python.waitFor(), () -> "read_safetensors.py failed: " + output);
        JsonElement parsed = JsonParser.parseString(output);
        return parsed.getAsJsonObject();
    }

    private static boolean python3Runs() throws InterruptedException {
        try {
            Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}
