package dev.microgpt.bench;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TapeEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.model.Documents;
import dev.microgpt.train.Trainer;
import dev.microgpt.train.TrainingRun;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Steady-state training speed of a CPU engine, in process: microgpt's real loop (one document per step, Adam
 * included) after a JIT warm-up, timed in several repeats; prints the median ms/step as one JSON line.
 */
@Command(name = "step-benchmark", mixinStandardHelpOptions = true,
        description = "Median ms/step of a CPU engine at steady state.")
public final class StepBenchmark implements Callable<Integer> {

    @Option(names = "--input", required = true, description = "Dataset, one document per line.")
    Path input;

    @Option(names = "--engine", defaultValue = "fast", description = "fast or tape (default: ${DEFAULT-VALUE}).")
    String engine;

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
        System.exit(new CommandLine(new StepBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        TrainingRun run = TrainingRun.prepare(Documents.read(input), new TrainingRun.Shape(nEmbd, nHead, 1, blockSize), 42);
        // A schedule far longer than the run keeps the learning rate near its start, as in the early steps.
        int schedule = warmupSteps + steps * repeats + 1;
        double[] msPerStep = new double[repeats];
        try (TrainingEngine e = "tape".equals(engine) ? new TapeEngine(run.layout(), run.initialParams())
                : new FastEngine(run.layout(), run.initialParams())) {
            Trainer.train(run, e, AdamConfig.MICROGPT, new Trainer.Schedule(0, warmupSteps, schedule, 0), (s, l, lr, t) -> { });
            int step = warmupSteps;
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                Trainer.train(run, e, AdamConfig.MICROGPT, new Trainer.Schedule(step, step + steps, schedule, 0),
                        (s, l, lr, t) -> { });
                msPerStep[r] = (System.nanoTime() - start) / 1e6 / steps;
                step += steps;
            }
        }
        double[] sorted = msPerStep.clone();
        Arrays.sort(sorted);
        System.out.printf(Locale.ROOT,
                "{\"engine\":\"cpu-%s\",\"n_embd\":%d,\"block_size\":%d,\"params\":%d,\"median_ms_per_step\":%.5f,\"min_ms_per_step\":%.5f,\"repeats\":%s}%n",
                engine, nEmbd, blockSize, run.layout().size(), sorted[repeats / 2], sorted[0], Arrays.toString(msPerStep));
        return 0;
    }
}
