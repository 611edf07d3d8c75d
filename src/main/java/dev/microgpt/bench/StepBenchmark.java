package dev.microgpt.bench;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TapeEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.cli.GpuFlags;
import dev.microgpt.gpu.CublasSupport;
import dev.microgpt.gpu.GemmBackend;
import dev.microgpt.gpu.GpuEngine;
import dev.microgpt.gpu.GpuOptions;
import dev.microgpt.gpu.GpuSupport;
import dev.microgpt.model.Documents;
import dev.microgpt.train.Trainer;
import dev.microgpt.train.TrainingRun;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Steady-state training speed of one engine, in process: microgpt's real loop (one document per step, Adam included)
 * after a warm-up, timed in several repeats. Prints one JSON line: the median and minimum ms/step, and for the GPU the
 * driver calls per step, the GPU busy time per step (the sum of its operations' times from CUDA events) and the
 * launch-overhead share (wall minus busy, over wall). Where no GPU is usable, or cuBLAS is asked for and cannot load,
 * a GPU row says why, as {@code "unavailable"}, and the exit code is still 0, so a harness can record it.
 */
@Command(name = "step-benchmark", mixinStandardHelpOptions = true,
        description = "Median ms/step of an engine at steady state, as one JSON line.")
public final class StepBenchmark implements Callable<Integer> {

    enum Engine { fast, tape, gpu }

    private static final com.google.gson.Gson JSON = new com.google.gson.Gson();

    @Option(names = "--input", required = true, description = "Dataset, one document per line.")
    Path input;

    @Option(names = "--engine", defaultValue = "fast", description = "fast, tape or gpu (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Mixin
    GpuFlags gpuFlags;

    @Option(names = "--n-embd", defaultValue = "16")
    int nEmbd;

    @Option(names = "--n-head", defaultValue = "4")
    int nHead;

    @Option(names = "--block-size", defaultValue = "16")
    int blockSize;

    @Option(names = "--warmup-steps", defaultValue = "20000", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmupSteps;

    @Option(names = "--steps", defaultValue = "5000", description = "Steps per timed repeat (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--repeats", defaultValue = "7", description = "Timed repeats; the median is reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new StepBenchmark());
        // Options no engine can run (e.g. --gemm cublas with --gpu-mode fused): one line, exit 2; anything else keeps
        // its stack trace for bench/run.sh's log.
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        System.exit(cli.execute(args));
    }

    private String label() {
        return engine == Engine.gpu ? "gpu-" + gpuOptions().label() : "cpu-" + engine;
    }

    private GpuOptions gpuOptions() {
        return gpuFlags.options();
    }

    /**
     * Why the GPU engine with these options cannot be measured here, or null: cuBLAS first, as the trainer asks. The
     * emulated device runs, but what it takes is no GPU's time, so it gives no row.
     */
    private String gpuUnavailable() {
        if (gpuFlags.gemm() == GemmBackend.cublas && !CublasSupport.status().usable()) {
            return CublasSupport.status().reason();
        }
        GpuSupport.Status gpu = GpuSupport.status();
        if (gpu.emulated()) {
            return "the CUDA device here is " + gpu.device() + ", which runs the kernels on the CPU: its timings are not the"
                    + " timings of a GPU";
        }
        return gpu.usable() ? null : gpu.reason();
    }

    @Override
    public Integer call() throws Exception {
        TrainingRun run = TrainingRun.prepare(Documents.read(input), new TrainingRun.Shape(nEmbd, nHead, 1, blockSize), 42);
        String head = String.format(Locale.ROOT, "{\"engine\":\"%s\",\"n_embd\":%d,\"block_size\":%d,\"params\":%d",
                label(), nEmbd, blockSize, run.layout().size());
        if (engine == Engine.gpu) {
            String unavailable = gpuUnavailable();
            if (unavailable != null) {
                System.out.println(head + ",\"unavailable\":" + JSON.toJson(unavailable) + "}");
                return 0;
            }
            head += ",\"device\":" + JSON.toJson(GpuSupport.status().device());
            if (gpuFlags.gemm() == GemmBackend.cublas) {
                head += ",\"cublas\":" + JSON.toJson(CublasSupport.status().version());
            }
        }
        // A schedule far longer than the run keeps the learning rate near its start, as in the early steps.
        int schedule = warmupSteps + steps * repeats + 1000;
        double[] msPerStep = new double[repeats];
        String gpuFields = "";
        try (TrainingEngine e = create(run)) {
            Trainer.train(run, e, AdamConfig.MICROGPT, new Trainer.Schedule(0, warmupSteps, schedule, 0), (s, l, lr, t) -> { });
            int step = warmupSteps;
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                Trainer.train(run, e, AdamConfig.MICROGPT, new Trainer.Schedule(step, step + steps, schedule, 0),
                        (s, l, lr, t) -> { });
                msPerStep[r] = (System.nanoTime() - start) / 1e6 / steps;
                step += steps;
            }
            if (e instanceof GpuEngine gpu) {
                gpuFields = gpuFields(gpu, run, step, schedule, median(msPerStep));
            }
        }
        System.out.printf(Locale.ROOT, "%s,\"median_ms_per_step\":%.5f,\"min_ms_per_step\":%.5f,\"repeats\":%s%s}%n",
                head, median(msPerStep), Arrays.stream(msPerStep).min().orElseThrow(), Arrays.toString(msPerStep), gpuFields);
        return 0;
    }

    private TrainingEngine create(TrainingRun run) {
        return switch (engine) {
            case fast -> new FastEngine(run.layout(), run.initialParams());
            case tape -> new TapeEngine(run.layout(), run.initialParams());
            case gpu -> new GpuEngine(run.layout(), run.initialParams(), gpuOptions());
        };
    }

    /** Busy time over 500 profiled steps (each operation between two events), next to the measured wall time. */
    private static String gpuFields(GpuEngine gpu, TrainingRun run, int firstStep, int schedule, double wallMs) {
        int profiled = 500;
        double busy = 0;
        for (int s = firstStep; s < firstStep + profiled; s++) {
            int[] doc = run.documentAt(s);
            for (float ms : gpu.profileStep(doc, run.positionsOf(doc), AdamConfig.MICROGPT, s, schedule)) {
                busy += ms;
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
