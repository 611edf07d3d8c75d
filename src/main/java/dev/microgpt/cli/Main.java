package dev.microgpt.cli;

import ch.qos.logback.classic.Level;
import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.train.TrainingRun;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The trainer's command line. Defaults reproduce microgpt.py: train 1000 steps on input.txt, print 20 samples.
 * Exit codes: 0 success, 1 runtime error, 2 usage error, 130, 143 and 129 stopped by Ctrl-C, SIGTERM and SIGHUP
 * (after saving a checkpoint).
 */
@Command(name = "microgpt", mixinStandardHelpOptions = true, version = "microgpt-jcuda 0.1.0",
        sortOptions = false, usageHelpAutoWidth = true,
        description = {"Trains Karpathy's microgpt on a file of documents (one per line), then samples from it.",
                "Samples go to stdout, one per line; progress and messages go to stderr."},
        footer = {"", "Exit codes: 0 success, 1 runtime error, 2 usage error, 130 Ctrl-C, 143 SIGTERM and 129 SIGHUP (a checkpoint is saved first)."})
public final class Main implements Callable<Integer> {

    static final Logger LOG = LoggerFactory.getLogger("microgpt");

    enum Device { auto, cpu, gpu }

    enum Engine { fast, tape }

    @Spec
    CommandSpec spec;

    @Option(names = "--input", paramLabel = "FILE", defaultValue = "input.txt",
            description = "Dataset, one document per line; - reads standard input. When the default input.txt is missing, the makemore names are downloaded (SHA-256 checked); without network a built-in list of names is used (default: ${DEFAULT-VALUE}).")
    Path input;

    @Option(names = "--n-embd", paramLabel = "N", defaultValue = "" + ModelConfig.DEFAULT_N_EMBD,
            description = "Embedding width (default: ${DEFAULT-VALUE}).")
    int nEmbd;

    @Option(names = "--n-head", paramLabel = "N", defaultValue = "" + ModelConfig.DEFAULT_N_HEAD,
            description = "Attention heads; must divide --n-embd (default: ${DEFAULT-VALUE}).")
    int nHead;

    @Option(names = "--n-layer", paramLabel = "N", defaultValue = "" + ModelConfig.DEFAULT_N_LAYER,
            description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int nLayer;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "" + ModelConfig.DEFAULT_BLOCK_SIZE,
            description = "Context length in tokens (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "1000",
            description = "Training steps, of --batch-size documents each; the learning rate decays to 0 over them (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch-size", paramLabel = "B", defaultValue = "1",
            description = "Documents a step trains on; its loss is their mean, one Adam update per step (1 to " + DocumentBatch.MAX_DOCUMENTS + "; default: ${DEFAULT-VALUE}, as microgpt.py).")
    int batchSize;

    @Option(names = "--learning-rate", paramLabel = "LR", defaultValue = "" + AdamConfig.DEFAULT_LEARNING_RATE,
            description = "Adam's initial learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--beta1", paramLabel = "B1", defaultValue = "" + AdamConfig.DEFAULT_BETA1, description = "Adam's beta1 (default: ${DEFAULT-VALUE}).")
    double beta1;

    @Option(names = "--beta2", paramLabel = "B2", defaultValue = "" + AdamConfig.DEFAULT_BETA2, description = "Adam's beta2 (default: ${DEFAULT-VALUE}).")
    double beta2;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "" + TrainingRun.DEFAULT_SEED,
            description = "Seed of the CPython-compatible RNG that shuffles, initialises and samples (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0.5",
            description = "Sampling temperature, > 0 (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--num-samples", paramLabel = "N", defaultValue = "20",
            description = "Samples to print (default: ${DEFAULT-VALUE}).")
    int numSamples;

    @Option(names = "--prefix", paramLabel = "TEXT", defaultValue = "",
            description = "Every sample continues this text.")
    String prefix;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto",
            description = "auto (a GPU option asks for the GPU, --engine or --threads for the CPU; without one, the GPU from " + Engines.AUTO_GPU_FROM + " when usable, else the CPU, saying which), cpu or gpu (default: ${DEFAULT-VALUE}).")
    Device device;

    @Mixin
    GpuFlags gpuFlags;

    @Option(names = "--engine", paramLabel = "ENGINE", defaultValue = "fast",
            description = "CPU engine: fast (matrix form, float64) or tape (scalar autograd op by op as microgpt.py; slow, the gradient oracle) (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU engine fast: the threads a step's documents are spread over, 1 to " + FastEngine.MAX_GROUPS + "; the losses and weights are the same for any N (default: the machine's cores, at most " + FastEngine.MAX_GROUPS + "). One document a step trains on one thread, and from " + FastEngine.MIN_OVERLAP_PARAMETERS + " parameters on (64/64 and up) with Adam overlapped on a second when N is 2 or more.")
    Integer threads;

    @Option(names = "--checkpoint", paramLabel = "FILE", defaultValue = "checkpoint.safetensors",
            description = "Checkpoint file (safetensors). Written at the end of training when given or resumed, by --checkpoint-every, --stop-after, Ctrl-C, SIGTERM and SIGHUP; read by --resume and --predict; a new run refuses one that exists (default: ${DEFAULT-VALUE}).")
    Path checkpoint;

    @Option(names = "--checkpoint-every", paramLabel = "N",
            description = "Also save the checkpoint every N steps (the newest replaces the previous one).")
    Integer checkpointEvery;

    @Option(names = "--resume", description = "Continue the run saved in --checkpoint, exactly where it stopped.")
    boolean resume;

    @Option(names = "--stop-after", paramLabel = "N",
            description = "Stop after step N of the --steps schedule and save a checkpoint, so long runs go in chunks.")
    Integer stopAfter;

    @Option(names = "--predict", description = "Only sample, from --checkpoint (no training, no dataset needed).")
    boolean predict;

    @Option(names = "--metrics", paramLabel = "FILE",
            description = "Write every step's " + MetricsWriter.HEADER + " as CSV (appended to when resuming; a new"
                    + " run refuses a file that holds another run's rows).")
    Path metrics;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Render the loss curve and its moving average to"
            + " PNG: of the whole run when a resume's --metrics holds the earlier steps (a finished run resumed with"
            + " them is drawn again), else of this session's.")
    Path plot;

    @Option(names = "--log-every", paramLabel = "N", defaultValue = "0",
            description = "Off a terminal, log a progress line every N steps (default: a tenth of the run).")
    int logEvery;

    @Option(names = "--quiet", description = "No progress or messages, only the samples (and warnings and errors).")
    boolean quiet;

    @Option(names = "--verbose", description = "Debug messages, and stack traces with errors.")
    boolean verbose;

    public static void main(String[] args) {
        try {
            System.exit(run(args));
        } catch (OutOfMemoryError e) {
            System.err.println("error: the JVM ran out of memory (" + e.getMessage() + "); give it more, e.g."
                    + " MICROGPT_JAVA_OPTS=-Xmx8g, or train a smaller model");
            System.exit(1);
        }
    }

    /** Runs the command line and returns its exit code. */
    public static int run(String... args) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main);
        // The launchers pass --device first; a --device the user gives as well, later, wins.
        cli.setOverwrittenOptionsAllowed(true);
        cli.setParameterExceptionHandler((e, a) -> {
            List<String> suggestions = e instanceof UnmatchedArgumentException u ? u.getSuggestions() : List.of();
            e.getCommandLine().getErr().println("error: " + e.getMessage()
                    + (suggestions.isEmpty() ? "" : "; did you mean " + String.join(" or ", suggestions) + "?")
                    + "; see --help");
            return 2;
        });
        cli.setExecutionExceptionHandler((thrown, cmd, parsed) -> {
            Exception e = thrown instanceof java.io.UncheckedIOException u && u.getCause() != null ? u.getCause() : thrown;
            boolean usage = e instanceof UsageException;
            boolean known = usage || e instanceof java.io.IOException || e instanceof RunFailure
                    || e instanceof dev.microgpt.gpu.CudaException;
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            cmd.getErr().println(known ? "error: " + message
                    : "internal error: " + e + " (run with --verbose for the stack trace)");
            if (main.verbose) {
                thrown.printStackTrace(cmd.getErr());
            }
            return usage ? 2 : 1;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        configureLogging();
        RunOptions options = checked();
        return options.saving().predict() ? Prediction.run(options) : new TrainingSession(options).run();
    }

    /** The options, checked ({@link #validate}), with what was given explicitly made explicit. */
    private RunOptions checked() {
        validate();
        AdamConfig adam = adam();
        var explicit = new RunOptions.Explicit(given("--n-embd") ? nEmbd : null, given("--n-head") ? nHead : null,
                given("--n-layer") ? nLayer : null, given("--block-size") ? blockSize : null,
                given("--seed") ? seed : null, given("--steps") ? steps : null,
                given("--batch-size") ? batchSize : null,
                given("--learning-rate") ? learningRate : null, given("--beta1") ? beta1 : null,
                given("--beta2") ? beta2 : null);
        var deviceRequest = new RunOptions.DeviceRequest(device, given("--engine") ? engine : null, threads,
                gpuFlags, GpuFlags.NAMES.stream().filter(this::given).toList());
        var saving = new RunOptions.Saving(checkpoint, given("--checkpoint"), checkpointEvery, stopAfter, resume,
                predict);
        return new RunOptions(given("--input") ? input : null, new TrainingRun.Shape(nEmbd, nHead, nLayer, blockSize),
                steps, batchSize, adam, seed, explicit, deviceRequest, saving,
                new RunOptions.Sampling(numSamples, temperature, prefix),
                new RunOptions.Report(metrics, plot, logEvery, quiet));
    }

    private AdamConfig adam() {
        return new AdamConfig(learningRate, beta1, beta2, AdamConfig.DEFAULT_EPS);
    }

    /**
     * What --predict refuses: it trains nothing, so these would do nothing or write nothing (--device passes, since the
     * launchers give it; sampling runs on the CPU).
     */
    private static final List<String> TRAINING_ONLY = Stream.concat(Stream.of(
            "--resume", "--stop-after", "--checkpoint-every", "--metrics", "--plot", "--input", "--steps", "--batch-size",
            "--learning-rate", "--beta1", "--beta2", "--engine", "--threads", "--log-every"), GpuFlags.NAMES.stream())
            .toList();

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    private void configureLogging() {
        var root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(verbose ? Level.DEBUG : quiet ? Level.WARN : Level.INFO);
    }

    /** Checks of the arguments alone; anything about files or data is checked where they are read. */
    private void validate() {
        refuseConflictingRepeats();
        requireNamed("--input", input);
        requireNamed("--checkpoint", checkpoint);
        requireNamed("--metrics", metrics);
        requireNamed("--plot", plot);
        requirePositive("--steps", steps);
        if (batchSize < 1 || batchSize > DocumentBatch.MAX_DOCUMENTS) {
            throw new UsageException("--batch-size must be in 1.." + DocumentBatch.MAX_DOCUMENTS + ", got " + batchSize);
        }
        if (threads != null) {
            try {
                FastEngine.checkThreads(threads);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            if (given("--engine") && engine == Engine.tape) {
                throw new UsageException("--threads applies to the fast engine; drop it with --engine tape");
            }
        }
        if (checkpointEvery != null) {
            requirePositive("--checkpoint-every", checkpointEvery);
        }
        if (stopAfter != null) {
            requirePositive("--stop-after", stopAfter);
        }
        if (!(temperature > 0) || !Double.isFinite(temperature)) {
            throw new UsageException("--temperature must be a number > 0, got " + temperature + "; 0.5 is microgpt's");
        }
        if (numSamples < 0) {
            throw new UsageException("--num-samples must be 0 or more, got " + numSamples);
        }
        if (quiet && verbose) {
            throw new UsageException("--quiet and --verbose ask for opposite things; give one of them");
        }
        if (logEvery < 0) {
            throw new UsageException("--log-every must be 0 (a tenth of the run) or more, got " + logEvery);
        }
        if (plot != null && !plot.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
            throw new UsageException("--plot writes PNG; give a file name ending in .png, got " + plot);
        }
        if (predict) {
            for (String trainingOnly : TRAINING_ONLY) {
                if (given(trainingOnly)) {
                    throw new UsageException("--predict only samples, and " + trainingOnly + " is for training; drop it");
                }
            }
        }
        if (device == Device.cpu) { // before the GPU options are checked together, whose advice would not apply
            GpuFlags.NAMES.stream().filter(this::given).findFirst().ifPresent(flag -> {
                throw new UsageException(flag + " applies to the GPU engine; drop it with --device cpu");
            });
        }
        try {
            ModelConfig.checkShape(nEmbd, nHead, nLayer, blockSize);
            adam(); // validates the Adam settings
            gpuFlags.options(batchSize).checkBatchSize(batchSize); // validates the GPU options together, and with the batch
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        // wte, wpe, lm_head and 12 n_embd^2 per block (vocabulary at most 2^16 characters here), in one Java array
        long largest = 2L * 65_536 * nEmbd + (long) blockSize * nEmbd + 12L * nLayer * nEmbd * nEmbd;
        if (largest > Integer.MAX_VALUE - 8) {
            throw new UsageException("a model of n_embd " + nEmbd + ", n_layer " + nLayer + " and block_size " + blockSize
                    + " has over 2^31 parameters, more than one array holds; choose smaller sizes");
        }
    }

    /**
     * An option given twice with different values is refused: which one was meant is a guess (picocli would take the
     * last). Given twice alike it is harmless; and --device, which the launchers pass first, a user may give again.
     */
    private void refuseConflictingRepeats() {
        for (OptionSpec option : spec.commandLine().getParseResult().matchedOptions()) {
            List<String> given = option.originalStringValues(); // every value it was given, in order
            if (!option.longestName().equals("--device") && given.stream().distinct().count() > 1) {
                throw new UsageException(option.longestName() + " is given "
                        + (given.size() == 2 ? "twice" : given.size() + " times") + ", as "
                        + given.stream().map(Main::quotedIfBlank).collect(Collectors.joining(" and ")) + "; give it once");
            }
        }
    }

    private static String quotedIfBlank(String value) {
        return value.isBlank() || !value.strip().equals(value) ? "'" + value + "'" : value;
    }

    private static void requireNamed(String option, Path file) {
        if (file != null && file.toString().isEmpty()) {
            throw new UsageException(option + " is empty; give it a file name");
        }
    }

    private static void requirePositive(String option, int value) {
        if (value <= 0) {
            throw new UsageException(option + " must be a positive integer, got " + value);
        }
    }
}
