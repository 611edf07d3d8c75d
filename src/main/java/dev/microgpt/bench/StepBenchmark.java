package dev.microgpt.bench;

import dev.microgpt.cli.GpuFlags;
import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.gpu.CublasSupport;
import dev.microgpt.gpu.GemmBackend;
import dev.microgpt.gpu.GpuEngine;
import dev.microgpt.gpu.GpuOptions;
import dev.microgpt.gpu.GpuSupport;
import dev.microgpt.gpu.StepProfiler;
import dev.microgpt.model.Documents;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.train.EngineChoice;
import dev.microgpt.train.Trainer;
import dev.microgpt.train.TrainingRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * Steady-state training speed of one engine, in process: microgpt's real loop (one document per step, or B with
 * {@code --batch-size}, Adam included) after a warm-up, timed in several repeats. Prints one JSON line: the median and
 * minimum ms/step, the documents per second at the median, and for the GPU the
 * driver calls per step, the GPU busy time per step (the sum of its operations' times from CUDA events) and the
 * launch-overhead share (wall minus busy, over wall). Where no GPU is usable, or cuBLAS is asked for and cannot load,
 * a GPU row says why, as {@code "unavailable"}, and the exit code is still 0, so a harness can record it. A measured
 * row also gives its step counts ({@code warmup_steps}, {@code steps_per_repeat}).
 *
 * <p>For a harness (bench/run.sh): {@code --bench-engine NAME} names the engine and its GPU options in one word
 * ({@link BenchEngine}), {@code --dataset KEY} goes into the row, {@code --row-file FILE} writes the row there and prints
 * on stdout only what the harness needs of it, and {@code --failed REASON} runs nothing but writes the row of a run
 * of these options that ended without one.
 */
@Command(name = "step-benchmark", mixinStandardHelpOptions = true,
        description = "Median ms/step of an engine at steady state, as one JSON line.")
public final class StepBenchmark implements Callable<Integer> {

    enum Engine { fast, tape, gpu }

    private static final com.google.gson.Gson JSON = new com.google.gson.GsonBuilder().disableHtmlEscaping().create();
    /** A failed row's reason, at most this many characters (its first line of stderr can be long). */
    static final int MAX_REASON = 300;
    /** GPU busy time is profiled over this many steps, or over a repeat's steps where those are fewer. */
    private static final int PROFILED_STEPS = 500;

    @Option(names = "--input", required = true, description = "Dataset, one document per line.")
    Path input;

    @Option(names = "--engine", defaultValue = "fast", description = "fast, tape or gpu (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Mixin
    GpuFlags gpuFlags;

    @Option(names = "--bench-engine", paramLabel = "NAME",
            description = "The engine by its benchmark name, instead of --engine and the GPU options: cpu-fast, cpu-tape,"
                    + " gpu-eager, gpu-graph, gpu-fused, gpu-fused-bN, gpu-fused-kK, gpu-fused-bN-kK (N >= 1 blocks, K = 2"
                    + " to " + GpuEngine.LOSS_BATCH + " steps a launch), gpu-eager-cublas, gpu-graph-cublas; any of them"
                    + " -bsB for B documents a step.")
    String benchEngine;

    @Option(names = "--dataset", paramLabel = "KEY", description = "A dataset key the row carries (bench/run.sh: names, long).")
    String dataset;

    @Option(names = "--row-file", paramLabel = "FILE",
            description = "Write the JSON row to FILE instead of stdout, and print on stdout what a harness needs of it:"
                    + " 'measured MEDIAN_MS MIN_MS', 'unavailable' or 'failed'.")
    Path rowFile;

    @Option(names = "--failed", paramLabel = "REASON",
            description = "Run nothing: give the row of a run of these options that failed, saying REASON (a harness's"
                    + " record of a run that ended without a row).")
    String failed;

    @Spec
    CommandSpec spec;

    /** The engine measured, once resolved from the options ({@link #benchEngine()}). */
    private BenchEngine resolved;

    @Option(names = "--batch-size", defaultValue = "1", paramLabel = "B",
            description = "Documents a step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--threads", paramLabel = "N",
            description = "cpu-fast: threads, as the trainer's --threads (default: the machine's cores, at most "
                    + FastEngine.MAX_GROUPS + ").")
    Integer threads;

    @Option(names = "--n-embd", defaultValue = "" + ModelConfig.DEFAULT_N_EMBD)
    int nEmbd;

    @Option(names = "--n-head", defaultValue = "" + ModelConfig.DEFAULT_N_HEAD)
    int nHead;

    @Option(names = "--block-size", defaultValue = "" + ModelConfig.DEFAULT_BLOCK_SIZE)
    int blockSize;

    @Option(names = "--warmup-steps", defaultValue = "20000", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmupSteps;

    @Option(names = "--steps", defaultValue = "5000", description = "Steps per timed repeat (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--repeats", defaultValue = "7", description = "Timed repeats; the median is reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--time-emulated",
            description = "Time the GPU rows on the emulated CUDA device too, whose timings are no GPU's (the row's device"
                    + " names it): a rehearsal of the GPU rows' code (bench/gpu-proof.sh --rehearse).")
    boolean timeEmulated;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /**
     * The command line main runs: options no engine can run (e.g. --gemm cublas with --gpu-mode fused, a bad
     * --bench-engine name) give one line, exit 2; anything else keeps its stack trace for bench/run.sh's log.
     */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new StepBenchmark());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli;
    }

    /**
     * The engine measured: --bench-engine's, or --engine's with the GPU options; IllegalArgumentException, one line, for
     * a bad name, GPU options no mode can run, or --bench-engine given with the options it stands for.
     */
    BenchEngine benchEngine() {
        if (resolved == null) {
            if (benchEngine == null) {
                resolved = BenchEngine.of(engine, engine == Engine.gpu ? gpuFlags.options(batchSize) : null, batchSize);
            } else {
                List<String> alsoGiven = spec == null ? List.of() : spec.commandLine().getParseResult().matchedOptions()
                        .stream().filter(o -> o.longestName().equals("--engine") || o.longestName().equals("--batch-size")
                                || isGpuFlag(o))
                        .map(OptionSpec::longestName).distinct().toList();
                if (!alsoGiven.isEmpty()) {
                    throw new IllegalArgumentException("--bench-engine " + benchEngine + " names the engine and its GPU"
                            + " options; drop " + String.join(", ", alsoGiven));
                }
                resolved = BenchEngine.parse(benchEngine);
            }
        }
        return resolved;
    }

    private boolean isGpuFlag(OptionSpec option) {
        return spec.mixins().values().stream().anyMatch(m -> m.options().contains(option));
    }

    private String label() {
        return benchEngine().name();
    }

    private GpuOptions gpuOptions() {
        return benchEngine().gpu();
    }

    private GemmBackend gemm() {
        return gpuOptions() == null ? GemmBackend.hand : gpuOptions().gemm();
    }

    /**
     * Why the GPU engine with these options cannot be measured here, or null: cuBLAS first, as the trainer asks. The
     * emulated device runs, but what it takes is no GPU's time, so it gives no row unless --time-emulated asks for one.
     */
    private String gpuUnavailable() {
        if (gemm() == GemmBackend.cublas && !CublasSupport.status().usable()) {
            return CublasSupport.status().reason();
        }
        GpuSupport.Status gpu = GpuSupport.status();
        if (gpu.emulated() && !timeEmulated) {
            return "the CUDA device here is " + gpu.device() + ", which runs the kernels on the CPU: its timings are not the"
                    + " timings of a GPU";
        }
        return gpu.usable() ? null : gpu.reason();
    }

    @Override
    public Integer call() throws Exception {
        if (failed != null) {
            return emit(failedRow(label(), dataset, nEmbd, blockSize, failed), "failed");
        }
        String engineName = label();
        TrainingRun run = TrainingRun.prepare(Documents.read(input), new TrainingRun.Shape(nEmbd, nHead, 1, blockSize),
                TrainingRun.DEFAULT_SEED);
        String first = dataset == null ? "{" : "{\"dataset\":" + JSON.toJson(dataset) + ",";
        int documents = benchEngine().batchSize();
        String head = String.format(Locale.ROOT,
                "\"engine\":%s,\"n_embd\":%d,\"block_size\":%d,\"batch_size\":%d,\"params\":%d",
                JSON.toJson(engineName), nEmbd, blockSize, documents, run.layout().size());
        if (benchEngine().engine() == Engine.fast) {
            head += ",\"threads\":" + cpuThreads();
        }
        if (benchEngine().engine() == Engine.gpu) {
            String unavailable = gpuUnavailable();
            if (unavailable != null) {
                return emit(first + head + ",\"unavailable\":" + JSON.toJson(unavailable) + "}", "unavailable");
            }
            head += ",\"device\":" + JSON.toJson(GpuSupport.status().device());
            if (gemm() == GemmBackend.cublas) {
                head += ",\"cublas\":" + JSON.toJson(CublasSupport.status().version());
            }
        }
        // A schedule far longer than the run keeps the learning rate near its start, as in the early steps.
        int schedule = warmupSteps + steps * repeats + 1000;
        double[] msPerStep = new double[repeats];
        String gpuFields = "";
        try (TrainingEngine e = create(run)) {
            Trainer.train(run, e, AdamConfig.MICROGPT, new Trainer.Schedule(0, warmupSteps, schedule, 0, documents),
                    (s, l, lr, t, tokens) -> { });
            int step = warmupSteps;
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                Trainer.train(run, e, AdamConfig.MICROGPT, new Trainer.Schedule(step, step + steps, schedule, 0,
                        documents), (s, l, lr, t, tokens) -> { });
                msPerStep[r] = (System.nanoTime() - start) / 1e6 / steps;
                step += steps;
            }
            if (e instanceof GpuEngine gpu) {
                gpuFields = gpuFields(gpu, run, documents, step, Math.min(PROFILED_STEPS, steps), schedule,
                        median(msPerStep));
            }
        }
        String median = String.format(Locale.ROOT, "%.5f", median(msPerStep));
        String perSecond = String.format(Locale.ROOT, ",\"docs_per_s\":%.1f", documents * 1000 / median(msPerStep));
        String min = String.format(Locale.ROOT, "%.5f", Arrays.stream(msPerStep).min().orElseThrow());
        String stepCounts = String.format(Locale.ROOT, "\"warmup_steps\":%d,\"steps_per_repeat\":%d,", warmupSteps, steps);
        return emit(first + stepCounts + head + ",\"median_ms_per_step\":" + median + ",\"min_ms_per_step\":" + min
                + perSecond + ",\"repeats\":" + Arrays.toString(msPerStep) + gpuFields + "}",
                "measured " + median + " " + min);
    }

    /** The row on stdout; or, with --row-file, written there, and the summary on stdout. */
    private int emit(String row, String summary) throws IOException {
        if (rowFile == null) {
            System.out.println(row);
        } else {
            Files.writeString(rowFile, row + "\n", StandardCharsets.UTF_8);
            System.out.println(summary);
        }
        return 0;
    }

    /**
     * The row of a run that failed: its engine, dataset and size, and why, on one line (control characters dropped) of
     * at most {@link #MAX_REASON} characters.
     */
    static String failedRow(String engine, String dataset, int nEmbd, int blockSize, String reason) {
        com.google.gson.JsonObject row = new com.google.gson.JsonObject();
        row.addProperty("engine", engine);
        if (dataset != null) {
            row.addProperty("dataset", dataset);
        }
        row.addProperty("n_embd", nEmbd);
        row.addProperty("block_size", blockSize);
        String why = reason.replaceAll("[\\x00-\\x1F]", "");
        if (why.codePointCount(0, why.length()) > MAX_REASON) {
            why = why.substring(0, why.offsetByCodePoints(0, MAX_REASON));
        }
        row.addProperty("error", why);
        return JSON.toJson(row);
    }

    private int cpuThreads() {
        return threads == null ? FastEngine.defaultThreads() : threads;
    }

    private TrainingEngine create(TrainingRun run) {
        EngineChoice choice = switch (benchEngine().engine()) {
            case fast -> new EngineChoice.Fast(cpuThreads());
            case tape -> new EngineChoice.Tape();
            case gpu -> new EngineChoice.Gpu(gpuOptions());
        };
        return choice.open(run.layout(), run.initialParams(), benchEngine().batchSize());
    }

    /** Busy time over {@code profiled} steps (each operation between two events), next to the measured wall time. */
    private static String gpuFields(GpuEngine gpu, TrainingRun run, int documents, int firstStep, int profiled,
                                    int schedule, double wallMs) {
        double busy = 0;
        DocumentBatch batch = new DocumentBatch(documents);
        try (StepProfiler profiler = new StepProfiler(gpu)) {
            for (int s = firstStep; s < firstStep + profiled; s++) {
                run.fill(batch, s);
                for (float ms : profiler.profile(batch, AdamConfig.MICROGPT, s, schedule)) {
                    busy += ms;
                }
            }
        }
        busy /= profiled;
        String detail = gpu.modeDetail().isEmpty() ? "" : ",\"mode_detail\":" + JSON.toJson(gpu.modeDetail());
        return String.format(Locale.ROOT, ",\"launches_per_step\":%.4g,\"gpu_busy_ms_per_step\":%.5f,\"launch_overhead_share\":%.3f%s",
                gpu.launchesPerStep(), busy, Math.max(0, (wallMs - busy) / wallMs), detail);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
