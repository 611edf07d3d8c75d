package dev.microgpt.cli;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TapeEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.model.Documents;
import dev.microgpt.train.Sampler;
import dev.microgpt.train.Trainer;
import dev.microgpt.train.TrainingRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The trainer's command line: defaults reproduce microgpt.py (train 1000 steps, print 20 samples). */
@Command(name = "microgpt", mixinStandardHelpOptions = true, version = "microgpt-jcuda 0.1.0",
        sortOptions = false, usageHelpAutoWidth = true,
        description = "Trains Karpathy's microgpt on a file of documents (one per line), then samples from it.")
public final class Main implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger("microgpt");

    /** The CPU engines. */
    enum Engine { fast, tape }

    @Option(names = "--input", paramLabel = "FILE", defaultValue = "input.txt",
            description = "Dataset, one document per line (default: ${DEFAULT-VALUE}).")
    Path input;

    @Option(names = "--n-embd", defaultValue = "16", description = "Embedding width (default: ${DEFAULT-VALUE}).")
    int nEmbd;

    @Option(names = "--n-head", defaultValue = "4", description = "Attention heads; must divide --n-embd (default: ${DEFAULT-VALUE}).")
    int nHead;

    @Option(names = "--n-layer", defaultValue = "1", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int nLayer;

    @Option(names = "--block-size", defaultValue = "16", description = "Context length in tokens (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--steps", defaultValue = "1000", description = "Training steps, one document each (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the Python-compatible RNG (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--temperature", defaultValue = "0.5", description = "Sampling temperature, > 0 (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--num-samples", defaultValue = "20", description = "Samples to print after training (default: ${DEFAULT-VALUE}).")
    int numSamples;

    @Option(names = "--engine", defaultValue = "fast",
            description = "CPU engine: fast (matrix-form float64) or tape (scalar autograd, slow; the gradient oracle) (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Option(names = "--metrics", paramLabel = "FILE", description = "Write step,loss,lr,elapsed_ms of every step as CSV.")
    Path metrics;

    @Option(names = "--quiet", description = "No progress output; only the samples.")
    boolean quiet;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code: 0 success, 1 runtime error, 2 usage error. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            boolean usage = e instanceof IllegalArgumentException;
            cmd.getErr().println("error: " + e.getMessage());
            return usage ? 2 : 1;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() throws IOException {
        validate();
        TrainingRun run = TrainingRun.prepare(Documents.read(input),
                new TrainingRun.Shape(nEmbd, nHead, nLayer, blockSize), seed);
        log.info("num docs: {}", run.documents().size());
        log.info("vocab size: {}", run.tokenizer().vocabSize());
        log.info("num params: {}", run.layout().size());

        double[] params = new double[run.layout().size()];
        try (TrainingEngine trainer = engine == Engine.fast
                ? new FastEngine(run.layout(), run.initialParams())
                : new TapeEngine(run.layout(), run.initialParams());
             MetricsWriter metricsWriter = metrics == null ? null : MetricsWriter.open(metrics)) {
            Progress progress = new Progress(steps, quiet);
            Trainer.train(run, trainer, AdamConfig.MICROGPT, 0, steps, steps, (step, loss, lr, nanos) -> {
                if (metricsWriter != null) {
                    metricsWriter.record(step, loss, lr, nanos);
                }
                progress.onStep(step, loss, lr, nanos);
            });
            progress.finish();
            trainer.readParameters(params);
        }

        if (!quiet) {
            log.info("--- inference (new, hallucinated names) ---");
        }
        Sampler sampler = new Sampler(run.layout(), params, run.tokenizer());
        PrintWriter out = new PrintWriter(System.out, false, java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 1; i <= numSamples; i++) {
            out.printf("sample %2d: %s%n", i, sampler.sample(run.rng(), temperature, ""));
        }
        out.flush();
        return 0;
    }

    private void validate() {
        if (steps <= 0) {
            throw new IllegalArgumentException("--steps must be a positive integer, got " + steps);
        }
        if (!(temperature > 0) || !Double.isFinite(temperature)) {
            throw new IllegalArgumentException("--temperature must be a number > 0, got " + temperature);
        }
        if (numSamples < 0) {
            throw new IllegalArgumentException("--num-samples must be 0 or more, got " + numSamples);
        }
    }
}
