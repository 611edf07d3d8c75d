package dev.microgpt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.microgpt.bench.StepBenchmark.Engine;
import dev.microgpt.gpu.GemmBackend;
import dev.microgpt.gpu.GpuMode;
import dev.microgpt.gpu.GpuOptions;
import dev.microgpt.testing.BuiltinDataset;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The one grammar of benchmark engine names: what each name runs, its one spelling, and the reason a name is refused. */
class BenchEngineTest {

    private static final List<String> VALID = List.of("cpu-fast", "cpu-tape", "gpu-eager", "gpu-graph", "gpu-fused",
            "gpu-fused-b1", "gpu-fused-b4", "gpu-fused-b2147483647", "gpu-fused-k2", "gpu-fused-k16", "gpu-fused-k256",
            "gpu-fused-b2-k4", "gpu-fused-b16-k256", "gpu-eager-cublas", "gpu-graph-cublas", "cpu-fast-bs2",
            "cpu-tape-bs8", "gpu-eager-bs32", "gpu-graph-bs128", "gpu-fused-bs4096", "gpu-fused-b2-k4-bs8");

    @Test
    void everyValidNameRoundTrips() {
        for (String name : VALID) {
            BenchEngine engine = BenchEngine.parse(name);
            assertEquals(name, engine.name());
            assertEquals(engine, BenchEngine.parse(engine.name()));
        }
    }

    @Test
    void aNameStandsForStepBenchmarksOptions() {
        assertEquals(List.of("--engine", "fast"), BenchEngine.parse("cpu-fast").stepBenchmarkArgs());
        assertEquals(List.of("--engine", "tape"), BenchEngine.parse("cpu-tape").stepBenchmarkArgs());
        assertEquals(List.of("--engine", "gpu", "--gpu-mode", "eager"), BenchEngine.parse("gpu-eager").stepBenchmarkArgs());
        assertEquals(List.of("--engine", "gpu", "--gpu-mode", "graph", "--gemm", "cublas"),
                BenchEngine.parse("gpu-graph-cublas").stepBenchmarkArgs());
        assertEquals(List.of("--engine", "gpu", "--gpu-mode", "fused", "--fused-blocks", "2", "--steps-per-launch", "4"),
                BenchEngine.parse("gpu-fused-b2-k4").stepBenchmarkArgs());
        assertEquals(new BenchEngine(Engine.gpu, new GpuOptions(GpuMode.fused, GemmBackend.hand, 0, 16), 1),
                BenchEngine.parse("gpu-fused-k16"));
        assertEquals(List.of("--engine", "fast", "--batch-size", "32"), BenchEngine.parse("cpu-fast-bs32").stepBenchmarkArgs());
        assertEquals(new BenchEngine(Engine.gpu, new GpuOptions(GpuMode.fused, GemmBackend.hand, 2, 4), 8),
                BenchEngine.parse("gpu-fused-b2-k4-bs8"));
        assertEquals("gpu-fused-b2-k4", BenchEngine.parse("gpu-fused-b2-k4-bs8").oneDocumentName());
        assertNull(BenchEngine.parse("cpu-fast").gpu());

        // Those options, given to StepBenchmark, are the same engine as the name: the name and the row's label agree.
        for (String name : VALID) {
            List<String> args = new ArrayList<>(BenchEngine.parse(name).stepBenchmarkArgs());
            args.addAll(List.of("--input", "unused.txt"));
            StepBenchmark fromOptions = new StepBenchmark();
            new CommandLine(fromOptions).parseArgs(args.toArray(String[]::new));
            assertEquals(name, fromOptions.benchEngine().name());
            StepBenchmark fromName = new StepBenchmark();
            new CommandLine(fromName).parseArgs("--bench-engine", name, "--input", "unused.txt");
            assertEquals(fromOptions.benchEngine(), fromName.benchEngine());
        }
    }

    @Test
    void aBadNameIsRefusedInOneLineSayingWhy() {
        assertEquals("unknown engine gpu-turbo (cpu-fast, cpu-tape, gpu-eager, gpu-graph, gpu-fused, gpu-fused-bN-kK,"
                + " gpu-eager-cublas, gpu-graph-cublas; any of them -bsB for B documents a step)", reason("gpu-turbo"));
        assertEquals("unknown engine  (cpu-fast, cpu-tape, gpu-eager, gpu-graph, gpu-fused, gpu-fused-bN-kK,"
                + " gpu-eager-cublas, gpu-graph-cublas; any of them -bsB for B documents a step)", reason(""));
        assertEquals("cpu-fast-bs1: B, the documents a step, is 2 to 4096, written without leading zeros, got 1 (one"
                + " document a step is cpu-fast)", reason("cpu-fast-bs1"));
        assertTrue(reason("gpu-eager-bs08").endsWith("got 08 (one document a step is gpu-eager)"));
        assertTrue(reason("gpu-eager-bs4097").endsWith("got 4097 (one document a step is gpu-eager)"));
        assertTrue(reason("gpu-turbo-bs8").startsWith("unknown engine gpu-turbo ("));
        assertTrue(reason("gpu-eager-bs8-bs8").startsWith("unknown engine gpu-eager-bs8 ("));
        assertEquals("gpu-graph-cublas-bs8: --gemm cublas trains one document a step; drop --gemm cublas, or drop"
                + " --batch-size 8",
                reason("gpu-graph-cublas-bs8"));
        assertEquals("gpu-fused-k16-bs32: --steps-per-launch 16 with --batch-size 32: a fused launch runs at most 256"
                + " documents, 8 steps of 32; lower one of them", reason("gpu-fused-k16-bs32"));
        assertEquals("gpu-fused-k8-bs32", BenchEngine.parse("gpu-fused-k8-bs32").name());
        assertTrue(reason("cpu-FAST").startsWith("unknown engine cpu-FAST ("));
        assertTrue(reason("gpu-fusedk4").startsWith("unknown engine gpu-fusedk4 ("));
        String variants = ": the fused variants are gpu-fused-bN, gpu-fused-kK and gpu-fused-bN-kK, N >= 1 blocks,"
                + " K = 2 to 256 steps a launch";
        for (String name : List.of("gpu-fused-k4-b2", "gpu-fused-cublas", "gpu-fused-b", "gpu-fused-k", "gpu-fused-b-1",
                "gpu-fused-b2-", "gpu-fused-x")) {
            assertEquals(name + variants, reason(name));
        }
        assertEquals("gpu-fused-b0: N, the fused step's blocks, is 1 or more, written without leading zeros, got 0",
                reason("gpu-fused-b0"));
        assertEquals("gpu-fused-b04: N, the fused step's blocks, is 1 or more, written without leading zeros, got 04",
                reason("gpu-fused-b04"));
        assertTrue(reason("gpu-fused-b2147483648").endsWith("got 2147483648"));
        assertEquals("gpu-fused-k257: K, the steps a launch, is 2 to 256, written without leading zeros, got 257 (one step"
                + " a launch is gpu-fused)", reason("gpu-fused-k257"));
        assertTrue(reason("gpu-fused-b2-k1").startsWith("gpu-fused-b2-k1: K, the steps a launch, is 2 to 256"));
        assertTrue(reason("gpu-fused-k016").endsWith("got 016 (one step a launch is gpu-fused)"));
        for (String name : List.of("gpu-turbo", "gpu-fused-k4-b2", "gpu-fused-b0", "gpu-fused-k999999999999")) {
            assertFalse(reason(name).contains("\n"), name);
        }
    }

    /**
     * A harness's rows: every engine at each batch size but cuBLAS beyond one document, a fused variant's steps a launch
     * lowered to what a launch of B documents holds (dropped where that makes it another row), a name with its own B as
     * it is.
     */
    @Test
    void rowsTakeEveryEngineToEveryBatchSizeThatCanRunIt() {
        List<BenchEngine> asked = Stream.of("cpu-fast", "gpu-eager-cublas", "gpu-fused", "gpu-fused-k16", "cpu-tape-bs4")
                .map(BenchEngine::parse).toList();
        List<BenchEngine.Row> rows = BenchEngine.rows(asked, List.of(1, 8, 32, 256));
        assertEquals(List.of("cpu-fast", "cpu-fast-bs8", "cpu-fast-bs32", "cpu-fast-bs256", "gpu-eager-cublas", "gpu-fused",
                "gpu-fused-bs8", "gpu-fused-bs32", "gpu-fused-bs256", "gpu-fused-k16", "gpu-fused-k16-bs8",
                "gpu-fused-k8-bs32", "cpu-tape-bs4"), rows.stream().map(r -> r.engine().name()).toList());
        BenchEngine.Row lowered = rows.get(11);
        assertEquals("gpu-fused-k16", lowered.asked().name());
        assertEquals("gpu-fused", rows.get(8).asked().name(), "gpu-fused-k16 at 256 is gpu-fused-bs256, measured once");
    }

    @Test
    void theRowListSaysWhereAVariantWasLowered() throws Exception {
        String out = stdout(() -> {
            BenchEngine.main(new String[] {"--batch-sizes", "1 32", "gpu-fused-k16"});
            return 0;
        });
        assertEquals("gpu-fused-k16: --engine gpu --gpu-mode fused --steps-per-launch 16\n"
                + "gpu-fused-k8-bs32: --engine gpu --gpu-mode fused --steps-per-launch 8 --batch-size 32 (gpu-fused-k16 at 32"
                + " documents a step: a fused launch runs at most 256 documents)\n", out);
    }

    private static String reason(String name) {
        return assertThrows(IllegalArgumentException.class, () -> BenchEngine.parse(name)).getMessage();
    }

    @Test
    void reportOrderFollowsTheGrammarAndPutsOtherNamesLast() {
        List<String> names = new ArrayList<>(List.of("gpu-fused-k1", "gpu-graph-cublas", "gpu-fused-b4-k2", "gpu-fused-k2",
                "gpu-fused", "cpu-tape", "gpu-fused-b4", "mystery", "gpu-eager-cublas", "gpu-graph", "gpu-eager", "cpu-fast",
                "gpu-fused-b1", "cpu-fast-bs128", "cpu-fast-bs8", "gpu-fused-bs32"));
        names.sort(BenchEngine.NAME_ORDER);
        assertEquals(List.of("cpu-fast", "cpu-fast-bs8", "cpu-fast-bs128", "cpu-tape", "gpu-eager", "gpu-graph", "gpu-fused",
                "gpu-fused-bs32", "gpu-fused-k2", "gpu-fused-b1", "gpu-fused-b4", "gpu-fused-b4-k2", "gpu-eager-cublas",
                "gpu-graph-cublas", "gpu-fused-k1", "mystery"), names);
    }

    @Test
    void stepBenchmarkRefusesABadNameOrTheOptionsItStandsForInOneLine() {
        assertEquals("error: unknown engine gpu-turbo (cpu-fast, cpu-tape, gpu-eager, gpu-graph, gpu-fused, gpu-fused-bN-kK,"
                + " gpu-eager-cublas, gpu-graph-cublas; any of them -bsB for B documents a step)\n",
                stepBenchmarkError("--bench-engine", "gpu-turbo"));
        assertEquals("error: --bench-engine cpu-fast-bs8 names the engine and its GPU options; drop --batch-size\n",
                stepBenchmarkError("--bench-engine", "cpu-fast-bs8", "--batch-size", "8"));
        assertEquals("error: --bench-engine gpu-fused-k4 names the engine and its GPU options; drop --engine,"
                + " --fused-blocks\n", stepBenchmarkError("--bench-engine", "gpu-fused-k4", "--engine", "gpu", "--fused-blocks", "2"));
    }

    /** What StepBenchmark says on stderr for these options (which must be refused with exit 2). */
    private static String stepBenchmarkError(String... options) {
        List<String> args = new ArrayList<>(List.of(options));
        args.addAll(List.of("--input", "missing.txt", "--failed", "never run"));
        CommandLine cli = StepBenchmark.commandLine();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        assertEquals(2, cli.execute(args.toArray(String[]::new)));
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void stepBenchmarkWritesAFailedRowWithoutRunning(@TempDir Path dir) throws Exception {
        Path row = dir.resolve("row.json");
        String out = stdout(() -> new CommandLine(new StepBenchmark()).execute("--bench-engine", "gpu-fused-b2-k4",
                "--dataset", "long", "--input", "missing.txt", "--n-embd", "64", "--block-size", "64",
                "--failed", "exit 1: \"boom\" \\ <init>\tat\nline 2" + "x".repeat(400), "--row-file", row.toString()));
        assertEquals("failed\n", out);
        String text = Files.readString(row);
        assertTrue(text.endsWith("}\n") && text.lines().count() == 1, text);
        JsonObject json = JsonParser.parseString(text).getAsJsonObject();
        assertEquals(List.of("engine", "dataset", "n_embd", "block_size", "error"), List.copyOf(json.keySet()));
        assertEquals("gpu-fused-b2-k4", json.get("engine").getAsString());
        assertEquals("long", json.get("dataset").getAsString());
        assertEquals(64, json.get("n_embd").getAsInt());
        String error = json.get("error").getAsString();
        assertTrue(error.startsWith("exit 1: \"boom\" \\ <init>atline 2xx"), error);
        assertEquals(StepBenchmark.MAX_REASON, error.length());
        assertEquals(BenchReport.Status.failed, BenchReport.parse(List.of(text.strip())).get(0).status());
    }

    @Test
    void stepBenchmarkWritesAMeasuredRowWithItsDatasetAndStepCounts(@TempDir Path dir) throws Exception {
        Path input = BuiltinDataset.writeTo(dir);
        Path row = dir.resolve("row.json");
        String out = stdout(() -> new CommandLine(new StepBenchmark()).execute("--bench-engine", "cpu-fast-bs4",
                "--dataset", "names", "--input", input.toString(), "--warmup-steps", "3", "--steps", "5", "--repeats",
                "2", "--threads", "2", "--row-file", row.toString()));
        assertTrue(out.matches("measured [0-9]+\\.[0-9]{5} [0-9]+\\.[0-9]{5}\n"), out);
        JsonObject json = JsonParser.parseString(Files.readString(row)).getAsJsonObject();
        assertEquals(List.of("dataset", "warmup_steps", "steps_per_repeat", "engine", "n_embd", "block_size",
                "batch_size", "params", "threads", "median_ms_per_step", "min_ms_per_step", "docs_per_s", "repeats"),
                List.copyOf(json.keySet()));
        assertEquals("cpu-fast-bs4", json.get("engine").getAsString());
        assertEquals(4, json.get("batch_size").getAsInt());
        assertEquals(2, json.get("threads").getAsInt());
        assertEquals(4 * 1000 / json.get("median_ms_per_step").getAsDouble(), json.get("docs_per_s").getAsDouble(),
                0.05 + 1e-4 * json.get("docs_per_s").getAsDouble(), "B per median step, to a tenth");
        assertEquals(3, json.get("warmup_steps").getAsInt());
        assertEquals(5, json.get("steps_per_repeat").getAsInt());
        String[] summary = out.strip().split(" ");
        assertEquals(Double.parseDouble(summary[1]), json.get("median_ms_per_step").getAsDouble());
        assertEquals(Double.parseDouble(summary[2]), json.get("min_ms_per_step").getAsDouble());
        assertEquals(BenchReport.Status.measured, BenchReport.parse(List.of(Files.readString(row).strip())).get(0).status());
    }

    /** What the action printed on stdout; it must exit 0. */
    private static String stdout(java.util.concurrent.Callable<Integer> action) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = System.out;
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = action.call();
        } finally {
            System.setOut(out);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, text);
        return text;
    }
}
