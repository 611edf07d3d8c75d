package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.checkpoint.CheckpointFile;
import dev.microgpt.cli.CommandLineRunner.Result;
import dev.microgpt.model.Documents;
import dev.microgpt.testing.BuiltinDataset;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real command line, in a fresh JVM each time: bad input gives one line on stderr naming the problem and the fix,
 * exit code 2 for usage and 1 for runtime errors, no stack trace unless --verbose; checkpoints resume exactly and
 * survive Ctrl-C and SIGKILL. The dataset is the project's own built-in names list, so nothing here needs ../shared.
 */
class CommandLineTest {

    @TempDir
    Path dir;
    private Path names;

    @BeforeEach
    void writeDataset() throws IOException {
        names = BuiltinDataset.writeTo(dir);
    }

    private Result run(String... args) throws IOException, InterruptedException {
        return CommandLineRunner.run(dir, args);
    }

    /** One line, starting "error:", naming the problem; no stack trace. */
    private static void assertOneLineError(Result r, int exitCode, String... mentions) {
        assertEquals(exitCode, r.exitCode(), () -> "exit code; stderr: " + r.stderr());
        List<String> errors = r.errLines().stream().filter(l -> l.startsWith("error:")).collect(Collectors.toList());
        assertEquals(1, errors.size(), () -> "one error line expected: " + r.stderr());
        for (String m : mentions) {
            assertTrue(errors.get(0).contains(m), () -> "error line should mention '" + m + "': " + errors.get(0));
        }
        assertFalse(r.stderr().contains("\tat "), () -> "no stack trace without --verbose: " + r.stderr());
        assertFalse(r.stderr().contains("Exception"), () -> "no exception names without --verbose: " + r.stderr());
    }

    @Test
    void missingInputFile() throws Exception {
        assertOneLineError(run("--input", "nope.txt"), 1, "nope.txt", "does not exist", "--input");
    }

    @Test
    void anEmptyFileNameIsRefusedNamingItsOption() throws Exception {
        for (String option : List.of("--input", "--checkpoint", "--metrics", "--plot")) {
            assertOneLineError(run(option, "", "--steps", "3"), 2, option + " is empty");
        }
    }

    /** Samples that cannot be written (a full disk, or stdout closed) fail the run, instead of vanishing with exit 0. */
    @Test
    void samplesThatCannotBeWrittenFailTheRun() throws Exception {
        Path full = Path.of("/dev/full");
        assumeTrue(Files.exists(full), "needs /dev/full");
        Path err = dir.resolve("stderr.txt");
        Process p = CommandLineRunner.start(dir, full, err, "--input", "names.txt", "--steps", "3", "--num-samples", "5");
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "finished");
        assertOneLineError(new Result(p.exitValue(), "", Files.readString(err)), 1, "cannot write the samples",
                "sample 1 of 5 was lost");
    }

    @Test
    void emptyOrBlankInputFile() throws Exception {
        Files.writeString(dir.resolve("empty.txt"), "");
        assertOneLineError(run("--input", "empty.txt"), 1, "empty.txt", "no documents");
        Files.writeString(dir.resolve("blank.txt"), "\n   \n\t\r\n");
        assertOneLineError(run("--input", "blank.txt"), 1, "blank.txt", "no documents");
    }

    @Test
    void inputThatIsNotUtf8() throws Exception {
        Files.write(dir.resolve("latin1.txt"), new byte[] {'a', 'n', (byte) 0xE9, '\n', 'b', 'o', '\n'});
        assertOneLineError(run("--input", "latin1.txt"), 1, "latin1.txt", "not UTF-8", "iconv");
    }

    @Test
    void embeddingNotDivisibleByHeads() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--n-embd", "10", "--n-head", "3"), 2, "not divisible", "--n-head");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"--n-embd,0", "--n-head,-2", "--n-layer,0", "--block-size,-1", "--steps,0", "--steps,-5",
            "--checkpoint-every,0", "--stop-after,-1"})
    void zeroOrNegativeSizesAndSteps(String option, String value) throws Exception {
        assertOneLineError(run("--input", "names.txt", option, value), 2, option, "positive");
    }

    @ParameterizedTest
    @CsvSource({"0", "-0.5"})
    void temperatureNotPositive(String t) throws Exception {
        assertOneLineError(run("--input", "names.txt", "--temperature", t), 2, "--temperature", "> 0");
    }

    @Test
    void negativeNumberOfSamples() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--num-samples", "-1"), 2, "--num-samples");
    }

    /** --predict reads --checkpoint's default, as --resume does; where none is there, it says what to pass. */
    @Test
    void predictWithoutACheckpointThere() throws Exception {
        assertOneLineError(run("--predict"), 1, "no checkpoint at checkpoint.safetensors to sample from",
                "--checkpoint FILE");
    }

    /** --predict trains nothing: an option that only training honours would be silently dropped, so it is refused. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"--plot loss.png", "--metrics m.csv", "--checkpoint-every 5", "--stop-after 5", "--resume",
        "--steps 50", "--input names.txt", "--learning-rate 0.5", "--threads 2", "--gpu-mode fused"})
    void predictRefusesWhatOnlyTrainingDoes(String options) throws Exception {
        String[] option = options.split(" ");
        String[] args = Stream.concat(Stream.of("--predict", "--checkpoint", "c.safetensors"),
                Stream.of(option)).toArray(String[]::new);
        assertOneLineError(run(args), 2, "--predict", option[0]);
        assertFalse(Files.exists(dir.resolve("loss.png")) || Files.exists(dir.resolve("m.csv")), "nothing written");
    }

    /** Refused (with --verbose's stack trace, as every error under --verbose). */
    @Test
    void quietAndVerboseTogether() throws Exception {
        Result r = run("--input", "names.txt", "--quiet", "--verbose");
        assertEquals(2, r.exitCode(), r.stderr());
        assertTrue(r.stderr().startsWith("error: --quiet and --verbose ask for opposite things"), r.stderr());
    }

    @Test
    void unknownOption() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--learning-rat", "0.1"), 2, "--learning-rat", "--help",
                "did you mean --learning-rate?");
    }

    @Test
    void prefixOutsideTheVocabulary() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--steps", "3", "--prefix", "Zé"), 2, "--prefix", "Zé");
    }

    @Test
    void predictWithAPrefixItCannotSample() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "4", "--stop-after", "2", "--checkpoint", "c.safetensors",
                "--quiet").exitCode());
        assertOneLineError(run("--predict", "--checkpoint", "c.safetensors", "--prefix", "Zé"), 2, "--prefix", "Zé");
        assertOneLineError(run("--predict", "--checkpoint", "c.safetensors", "--prefix", "abcdefghijklmnopq"), 2,
                "--prefix", "--block-size");
    }

    @Test
    void unwritableCheckpointPath() throws Exception {
        Files.writeString(dir.resolve("a-file"), "x");
        Result r = run("--input", "names.txt", "--steps", "3", "--checkpoint", "a-file/run.safetensors");
        assertOneLineError(r, 1, "a-file", "--checkpoint");
        r = run("--input", "names.txt", "--steps", "3", "--checkpoint", "no/such/dir/run.safetensors");
        assertOneLineError(r, 1, "does not exist", "--checkpoint");
    }

    @Test
    void checkpointOfAnotherConfiguration() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "4", "--stop-after", "2", "--checkpoint", "c.safetensors",
                "--quiet").exitCode());
        assertOneLineError(run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--n-embd", "32"),
                2, "--n-embd 32", "contradicts", "16");
        assertOneLineError(run("--predict", "--checkpoint", "c.safetensors", "--block-size", "8"), 2, "--block-size 8",
                "contradicts");
        assertOneLineError(run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--steps", "9"), 2,
                "--steps 9", "contradicts");
        assertOneLineError(run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--learning-rate",
                "0.02"), 2, "--learning-rate 0.02", "contradicts", "0.01");
        Result agreeing = run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--n-embd", "16",
                "--steps", "4", "--seed", "42", "--learning-rate", "0.01", "--num-samples", "1", "--quiet");
        assertEquals(0, agreeing.exitCode(), () -> "options given as the checkpoint has them: " + agreeing.stderr());
    }

    @Test
    void predictReseedsOnlyWhenTheSeedIsGiven() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "4", "--checkpoint", "c.safetensors", "--quiet")
                .exitCode());
        Result continued = run("--predict", "--checkpoint", "c.safetensors", "--quiet");
        Result reseeded = run("--predict", "--checkpoint", "c.safetensors", "--seed", "7", "--quiet");
        Result again = run("--predict", "--checkpoint", "c.safetensors", "--seed", "7", "--quiet");
        assertEquals(0, reseeded.exitCode(), reseeded.stderr());
        assertEquals(reseeded.stdout(), again.stdout(), "a seed given makes the samples its own");
        assertNotEquals(continued.stdout(), reseeded.stdout(), "20 samples from another generator state");
    }

    @Test
    void checkpointOfAnotherDataset() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "4", "--stop-after", "2", "--checkpoint", "c.safetensors",
                "--quiet").exitCode());
        Files.writeString(dir.resolve("other.txt"), "abc\nxyz\n");
        assertOneLineError(run("--input", "other.txt", "--resume", "--checkpoint", "c.safetensors"), 1, "vocabulary");
    }

    @Test
    void notACheckpoint() throws Exception {
        Files.writeString(dir.resolve("fake.safetensors"), "hello, I am text");
        assertOneLineError(run("--predict", "--checkpoint", "fake.safetensors"), 1, "fake.safetensors");
    }

    /** Run where no GPU is, the emulated device left off the library path. */
    private Result runWithoutGpu(String... args) throws IOException, InterruptedException {
        org.junit.jupiter.api.Assumptions.assumeFalse(hasRealGpu(),
                "a GPU is usable here without the emulated device; GpuCommandLineTest covers --device gpu");
        return CommandLineRunner.runWithoutEmulatedDevice(dir, args);
    }

    private static boolean hasRealGpu() {
        dev.microgpt.gpu.GpuSupport.Status status = dev.microgpt.gpu.GpuSupport.status();
        return status.usable() && !status.emulated();
    }

    @Test
    void deviceGpuWithoutAUsableGpuSaysWhy() throws Exception {
        assertOneLineError(runWithoutGpu("--input", "names.txt", "--device", "gpu", "--steps", "3"), 1, "--device gpu",
                "no usable GPU", "--device cpu");
        Result auto = runWithoutGpu("--input", "names.txt", "--steps", "3", "--num-samples", "1", "--n-embd", "64",
                "--block-size", "64");
        assertEquals(0, auto.exitCode(), auto.stderr());
        assertTrue(auto.stderr().contains("device auto: training on the CPU (no usable GPU: "), auto.stderr());
        // a GPU option asks for the GPU, as --device gpu does: it is never dropped in silence
        assertOneLineError(runWithoutGpu("--input", "names.txt", "--gpu-mode", "fused", "--steps", "3"), 1,
                "--gpu-mode: no usable GPU", "--device cpu without --gpu-mode");
    }

    @Test
    void gemmIsRefusedWithTheCpuAndMustNameABackend() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--device", "cpu", "--gemm", "cublas", "--steps", "3"), 2,
                "--gemm", "GPU engine", "--device cpu");
        assertOneLineError(run("--input", "names.txt", "--device", "cpu", "--gpu-mode", "graph", "--steps", "3"), 2,
                "--gpu-mode applies to the GPU engine", "--device cpu");
        // before the GPU options are checked together, whose advice (add --gpu-mode fused) would not help
        assertOneLineError(run("--input", "names.txt", "--device", "cpu", "--steps-per-launch", "4", "--steps", "3"), 2,
                "--steps-per-launch applies to the GPU engine", "--device cpu");
        assertOneLineError(run("--input", "names.txt", "--gemm", "nonsense", "--steps", "3"), 2, "--gemm", "nonsense",
                "hand, cublas");
        // the fused step is one kernel: no cuBLAS call can stand in it
        assertOneLineError(run("--input", "names.txt", "--gpu-mode", "fused", "--gemm", "cublas", "--steps", "3"), 2,
                "--gemm cublas", "eager and graph", "fused");
    }

    @Test
    void stepsPerLaunchNeedsTheFusedModeAndAFewSteps() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--gpu-mode", "graph", "--steps-per-launch", "8", "--steps", "3"),
                2, "--steps-per-launch 8 needs --gpu-mode fused");
        assertOneLineError(run("--input", "names.txt", "--gpu-mode", "fused", "--steps-per-launch", "0", "--steps", "3"),
                2, "--steps-per-launch must be in [1, 256]", "got 0");
        assertOneLineError(run("--input", "names.txt", "--gpu-mode", "fused", "--steps-per-launch", "16", "--batch-size",
                "32", "--steps", "3"), 2, "--steps-per-launch 16 with --batch-size 32", "at most 256 documents",
                "8 steps of 32");
    }

    /**
     * --gemm cublas asks for the GPU even under --device auto, so without cuBLAS or a GPU it fails, saying which (cuBLAS
     * first: without a GPU, libcublas.so.12 is rarely installed).
     */
    @Test
    void gemmCublasWithoutCublasOrAGpuSaysWhy() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.microgpt.gpu.CublasSupport.status().usable() && hasRealGpu(),
                "cuBLAS and a GPU are usable here; GpuCommandLineTest covers --gemm cublas");
        Result r = runWithoutGpu("--input", "names.txt", "--gemm", "cublas", "--steps", "3");
        String[] mentions = r.stderr().contains("libcublas.so.12")
                ? new String[] {"--gemm cublas", "libcublas.so.12", "run without --gemm cublas"}
                : new String[] {"--gemm cublas", "no usable GPU", "without --gemm"};
        assertOneLineError(r, 1, mentions);
    }

    @Test
    void deviceAutoKeepsSmallModelsOnTheCpuSoTheDefaultReproducesMicrogpt() throws Exception {
        Result r = run("--input", "names.txt", "--steps", "3", "--num-samples", "1");
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stderr().contains("device auto: training on the CPU (16/16, 1 document per step, is below the"
                + " 64/64 (n_embd x block_size) or 128 documents per step, from which the GPU is used"), r.stderr());
    }

    @Test
    void aModelTooLargeForOneArrayIsAUsageError() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--n-embd", "100000"), 2, "2^31 parameters", "smaller");
    }

    @Test
    void aDirectoryAsInputIsNamed() throws Exception {
        Files.createDirectory(dir.resolve("adir"));
        assertOneLineError(run("--input", "adir"), 1, "adir", "--input");
    }

    @Test
    void ctrlCWithoutCheckpointOptionsNeverReplacesAnExistingCheckpoint() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "4", "--stop-after", "2", "--quiet").exitCode());
        byte[] before = Files.readAllBytes(dir.resolve("checkpoint.safetensors"));
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = CommandLineRunner.start(dir, out, err, "--input", "names.txt", "--steps", "1000000", "--log-every", "100");
        awaitText(err, " | loss ", p); // a progress line
        new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String stderr = Files.readString(err);
        assertEquals(130, p.exitValue(), stderr); // 128 + SIGINT
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("checkpoint.safetensors")), "the existing checkpoint");
        String saved = stderr.replaceAll("(?s).*checkpoint saved to (interrupted-step\\d+\\.safetensors).*", "$1");
        assertTrue(saved.startsWith("interrupted-step"), stderr);
        assertTrue(CheckpointFile.read(dir.resolve(saved)).step() > 0);
    }

    /** A checkpoint of the built-in names (here from a file of them) says so when another dataset would resume it. */
    @Test
    void resumingABuiltinNamesRunOnAnotherDatasetSaysHowToResumeIt() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "40", "--stop-after", "20", "--checkpoint",
                "c.safetensors", "--quiet").exitCode());
        Files.writeString(dir.resolve("other.txt"), Files.readString(names) + "zyx\n");
        assertOneLineError(run("--input", "other.txt", "--resume", "--checkpoint", "c.safetensors"), 1,
                "was trained on the built-in list of names", "without --input, input.txt and network");
    }

    /** A resume whose metrics stop short of the checkpoint's step (a session without --metrics) says what is missing. */
    @Test
    void resumingOnMetricsWithAGapSaysWhichStepsAreMissing() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "40", "--stop-after", "20", "--metrics", "m.csv",
                "--checkpoint", "c.safetensors", "--quiet").exitCode());
        Path metrics = dir.resolve("m.csv");
        Files.write(metrics, Files.readAllLines(metrics).subList(0, 11)); // the header and steps 1..10
        Result resumed = run("--input", "names.txt", "--steps", "40", "--resume", "--metrics", "m.csv",
                "--checkpoint", "c.safetensors", "--quiet");
        assertEquals(0, resumed.exitCode(), resumed.stderr());
        assertTrue(resumed.stderr().contains("--metrics m.csv has no row for step 20, the checkpoint's: steps 11 to 20"
                + " are missing"), resumed.stderr());
        assertEquals(31, Files.readAllLines(metrics).size(), "the header, steps 1..10 and 21..40");
    }

    @Test
    void resumingAfterACrashDropsTheMetricsRowsPastTheCheckpoint() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "40", "--stop-after", "20", "--metrics", "m.csv",
                "--checkpoint", "c.safetensors", "--quiet").exitCode());
        // what a run killed after its checkpoint leaves: rows past step 20, the last one cut short
        Files.writeString(dir.resolve("m.csv"), "21,3.0,0.005,1.0\n22,2.9,0.0", java.nio.file.StandardOpenOption.APPEND);
        assertEquals(0, run("--input", "names.txt", "--steps", "40", "--resume", "--metrics", "m.csv",
                "--checkpoint", "c.safetensors", "--quiet").exitCode());
        List<String> rows = Files.readAllLines(dir.resolve("m.csv"));
        assertEquals(41, rows.size(), "header and steps 1..40 once each");
        for (int i = 1; i <= 40; i++) {
            assertTrue(rows.get(i).startsWith(i + ","), rows.get(i));
        }
        double elapsedAt20 = Double.parseDouble(rows.get(20).split(",")[3]);
        assertTrue(Double.parseDouble(rows.get(21).split(",")[3]) > elapsedAt20,
                "elapsed_ms goes on from the resumed step's: " + rows.subList(20, 22));
    }

    /**
     * --metrics /dev/stdout, with stdout a file (here the runner's): a resume writes its rows to the stream, where the
     * rewrite a resume makes of a metrics file would have renamed a new file over it and left the rows in the old one.
     */
    @Test
    void resumingWithMetricsOnStandardOutputWritesThemThere() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "30", "--stop-after", "10", "--metrics", "/dev/stdout",
                "--checkpoint", "c.safetensors", "--num-samples", "0", "--quiet").exitCode());
        Result resumed = run("--input", "names.txt", "--resume", "--metrics", "/dev/stdout", "--checkpoint",
                "c.safetensors", "--num-samples", "0", "--quiet");
        assertEquals(0, resumed.exitCode(), resumed.stderr());
        List<String> rows = resumed.stdout().lines().toList();
        assertEquals(21, rows.size(), "the header and steps 11..30: " + rows);
        assertTrue(rows.get(1).startsWith("11,") && rows.get(20).startsWith("30,"), rows.toString());
    }

    /**
     * --metrics /dev/stdout in a new run, with stdout a file: the rows go on the stream beside what the run prints, where
     * opening the name anew would have truncated the file and written the rows over the samples.
     */
    @Test
    void metricsOnStandardOutputGoBesideWhatTheRunPrints() throws Exception {
        Result r = run("--input", "names.txt", "--steps", "20", "--metrics", "/dev/stdout", "--num-samples", "3",
                "--quiet");
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> lines = r.stdout().lines().toList();
        assertEquals(1, lines.stream().filter(MetricsWriter.HEADER::equals).count(), r.stdout());
        assertEquals(20, lines.stream().filter(l -> l.matches("[0-9]+,[0-9.]+,.*")).count(), r.stdout());
        assertEquals(3, lines.stream().filter(l -> l.matches("sample +[0-9]+: [a-z]*")).count(), r.stdout());
        assertEquals(1 + 20 + 3, lines.size(), "the header, the rows and the samples, nothing else: " + lines);
    }

    /**
     * A plot through a link to /dev/stdout goes on the stream, the link stays, and what the run prints is there too;
     * a checkpoint, which --resume reads back, cannot be a stream.
     */
    @Test
    void outputsOnStandardOutputAreWrittenThereOrRefused() throws Exception {
        Path link = Files.createSymbolicLink(dir.resolve("plot.png"), Path.of("/dev/stdout"));
        Path out = dir.resolve("out.bin");
        Path err = dir.resolve("err.txt");
        Process p = CommandLineRunner.start(dir, out, err, "--input", "names.txt", "--steps", "20", "--plot", "plot.png",
                "--num-samples", "3", "--quiet");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(err));
        assertTrue(Files.isSymbolicLink(link), "the link stays a link");
        String stdout = new String(Files.readAllBytes(out), StandardCharsets.ISO_8859_1); // text and an image
        assertTrue(stdout.contains("\u0089PNG\r\n"), "the image's signature");
        assertEquals(3, stdout.lines().filter(l -> l.matches("sample +[0-9]+: [a-z]*")).count(), stdout);

        assertOneLineError(run("--input", "names.txt", "--steps", "20", "--checkpoint", "/dev/stdout"), 1,
                "cannot write checkpoint /dev/stdout", "names a stream", "--checkpoint");
    }

    /** A file under /dev or /proc that is a file (in /dev/shm) is written as any file is, not as a stream. */
    @Test
    void outputsInDevShmAreFiles() throws Exception {
        Path shm = Path.of("/dev/shm");
        assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "needs a writable /dev/shm");
        Path metrics = Files.createTempFile(shm, "metrics", ".csv");
        Path plot = metrics.resolveSibling(metrics.getFileName() + ".png");
        try {
            Files.delete(metrics);
            Result r = run("--input", "names.txt", "--steps", "20", "--metrics", metrics.toString(), "--plot",
                    plot.toString(), "--num-samples", "0", "--quiet");
            assertEquals(0, r.exitCode(), r.stderr());
            assertEquals(21, Files.readAllLines(metrics).size(), "the header and 20 rows, in the file");
            assertTrue(Files.size(plot) > 0 && r.stdout().isEmpty(), "the plot in its file, nothing on stdout");
        } finally {
            Files.deleteIfExists(metrics);
            Files.deleteIfExists(plot);
        }
    }

    @Test
    void verboseShowsTheStackTrace() throws Exception {
        Result r = run("--input", "nope.txt", "--verbose");
        assertEquals(1, r.exitCode());
        assertTrue(r.stderr().contains("\tat "), r.stderr());
    }

    @Test
    void helpDocumentsEveryOption() throws Exception {
        Result r = run("--help");
        assertEquals(0, r.exitCode());
        for (String option : List.of("--input", "--n-embd", "--n-head", "--n-layer", "--block-size", "--steps",
                "--learning-rate", "--beta1", "--beta2", "--seed", "--temperature", "--num-samples", "--prefix",
                "--device", "--engine", "--threads", "--checkpoint", "--checkpoint-every", "--resume", "--stop-after", "--predict",
                "--metrics", "--plot", "--quiet", "--verbose")) {
            assertTrue(r.stdout().contains(option), "help should document " + option);
        }
    }

    @Test
    void resumingInChunksIsBitwiseIdenticalToAStraightRun() throws Exception {
        Result straight = run("--input", "names.txt", "--steps", "300", "--metrics", "straight.csv",
                "--checkpoint", "straight.safetensors", "--quiet");
        assertEquals(0, straight.exitCode(), straight.stderr());
        Result first = run("--input", "names.txt", "--steps", "300", "--stop-after", "150", "--metrics", "chunks.csv",
                "--checkpoint", "chunks.safetensors", "--quiet");
        assertEquals(0, first.exitCode(), first.stderr());
        assertEquals("", first.stdout(), "a run stopped early does not sample");
        Result second = run("--input", "names.txt", "--steps", "300", "--resume", "--metrics", "chunks.csv",
                "--checkpoint", "chunks.safetensors", "--quiet");
        assertEquals(0, second.exitCode(), second.stderr());

        assertEquals(Files.readAllLines(dir.resolve("straight.csv")).stream().map(l -> l.split(",")[1]).toList(),
                Files.readAllLines(dir.resolve("chunks.csv")).stream().map(l -> l.split(",")[1]).toList(),
                "every loss, bitwise");
        Checkpoint a = CheckpointFile.read(dir.resolve("straight.safetensors"));
        Checkpoint b = CheckpointFile.read(dir.resolve("chunks.safetensors"));
        assertArrayEquals(a.params(), b.params(), 0.0);
        assertArrayEquals(a.adamM(), b.adamM(), 0.0);
        assertArrayEquals(a.adamV(), b.adamV(), 0.0);
        assertEquals(straight.stdout(), second.stdout(), "samples");
        assertEquals(20, straight.stdout().lines().count());

        Result predicted = run("--predict", "--checkpoint", "straight.safetensors", "--quiet");
        assertEquals(straight.stdout(), predicted.stdout(), "--predict continues the generator where training left it");
    }

    @Test
    void metricsAreCsvWithExactLossesAndThePlotIsAPng() throws Exception {
        Result r = run("--input", "names.txt", "--steps", "50", "--batch-size", "3", "--metrics", "m.csv", "--plot",
                "loss.png", "--num-samples", "3", "--prefix", "ma");
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> rows = Files.readAllLines(dir.resolve("m.csv"));
        assertEquals("step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s", rows.get(0));
        assertEquals(51, rows.size());
        double previousElapsed = 0;
        for (int i = 1; i <= 50; i++) {
            String[] f = rows.get(i).split(",");
            assertEquals(i, Integer.parseInt(f[0]));
            double loss = Double.parseDouble(f[1]);
            assertEquals(f[1], Double.toString(loss), "loss written at full precision");
            assertEquals(0.01 * (1 - (i - 1) / 50.0), Double.parseDouble(f[2]), 1e-15);
            double elapsed = Double.parseDouble(f[3]);
            assertTrue(elapsed >= previousElapsed);
            previousElapsed = elapsed;
            double documentsPerSecond = Double.parseDouble(f[4]);
            double expected = 3 * i / (elapsed / 1000); // elapsed_ms keeps microseconds: 1e-3 relative at worst
            assertEquals(expected, documentsPerSecond, Math.max(1, 2e-3 * expected), "3 documents a step: " + rows.get(i));
            assertTrue(Double.parseDouble(f[5]) >= documentsPerSecond, "a document trains one position or more");
        }
        byte[] png = Files.readAllBytes(dir.resolve("loss.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(png, 4));
        List<String> samples = r.stdout().lines().toList();
        assertEquals(3, samples.size());
        for (String s : samples) {
            assertTrue(s.matches("sample  [1-3]: ma[a-z]*"), s);
        }
        assertTrue(r.stderr().contains("mean of the last"), "summary: " + r.stderr());
        assertTrue(r.stderr().matches("(?s).*ms/step, \\d+ documents/s, \\d+ tokens/s;.*"), "summary: " + r.stderr());
    }

    /** A --metrics or --plot in a missing directory, or naming a directory, is refused before anything trains. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"--metrics, m.csv", "--plot, loss.png"})
    void anOutputThatCannotBeWrittenIsRefusedUpFront(String option, String file) throws Exception {
        Result missing = run("--input", "names.txt", "--steps", "3", option, "missing/" + file);
        assertOneLineError(missing, 1, option, "missing", "does not exist");
        assertFalse(missing.stderr().contains("step "), "nothing trained: " + missing.stderr());
        Files.createDirectory(dir.resolve("dir-" + file));
        assertOneLineError(run("--input", "names.txt", "--steps", "3", option, "dir-" + file), 1, option, "directory");
        Files.createSymbolicLink(dir.resolve("link-" + file), dir.resolve("gone/" + file)); // followed when checked
        assertOneLineError(run("--input", "names.txt", "--steps", "3", option, "link-" + file), 1, option, "gone",
                "does not exist");
    }

    /**
     * Metrics that stop being written mid-run (a full disk) stop only the metrics: training goes on, the checkpoints are
     * saved, the samples printed, and the run ends with one error line saying so, exit 1. A device gets no lock file
     * beside it (as root one could be made in /dev).
     */
    @Test
    void metricsThatFailMidRunCostNoTraining() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/full")), "needs /dev/full, where every write fails as on a full disk");
        Path lockBeside = Path.of("/dev/.full.lock");
        boolean lockedBefore = Files.exists(lockBeside);
        Result r = run("--input", "names.txt", "--steps", "300", "--checkpoint-every", "100", "--checkpoint",
                "c.safetensors", "--metrics", "/dev/full", "--num-samples", "2");
        assertOneLineError(r, 1, "metrics", "/dev/full", "free some space");
        assertTrue(r.stderr().contains("training goes on without them"), r.stderr());
        assertEquals(2, r.stdout().lines().count(), "the samples: " + r.stdout());
        assertEquals(300, CheckpointFile.read(dir.resolve("c.safetensors")).step());
        assertEquals(lockedBefore, Files.exists(lockBeside), "no lock file made beside a device");
    }

    /** A new run never replaces a checkpoint that is there already (the run it holds may be unfinished). */
    @Test
    void aNewRunRefusesToReplaceAnExistingCheckpoint() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "30", "--stop-after", "10", "--quiet").exitCode());
        byte[] before = Files.readAllBytes(dir.resolve("checkpoint.safetensors"));
        assertOneLineError(run("--input", "names.txt", "--steps", "8", "--stop-after", "4"), 1, "already exists",
                "--resume");
        assertOneLineError(run("--input", "names.txt", "--steps", "8", "--checkpoint", "checkpoint.safetensors"), 1,
                "already exists");
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("checkpoint.safetensors")));
    }

    /** Documents longer than the context are cut to it, as in microgpt.py, and the run says how many. */
    @Test
    void theRunSaysHowManyDocumentsTheContextCuts() throws Exception {
        List<String> names = Documents.read(dir.resolve("names.txt"));
        long longer = names.stream().filter(name -> name.length() >= 6).count();
        Result cut = run("--input", "names.txt", "--block-size", "6", "--steps", "1", "--num-samples", "0");
        assertEquals(0, cut.exitCode(), cut.stderr());
        assertTrue(longer > 0 && cut.stderr().contains(longer + " of them have 6 characters or more and train on their"
                + " first 6 positions only"), cut.stderr());
        int longest = names.stream().mapToInt(String::length).max().orElseThrow();
        Result whole = run("--input", "names.txt", "--block-size", Integer.toString(longest + 1), "--steps", "1",
                "--num-samples", "0");
        assertFalse(whole.stderr().contains("characters or more"), whole.stderr());
    }

    /** A dash reads the dataset from standard input, and a run from it resumes with the same documents piped in. */
    @Test
    void aDashReadsTheDatasetFromStandardInput() throws Exception {
        Path names = dir.resolve("names.txt");
        Result piped = CommandLineRunner.runReading(dir, names, "--input", "-", "--steps", "6", "--stop-after", "3",
                "--checkpoint", "c.safetensors", "--metrics", "piped.csv");
        assertEquals(0, piped.exitCode(), piped.stderr());
        assertTrue(piped.stderr().contains("dataset: read standard input"), piped.stderr());
        assertTrue(piped.stderr().contains("--input -"), "the hint to continue: " + piped.stderr());
        assertEquals(0, CommandLineRunner.runReading(dir, names, "--input", "-", "--resume", "--checkpoint",
                "c.safetensors", "--metrics", "piped.csv", "--quiet").exitCode());
        assertEquals(0, run("--input", "names.txt", "--steps", "6", "--metrics", "file.csv", "--quiet").exitCode());
        assertEquals(Files.readAllLines(dir.resolve("file.csv")).stream().map(row -> row.split(",")[1]).toList(),
                Files.readAllLines(dir.resolve("piped.csv")).stream().map(row -> row.split(",")[1]).toList());
    }

    /** Nor the metrics of another run; a file of a header alone holds none, and a resume goes on with its own. */
    @Test
    void aNewRunRefusesToReplaceAnotherRunsMetrics() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "6", "--stop-after", "3", "--checkpoint", "c.safetensors",
                "--metrics", "m.csv", "--quiet").exitCode());
        byte[] before = Files.readAllBytes(dir.resolve("m.csv"));
        Result again = run("--input", "names.txt", "--steps", "6", "--metrics", "m.csv", "--plot", "p.png");
        assertOneLineError(again, 1, "--metrics m.csv already holds another run's metrics", "--resume");
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("m.csv")));
        assertFalse(Files.exists(dir.resolve("p.png")), "refused before training");
        assertEquals(0, run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--metrics", "m.csv",
                "--quiet").exitCode());
        assertEquals(7, Files.readAllLines(dir.resolve("m.csv")).size(), "the header and steps 1 to 6");
        Files.writeString(dir.resolve("header.csv"), MetricsWriter.HEADER + "\n");
        assertEquals(0, run("--input", "names.txt", "--steps", "2", "--metrics", "header.csv", "--quiet").exitCode());
    }

    /**
     * Nor does a resume take another run's metrics as its own (it would cut them at its step): the row of the
     * checkpoint's step must have the checkpoint's loss. The file is left as it was.
     */
    @Test
    void aResumeRefusesAnotherRunsMetrics() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "8", "--stop-after", "4", "--checkpoint", "a.safetensors",
                "--metrics", "a.csv", "--quiet").exitCode());
        assertEquals(0, run("--input", "names.txt", "--steps", "8", "--seed", "7", "--checkpoint", "b.safetensors",
                "--metrics", "b.csv", "--quiet", "--num-samples", "0").exitCode());
        byte[] other = Files.readAllBytes(dir.resolve("b.csv"));
        assertOneLineError(run("--input", "names.txt", "--resume", "--checkpoint", "a.safetensors", "--metrics",
                "b.csv"), 1, "--metrics b.csv holds another run's metrics: its step 4 has loss", "this run's metrics");
        assertArrayEquals(other, Files.readAllBytes(dir.resolve("b.csv")), "the other run's rows, all of them");
        assertEquals(4, CheckpointFile.read(dir.resolve("a.safetensors")).step(), "nothing trained");
        Result own = run("--input", "names.txt", "--resume", "--checkpoint", "a.safetensors", "--metrics", "a.csv",
                "--quiet", "--num-samples", "0");
        assertEquals(0, own.exitCode(), own.stderr());
        assertEquals(9, Files.readAllLines(dir.resolve("a.csv")).size());
    }

    /**
     * An output over a file of another kind (metrics over a checkpoint, a plot over text), or a checkpoint over a pipe,
     * is refused before anything trains, and the file is left as it was.
     */
    @Test
    void anOutputOverAFileOfAnotherKindIsRefused() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "4", "--stop-after", "2", "--quiet").exitCode());
        byte[] checkpoint = Files.readAllBytes(dir.resolve("checkpoint.safetensors"));
        Result metrics = run("--input", "names.txt", "--steps", "3", "--metrics", "checkpoint.safetensors");
        assertOneLineError(metrics, 1, "--metrics", "holds something else");
        assertArrayEquals(checkpoint, Files.readAllBytes(dir.resolve("checkpoint.safetensors")));
        Files.writeString(dir.resolve("notes.png"), "my notes");
        assertOneLineError(run("--input", "names.txt", "--steps", "3", "--plot", "notes.png"), 1, "--plot",
                "something else than a PNG");
        assertEquals("my notes", Files.readString(dir.resolve("notes.png")));
        assumeTrue(new ProcessBuilder("mkfifo", dir.resolve("pipe").toString()).start().waitFor() == 0, "needs mkfifo");
        Result pipe = run("--input", "names.txt", "--steps", "3", "--checkpoint", "pipe");
        assertOneLineError(pipe, 1, "--checkpoint", "not a regular file");
        assertFalse(pipe.stderr().contains("step "), "refused before training: " + pipe.stderr());
    }

    /** Two outputs that meet through a linked directory are one file, even before either exists. */
    @Test
    void outputsThatMeetThroughALinkAreRefused() throws Exception {
        Files.createSymbolicLink(dir.resolve("here"), dir);
        assertOneLineError(run("--input", "names.txt", "--steps", "3", "--checkpoint", "here/out.png", "--plot",
                "out.png"), 2, "--plot", "is also the --checkpoint");
        assertFalse(Files.exists(dir.resolve("out.png")));
        Files.createSymbolicLink(dir.resolve("m.csv"), dir.resolve("c.safetensors")); // a link to a file not there yet
        assertOneLineError(run("--input", "names.txt", "--steps", "3", "--checkpoint", "c.safetensors", "--metrics",
                "m.csv"), 2, "--metrics", "is also the --checkpoint");
    }

    /** An output that names the dataset or another output is refused before it overwrites anything. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"--metrics names.txt", "--checkpoint names.txt", "--plot out.png --checkpoint out.png",
        "--checkpoint out.csv --metrics ./out.csv"})
    void anOutputThatWouldOverwriteAnotherFileIsRefused(String options) throws Exception {
        byte[] names = Files.readAllBytes(dir.resolve("names.txt"));
        String[] option = options.split(" ");
        Result r = run(Stream.concat(Stream.of("--input", "names.txt", "--steps", "3"), Stream.of(option))
                .toArray(String[]::new));
        assertOneLineError(r, 2, option[option.length - 2], "is also the");
        assertArrayEquals(names, Files.readAllBytes(dir.resolve("names.txt")), "the dataset");
        assertFalse(Files.exists(dir.resolve("out.png")) || Files.exists(dir.resolve("out.csv")), "nothing written");
    }

    /**
     * A plot that fails only when it is written (here a link to /dev/full, where every write fails as on a full disk)
     * costs neither the samples nor the checkpoint: they come first, then the one error line, exit 1.
     */
    @Test
    void aPlotThatFailsAtTheEndLosesNothing() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/full")), "needs /dev/full");
        Files.createSymbolicLink(dir.resolve("loss.png"), Path.of("/dev/full"));
        Result r = run("--input", "names.txt", "--steps", "20", "--plot", "loss.png", "--num-samples", "4",
                "--checkpoint", "c.safetensors");
        assertOneLineError(r, 1, "loss plot", "loss.png", "--plot");
        assertEquals(4, r.stdout().lines().count(), "the samples: " + r.stdout());
        assertEquals(20, CheckpointFile.read(dir.resolve("c.safetensors")).step());
    }

    /**
     * --resume alone, as the --stop-after line advises, goes on in the checkpoint it read and leaves the finished run
     * there; resuming a finished run only samples, says so, and leaves the file as it was.
     */
    @Test
    void aResumedRunFinishesInTheCheckpointItCameFrom() throws Exception {
        Result first = run("--input", "names.txt", "--steps", "30", "--stop-after", "10", "--quiet");
        assertEquals(0, first.exitCode(), first.stderr());
        Result resumed = run("--input", "names.txt", "--resume", "--num-samples", "3");
        assertEquals(0, resumed.exitCode(), resumed.stderr());
        Path checkpoint = dir.resolve("checkpoint.safetensors");
        assertEquals(30, CheckpointFile.read(checkpoint).step(), "the finished run is saved where it came from");

        byte[] finished = Files.readAllBytes(checkpoint);
        Result again = run("--input", "names.txt", "--resume", "--num-samples", "3");
        assertEquals(0, again.exitCode(), again.stderr());
        assertTrue(again.stderr().contains("holds a finished run"), again.stderr());
        assertArrayEquals(finished, Files.readAllBytes(checkpoint), "a finished run's checkpoint is not rewritten");
        Result predicted = run("--predict", "--num-samples", "3"); // from the default --checkpoint, as --resume
        assertEquals(predicted.stdout(), again.stdout(), "it samples as --predict does");
        Result onGpu = run("--predict", "--checkpoint", "checkpoint.safetensors", "--num-samples", "3", "--device",
                "gpu"); // as ./run-gpu.sh --predict gives it
        assertEquals(predicted.stdout(), onGpu.stdout(), onGpu.stderr());
        assertTrue(onGpu.stderr().contains("sampling runs on the CPU"), onGpu.stderr());
    }

    /**
     * An option given twice with different values is refused (which was meant is a guess); alike, it is harmless; and
     * --device, which the launchers give first, the user may give again.
     */
    @Test
    void anOptionGivenTwiceWithDifferentValuesIsRefused() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--steps", "3", "--steps=4"), 2,
                "--steps is given twice, as 3 and 4", "give it once");
        assertOneLineError(run("--input", "names.txt", "--steps", "3", "--prefix", "a", "--prefix", ""), 2,
                "--prefix is given twice, as a and ''");
        Result alike = run("--input", "names.txt", "--steps", "3", "--steps", "3", "--quiet", "--quiet",
                "--num-samples", "1");
        assertEquals(0, alike.exitCode(), alike.stderr());
        Result device = run("--device", "gpu", "--input", "names.txt", "--steps", "3", "--device", "cpu", "--quiet",
                "--num-samples", "1");
        assertEquals(0, device.exitCode(), device.stderr());
        assertEquals(alike.stdout(), device.stdout());
    }

    /**
     * --plot on a finished run draws the run from its metrics; without them there is nothing to draw, which it says
     * (and how to draw it) without writing an image or failing the samples.
     */
    @Test
    void plottingAFinishedRunDrawsItsMetrics() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "12", "--checkpoint", "c.safetensors", "--metrics", "m.csv",
                "--quiet").exitCode());
        Result plotted = run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--metrics", "m.csv",
                "--plot", "all.png", "--num-samples", "2");
        assertEquals(0, plotted.exitCode(), plotted.stderr());
        assertEquals(OutputFile.Contents.OUTPUT, LossPlot.contents(dir.resolve("all.png")), plotted.stderr());
        assertEquals(13, Files.readAllLines(dir.resolve("m.csv")).size(), "the metrics keep the header and 12 steps");

        Result unplotted = run("--input", "names.txt", "--resume", "--checkpoint", "c.safetensors", "--plot", "none.png",
                "--num-samples", "2");
        assertEquals(0, unplotted.exitCode(), unplotted.stderr());
        assertEquals(2, unplotted.stdout().lines().count(), unplotted.stdout());
        assertTrue(unplotted.stderr().contains("no loss plot") && unplotted.stderr().contains("--metrics"),
                unplotted.stderr());
        assertFalse(Files.exists(dir.resolve("none.png")));
    }

    /** A float32 checkpoint (a GPU's) resumed on the float64 CPU engine goes on, and says its precision changed. */
    @Test
    void resumingInAnotherPrecisionSaysSo() throws Exception {
        assertEquals(0, run("--input", "names.txt", "--steps", "20", "--stop-after", "10", "--quiet").exitCode());
        Path file = dir.resolve("checkpoint.safetensors");
        Checkpoint c = CheckpointFile.read(file);
        Files.delete(file);
        CheckpointFile.write(file, new Checkpoint(c.config(), c.vocabulary(), c.adam(), c.step(), c.loss(), c.totalSteps(),
                c.batchSize(), c.seed(), c.datasetSha256(), c.rng(), dev.microgpt.checkpoint.DType.F32, c.params(),
                c.adamM(), c.adamV()));
        Result resumed = run("--input", "names.txt", "--resume", "--quiet");
        assertEquals(0, resumed.exitCode(), resumed.stderr());
        assertTrue(resumed.stderr().contains("was trained in float32 (the GPU) and goes on in float64 (the CPU)"),
                resumed.stderr());
    }

    /** A batched run resumes bitwise and keeps its batch size, on any threads: 2 straight, 1 then the default resumed. */
    @Test
    void batchedRunsResumeExactlyAndKeepTheirBatchSize() throws Exception {
        Result straight = run("--input", "names.txt", "--steps", "40", "--batch-size", "4", "--metrics", "straight.csv",
                "--checkpoint", "straight.safetensors", "--quiet", "--threads", "2");
        assertEquals(0, straight.exitCode(), straight.stderr());
        assertEquals(0, run("--input", "names.txt", "--steps", "40", "--batch-size", "4", "--stop-after", "20",
                "--metrics", "chunks.csv", "--checkpoint", "chunks.safetensors", "--quiet", "--threads", "1")
                .exitCode());
        assertOneLineError(run("--input", "names.txt", "--resume", "--checkpoint", "chunks.safetensors",
                "--batch-size", "2"), 2, "--batch-size 2", "contradicts", "4");
        Result resumed = run("--input", "names.txt", "--resume", "--metrics", "chunks.csv", "--checkpoint",
                "chunks.safetensors", "--quiet"); // the batch size comes from the checkpoint
        assertEquals(0, resumed.exitCode(), resumed.stderr());

        assertEquals(Files.readAllLines(dir.resolve("straight.csv")).stream().map(l -> l.split(",")[1]).toList(),
                Files.readAllLines(dir.resolve("chunks.csv")).stream().map(l -> l.split(",")[1]).toList(),
                "every loss, bitwise");
        assertEquals(straight.stdout(), resumed.stdout(), "samples");
        assertEquals(4, CheckpointFile.read(dir.resolve("chunks.safetensors")).batchSize());
        assertArrayEquals(CheckpointFile.read(dir.resolve("straight.safetensors")).params(),
                CheckpointFile.read(dir.resolve("chunks.safetensors")).params(), 0.0);
    }

    @ParameterizedTest
    @CsvSource({"0", "-1", "4097"})
    void batchSizeOutOfRange(String b) throws Exception {
        assertOneLineError(run("--batch-size", b), 2, "--batch-size must be in 1..4096", b);
    }

    @Test
    void threadsAreOneToSixteenForTheFastEngine() throws Exception {
        assertOneLineError(run("--input", "names.txt", "--threads", "0"), 2, "--threads must be in 1..16", "got 0");
        assertOneLineError(run("--input", "names.txt", "--threads", "17"), 2, "--threads must be in 1..16", "groups",
                "got 17");
        assertOneLineError(run("--input", "names.txt", "--threads", "2", "--engine", "tape"), 2,
                "--threads applies to the fast engine", "--engine tape");
        assertOneLineError(run("--input", "names.txt", "--threads", "2", "--device", "gpu"), 2,
                "--threads applies to the CPU engine", "--device gpu");
    }

    @Test
    void threadsUnderDeviceAutoAskForTheCpuAndTheLogSaysHowManyWork() throws Exception {
        Result r = run("--input", "names.txt", "--n-embd", "64", "--block-size", "64", "--steps", "2", "--batch-size",
                "2", "--threads", "1", "--num-samples", "0");
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stderr().contains("device auto: training on the CPU (--threads asks for the CPU engine)"), r.stderr());
        assertTrue(r.stderr().contains("batch size: 2 documents a step, on one CPU thread"), r.stderr());
        Result three = run("--input", "names.txt", "--steps", "2", "--batch-size", "2", "--threads", "3",
                "--num-samples", "0");
        assertEquals(0, three.exitCode(), three.stderr());
        assertTrue(three.stderr().contains("batch size: 2 documents a step, on 2 CPU threads"), "one thread a document: "
                + three.stderr());
    }

    @Test
    void cublasTrainsOneDocumentAStep() throws Exception {
        assertOneLineError(run("--gemm", "cublas", "--batch-size", "2"), 2, "--gemm cublas", "--batch-size 2");
    }

    @Test
    void divergenceStopsAndKeepsTheLastGoodCheckpoint() throws Exception {
        Result r = run("--input", "names.txt", "--steps", "200", "--learning-rate", "10000", "--checkpoint-every", "1",
                "--checkpoint", "d.safetensors", "--metrics", "d.csv");
        // starting again as told, with the same files, would be refused: the advice names them
        assertOneLineError(r, 1, "diverged", "--learning-rate", "and another --checkpoint and --metrics",
                "d.safetensors");
        Checkpoint kept = CheckpointFile.read(dir.resolve("d.safetensors"));
        for (double p : kept.params()) {
            assertTrue(Double.isFinite(p));
        }
    }

    /**
     * Ctrl-C (or docker stop, SIGINT), SIGTERM from kill or a scheduler, or SIGHUP from a closed terminal, saves a
     * checkpoint and exits 128 + the signal. (Under nohup, SIGHUP stays ignored: the program inherits that from here.)
     */
    @ParameterizedTest(name = "SIG{0}")
    @CsvSource({"INT, 130, Ctrl-C", "TERM, 143, SIGTERM", "HUP, 129, SIGHUP"})
    void aStopSignalSavesACheckpointAndExits(String signal, int exitCode, String named) throws Exception {
        assumeFalse(signal.equals("HUP") && hangUpIgnored(), "SIGHUP is ignored here (nohup), and so in the program");
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = CommandLineRunner.start(dir, out, err, "--input", "names.txt", "--n-embd", "32",
                "--block-size", "32", "--steps", "1000000", "--log-every", "100", "--checkpoint", "i.safetensors",
                "--metrics", "m.csv", "--plot", "p.png");
        awaitText(err, " | loss ", p); // a progress line
        new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String stderr = Files.readString(err);
        assertEquals(exitCode, p.exitValue(), stderr);
        assertTrue(stderr.contains("interrupted (" + named + ")") && stderr.contains("checkpoint saved to i.safetensors"
                + " (continue with --resume --checkpoint i.safetensors --input names.txt)"), stderr);
        assertTrue(Files.readString(dir.resolve("m.csv")).endsWith("\n"), "the metrics end with a whole row");
        assertTrue(Files.size(dir.resolve("p.png")) > 0, "the loss curve so far");
        Checkpoint saved = CheckpointFile.read(dir.resolve("i.safetensors"));
        assertTrue(saved.step() > 0 && saved.step() < 1_000_000);
        Result resumed = run("--input", "names.txt", "--resume", "--checkpoint", "i.safetensors", "--metrics", "m.csv",
                "--stop-after", Integer.toString(saved.step() + 5), "--quiet");
        assertEquals(0, resumed.exitCode(), resumed.stderr()); // the metrics' row of the saved step has its loss
        assertEquals(saved.step() + 5, CheckpointFile.read(dir.resolve("i.safetensors")).step());
        assertEquals(saved.step() + 6, Files.readAllLines(dir.resolve("m.csv")).size(), "the header and every step");
    }

    /**
     * A second run on a checkpoint or metrics file that a run is writing is refused before it reads or writes anything,
     * naming the other run's process; once that one has ended, the files are free again.
     */
    @Test
    void aSecondRunOnTheSameFilesIsRefusedWhileTheFirstTrains() throws Exception {
        Path err = dir.resolve("err.txt");
        Process first = CommandLineRunner.start(dir, dir.resolve("out.txt"), err, "--input", "names.txt", "--steps",
                "1000000", "--log-every", "100", "--checkpoint", "c.safetensors", "--metrics", "m.csv");
        try {
            awaitText(err, " | loss ", first); // a progress line
            assertOneLineError(run("--input", "names.txt", "--steps", "5", "--checkpoint", "c.safetensors"), 1,
                    "--checkpoint c.safetensors is in use by another run (process " + first.pid() + ")",
                    "another --checkpoint");
            assertOneLineError(run("--input", "names.txt", "--steps", "5", "--metrics", "m.csv"), 1,
                    "--metrics m.csv is in use by another run", "another --metrics");
            assertFalse(Files.exists(dir.resolve("c.safetensors")), "the refused run saved nothing");
        } finally {
            first.destroyForcibly().waitFor();
        }
        Result after = run("--input", "names.txt", "--steps", "5", "--checkpoint", "c.safetensors", "--quiet");
        assertEquals(0, after.exitCode(), after.stderr());
        assertEquals(5, CheckpointFile.read(dir.resolve("c.safetensors")).step());
    }

    /** Whether this process ignores SIGHUP (bit 0 of SigIgn in /proc/self/status), as a process under nohup does. */
    private static boolean hangUpIgnored() throws IOException {
        Path status = Path.of("/proc/self/status");
        return Files.exists(status) && Files.readAllLines(status).stream().filter(l -> l.startsWith("SigIgn:"))
                .anyMatch(l -> (Long.parseLong(l.substring(7).trim(), 16) & 1) != 0);
    }

    /** Interrupted, a run whose plot cannot be written still says where it saved and exits 130, the error after. */
    @Test
    void anInterruptedRunWhosePlotFailsStillSaysWhereItSaved() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/full")), "needs /dev/full");
        Files.createSymbolicLink(dir.resolve("loss.png"), Path.of("/dev/full"));
        Path err = dir.resolve("err.txt");
        Process p = CommandLineRunner.start(dir, dir.resolve("out.txt"), err, "--input", "names.txt", "--steps",
                "1000000", "--log-every", "100", "--plot", "loss.png");
        awaitText(err, " | loss ", p); // a progress line
        new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String stderr = Files.readString(err);
        assertEquals(130, p.exitValue(), stderr);
        assertTrue(stderr.matches("(?s).*interrupted \\(Ctrl-C\\).*checkpoint saved to interrupted-step\\d+"
                + "\\.safetensors.*\nerror: cannot write the loss plot.*"), stderr);
    }

    /**
     * Killed at random moments, a run always leaves a loadable checkpoint, which the next attempt resumes, its metrics
     * with it (their row of the checkpoint's step has the checkpoint's loss).
     */
    @Test
    void sigkillAtAnyMomentLeavesTheLastCheckpointLoadable() throws Exception {
        java.util.Random random = new java.util.Random();
        int lastStep = 0;
        for (int attempt = 0; attempt < 4; attempt++) {
            Path out = dir.resolve("out" + attempt);
            Path err = dir.resolve("err" + attempt);
            List<String> args = new java.util.ArrayList<>(List.of("--input", "names.txt", "--steps", "1000000",
                    "--checkpoint-every", "1", "--checkpoint", "k.safetensors", "--metrics", "m.csv", "--log-every",
                    "1000"));
            if (attempt > 0) {
                args.add("--resume");
            }
            Process p = CommandLineRunner.start(dir, out, err, args.toArray(String[]::new));
            awaitText(err, " / 1000000 | loss", p); // a progress line: this attempt has trained
            Thread.sleep(random.nextInt(300));
            p.destroyForcibly().waitFor();
            Checkpoint c = CheckpointFile.read(dir.resolve("k.safetensors"));
            assertTrue(c.step() > lastStep, "step " + c.step() + " after " + lastStep + ": " + readQuietly(err));
            lastStep = c.step();
        }
        assertEquals(0, run("--input", "names.txt", "--resume", "--checkpoint", "k.safetensors", "--metrics", "m.csv",
                "--stop-after", Integer.toString(lastStep + 1), "--quiet").exitCode());
        assertEquals(lastStep + 2, Files.readAllLines(dir.resolve("m.csv")).size(), "the header and every step");
        try (var files = Files.list(dir)) {
            List<Path> leftovers = files.filter(f -> f.getFileName().toString().contains(".tmp")).toList();
            assertTrue(leftovers.size() <= 1, "a write clears what earlier killed writes left: " + leftovers);
        }
    }

    private static void awaitText(Path file, String text, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && Files.readString(file, StandardCharsets.UTF_8).contains(text)) {
                return;
            }
            assertTrue(p.isAlive(), () -> "process ended early: " + readQuietly(file));
            Thread.sleep(20);
        }
        throw new AssertionError("'" + text + "' did not appear in " + file);
    }

    private static String readQuietly(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
