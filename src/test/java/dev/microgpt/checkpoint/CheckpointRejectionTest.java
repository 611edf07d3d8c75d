package dev.microgpt.checkpoint;

import static dev.microgpt.checkpoint.CheckpointFileTest.assertOneLine;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Files that are not checkpoints, or damaged ones, are refused with one line that names the file and the problem.
 * Each case starts from a valid checkpoint's bytes and breaks one thing; edits to the header keep the data and its
 * checksum valid, so that the problem reported is the one made.
 */
class CheckpointRejectionTest {

    @TempDir
    Path dir;

    static Stream<Arguments> damagedFiles() {
        return Stream.of(
                arguments("random bytes", replaced(randomBytes(4096)), "is not a safetensors file"),
                arguments("a text file", replaced("name,loss\nemma,2.31\nolivia,2.29\n".getBytes(StandardCharsets.UTF_8)),
                        "is not a safetensors file"),
                arguments("an empty file", replaced(new byte[0]), "truncated or not a checkpoint"),
                arguments("safetensors without metadata", replaced(foreignSafetensors("")), "not a microgpt checkpoint"),
                arguments("safetensors of another program", replaced(foreignSafetensors(
                        "\"__metadata__\":{\"format\":\"pt\"},")), "not a microgpt checkpoint"),
                arguments("a header that is not JSON", replaced(withHeader("{\"wte\": [1, 2", StandardCharsets.UTF_8)), "not valid JSON"),
                arguments("a header in lenient JSON", replaced(withHeader(
                        "{'__metadata__': {'format': 'microgpt-checkpoint'}}", StandardCharsets.UTF_8)), "not valid JSON"),
                arguments("a header that is a JSON array", replaced(withHeader("[1, 2]", StandardCharsets.UTF_8)), "not a JSON object"),
                arguments("a header that is not UTF-8", replaced(withHeader("{\"a\": \"\u00ff\"}", StandardCharsets.ISO_8859_1)),
                        "not UTF-8"),
                arguments("a header length over 100 MB", (UnaryOperator<byte[]>) bytes -> withLength(bytes, 200_000_000L),
                        "is not a safetensors file"),
                arguments("truncated inside the length", truncatedTo(4), "truncated"),
                arguments("truncated inside the header", truncatedTo(100), "truncated"),
                arguments("truncated inside the data", (UnaryOperator<byte[]>) bytes -> Arrays.copyOf(bytes, bytes.length / 2),
                        "is truncated: its header says"),
                arguments("missing its last byte", (UnaryOperator<byte[]>) bytes -> Arrays.copyOf(bytes, bytes.length - 1),
                        "is truncated: its header says"),
                arguments("bytes after the data", (UnaryOperator<byte[]>) bytes -> Arrays.copyOf(bytes, bytes.length + 8),
                        "8 bytes after its"),
                arguments("one flipped byte in the data", (UnaryOperator<byte[]>) bytes -> {
                    byte[] flipped = bytes.clone();
                    flipped[flipped.length - 1000] ^= 0x10;
                    return flipped;
                }, "is corrupt"),
                arguments("an edited seed that still parses", unsignedMetadata(m -> m.addProperty("seed", "43")),
                        "is corrupt: its metadata does not match its metadata_sha256"),
                arguments("an edited step that still parses", unsignedMetadata(m -> m.addProperty("step", "1")),
                        "is corrupt: its metadata does not match its metadata_sha256"),
                arguments("format version 4", metadata(m -> m.addProperty("format_version", "4")),
                        "has format version \"4\" but this microgpt reads versions 1, 2 and 3"),
                arguments("an edited loss that still parses", unsignedMetadata(m -> m.addProperty("loss", "1.5")),
                        "is corrupt: its metadata does not match its metadata_sha256"),
                arguments("a loss that is not a finite number", metadata(m -> m.addProperty("loss", "Infinity")),
                        "has metadata \"loss\" \"Infinity\", which is not a finite number"),
                arguments("a batch size of 0", metadata(m -> m.addProperty("batch_size", "0")),
                        "has inconsistent metadata: batch size must be positive, got 0"),
                arguments("version 2 without a batch size", metadata(m -> m.remove("batch_size")),
                        "lacks metadata field \"batch_size\""),
                arguments("no format", metadata(m -> m.remove("format")), "not a microgpt checkpoint"),
                arguments("a missing metadata field", metadata(m -> m.remove("seed")), "lacks metadata field \"seed\""),
                arguments("a malformed integer", metadata(m -> m.addProperty("n_embd", "eight")),
                        "metadata \"n_embd\" \"eight\", which is not an integer"),
                arguments("a malformed number", metadata(m -> m.addProperty("beta1", "NaN")),
                        "metadata \"beta1\" \"NaN\", which is not a finite number"),
                arguments("a metadata value that is not a string", metadata(m -> m.addProperty("step", 3)),
                        "metadata \"step\" that is not a string"),
                arguments("an invalid config", metadata(m -> m.addProperty("n_head", "3")), "has invalid model shape in its metadata"),
                arguments("invalid Adam settings", metadata(m -> m.addProperty("beta2", "1.5")), "beta2 must be in [0, 1)"),
                arguments("a malformed random state", metadata(m -> m.addProperty("rng_state", "mt19937:1:none:AAAA")),
                        "invalid rng_state"),
                arguments("a malformed checksum", metadata(m -> m.addProperty("data_sha256", "abc")),
                        "which is not a SHA-256"),
                arguments("an unknown dtype", metadata(m -> m.addProperty("dtype", "BF16")), "which is not one of [F64, F32]"),
                arguments("a vocabulary one short", metadata(m -> m.addProperty("vocabulary", "\"'-<=>\\abcxyz\u00e9\u4e2d")),
                        "vocabulary has 15 characters but vocab_size 17 needs 16"),
                arguments("a step past the schedule", metadata(m -> m.addProperty("step", "999999")),
                        "inconsistent metadata: step 999999 is outside"),
                arguments("n_layer larger than the header", metadata(m -> m.addProperty("n_layer", "1000000000")),
                        "has n_layer 1000000000 but its header lists only"),
                arguments("a missing tensor", header(h -> h.remove("adam_v.wte")), "lacks tensor \"adam_v.wte\""),
                arguments("an extra tensor", header(h -> h.add("bias", h.get("wte"))), "holds tensor \"bias\""),
                arguments("a tensor of the wrong dtype", header(h -> h.getAsJsonObject("wpe").addProperty("dtype", "F32")),
                        "tensor \"wpe\" of checkpoint"),
                arguments("a transposed shape", header(h -> h.getAsJsonObject("layer1.mlp_fc1").add("shape", pair(8, 32))),
                        "has shape [8, 32] but its config"),
                arguments("a fractional shape", header(h -> h.getAsJsonObject("wte").add("shape",
                        JsonParser.parseString("[17, 8.5]"))), "is malformed"),
                arguments("swapped offsets", header(h -> {
                    JsonArray wq = h.getAsJsonObject("layer0.attn_wq").getAsJsonArray("data_offsets");
                    h.getAsJsonObject("layer0.attn_wq").add("data_offsets",
                            h.getAsJsonObject("layer0.attn_wk").getAsJsonArray("data_offsets"));
                    h.getAsJsonObject("layer0.attn_wk").add("data_offsets", wq);
                }), "\"layer0.attn_wq\" of checkpoint"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("damagedFiles")
    void isRefusedWithOneLineNamingTheProblem(String name, UnaryOperator<byte[]> damage, String problem)
            throws IOException {
        Path path = dir.resolve("run.ckpt");
        CheckpointFile.write(path, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 30));
        Files.write(path, damage.apply(Files.readAllBytes(path)));

        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointFile.read(path));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().contains(path.toString()), () -> "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "expected \"" + problem + "\" in: " + e.getMessage());
        assertFalse(e.getMessage().matches(".*(Exception|https?://).*"), () -> "words, not a library's: " + e.getMessage());
    }

    @Test
    void aMissingFileIsReported() {
        Path path = dir.resolve("nothing-here.ckpt");

        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointFile.read(path));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().contains(path + ": the file does not exist"), e.getMessage());
    }

    @Test
    void aDirectoryIsReported() {
        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointFile.read(dir));

        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
    }

    @Test
    void theTruncationMessageSaysWhatToDo() throws IOException {
        Path path = dir.resolve("run.ckpt");
        CheckpointFile.write(path, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 31));
        byte[] bytes = Files.readAllBytes(path);
        Files.write(path, Arrays.copyOf(bytes, bytes.length - 100));

        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointFile.read(path));

        assertTrue(e.getMessage().matches("checkpoint .*run\\.ckpt is truncated: its header says \\d+ bytes of tensors"
                + " but the file holds \\d+; it was not written completely, use an earlier checkpoint"), e.getMessage());
    }

    private static UnaryOperator<byte[]> replaced(byte[] contents) {
        return ignored -> contents;
    }

    private static UnaryOperator<byte[]> truncatedTo(int length) {
        return bytes -> Arrays.copyOf(bytes, length);
    }

    /**
     * An edit of the metadata that also re-signs it (recomputes metadata_sha256), as a deliberate editor would: the
     * checks behind the checksum must hold on their own.
     */
    private static UnaryOperator<byte[]> metadata(Consumer<JsonObject> edit) {
        return header(h -> {
            JsonObject m = h.getAsJsonObject("__metadata__");
            edit.accept(m);
            if (m.has("metadata_sha256")) {
                m.remove("metadata_sha256");
                if (m.entrySet().stream().allMatch(e -> e.getValue().isJsonPrimitive())) {
                    m.addProperty("metadata_sha256", CheckpointHeader.digestOf(m));
                }
            }
        });
    }

    /** An edit of the metadata that leaves metadata_sha256 as it was, as damage or a careless edit would. */
    private static UnaryOperator<byte[]> unsignedMetadata(Consumer<JsonObject> edit) {
        return header(h -> edit.accept(h.getAsJsonObject("__metadata__")));
    }

    private static UnaryOperator<byte[]> header(Consumer<JsonObject> edit) {
        return bytes -> {
            SafetensorsBytes file = SafetensorsBytes.parse(bytes);
            edit.accept(file.header());
            return file.assemble();
        };
    }

    private static byte[] withLength(byte[] bytes, long headerLength) {
        byte[] changed = bytes.clone();
        ByteBuffer.wrap(changed).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerLength);
        return changed;
    }

    private static byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        new Random(42).nextBytes(bytes);
        return bytes;
    }

    /** A valid safetensors file of one F32 tensor [2], with {@code extraEntries} (JSON members and a comma) first. */
    private static byte[] foreignSafetensors(String extraEntries) {
        return withHeader("{" + extraEntries + "\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                StandardCharsets.UTF_8, new byte[8]);
    }

    /** A file of this header, encoded so, and no data. */
    private static byte[] withHeader(String header, Charset charset) {
        return withHeader(header, charset, new byte[0]);
    }

    private static byte[] withHeader(String header, Charset charset, byte[] data) {
        byte[] json = header.getBytes(charset);
        return ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(json.length).put(json).put(data).array();
    }

    private static JsonArray pair(int first, int second) {
        JsonArray a = new JsonArray();
        a.add(first);
        a.add(second);
        return a;
    }
}
