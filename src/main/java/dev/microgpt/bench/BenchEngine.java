package dev.microgpt.bench;

import dev.microgpt.bench.StepBenchmark.Engine;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.gpu.GemmBackend;
import dev.microgpt.gpu.GpuEngine;
import dev.microgpt.gpu.GpuMode;
import dev.microgpt.gpu.GpuOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A benchmark engine by its name: the one grammar of the names bench/run.sh takes ({@code --engines}),
 * {@link StepBenchmark} runs ({@code --bench-engine}) and labels its rows with, and {@link BenchReport} orders.
 *
 * <pre>
 * cpu-fast, cpu-tape                     the CPU engines                  --engine fast | tape
 * gpu-eager, gpu-graph, gpu-fused        the GPU engine in that mode      --engine gpu --gpu-mode MODE
 * gpu-eager-cublas, gpu-graph-cublas     eager, graph with cuBLAS         ... --gemm cublas
 * gpu-fused-bN                           the fused step on N blocks       ... --gpu-mode fused --fused-blocks N
 * gpu-fused-kK                           K steps a launch                 ... --gpu-mode fused --steps-per-launch K
 * gpu-fused-bN-kK                        both
 * NAME-bsB                               any but cuBLAS, B documents a step ... --batch-size B
 * </pre>
 *
 * <p>N is 1 or more, K 2 to {@link GpuEngine#LOSS_BATCH} and B 2 to {@link DocumentBatch#MAX_DOCUMENTS}, written
 * without sign or leading zeros (one step a launch is gpu-fused itself, one document a step the name without -bsB),
 * with K x B at most {@link GpuEngine#LOSS_BATCH} ({@link GpuOptions#checkBatchSize}), so every engine has exactly one
 * name: {@code parse(e.name())} is {@code e}, and {@code parse(name).name()} is {@code name}. A name outside the
 * grammar is refused with one line saying why.
 *
 * @param engine    the engine StepBenchmark creates
 * @param gpu       the GPU engine's options, for {@link Engine#gpu} only (else null)
 * @param batchSize the documents of every step
 */
public record BenchEngine(Engine engine, GpuOptions gpu, int batchSize) {

    /** The names without a number, in report order; the fused variants go right after gpu-fused. */
    static final List<String> PLAIN = List.of("cpu-fast", "cpu-tape", "gpu-eager", "gpu-graph", "gpu-fused",
            "gpu-eager-cublas", "gpu-graph-cublas");

    private static final String FUSED = "gpu-fused";
    /** A fused variant's shape, its numbers taken loosely so that a bad one gets its own reason. */
    private static final Pattern FUSED_VARIANT = Pattern.compile("gpu-fused(?:-b([0-9]+))?(?:-k([0-9]+))?");
    private static final Pattern PLAIN_NUMBER = Pattern.compile("[1-9][0-9]{0,9}");
    /** A batch suffix, its number taken loosely so that a bad one gets its own reason. */
    private static final Pattern BATCH = Pattern.compile("(.*)-bs([0-9]+)");

    /**
     * Engines in report order: {@link #PLAIN}, with the fused variants after gpu-fused by blocks (the engine's choice
     * first), then steps a launch; each engine's batch sizes after it, smallest first.
     */
    static final Comparator<BenchEngine> ORDER = Comparator.comparingInt(BenchEngine::rank)
            .thenComparingInt(e -> e.gpu == null ? 0 : e.gpu.fusedBlocks())
            .thenComparingInt(e -> e.gpu == null ? 1 : e.gpu.stepsPerLaunch())
            .thenComparingInt(BenchEngine::batchSize);

    /**
     * Names in report order ({@link #ORDER}); names outside the grammar after all the others, tied (a stable sort keeps
     * them as they came).
     */
    static final Comparator<String> NAME_ORDER = Comparator.comparing(BenchEngine::parseOrNull,
            Comparator.nullsLast(ORDER));

    public BenchEngine {
        Objects.requireNonNull(engine, "engine");
        if ((engine == Engine.gpu) != (gpu != null)) {
            throw new IllegalArgumentException("GPU options go with the gpu engine only, got " + engine + " and " + gpu);
        }
        if (batchSize < 1 || batchSize > DocumentBatch.MAX_DOCUMENTS) {
            throw new IllegalArgumentException("the batch size is 1 to " + DocumentBatch.MAX_DOCUMENTS + ", got "
                    + batchSize);
        }
        if (gpu != null) {
            gpu.checkBatchSize(batchSize);
        }
    }

    /** The engine StepBenchmark's own options give: the GPU options count for the gpu engine only. */
    static BenchEngine of(Engine engine, GpuOptions gpu, int batchSize) {
        return new BenchEngine(engine, engine == Engine.gpu ? gpu : null, batchSize);
    }

    /** This engine at {@code documents} a step. */
    BenchEngine withBatchSize(int documents) {
        return new BenchEngine(engine, gpu, documents);
    }

    /**
     * The engine of a name, or IllegalArgumentException with one line saying what is wrong with it: "unknown engine X
     * (...)" or "X: " and the reason.
     */
    public static BenchEngine parse(String name) {
        Objects.requireNonNull(name, "name");
        Matcher batch = BATCH.matcher(name);
        if (batch.matches()) {
            int documents = number(batch.group(2), DocumentBatch.MAX_DOCUMENTS);
            if (documents < 2) {
                throw new IllegalArgumentException(name + ": B, the documents a step, is 2 to "
                        + DocumentBatch.MAX_DOCUMENTS + ", written without leading zeros, got " + batch.group(2) + " (one document a step is "
                        + batch.group(1) + ")");
            }
            BenchEngine engine = parseOneDocument(batch.group(1));
            try {
                return engine.withBatchSize(documents);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name + ": " + e.getMessage());
            }
        }
        return parseOneDocument(name);
    }

    private static BenchEngine parseOneDocument(String name) {
        switch (name) {
            case "cpu-fast":
                return new BenchEngine(Engine.fast, null, 1);
            case "cpu-tape":
                return new BenchEngine(Engine.tape, null, 1);
            case "gpu-eager-cublas":
                return gpu(GpuMode.eager, GemmBackend.cublas, 0, 1);
            case "gpu-graph-cublas":
                return gpu(GpuMode.graph, GemmBackend.cublas, 0, 1);
            default:
                break;
        }
        for (GpuMode mode : GpuMode.values()) {
            if (name.equals("gpu-" + mode)) {
                return gpu(mode, GemmBackend.hand, 0, 1);
            }
        }
        if (!name.startsWith(FUSED + "-")) {
            throw new IllegalArgumentException("unknown engine " + name + " (" + String.join(", ", PLAIN.subList(0, 5))
                    + ", " + FUSED + "-bN-kK, " + String.join(", ", PLAIN.subList(5, PLAIN.size()))
                    + "; any of them -bsB for B documents a step)");
        }
        Matcher m = FUSED_VARIANT.matcher(name);
        if (!m.matches()) {
            throw new IllegalArgumentException(name + ": the fused variants are gpu-fused-bN, gpu-fused-kK and"
                    + " gpu-fused-bN-kK, N >= 1 blocks, K = 2 to " + GpuEngine.LOSS_BATCH + " steps a launch");
        }
        int blocks = 0;
        if (m.group(1) != null) {
            blocks = number(m.group(1), Integer.MAX_VALUE);
            if (blocks < 1) {
                throw new IllegalArgumentException(name + ": N, the fused step's blocks, is 1 or more, written without"
                        + " leading zeros, got " + m.group(1));
            }
        }
        int stepsPerLaunch = 1;
        if (m.group(2) != null) {
            stepsPerLaunch = number(m.group(2), GpuEngine.LOSS_BATCH);
            if (stepsPerLaunch < 2) {
                throw new IllegalArgumentException(name + ": K, the steps a launch, is 2 to " + GpuEngine.LOSS_BATCH
                        + ", written without leading zeros, got " + m.group(2) + " (one step a launch is " + FUSED + ")");
            }
        }
        return gpu(GpuMode.fused, GemmBackend.hand, blocks, stepsPerLaunch);
    }

    /** The value of digits written plainly and at most max, else -1. */
    private static int number(String digits, int max) {
        if (!PLAIN_NUMBER.matcher(digits).matches()) {
            return -1;
        }
        long value = Long.parseLong(digits);
        return value <= max ? (int) value : -1;
    }

    private static BenchEngine gpu(GpuMode mode, GemmBackend gemm, int blocks, int stepsPerLaunch) {
        return new BenchEngine(Engine.gpu, new GpuOptions(mode, gemm, blocks, stepsPerLaunch), 1);
    }

    /** The engine of a name, or null where the name is outside the grammar. */
    static BenchEngine parseOrNull(String name) {
        try {
            return parse(name);
        } catch (IllegalArgumentException | NullPointerException e) {
            return null;
        }
    }

    /** The engine's one name: cpu-fast, gpu-graph-cublas, gpu-fused-b4-k16, cpu-fast-bs32, ... */
    public String name() {
        return oneDocumentName() + (batchSize > 1 ? "-bs" + batchSize : "");
    }

    /** The name of this engine at one document a step: what its batch rows are compared and charted under. */
    String oneDocumentName() {
        if (engine != Engine.gpu) {
            return "cpu-" + engine;
        }
        return "gpu-" + gpu.label();
    }

    /** StepBenchmark's options for this engine, as bench/run.sh gave them before --bench-engine (only non-defaults). */
    public List<String> stepBenchmarkArgs() {
        List<String> args = new ArrayList<>(List.of("--engine", engine.name()));
        if (gpu != null) {
            args.addAll(List.of("--gpu-mode", gpu.mode().name()));
            if (gpu.gemm() != GemmBackend.hand) {
                args.addAll(List.of("--gemm", gpu.gemm().name()));
            }
            if (gpu.fusedBlocks() > 0) {
                args.addAll(List.of("--fused-blocks", Integer.toString(gpu.fusedBlocks())));
            }
            if (gpu.stepsPerLaunch() > 1) {
                args.addAll(List.of("--steps-per-launch", Integer.toString(gpu.stepsPerLaunch())));
            }
        }
        if (batchSize > 1) {
            args.addAll(List.of("--batch-size", Integer.toString(batchSize)));
        }
        return args;
    }

    /** Where the engine goes in {@link #ORDER} before its fused knobs: its plain name's place. */
    private int rank() {
        if (engine != Engine.gpu) {
            return PLAIN.indexOf(oneDocumentName());
        }
        return PLAIN.indexOf("gpu-" + new GpuOptions(gpu.mode(), gpu.gemm()).label());
    }

    @Override
    public String toString() {
        return name();
    }

    /** A row a harness measures, and the engine asked for that it stands for (the same but where it is lowered). */
    record Row(BenchEngine engine, BenchEngine asked) {
    }

    /**
     * The rows a harness measures for {@code engines} at {@code batchSizes}: each engine at one document a step, and
     * at every B > 1 each but cuBLAS (one document a step) and an engine named with its own B (which stays as it is),
     * a fused variant's steps a launch lowered to what a launch of B documents holds
     * ({@link GpuOptions#maxStepsPerLaunch}). Each row once, in the order asked.
     */
    static List<Row> rows(List<BenchEngine> engines, List<Integer> batchSizes) {
        Map<BenchEngine, Row> rows = new LinkedHashMap<>();
        for (BenchEngine asked : engines) {
            if (asked.batchSize > 1) {
                rows.putIfAbsent(asked, new Row(asked, asked));
                continue;
            }
            for (int documents : batchSizes) {
                BenchEngine row = null;
                if (documents == 1) {
                    row = asked;
                } else if (asked.gpu == null) {
                    row = asked.withBatchSize(documents);
                } else if (asked.gpu.gemm() == GemmBackend.hand) {
                    GpuOptions held = asked.gpu.withStepsPerLaunchAtMost(GpuOptions.maxStepsPerLaunch(documents));
                    row = new BenchEngine(Engine.gpu, held, documents);
                }
                if (row != null) {
                    rows.putIfAbsent(row, new Row(row, asked));
                }
            }
        }
        return List.copyOf(rows.values());
    }

    /**
     * Checks names before a harness runs anything and gives its rows: {@code [--batch-sizes "B ..."] NAME ...} prints
     * each of the {@link #rows} with its StepBenchmark options ({@code ROW: OPTIONS}, one a line, and where a fused
     * variant's steps a launch were lowered, the name asked for) and exits 0; or, where a name or batch size is
     * refused, prints nothing on stdout and the reason as the last line of stderr, and exits 2.
     */
    public static void main(String[] args) {
        try {
            List<Integer> batchSizes = List.of(1);
            int first = 0;
            if (args.length >= 2 && args[0].equals("--batch-sizes")) {
                batchSizes = batchSizes(args[1]);
                first = 2;
            }
            if (args.length == first) {
                throw new IllegalArgumentException("no engine named (" + String.join(", ", PLAIN)
                        + ", or a fused variant)");
            }
            List<BenchEngine> asked = new ArrayList<>();
            for (String name : Arrays.asList(args).subList(first, args.length)) {
                asked.add(parse(name));
            }
            List<String> lines = new ArrayList<>();
            for (Row row : rows(asked, batchSizes)) {
                BenchEngine e = row.engine();
                String lowered = e.gpu == null || e.gpu.stepsPerLaunch() == row.asked().gpu.stepsPerLaunch() ? ""
                        : " (" + row.asked().name() + " at " + e.batchSize + " documents a step: a fused launch runs at"
                        + " most " + GpuEngine.LOSS_BATCH + " documents)";
                lines.add(e.name() + ": " + String.join(" ", e.stepBenchmarkArgs()) + lowered);
            }
            lines.forEach(System.out::println);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        }
    }

    private static List<Integer> batchSizes(String list) {
        List<Integer> sizes = new ArrayList<>();
        for (String word : list.trim().split("[\\s,]+")) {
            int documents = number(word, DocumentBatch.MAX_DOCUMENTS);
            if (documents < 1) {
                throw new IllegalArgumentException("--batch-sizes: " + word + " is not a batch size (1 to "
                        + DocumentBatch.MAX_DOCUMENTS + ", written without leading zeros)");
            }
            sizes.add(documents);
        }
        return sizes;
    }
}
