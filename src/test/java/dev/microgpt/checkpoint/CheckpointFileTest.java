package dev.microgpt.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import dev.microgpt.files.ReplacedFile;
import dev.microgpt.model.ParameterLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writing and reading checkpoints: exact round trips, the documented layout of the file, and atomic replacement. */
class CheckpointFileTest {

    @TempDir
    Path dir;

    @Test
    void f64RoundTripRestoresEveryFieldAndEveryBit() throws IOException {
        Checkpoint original = TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 1);
        // values whose bits a careless encoding would lose
        original.params()[0] = -0.0;
        original.params()[1] = Double.MIN_VALUE;
        original.params()[2] = Double.MAX_VALUE;
        original.adamM()[3] = Double.NEGATIVE_INFINITY;
        Path path = dir.resolve("run.ckpt");

        CheckpointFile.write(path, original);
        Checkpoint read = CheckpointFile.read(path);

        assertEquals(original.config(), read.config());
        assertEquals(original.vocabulary(), read.vocabulary());
        assertEquals(original.adam(), read.adam());
        assertEquals(original.step(), read.step());
        assertEquals(original.totalSteps(), read.totalSteps());
        assertEquals(original.batchSize(), read.batchSize());
        assertEquals(original.seed(), read.seed());
        assertEquals(original.datasetSha256(), read.datasetSha256());
        assertEquals(original.rng(), read.rng());
        assertTrue(read.rng().hasGaussNext(), "the cached gauss value survives");
        assertEquals(DType.F64, read.dtype());
        assertBitwiseEqual(original.params(), read.params(), "params");
        assertBitwiseEqual(original.adamM(), read.adamM(), "adam m");
        assertBitwiseEqual(original.adamV(), read.adamV(), "adam v");
        assertEquals(original, read);
        assertEquals(List.of(path), listing(), "no temporary file is left behind");
    }

    /** Checkpoints written before batches (format version 1, no batch_size) still load, as one document a step. */
    @Test
    void aVersionOneCheckpointLoadsWithOneDocumentAStep() throws IOException {
        Checkpoint original = TestCheckpoints.atBatchSize(TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 2), 1);
        Path path = dir.resolve("old.ckpt");
        writeAsVersion(path, original, "1", "batch_size", "loss");

        assertEquals(TestCheckpoints.withLoss(original, Double.NaN), CheckpointFile.read(path));
    }

    /** Checkpoints written before the loss was kept (format version 2) still load, their loss unknown. */
    @Test
    void aVersionTwoCheckpointLoadsWithoutALoss() throws IOException {
        Checkpoint original = TestCheckpoints.atStep(TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 3), 5);
        Path path = dir.resolve("v2.ckpt");
        writeAsVersion(path, original, "2", "loss");

        Checkpoint read = CheckpointFile.read(path);
        assertTrue(Double.isNaN(read.loss()), "no loss: " + read.loss());
        assertEquals(TestCheckpoints.withLoss(original, Double.NaN), read);
    }

    /**
     * Writes {@code checkpoint} to {@code path} as an earlier format {@code version} did: without the metadata fields
     * that version did not have, signed as it signed.
     */
    private static void writeAsVersion(Path path, Checkpoint checkpoint, String version, String... laterFields)
            throws IOException {
        CheckpointFile.write(path, checkpoint);
        SafetensorsBytes file = SafetensorsBytes.parse(Files.readAllBytes(path));
        JsonObject metadata = file.metadata();
        metadata.addProperty("format_version", version);
        for (String field : laterFields) {
            metadata.remove(field);
        }
        metadata.remove("metadata_sha256");
        metadata.addProperty("metadata_sha256", CheckpointHeader.digestOf(metadata));
        Files.write(path, file.assemble());
    }

    @Test
    void f32RoundTripHoldsTheValuesRoundedToFloat() throws IOException {
        Checkpoint original = TestCheckpoints.random(TestCheckpoints.SMALL, DType.F32, 2);
        Path path = dir.resolve("gpu.ckpt");

        CheckpointFile.write(path, original);
        Checkpoint read = CheckpointFile.read(path);

        assertEquals(DType.F32, read.dtype());
        assertEquals(original.rng(), read.rng());
        assertEquals(original.adam(), read.adam(), "metadata stays exact whatever the tensors' dtype");
        assertBitwiseEqual(roundedToFloat(original.params()), read.params(), "params");
        assertBitwiseEqual(roundedToFloat(original.adamM()), read.adamM(), "adam m");
        assertBitwiseEqual(roundedToFloat(original.adamV()), read.adamV(), "adam v");
        long dataBytes = 3L * new ParameterLayout(original.config()).size() * Float.BYTES;
        assertEquals(dataBytes, Files.size(path) - Long.BYTES - headerLength(path), "four bytes a value");
    }

    @Test
    void headerNamesEveryTensorInLayoutOrderThenTheMomentsAndAlignsTheData() throws IOException {
        Checkpoint checkpoint = TestCheckpoints.atStep(TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 3), 7);
        Path path = dir.resolve("run.ckpt");
        CheckpointFile.write(path, checkpoint);
        SafetensorsBytes file = SafetensorsBytes.parse(Files.readAllBytes(path));

        List<String> names = new ArrayList<>(List.of("__metadata__"));
        for (String prefix : List.of("", "adam_m.", "adam_v.")) {
            for (String tensor : List.of("wte", "wpe", "lm_head")) {
                names.add(prefix + tensor);
            }
            for (int layer = 0; layer < 2; layer++) {
                for (String tensor : List.of("attn_wq", "attn_wk", "attn_wv", "attn_wo", "mlp_fc1", "mlp_fc2")) {
                    names.add(prefix + "layer" + layer + "." + tensor);
                }
            }
        }
        assertEquals(names, List.copyOf(file.header().keySet()));

        JsonObject fc2 = file.header().getAsJsonObject("adam_v.layer1.mlp_fc2");
        assertEquals("F64", fc2.get("dtype").getAsString());
        assertEquals("[8,32]", fc2.get("shape").toString(), "[n_embd, 4 n_embd], row-major");
        long dataBytes = 3L * new ParameterLayout(checkpoint.config()).size() * Double.BYTES;
        assertEquals("[" + (dataBytes - 8 * 32 * 8) + "," + dataBytes + "]", fc2.get("data_offsets").toString());

        JsonObject metadata = file.metadata();
        assertEquals(List.of("format", "format_version", "n_embd", "n_head", "n_layer", "block_size", "vocab_size",
                        "vocabulary", "learning_rate", "beta1", "beta2", "eps", "step", "loss", "total_steps", "batch_size",
                        "seed", "dataset_sha256", "rng_state", "dtype", "data_sha256", "metadata_sha256"),
                List.copyOf(metadata.keySet()));
        assertEquals("microgpt-checkpoint", metadata.get("format").getAsString());
        assertEquals("3", metadata.get("format_version").getAsString());
        assertEquals(Double.toString(checkpoint.loss()), metadata.get("loss").getAsString());
        assertEquals(Integer.toString(checkpoint.batchSize()), metadata.get("batch_size").getAsString());
        assertEquals("8", metadata.get("n_embd").getAsString());
        assertEquals("17", metadata.get("vocab_size").getAsString());
        assertEquals(TestCheckpoints.VOCABULARY, metadata.get("vocabulary").getAsString());
        assertEquals("1.0E-8", metadata.get("eps").getAsString());
        assertEquals(checkpoint.rng().encode(), metadata.get("rng_state").getAsString());
        assertEquals(TestCheckpoints.sha256Hex(file.data()), metadata.get("data_sha256").getAsString());

        assertEquals(0, headerLength(path) % 8, "the data starts 8-byte aligned");
        String raw = new String(Files.readAllBytes(path), StandardCharsets.UTF_8);
        assertTrue(raw.contains("<=>"), "vocabulary characters are written as themselves, not HTML-escaped");
    }

    @Test
    void writingAgainReplacesTheCheckpoint() throws IOException {
        Path path = dir.resolve("run.ckpt");
        CheckpointFile.write(path, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 4));
        Checkpoint newer = TestCheckpoints.random(TestCheckpoints.SMALL, DType.F32, 5);

        CheckpointFile.write(path, newer);

        assertEquals(newer.step(), CheckpointFile.read(path).step());
        assertEquals(DType.F32, CheckpointFile.read(path).dtype());
        assertEquals(List.of(path), listing());
    }

    @Test
    void aWriteThatFailsMidwayLeavesTheOldCheckpointAndNoTemporaryFile() throws IOException {
        Path path = dir.resolve("run.ckpt");
        Checkpoint old = TestCheckpoints.random(TestCheckpoints.WIDE, DType.F64, 6);
        CheckpointFile.write(path, old);
        byte[] oldBytes = Files.readAllBytes(path);
        Checkpoint newer = TestCheckpoints.random(TestCheckpoints.WIDE, DType.F64, 7);
        List<Path> seenMidway = new ArrayList<>();

        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointFile.write(path, newer,
                bytes -> {
                    if (bytes > 200_000) { // some chunks of data written, most not
                        seenMidway.addAll(listing());
                        throw new IOException("No space left on device");
                    }
                }));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().contains("cannot write checkpoint " + path), e.getMessage());
        assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        assertEquals(2, seenMidway.size(), "the new bytes went to a temporary file beside the checkpoint");
        assertTrue(seenMidway.stream().anyMatch(p -> p.getFileName().toString().startsWith(".run.ckpt.tmp-")),
                seenMidway.toString());
        assertArrayEquals(oldBytes, Files.readAllBytes(path), "the old checkpoint is untouched");
        assertEquals(old, CheckpointFile.read(path));
        assertEquals(List.of(path), listing(), "the temporary file is removed");
    }

    /** A second Ctrl-C during a save ends the process at once, and first abandons the save: no temporary file stays. */
    @Test
    void aWriteAbandonedMidwayLeavesTheOldCheckpointAndNoTemporaryFile() throws IOException {
        Path path = dir.resolve("run.ckpt");
        Checkpoint old = TestCheckpoints.random(TestCheckpoints.WIDE, DType.F64, 10);
        CheckpointFile.write(path, old);
        List<Path> beforeAbandon = new ArrayList<>();
        List<Path> atHalt = new ArrayList<>(); // what a process that ends right after abandoning leaves

        assertThrows(CheckpointException.class, () -> CheckpointFile.write(path,
                TestCheckpoints.random(TestCheckpoints.WIDE, DType.F64, 11), bytes -> {
                    if (bytes > 200_000 && atHalt.isEmpty()) {
                        beforeAbandon.addAll(listing());
                        ReplacedFile.abandonWritesInProgress();
                        atHalt.addAll(listing());
                    }
                }));

        assertEquals(2, beforeAbandon.size(), "a temporary file was being written: " + beforeAbandon);
        assertEquals(List.of(path), atHalt);
        assertEquals(old, CheckpointFile.read(path));
        assertEquals(List.of(path), listing());
    }

    @Test
    void anUncheckedFailureMidwayAlsoRemovesTheTemporaryFile() throws IOException {
        Path path = dir.resolve("run.ckpt");
        Checkpoint old = TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 8);
        CheckpointFile.write(path, old);

        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> CheckpointFile.write(path,
                TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 9),
                bytes -> {
                    throw new UncheckedIOException(new IOException("interrupted"));
                }));

        assertEquals("interrupted", e.getCause().getMessage());
        assertEquals(old, CheckpointFile.read(path));
        assertEquals(List.of(path), listing());
    }

    @Test
    void aMissingDirectoryIsReportedAndNotCreated() {
        Path path = dir.resolve("no-such-dir").resolve("run.ckpt");

        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CheckpointFile.write(path, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 10)));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertFalse(Files.exists(path.getParent()));
    }

    @Test
    void anUnwritableDirectoryIsReportedAndTheOldCheckpointKept() throws IOException {
        assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "needs POSIX permissions");
        Path path = dir.resolve("run.ckpt");
        Checkpoint old = TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 11);
        CheckpointFile.write(path, old);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(dir), "permissions do not bind this user (root): the directory stays writable");

            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> CheckpointFile.write(path, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 12)));

            assertOneLine(e.getMessage());
            assertTrue(e.getMessage().contains("is writable"), e.getMessage());
            assertEquals(old, CheckpointFile.read(path));
            assertEquals(List.of(path), listing());
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    @Test
    void aDirectoryInTheWayOfTheCheckpointFailsTheWriteCleanly() throws IOException {
        Path path = dir.resolve("run.ckpt");
        Files.createDirectory(path);
        Files.writeString(path.resolve("keep.txt"), "something else");

        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CheckpointFile.write(path, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 13)));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().startsWith("cannot write checkpoint " + path), e.getMessage());
        assertEquals(List.of(path), listing(), "the temporary file is removed");
        assertTrue(Files.exists(path.resolve("keep.txt")));
    }

    /** A checkpoint reached through a link is replaced where the link points: the link stays a link. */
    @Test
    void writingThroughALinkReplacesItsFileAndKeepsTheLink() throws IOException {
        Path real = Files.createDirectory(dir.resolve("runs")).resolve("run.ckpt");
        CheckpointFile.write(real, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 6));
        Path link = Files.createSymbolicLink(dir.resolve("latest.ckpt"), real);
        Checkpoint newer = TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 7);

        CheckpointFile.write(link, newer);

        assertTrue(Files.isSymbolicLink(link), "still a link");
        assertEquals(newer.step(), CheckpointFile.read(real).step());
    }

    /** A pipe (as a device would be) is not replaced by a file. */
    @Test
    void aFileThatIsNotRegularIsRefusedAndKept() throws Exception {
        Path pipe = dir.resolve("run.ckpt");
        assumeTrue(new ProcessBuilder("mkfifo", pipe.toString()).start().waitFor() == 0, "needs mkfifo");

        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CheckpointFile.write(pipe, TestCheckpoints.random(TestCheckpoints.SMALL, DType.F64, 8)));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        assertTrue(Files.exists(pipe) && !Files.isRegularFile(pipe), "the pipe is left as it was");
        assertEquals(List.of(pipe), listing());
    }

    static void assertBitwiseEqual(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
                throw new AssertionError(what + "[" + i + "]: expected " + expected[i] + " but was " + actual[i]);
            }
        }
    }

    static double[] roundedToFloat(double[] values) {
        double[] rounded = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            rounded[i] = (float) values[i];
        }
        return rounded;
    }

    static void assertOneLine(String message) {
        assertFalse(message.contains("\n") || message.contains("\r"), () -> "not one line: " + message);
    }

    private static long headerLength(Path path) throws IOException {
        byte[] bytes = Files.readAllBytes(path);
        return ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private List<Path> listing() {
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
