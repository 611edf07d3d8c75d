package dev.microgpt.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.microgpt.bench.BenchReport.Row;
import dev.microgpt.bench.BenchReport.Status;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** bench/run.sh's report: the Markdown table, the JSON and the chart from StepBenchmark's JSON lines. */
class BenchReportTest {

    private static final String CPU_16 = "{\"dataset\":\"names\",\"warmup_steps\":20000,\"steps_per_repeat\":5000,"
            + "\"engine\":\"cpu-fast\",\"n_embd\":16,\"block_size\":16,\"params\":4192,\"median_ms_per_step\":0.03912,"
            + "\"min_ms_per_step\":0.038,\"repeats\":[0.03912, 0.038, 0.0401]}";
    private static final String GRAPH_16 = "{\"dataset\":\"names\",\"warmup_steps\":9000,\"steps_per_repeat\":3000,"
            + "\"engine\":\"gpu-graph\",\"n_embd\":16,\"block_size\":16,\"params\":4192,\"median_ms_per_step\":0.02,"
            + "\"min_ms_per_step\":0.019,\"repeats\":[0.02, 0.019, 0.021],\"launches_per_step\":1,"
            + "\"gpu_busy_ms_per_step\":0.012,\"launch_overhead_share\":0.4}";
    private static final String EAGER_UNAVAILABLE = "{\"dataset\":\"names\",\"engine\":\"gpu-eager\",\"n_embd\":64,"
            + "\"block_size\":64,\"params\":56704,\"unavailable\":\"no usable CUDA driver or device (cudaErrorNoDevice)\"}";
    // Even a number in an unavailable row must never be shown as a measurement.
    private static final String FUSED_UNAVAILABLE = "{\"engine\":\"gpu-fused\",\"dataset\":\"names\",\"n_embd\":64,"
            + "\"block_size\":64,\"params\":56704,\"unavailable\":\"no usable CUDA driver or device (cudaErrorNoDevice)\","
            + "\"median_ms_per_step\":987.6}";
    private static final String FUSED_16 = "{\"dataset\":\"names\",\"warmup_steps\":9000,\"steps_per_repeat\":3000,"
            + "\"engine\":\"gpu-fused\",\"n_embd\":16,\"block_size\":16,\"params\":4192,\"median_ms_per_step\":0.01,"
            + "\"min_ms_per_step\":0.0095,\"repeats\":[0.01, 0.0095, 0.011],\"launches_per_step\":2,"
            + "\"gpu_busy_ms_per_step\":0.008,\"launch_overhead_share\":0.2,"
            + "\"mode_detail\":\"1 block, activations in shared memory\"}";
    private static final String FUSED_B4_16 = "{\"dataset\":\"names\",\"warmup_steps\":9000,\"steps_per_repeat\":3000,"
            + "\"engine\":\"gpu-fused-b4\",\"n_embd\":16,\"block_size\":16,\"params\":4192,\"median_ms_per_step\":0.015,"
            + "\"min_ms_per_step\":0.014,\"repeats\":[0.015],\"launches_per_step\":2,\"gpu_busy_ms_per_step\":0.012,"
            + "\"launch_overhead_share\":0.2,\"mode_detail\":\"4 blocks (cooperative), activations in global memory\"}";
    private static final String CPU_64 = "{\"dataset\":\"names\",\"warmup_steps\":3000,\"steps_per_repeat\":1000,"
            + "\"engine\":\"cpu-fast\",\"n_embd\":64,\"block_size\":64,\"params\":56704,\"median_ms_per_step\":0.3512,"
            + "\"min_ms_per_step\":0.34,\"repeats\":[0.3512]}";

    private static final String CPU_BS8_16 = "{\"dataset\":\"names\",\"warmup_steps\":2000,\"steps_per_repeat\":600,"
            + "\"engine\":\"cpu-fast-bs8\",\"n_embd\":16,\"block_size\":16,\"batch_size\":8,\"params\":4192,"
            + "\"median_ms_per_step\":0.3,\"min_ms_per_step\":0.29,\"docs_per_s\":26666.7,\"repeats\":[0.3]}";
    private static final String FUSED_BS8_16 = "{\"dataset\":\"names\",\"warmup_steps\":9000,\"steps_per_repeat\":3000,"
            + "\"engine\":\"gpu-fused-bs8\",\"n_embd\":16,\"block_size\":16,\"batch_size\":8,\"params\":4192,"
            + "\"median_ms_per_step\":0.02,\"min_ms_per_step\":0.019,\"docs_per_s\":400000.0,\"repeats\":[0.02],"
            + "\"launches_per_step\":2,\"gpu_busy_ms_per_step\":0.015,\"launch_overhead_share\":0.25,"
            + "\"mode_detail\":\"8 blocks (cooperative), documents side by side, activations in shared memory\"}";

    private static List<Row> rows(String... lines) {
        return BenchReport.parse(Arrays.asList(lines));
    }

    @Test
    void classifiesRowsByTheirFields() {
        List<Row> rows = rows(CPU_16, GRAPH_16, EAGER_UNAVAILABLE, FUSED_UNAVAILABLE, "", "Exception in thread main",
                "{\"engine\":\"gpu-eager\",\"error\":\"exit 1: boom\"}", FUSED_16);
        assertEquals(List.of(Status.measured, Status.measured, Status.unavailable, Status.unavailable, Status.failed,
                        Status.failed, Status.measured),
                rows.stream().map(Row::status).toList());
        assertEquals("no usable CUDA driver or device (cudaErrorNoDevice)", rows.get(2).reason());
        assertTrue(rows.get(3).measurement("median_ms_per_step").isEmpty(), "an unavailable row has no measurement");
        assertTrue(rows.get(4).reason().contains("not a JSON object: Exception in thread main"));
        assertEquals("exit 1: boom", rows.get(5).reason());
        assertEquals("1 block, activations in shared memory", BenchReport.modeDetail(rows.get(6)));
        assertEquals("", BenchReport.modeDetail(rows.get(1)), "a row without mode_detail has none");
    }

    @Test
    void markdownHasHeaderTablesAndNeverANumberForWhatIsNotMeasured() {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("machine", "2 cores, test CPU");
        meta.put("gpu", "GPU engine unusable: none");
        meta.put("date", "2026-01-02T03:04Z");
        meta.put("commit", "abc1234");
        Map<String, String> header = BenchReport.withDefaults(meta);
        assertEquals(List.of("machine", "gpu", "jvm", "date", "commit"), List.copyOf(header.keySet()));

        String md = BenchReport.markdown(header, Map.of("names", "names.txt, one name per step"), "ms_per_step.png",
                rows(CPU_16, GRAPH_16, EAGER_UNAVAILABLE, FUSED_UNAVAILABLE, FUSED_16, CPU_64));
        assertTrue(md.contains("- machine: 2 cores, test CPU\n"), md);
        assertTrue(md.contains("- jvm: "), md);
        assertTrue(md.contains("- date: 2026-01-02T03:04Z\n"), md);
        assertTrue(md.contains("- commit: abc1234\n"), md);
        assertTrue(md.contains("### names: names.txt, one name per step"), md);
        // The per-dataset summary: engines by size.
        assertTrue(md.contains("| engine | 16/16 | 64/64 |"), md);
        assertTrue(md.contains("| cpu-fast | 0.03912 | 0.3512 |"), md);
        assertTrue(md.contains("| gpu-graph | 0.02 |  |"), md);
        assertTrue(md.contains("| gpu-eager |  | unavailable |"), md);
        assertTrue(md.contains("| gpu-fused | 0.01 | unavailable |"), md);
        // Under the table, the fused step's grid at each size that has one; nothing for the other engines.
        assertTrue(md.contains("| gpu-fused | 0.01 | unavailable |\n\n- gpu-fused: 16/16 on 1 block, activations in shared"
                + " memory\n\n## All rows"), md);
        // Every row in full: GPU fields, the speed-up over the CPU, the step counts, the grid, and the reasons.
        assertTrue(md.contains("| gpu-graph | names | 16/16 | 4192 | 0.02 | 0.019 | — | 1 | 0.012 | 40.0% | 1.96× | 9000 + 3 × 3000"
                + " |  |"), md);
        assertTrue(md.contains("| gpu-fused | names | 16/16 | 4192 | 0.01 | 0.0095 | — | 2 | 0.008 | 20.0% | 3.91× | 9000 + 3 ×"
                + " 3000 | 1 block, activations in shared memory |"), md);
        assertTrue(md.contains("| gpu-eager | names | 64/64 | 56704 | — | — | — | — | — | — | — | — | unavailable: no usable"
                + " CUDA driver or device (cudaErrorNoDevice) |"), md);
        assertTrue(md.contains("| gpu-fused | names | 64/64 | 56704 | — | — | — | — |"), md);
        assertTrue(md.contains("- unavailable: gpu-eager, gpu-fused: no usable CUDA driver or device (cudaErrorNoDevice)\n"), md);
        assertTrue(md.contains("note: for the fused mode, the grid"), md);
        assertFalse(md.contains("987"), "the unavailable row's number must not appear:\n" + md);
        assertFalse(md.contains("not implemented"), md);
    }

    @Test
    void writesMarkdownJsonAndChart(@TempDir Path dir) throws Exception {
        Path rowsFile = dir.resolve("rows.jsonl");
        Files.writeString(rowsFile, String.join("\n", CPU_16, GRAPH_16, EAGER_UNAVAILABLE, FUSED_16, CPU_64) + "\n");
        Path out = dir.resolve("out");
        int exit = new CommandLine(new BenchReport()).execute("--rows", rowsFile.toString(), "--out", out.toString(),
                "--meta", "machine=test machine", "--meta", "commit=abc1234", "--dataset", "names=the names");
        assertEquals(0, exit);

        String md = Files.readString(out.resolve(BenchReport.MARKDOWN));
        assertTrue(md.startsWith("# Training step benchmark\n\n- machine: test machine\n- jvm: "), md);
        assertTrue(md.contains("- chart: [ms_per_step.png](ms_per_step.png)"), md);

        JsonObject json = JsonParser.parseString(Files.readString(out.resolve(BenchReport.JSON))).getAsJsonObject();
        JsonObject metadata = json.getAsJsonObject("metadata");
        assertEquals("test machine", metadata.get("machine").getAsString());
        assertEquals("abc1234", metadata.get("commit").getAsString());
        assertTrue(metadata.has("jvm") && metadata.has("date"), metadata.toString());
        assertEquals("the names", json.getAsJsonObject("datasets").get("names").getAsString());
        assertEquals("ms_per_step.png", json.get("chart").getAsString());
        JsonArray rows = json.getAsJsonArray("rows");
        assertEquals(5, rows.size());
        assertEquals("measured", rows.get(0).getAsJsonObject().get("status").getAsString());
        assertEquals(0.03912, rows.get(0).getAsJsonObject().get("median_ms_per_step").getAsDouble());
        assertEquals("unavailable", rows.get(2).getAsJsonObject().get("status").getAsString());
        assertEquals("measured", rows.get(3).getAsJsonObject().get("status").getAsString());
        assertEquals("1 block, activations in shared memory", rows.get(3).getAsJsonObject().get("mode_detail").getAsString());
        assertFalse(rows.get(1).getAsJsonObject().has("mode_detail"));

        byte[] png = Files.readAllBytes(out.resolve(BenchReport.CHART));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(png.length > 5000, "a rendered chart, " + png.length + " bytes");
    }

    /** Batch rows: B from the row (or a failed row's name), the speed-up over the CPU at the same B, a second chart. */
    @Test
    void batchRowsAreComparedWithTheCpuAtTheSameBatchSizeAndCharted(@TempDir Path dir) throws Exception {
        List<Row> parsed = rows(CPU_16, CPU_BS8_16, FUSED_BS8_16, "{\"engine\":\"gpu-eager-bs32\",\"error\":\"boom\"}");
        assertEquals(List.of(1, 8, 8, 32), parsed.stream().map(Row::batchSize).toList());
        assertEquals("gpu-fused", parsed.get(2).oneDocumentEngine());

        Path rowsFile = dir.resolve("rows.jsonl");
        Files.writeString(rowsFile, String.join("\n", CPU_16, FUSED_16, CPU_BS8_16, FUSED_BS8_16) + "\n");
        Path out = dir.resolve("out");
        assertEquals(0, new CommandLine(new BenchReport()).execute("--rows", rowsFile.toString(), "--out", out.toString()));
        String md = Files.readString(out.resolve(BenchReport.MARKDOWN));
        assertTrue(md.contains("| gpu-fused-bs8 | names | 16/16 | 4192 | 0.02 | 0.019 | 400000 | 2 | 0.015 | 25.0% | 15× |"),
                "15 = cpu-fast-bs8's 0.3 over 0.02, not cpu-fast's:\n" + md);
        assertTrue(md.contains("| cpu-fast-bs8 | names | 16/16 | 4192 | 0.3 | 0.29 | 26667 | — | — | — |  |"), md);
        assertTrue(md.contains("[docs_per_second.png](docs_per_second.png)"), md);
        JsonObject json = JsonParser.parseString(Files.readString(out.resolve(BenchReport.JSON))).getAsJsonObject();
        assertEquals("docs_per_second.png", json.get("batch_chart").getAsString());
        byte[] png = Files.readAllBytes(out.resolve(BenchReport.BATCH_CHART));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
    }

    @Test
    void aResultsJsonIsReadBackWithItsMetadata(@TempDir Path dir) throws Exception {
        Path rowsFile = dir.resolve("rows.jsonl");
        Files.writeString(rowsFile, String.join("\n", CPU_16, EAGER_UNAVAILABLE, FUSED_16) + "\n");
        Path first = dir.resolve("first");
        assertEquals(0, new CommandLine(new BenchReport()).execute("--rows", rowsFile.toString(), "--out", first.toString(),
                "--no-chart", "--meta", "machine=the GPU machine", "--meta", "jvm=the JVM there", "--meta", "commit=abc1234",
                "--dataset", "names=the names"));
        Path second = dir.resolve("second");
        assertEquals(0, new CommandLine(new BenchReport()).execute("--rows", first.resolve(BenchReport.JSON).toString(),
                "--out", second.toString(), "--meta", "commit=abc1234 (again)"));

        String md = Files.readString(second.resolve(BenchReport.MARKDOWN));
        assertTrue(md.startsWith("# Training step benchmark\n\n- machine: the GPU machine\n- jvm: the JVM there\n"), md);
        assertTrue(md.contains("- commit: abc1234 (again)\n"), md);
        assertTrue(md.contains("### names: the names"), md);
        assertTrue(md.contains("| cpu-fast | 0.03912 |"), md);
        assertTrue(md.contains("| gpu-fused | 0.01 |  |"), md);
        assertTrue(md.contains("- gpu-fused: 16/16 on 1 block, activations in shared memory\n"), md);
        assertTrue(Files.exists(second.resolve(BenchReport.CHART)));
        JsonArray rows = JsonParser.parseString(Files.readString(second.resolve(BenchReport.JSON))).getAsJsonObject()
                .getAsJsonArray("rows");
        assertEquals(3, rows.size());
        assertEquals("unavailable", rows.get(1).getAsJsonObject().get("status").getAsString());
        assertEquals("1 block, activations in shared memory", rows.get(2).getAsJsonObject().get("mode_detail").getAsString());
    }

    @Test
    void withoutAMeasuredRowTheReportSaysSoAndDrawsNoChart(@TempDir Path dir) throws Exception {
        Path rowsFile = dir.resolve("rows.jsonl");
        Files.writeString(rowsFile, FUSED_UNAVAILABLE + "\n" + EAGER_UNAVAILABLE + "\n", StandardCharsets.UTF_8);
        int exit = new CommandLine(new BenchReport()).execute("--rows", rowsFile.toString(), "--out", dir.toString());
        assertEquals(0, exit);
        assertFalse(Files.exists(dir.resolve(BenchReport.CHART)));
        String md = Files.readString(dir.resolve(BenchReport.MARKDOWN));
        assertTrue(md.contains("- chart: ms_per_step.png not rendered: no row was measured"), md);
        assertTrue(md.contains("- unavailable: gpu-eager, gpu-fused: no usable CUDA driver or device (cudaErrorNoDevice)"), md);
    }

    /**
     * The GPU bundle's runtime has neither the chart library nor AWT (bench/gpu-bundle.sh): the report is written there
     * all the same, in a JVM whose class path lacks the library, and says why it has no chart.
     */
    @Test
    void withoutTheChartLibraryTheReportIsWrittenWithoutItsCharts(@TempDir Path dir) throws Exception {
        Path rowsFile = dir.resolve("rows.jsonl");
        Files.writeString(rowsFile, String.join("\n", CPU_16, FUSED_16, CPU_BS8_16, FUSED_BS8_16) + "\n",
                StandardCharsets.UTF_8);
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !entry.contains("xchart")).collect(Collectors.joining(File.pathSeparator));
        Process report = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", classPath, BenchReport.class.getName(), "--rows", rowsFile.toString(),
                "--out", dir.toString()).redirectErrorStream(true).start();
        String output = new String(report.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(report.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, report.exitValue(), output);
        assertFalse(Files.exists(dir.resolve(BenchReport.CHART)) || Files.exists(dir.resolve(BenchReport.BATCH_CHART)));
        String md = Files.readString(dir.resolve(BenchReport.MARKDOWN));
        assertTrue(md.contains("ms_per_step.png not rendered: java.lang.NoClassDefFoundError")
                && md.contains("docs_per_second.png not rendered: java.lang.NoClassDefFoundError")
                && md.contains("no chart library or AWT here"), md);
        assertTrue(md.contains("| gpu-fused | names | 16/16 | 4192 | 0.01 |"), md);
    }

    @Test
    void chartFooterNamesWhatIsNotPlotted() {
        assertEquals(List.of("not plotted: gpu-eager, gpu-fused: unavailable: no usable CUDA driver or device (cudaErrorNoDevice)",
                        "not plotted: gpu-graph: failed (see results.md)"),
                BenchChart.unmeasured(rows(CPU_16, FUSED_UNAVAILABLE, "{\"engine\":\"gpu-graph\",\"error\":\"exit 1: boom\"}",
                        EAGER_UNAVAILABLE, FUSED_16)));
    }

    @Test
    void enginesGoInTheHarnessOrderWithFusedVariantsByBlocksThenStepsAndUnknownOnesLast() {
        List<String> scrambled = new java.util.ArrayList<>(List.of("zeta-engine", "gpu-graph-cublas", "gpu-fused-b16",
                "gpu-eager-cublas", "gpu-fused-b4-k8", "gpu-fused", "alpha-engine", "gpu-graph", "gpu-fused-b4",
                "gpu-fused-k16", "gpu-eager", "cpu-tape", "cpu-fast"));
        scrambled.sort(BenchReport.ENGINE_ORDER);
        assertEquals(List.of("cpu-fast", "cpu-tape", "gpu-eager", "gpu-graph", "gpu-fused", "gpu-fused-k16", "gpu-fused-b4",
                "gpu-fused-b4-k8", "gpu-fused-b16", "gpu-eager-cublas", "gpu-graph-cublas", "zeta-engine", "alpha-engine"),
                scrambled);

        // The tables follow it, whatever order the rows came in.
        String md = BenchReport.markdown(Map.of(), Map.of(), "none", rows(FUSED_B4_16, GRAPH_16,
                "{\"engine\":\"gpu-graph-cublas\",\"dataset\":\"names\",\"n_embd\":16,\"block_size\":16,\"unavailable\":\"no cuBLAS\"}",
                FUSED_16, CPU_16));
        String summary = md.substring(md.indexOf("## Median ms/step"), md.indexOf("## All rows"));
        assertEquals(List.of("cpu-fast", "gpu-graph", "gpu-fused", "gpu-fused-b4", "gpu-graph-cublas"), firstCells(summary), md);
        String all = md.substring(md.indexOf("## All rows"), md.indexOf("## Notes"));
        assertEquals(List.of("cpu-fast", "gpu-graph", "gpu-fused", "gpu-fused-b4", "gpu-graph-cublas"), firstCells(all), md);
        assertTrue(summary.contains("\n- gpu-fused: 16/16 on 1 block, activations in shared memory\n"
                + "- gpu-fused-b4: 16/16 on 4 blocks (cooperative), activations in global memory\n"), md);
    }

    /** The first cell of each body row of the Markdown tables in this text. */
    private static List<String> firstCells(String md) {
        return md.lines().filter(l -> l.startsWith("| ") && !l.startsWith("| engine |"))
                .map(l -> l.substring(2, l.indexOf(" |"))).toList();
    }

    @Test
    void numbersKeepFourSignificantDigits() {
        assertEquals("0.03912", BenchReport.significant(0.039123456, 4));
        assertEquals("0.35", BenchReport.significant(0.35, 4));
        assertEquals("12.35", BenchReport.significant(12.3456, 4));
        assertEquals("1235", BenchReport.significant(1234.56, 4));
        assertEquals("100", BenchReport.significant(100, 4));
        assertEquals("0", BenchReport.significant(0, 4));
    }
}
