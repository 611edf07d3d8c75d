package dev.microgpt.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes bench/run.sh's report from the JSON lines it collected (one per {@link StepBenchmark} run, with the dataset
 * and step counts added, plus the rows the harness writes itself for runs that failed): {@code results.md} (header
 * lines, then per dataset a table of median ms/step by engine and size, then every row in full), {@code results.json}
 * (the same metadata and every row as it came, with its status) and {@code ms_per_step.png} (median ms/step against
 * size, one line per engine and dataset, log scale). Engines are listed in {@link #ENGINE_ORDER}.
 *
 * <p>{@code --rows} may also be a results.json written before: its rows, metadata and datasets are kept, so the report
 * can be written again elsewhere, e.g. with the chart on a machine whose Java has AWT.
 *
 * <p>A row is, by its fields: {@code unavailable} (a GPU row where no GPU is usable, with the reason; never shown as
 * a number, whatever else it holds), {@code error} (the run failed), or measured (it has {@code median_ms_per_step}).
 * A line that is not a JSON object becomes a failed row. A fused-mode row's {@code mode_detail} (its grid and where
 * its activations lived) is shown in its note.
 */
@Command(name = "bench-report", mixinStandardHelpOptions = true,
        description = "Writes results.md, results.json and ms_per_step.png from benchmark JSON lines.")
public final class BenchReport implements Callable<Integer> {

    static final String MARKDOWN = "results.md";
    static final String JSON = "results.json";
    static final String CHART = "ms_per_step.png";
    static final String BATCH_CHART = "docs_per_second.png";
    static final String BASELINE = "cpu-fast";
    /**
     * Engines in report order (tables and chart legend), by the names' one grammar ({@link BenchEngine#NAME_ORDER}):
     * cpu-fast, cpu-tape, gpu-eager, gpu-graph, gpu-fused, the fused variants by blocks then steps a launch,
     * gpu-eager-cublas, gpu-graph-cublas; names outside the grammar after all of those, tied (a stable sort keeps them
     * as they came).
     */
    static final Comparator<String> ENGINE_ORDER = BenchEngine.NAME_ORDER;

    @Option(names = "--rows", required = true,
            description = "JSON lines, one benchmark row each; or a results.json written before, whose metadata is kept.")
    Path rowsFile;

    @Option(names = "--out", required = true, description = "Directory for results.md, results.json and the chart.")
    Path outDir;

    @Option(names = "--meta", paramLabel = "KEY=VALUE",
            description = "A header line (machine, gpu, date, commit, ...), repeatable, kept in order; jvm and date default to this JVM and now.")
    List<String> meta = new ArrayList<>();

    @Option(names = "--dataset", paramLabel = "KEY=DESCRIPTION",
            description = "What a dataset key in the rows stands for, repeatable.")
    List<String> datasets = new ArrayList<>();

    @Option(names = "--no-chart", description = "Do not render the chart.")
    boolean noChart;

    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchReport()).execute(args));
    }

    /** How a row came out. */
    enum Status { measured, unavailable, failed }

    /** One row: the JSON object as it was read (or, for an unreadable line, one made to say so). */
    record Row(JsonObject json) {

        String engine() {
            return text("engine", "?");
        }

        String dataset() {
            return text("dataset", "");
        }

        int nEmbd() {
            return (int) number("n_embd").orElse(0);
        }

        int blockSize() {
            return (int) number("block_size").orElse(0);
        }

        String size() {
            return nEmbd() + "/" + blockSize();
        }

        Status status() {
            if (json.has("unavailable")) {
                return Status.unavailable;
            }
            if (json.has("error") || number("median_ms_per_step").isEmpty()) {
                return Status.failed;
            }
            return Status.measured;
        }

        /** Why the row has no numbers: the JSON's own words. */
        String reason() {
            return switch (status()) {
                case unavailable -> text("unavailable", "unavailable");
                case failed -> text("error", "no median_ms_per_step in " + json);
                case measured -> "";
            };
        }

        /** A measurement, only for a measured row: other rows have none to show, whatever their JSON holds. */
        OptionalDouble measurement(String key) {
            return status() == Status.measured ? number(key) : OptionalDouble.empty();
        }

        OptionalDouble number(String key) {
            JsonElement e = json.get(key);
            if (e instanceof JsonPrimitive p && p.isNumber()) {
                double v = p.getAsDouble();
                return Double.isFinite(v) ? OptionalDouble.of(v) : OptionalDouble.empty();
            }
            return OptionalDouble.empty();
        }

        String text(String key, String missing) {
            JsonElement e = json.get(key);
            return e == null || e.isJsonNull() ? missing : e.isJsonPrimitive() ? e.getAsString() : e.toString();
        }

        boolean sameShape(Row other) {
            return dataset().equals(other.dataset()) && nEmbd() == other.nEmbd() && blockSize() == other.blockSize();
        }

        /** B, the documents a step: the row's, else its engine name's (a failed row has only the name), else 1. */
        int batchSize() {
            OptionalDouble b = number("batch_size");
            if (b.isPresent()) {
                return (int) b.getAsDouble();
            }
            BenchEngine e = BenchEngine.parseOrNull(engine());
            return e == null ? 1 : e.batchSize();
        }

        /** The engine at one document a step: the line a batch row is charted on. */
        String oneDocumentEngine() {
            BenchEngine e = BenchEngine.parseOrNull(engine());
            return e == null ? engine() : e.oneDocumentName();
        }
    }

    /** Draws a chart into a file. */
    @FunctionalInterface
    private interface ChartWriter {
        void write(Path png, List<Row> rows) throws IOException;
    }

    @Override
    public Integer call() throws IOException {
        String text = Files.readString(rowsFile, StandardCharsets.UTF_8);
        List<Row> rows;
        Map<String, String> given = new LinkedHashMap<>();
        Map<String, String> datasetNames = new LinkedHashMap<>();
        JsonObject previous = previousReport(text);
        if (previous != null) {
            // A results.json: its rows, metadata and datasets, so that a report is written again (with the chart,
            // on a machine whose Java has AWT) without losing where it was measured; --meta and --dataset override.
            rows = new ArrayList<>();
            for (JsonElement e : previous.getAsJsonArray("rows")) {
                rows.add(e.isJsonObject() ? new Row(e.getAsJsonObject()) : new Row(unreadable(e.toString())));
            }
            given.putAll(strings(previous.get("metadata")));
            datasetNames.putAll(strings(previous.get("datasets")));
        } else {
            rows = parse(text.lines().toList());
        }
        given.putAll(pairs(meta, "--meta"));
        datasetNames.putAll(pairs(datasets, "--dataset"));
        Map<String, String> header = withDefaults(given);
        Files.createDirectories(outDir);
        List<Row> oneDocument = rows.stream().filter(r -> r.batchSize() == 1).toList();
        List<String> batchedEngines = rows.stream().filter(r -> r.batchSize() > 1).map(Row::oneDocumentEngine)
                .distinct().toList();
        List<Row> batchLines = rows.stream().filter(r -> batchedEngines.contains(r.oneDocumentEngine())).toList();
        List<String> notes = new ArrayList<>();
        // Lambdas, not method references: a reference links BenchChart, and with it the chart library, where it is
        // made, outside the guard in chart() that lets a runtime without the library (the GPU bundle's) skip the chart.
        String chart = chart(CHART, "median ms/step against size, one document a step, log scale",
                (png, r) -> BenchChart.write(png, r), oneDocument, notes);
        String batchChart = batchedEngines.isEmpty() ? null : chart(BATCH_CHART,
                "documents/s against documents a step, log scales", (png, r) -> BenchChart.writeDocumentsPerSecond(png, r),
                batchLines, notes);
        String chartNote = String.join("; ", notes);
        Files.writeString(outDir.resolve(JSON), json(header, datasetNames, chart, batchChart, rows),
                StandardCharsets.UTF_8);
        Files.writeString(outDir.resolve(MARKDOWN), markdown(header, datasetNames, chartNote, rows), StandardCharsets.UTF_8);
        System.err.printf("bench-report: %d rows -> %s, %s%s%s%n", rows.size(), outDir.resolve(MARKDOWN), JSON,
                chart == null ? " (no chart)" : ", " + CHART, batchChart == null ? "" : ", " + BATCH_CHART);
        return 0;
    }

    /**
     * Draws one chart from {@code rows} into {@code file} under the output directory (deleting an earlier report's
     * first, so that none passes for this one's) and returns the file name, or null where it was not drawn; either
     * way adds a note on it to {@code notes}.
     */
    private String chart(String file, String description, ChartWriter writer, List<Row> rows, List<String> notes)
            throws IOException {
        Files.deleteIfExists(outDir.resolve(file));
        String note;
        String drawn = null;
        if (noChart) {
            note = "not rendered (--no-chart)";
        } else if (rows.stream().noneMatch(r -> r.status() == Status.measured)) {
            note = "not rendered: no row was measured";
        } else {
            try {
                writer.write(outDir.resolve(file), rows);
                drawn = file;
                note = "[" + file + "](" + file + ") (" + description + ")";
            } catch (IOException | RuntimeException e) {
                note = "not rendered: " + e;
                System.err.println("bench-report: chart " + note);
            } catch (LinkageError e) {
                // Where the chart library or AWT is missing: the GPU bundle leaves both out (bench/gpu-bundle.sh).
                note = "not rendered: " + e + " (no chart library or AWT here, as in the GPU bundle; BenchReport"
                        + " --rows results.json draws it where they are)";
                System.err.println("bench-report: chart " + note);
            }
        }
        notes.add(drawn == null ? file + " " + note : note);
        return drawn;
    }

    /** The rows' engines, each once, in {@link #ENGINE_ORDER}. */
    static List<String> engines(List<Row> rows) {
        List<String> engines = new ArrayList<>(rows.stream().map(Row::engine).distinct().toList());
        engines.sort(ENGINE_ORDER);
        return engines;
    }

    /** The whole text as a results.json written before (an object with a "rows" array), or null for JSON lines. */
    static JsonObject previousReport(String text) {
        try {
            JsonElement e = JsonParser.parseString(text);
            return e.isJsonObject() && e.getAsJsonObject().get("rows") instanceof JsonArray ? e.getAsJsonObject() : null;
        } catch (JsonParseException e) {
            return null; // several JSON lines, or not JSON at all: read line by line
        }
    }

    private static Map<String, String> strings(JsonElement object) {
        Map<String, String> map = new LinkedHashMap<>();
        if (object != null && object.isJsonObject()) {
            object.getAsJsonObject().entrySet().forEach(e -> map.put(e.getKey(),
                    e.getValue().isJsonPrimitive() ? e.getValue().getAsString() : e.getValue().toString()));
        }
        return map;
    }

    /** The rows of these lines, blank ones skipped; a line that is not a JSON object becomes a failed row. */
    static List<Row> parse(List<String> lines) {
        List<Row> rows = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            JsonObject json;
            try {
                JsonElement e = JsonParser.parseString(line);
                if (e.isJsonObject()) {
                    json = e.getAsJsonObject();
                } else {
                    json = unreadable(line);
                }
            } catch (JsonParseException e) {
                json = unreadable(line);
            }
            rows.add(new Row(json));
        }
        return rows;
    }

    private static JsonObject unreadable(String line) {
        JsonObject json = new JsonObject();
        json.addProperty("engine", "?");
        json.addProperty("error", "not a JSON object: " + (line.length() > 200 ? line.substring(0, 200) + "..." : line));
        return json;
    }

    private static Map<String, String> pairs(List<String> items, String option) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String item : items) {
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new CommandLine.ParameterException(new CommandLine(new BenchReport()),
                        option + " takes KEY=VALUE, got '" + item + "'");
            }
            map.put(item.substring(0, eq).trim(), item.substring(eq + 1).trim());
        }
        return map;
    }

    /**
     * The header with jvm (this JVM, the one that ran the benchmarks: the harness starts both with the same command)
     * after machine and gpu, and date (now, UTC), when not given.
     */
    static Map<String, String> withDefaults(Map<String, String> given) {
        Map<String, String> header = new LinkedHashMap<>();
        String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                + " (" + System.getProperty("java.vm.vendor") + ")";
        if (!given.containsKey("jvm") && !given.containsKey("machine") && !given.containsKey("gpu")) {
            header.put("jvm", jvm);
        }
        for (Map.Entry<String, String> e : given.entrySet()) {
            header.put(e.getKey(), e.getValue());
            boolean lastOfMachineAndGpu = e.getKey().equals("gpu") || e.getKey().equals("machine") && !given.containsKey("gpu");
            if (lastOfMachineAndGpu && !given.containsKey("jvm")) {
                header.put("jvm", jvm);
            }
        }
        header.putIfAbsent("date", ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm'Z'")));
        return header;
    }

    static String json(Map<String, String> header, Map<String, String> datasetNames, String chart, String batchChart,
                       List<Row> rows) {
        JsonObject root = new JsonObject();
        JsonObject metadata = new JsonObject();
        header.forEach(metadata::addProperty);
        root.add("metadata", metadata);
        JsonObject ds = new JsonObject();
        datasetNames.forEach(ds::addProperty);
        root.add("datasets", ds);
        root.addProperty("chart", chart);
        root.addProperty("batch_chart", batchChart);
        JsonArray array = new JsonArray();
        for (Row r : rows) {
            JsonObject o = r.json().deepCopy();
            o.addProperty("status", r.status().name());
            array.add(o);
        }
        root.add("rows", array);
        return new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create().toJson(root) + "\n";
    }

    static String markdown(Map<String, String> header, Map<String, String> datasetNames, String chartNote, List<Row> rows) {
        StringBuilder md = new StringBuilder("# Training step benchmark\n\n");
        header.forEach((k, v) -> md.append("- ").append(k).append(": ").append(v).append('\n'));
        md.append('\n');

        List<String> engines = engines(rows);
        List<String> dsKeys = rows.stream().map(Row::dataset).distinct().toList();
        // By dataset (as they came), size, then engine.
        List<Row> sorted = new ArrayList<>(rows);
        sorted.sort(Comparator.comparingInt((Row r) -> dsKeys.indexOf(r.dataset())).thenComparingInt(Row::nEmbd)
                .thenComparingInt(Row::blockSize).thenComparing(Row::engine, ENGINE_ORDER));

        md.append("## Median ms/step\n");
        for (String ds : dsKeys) {
            List<Row> of = rows.stream().filter(r -> r.dataset().equals(ds)).toList();
            TreeSet<int[]> sizes = new TreeSet<>((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
            of.forEach(r -> sizes.add(new int[] {r.nEmbd(), r.blockSize()}));
            md.append("\n### ").append(ds.isEmpty() ? "(no dataset named)" : ds);
            String description = datasetNames.get(ds);
            if (description != null && !description.isEmpty()) {
                md.append(": ").append(description);
            }
            md.append("\n\n| engine |");
            sizes.forEach(s -> md.append(' ').append(s[0]).append('/').append(s[1]).append(" |"));
            md.append("\n|---|");
            sizes.forEach(s -> md.append("---|"));
            md.append('\n');
            for (String engine : engines) {
                List<Row> ofEngine = of.stream().filter(r -> r.engine().equals(engine)).toList();
                if (ofEngine.isEmpty()) {
                    continue;
                }
                md.append("| ").append(engine).append(" |");
                for (int[] s : sizes) {
                    Row r = ofEngine.stream().filter(x -> x.nEmbd() == s[0] && x.blockSize() == s[1]).findFirst().orElse(null);
                    md.append(' ').append(r == null ? "" : cell(r)).append(" |");
                }
                md.append('\n');
            }
            gridNotes(md, engines, of);
        }

        md.append("\n## All rows\n\n");
        md.append("| engine | dataset | n_embd/block | params | median ms/step | min ms/step | documents/s | launches/step"
                + " | GPU busy ms/step | launch overhead | speed-up over " + BASELINE + " at the same B"
                + " | warm-up + repeats × steps | note |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : sorted) {
            boolean measured = r.status() == Status.measured;
            md.append("| ").append(r.engine())
                    .append(" | ").append(r.dataset())
                    .append(" | ").append(r.size())
                    .append(" | ").append(integer(r.number("params")))
                    .append(" | ").append(number(r.measurement("median_ms_per_step")))
                    .append(" | ").append(number(r.measurement("min_ms_per_step")))
                    .append(" | ").append(integer(r.measurement("docs_per_s")))
                    .append(" | ").append(number(r.measurement("launches_per_step"))) // 2 / K: K fused steps a launch
                    .append(" | ").append(number(r.measurement("gpu_busy_ms_per_step")))
                    .append(" | ").append(percent(r.measurement("launch_overhead_share")))
                    .append(" | ").append(measured ? speedUp(r, rows) : "—")
                    .append(" | ").append(measured ? steps(r) : "—")
                    .append(" | ").append(escape(note(r)))
                    .append(" |\n");
        }

        md.append("\n## Notes\n\n");
        md.append("- chart: ").append(chartNote).append('\n');
        for (Status status : List.of(Status.unavailable, Status.failed)) {
            Map<String, Set<String>> byReason = new LinkedHashMap<>();
            sorted.stream().filter(r -> r.status() == status)
                    .forEach(r -> byReason.computeIfAbsent(r.reason(), k -> new LinkedHashSet<>()).add(r.engine()));
            byReason.forEach((reason, names) -> md.append("- ").append(label(status)).append(": ")
                    .append(String.join(", ", names)).append(": ").append(escape(reason)).append('\n'));
        }
        md.append("- median ms/step: wall time of real training steps (one document each, or B for an engine named -bsB,"
                + " Adam included) after a warm-up, the median of the repeats; documents/s: B per median step;"
                + " launches/step: driver calls the engine issues per step (a"
                + " cuBLAS call counts once; 2/K when the fused step runs K steps a launch); GPU busy: the times of the step's operations from CUDA events; launch"
                + " overhead: (wall - GPU busy) / wall; note: for the fused mode, the grid the step ran on and where"
                + " its activations lived (mode_detail), else why a row has no number.\n");
        return md.toString();
    }

    /** What a row without a number is, in words. */
    static String label(Status status) {
        return switch (status) {
            case measured -> "measured";
            case unavailable -> "unavailable";
            case failed -> "failed";
        };
    }

    /**
     * Under a dataset's table, one line per engine whose rows say how the mode ran (the fused step's grid):
     * "gpu-fused: 16/16 on 1 block, activations in shared memory; 64/64 on 16 blocks (cooperative), ...".
     */
    private static void gridNotes(StringBuilder md, List<String> engines, List<Row> rows) {
        boolean first = true;
        for (String engine : engines) {
            List<String> details = rows.stream().filter(r -> r.engine().equals(engine) && !modeDetail(r).isEmpty())
                    .sorted(Comparator.comparingInt(Row::nEmbd).thenComparingInt(Row::blockSize))
                    .map(r -> r.size() + " on " + modeDetail(r)).toList();
            if (!details.isEmpty()) {
                md.append(first ? "\n" : "").append("- ").append(engine).append(": ")
                        .append(escape(String.join("; ", details))).append('\n');
                first = false;
            }
        }
    }

    /** How the mode ran (the fused step's grid and where its activations lived), or "". */
    static String modeDetail(Row r) {
        return r.text("mode_detail", "").trim();
    }

    /** The all-rows table's note: how the mode ran, and why the row has no number. */
    private static String note(Row r) {
        String why = r.status() == Status.measured ? "" : label(r.status()) + ": " + r.reason();
        String detail = modeDetail(r);
        return detail.isEmpty() ? why : why.isEmpty() ? detail : detail + "; " + why;
    }

    /** A summary-table cell: the median, or what the row is instead. */
    private static String cell(Row r) {
        return switch (r.status()) {
            case measured -> number(r.measurement("median_ms_per_step"));
            default -> label(r.status());
        };
    }

    /** The row's median against the CPU fast engine's at the same size, dataset and batch size, measured alike. */
    private static String speedUp(Row r, List<Row> rows) {
        String baseline = BenchEngine.of(StepBenchmark.Engine.fast, null, r.batchSize()).name();
        if (r.engine().equals(baseline)) {
            return "";
        }
        OptionalDouble mine = r.measurement("median_ms_per_step");
        OptionalDouble base = rows.stream().filter(x -> x.engine().equals(baseline) && x.sameShape(r))
                .map(x -> x.measurement("median_ms_per_step")).filter(OptionalDouble::isPresent).findFirst()
                .orElse(OptionalDouble.empty());
        if (mine.isEmpty() || base.isEmpty() || mine.getAsDouble() <= 0) {
            return "";
        }
        return significant(base.getAsDouble() / mine.getAsDouble(), 3) + "×";
    }

    private static String steps(Row r) {
        OptionalDouble warmup = r.number("warmup_steps");
        OptionalDouble perRepeat = r.number("steps_per_repeat");
        JsonElement repeats = r.json().get("repeats");
        if (warmup.isEmpty() || perRepeat.isEmpty() || repeats == null || !repeats.isJsonArray()) {
            return "";
        }
        return (long) warmup.getAsDouble() + " + " + repeats.getAsJsonArray().size() + " × " + (long) perRepeat.getAsDouble();
    }

    static String number(OptionalDouble v) {
        return v.isPresent() ? significant(v.getAsDouble(), 4) : "—";
    }

    private static String integer(OptionalDouble v) {
        return v.isPresent() ? String.format(Locale.ROOT, "%d", Math.round(v.getAsDouble())) : "—";
    }

    private static String percent(OptionalDouble v) {
        return v.isPresent() ? String.format(Locale.ROOT, "%.1f%%", 100 * v.getAsDouble()) : "—";
    }

    /** v to {@code digits} significant digits, plainly written: 0.03912, 0.35, 12.35, 1235. */
    static String significant(double v, int digits) {
        if (v == 0) {
            return "0";
        }
        return new BigDecimal(v).round(new MathContext(digits)).stripTrailingZeros().toPlainString();
    }

    /** Text for a Markdown table cell: no line breaks, no bare pipes. */
    private static String escape(String s) {
        return s.replaceAll("[\\r\\n]+", " ").replace("|", "\\|");
    }

}
