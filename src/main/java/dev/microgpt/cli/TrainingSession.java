package dev.microgpt.cli;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.checkpoint.CheckpointFile;
import dev.microgpt.checkpoint.DType;
import dev.microgpt.data.Dataset;
import dev.microgpt.data.DatasetSource;
import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.gpu.CudaException;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.train.Sampler;
import dev.microgpt.train.Trainer;
import dev.microgpt.train.TrainingRun;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * One invocation that trains: fresh or resumed from a checkpoint, run to the end of the schedule or to
 * --stop-after, saving checkpoints as asked and on Ctrl-C, then sampling.
 */
final class TrainingSession {

    private final RunOptions options;
    private final RunOptions.Saving saving;
    private final Path checkpointFile;
    private Checkpoint resumed;      // null for a fresh run
    private TrainingRun.Shape shape;
    private long seed;
    private AdamConfig adam;
    private int totalSteps;
    private int batchSize;
    private Dataset dataset;
    private TrainingRun run;
    private MetricsWriter metrics;   // null without --metrics; flushed before every checkpoint
    private Path lastSaved;          // the newest checkpoint this session wrote
    private int lastLossStep;        // the newest step whose loss is known (this session's, or the resumed one)
    private double lastLoss = Double.NaN;
    private int lastSavedStep;

    TrainingSession(RunOptions options) {
        this.options = options;
        this.saving = options.saving();
        this.checkpointFile = saving.checkpoint();
    }

    /** Trains as the options say, this run's outputs locked against another's ({@link RunLocks}); the exit code. */
    int run() throws IOException {
        List<RunLocks.Output> outputs = new ArrayList<>();
        if (saving.checkpointsAsked()) { // else a checkpoint is written only on Ctrl-C, under a new name
            outputs.add(new RunLocks.Output(checkpointFile, "--checkpoint"));
        }
        if (options.report().metrics() != null) {
            outputs.add(new RunLocks.Output(options.report().metrics(), "--metrics"));
        }
        try (RunLocks locks = RunLocks.acquire(outputs)) {
            return train();
        }
    }

    private int train() throws IOException {
        decideSettings();
        Main.Device device = Engines.resolve(options.device(), shape, batchSize);
        if (device == Main.Device.gpu && resumed != null) { // the command line's batch size was checked, not this
            try {
                options.device().gpu().options(batchSize).checkBatchSize(batchSize);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage() + " (--batch-size " + batchSize + " is the checkpoint's)");
            }
        }
        dataset = new DatasetSource().resolve(options.input());
        if (dataset.origin() == Dataset.Origin.BUILT_IN) {
            Main.LOG.warn("dataset: {}", dataset.description());
        } else {
            Main.LOG.info("dataset: {}", dataset.description());
        }
        run = TrainingRun.prepare(dataset.documents(), shape, seed);
        checkAgainstData();
        Main.LOG.info("num docs: {}", run.documents().size());
        int cut = run.documentsCutByTheContext();
        if (cut > 0) {
            Main.LOG.info("{} of them have {} characters or more and train on their first {} positions only (block_size),"
                    + " as in microgpt.py", cut, shape.blockSize(), shape.blockSize());
        }
        Main.LOG.info("vocab size: {}", run.tokenizer().vocabSize());
        Main.LOG.info("num params: {}", run.layout().size());

        int firstStep = resumed == null ? 0 : resumed.step();
        if (resumed != null) { // a resumed run stopped again before its first step saves the loss it resumed with
            lastLossStep = resumed.step();
            lastLoss = resumed.loss();
        }
        int endStep = saving.stopAfter() == null ? totalSteps : saving.stopAfter();
        if (saving.stopAfter() != null && (endStep <= firstStep || endStep > totalSteps)) {
            throw new UsageException("--stop-after " + endStep + " must be after step " + firstStep + " and at most --steps "
                    + totalSteps + "; choose a step in between");
        }
        RunOptions.Report report = options.report();
        OutputFile.requireSafe(options, resumed != null);

        double[] params = new double[run.layout().size()];
        double[] losses = report.plot() == null ? null : new double[endStep - firstStep];
        Throughput throughput = new Throughput(batchSize);
        Trainer.Outcome outcome;
        try (TrainingEngine engine = Engines.create(device, options.device(), run.layout(), run.initialParams(),
                batchSize);
             MetricsWriter metrics = report.metrics() == null ? null
                     : MetricsWriter.open(report.metrics(), resumed == null ? -1 : resumed.step(),
                     resumed == null ? Double.NaN : resumed.loss());
             Progress progress = new Progress(firstStep, endStep, totalSteps, report.quiet(), report.logEvery(),
                     throughput)) {
            if (batchSize > 1) {
                int threads = engine instanceof FastEngine fast ? fast.threadsAt(batchSize) : 0;
                Main.LOG.info("batch size: {} documents a step{}", batchSize, threads == 0 ? ""
                        : threads == 1 ? ", on one CPU thread" : ", on " + threads + " CPU threads");
            }
            if (resumed != null) {
                engine.writeParameters(resumed.params());
                engine.writeMoments(resumed.adamM(), resumed.adamV());
                run.rng().restore(resumed.rng());
                Main.LOG.info("resuming {} at step {} of {}", checkpointFile, firstStep, totalSteps);
                if (resumed.dtype() != Engines.dtypeOf(engine)) {
                    Main.LOG.warn("{} was trained in {} and goes on in {} on this engine: the rest of the run is not"
                            + " the one it would have been", checkpointFile, precision(resumed.dtype()),
                            precision(Engines.dtypeOf(engine)));
                }
                if (firstStep == totalSteps) {
                    Main.LOG.warn("{} holds a finished run: nothing is left to train, so this only samples (as --predict"
                            + " does); training longer is a new run with a larger --steps and a --checkpoint of its own",
                            checkpointFile);
                }
            }
            this.metrics = metrics;
            Trainer.Schedule schedule = new Trainer.Schedule(firstStep, endStep, totalSteps,
                    saving.every() == null ? 0 : saving.every(), batchSize);
            try (Interrupts interrupts = Interrupts.duringTraining()) {
                outcome = Trainer.train(run, engine, adam, schedule, (step, loss, lr, nanos, tokens) -> {
                    lastLossStep = step;
                    lastLoss = loss;
                    throughput.add(tokens, nanos);
                    if (metrics != null) {
                        metrics.record(step, loss, lr, throughput);
                    }
                    if (losses != null) {
                        losses[step - firstStep - 1] = loss;
                    }
                    progress.onStep(step, loss, lr);
                    if (saving.every() != null && step % saving.every() == 0 && step < endStep) {
                        save(engine, step, checkpointFile);
                    }
                }, Interrupts::requested);
                progress.summary();
                switch (outcome.stop()) {
                    case DIVERGED -> throw new RunFailure("training diverged at step " + (outcome.stepsDone() + 1)
                            + ": the loss is " + outcome.lastLoss() + "; start again with a lower --learning-rate (it was "
                            + adam.learningRate() + ")" + another(lastSaved != null || resumed != null, report)
                            + (lastSaved == null ? ""
                            : "; the last good checkpoint is " + lastSaved + " (step " + lastSavedStep + ")"));
                    case INTERRUPTED -> { } // saved below
                    case COMPLETED -> {
                        if (outcome.stepsDone() > firstStep && (endStep < totalSteps || saving.savesAtEnd())) {
                            save(engine, endStep, checkpointFile);
                        }
                    }
                }
                // Still under the handlers: a signal during training, or during the save above, stops the run here.
                if (Interrupts.requested()) {
                    return stopOnRequest(engine, report.plot(), firstStep, losses, outcome.stepsDone());
                }
            } catch (CudaException e) { // training, or saving what it trained
                throw gpuFailed(e);
            }
            engine.readParameters(params);
        }
        String samplesLost = null;
        if (endStep < totalSteps) {
            Main.LOG.info("stopped after step {} of {}; checkpoint saved to {} (continue with {})", endStep,
                    totalSteps, lastSaved, continueWith(lastSaved));
        } else {
            if (!report.quiet() && options.sampling().count() > 0) {
                Main.LOG.info("--- inference (new, hallucinated names) ---");
            }
            try (Sampler sampler = new Sampler(run.layout(), params, run.tokenizer())) {
                samplesLost = Samples.print(sampler, run.rng(), options.sampling());
            }
        }
        String failed = finishOutputs(report.plot(), firstStep, losses, outcome.stepsDone());
        String problems = Stream.of(samplesLost, failed).filter(Objects::nonNull).collect(Collectors.joining("; "));
        if (!problems.isEmpty()) {
            throw new RunFailure(problems);
        }
        return 0;
    }

    /**
     * A run asked to stop (Ctrl-C, SIGTERM) after {@code stepsDone}: saves it unless that step is saved already, says
     * where, draws its plot so far, and returns the exit code; a plot that fails is said after, without hiding the rest.
     */
    private int stopOnRequest(TrainingEngine engine, Path png, int firstStep, double[] losses, int stepsDone) {
        if (lastSaved == null || lastSavedStep != stepsDone) {
            save(engine, stepsDone, interruptCheckpoint(stepsDone));
        }
        System.err.println("interrupted (" + Interrupts.requestName() + ") after step " + stepsDone + " of " + totalSteps
                + "; checkpoint saved to " + lastSaved + " (continue with " + continueWith(lastSaved) + ")");
        String failed = finishOutputs(png, firstStep, losses, stepsDone);
        if (failed != null) {
            System.err.println("error: " + failed);
        }
        return Interrupts.exitCode();
    }

    /**
     * The GPU failed while training (a kernel's fault, a lost device): the weights and moments on it are gone, so the
     * run goes on only from its last checkpoint, which the line names, with how to continue from it.
     */
    private RunFailure gpuFailed(CudaException e) {
        Path last = lastSaved != null ? lastSaved : resumed != null ? checkpointFile : null;
        int lastStep = lastSaved != null ? lastSavedStep : resumed != null ? resumed.step() : 0;
        return new RunFailure(e.getMessage() + "; the run's state on the GPU is lost, "
                + (last == null ? "and no checkpoint was saved (--checkpoint-every N saves one as a run goes)"
                : "its last checkpoint is " + last + " (step " + lastStep + "): continue with " + continueWith(last)));
    }

    /**
     * " and another --checkpoint and --metrics": the files a run started again must not share with this one, which a
     * new run would refuse to replace (a checkpoint there is, metrics given); empty when there are none.
     */
    private static String another(boolean checkpointThere, RunOptions.Report report) {
        List<String> options = new ArrayList<>();
        if (checkpointThere) {
            options.add("--checkpoint");
        }
        if (report.metrics() != null) {
            options.add("--metrics");
        }
        return options.isEmpty() ? "" : " and another " + String.join(" and ", options);
    }

    private static String precision(DType dtype) {
        return dtype == DType.F32 ? "float32 (the GPU)" : "float64 (the CPU)";
    }

    /** The options that continue this run from {@code checkpoint}: its file, and the dataset when one was named. */
    private String continueWith(Path checkpoint) {
        return "--resume --checkpoint " + checkpoint + (options.input() == null ? "" : " --input " + options.input());
    }

    /**
     * The loss curve, drawn last, after the checkpoint and the samples, so that a plot that cannot be written loses
     * neither: of this session's steps, after those of the earlier sessions that the metrics kept. Returns what went
     * wrong with it or with the metrics, as an error line's text; null when nothing did.
     */
    private String finishOutputs(Path png, int firstStep, double[] losses, int stepsDone) {
        List<String> failures = new ArrayList<>();
        if (png != null) {
            LossCurve before = metrics == null ? LossCurve.startingAt(firstStep + 1) : metrics.kept();
            LossCurve curve = before.then(losses, stepsDone - firstStep);
            if (curve.losses().length == 0) {
                Main.LOG.warn("no loss plot: {}", firstStep == 0 ? "no step was trained"
                        : metrics == null ? "this session trained no step, and the earlier steps' losses are only in a"
                        + " metrics file; pass the run's with --metrics, if it had one, to plot them"
                        : "this session trained no step, and --metrics " + options.report().metrics()
                        + " has no rows up to step " + firstStep);
            } else {
                try {
                    LossPlot.write(png, curve, "microgpt " + shape.nEmbd() + "/" + shape.blockSize() + ", seed " + seed);
                    Main.LOG.info("loss curve written to {}", png);
                } catch (IOException e) {
                    failures.add("cannot write the loss plot to " + png + " (" + e.getMessage() + "); choose another"
                            + " --plot path next time");
                }
            }
        }
        if (metrics != null && metrics.failure() != null) {
            failures.add(metrics.failure() + ", so its rows stop there; choose another --metrics path or free some space"
                    + " next time");
        }
        return failures.isEmpty() ? null : String.join("; and ", failures);
    }

    /** The run's settings: the options, or for --resume the checkpoint's, refusing explicit contradictions. */
    private void decideSettings() throws IOException {
        if (!saving.resume()) {
            shape = options.shape();
            seed = options.seed();
            adam = options.adam();
            totalSteps = options.steps();
            batchSize = options.batchSize();
            return;
        }
        if (!Files.exists(checkpointFile)) {
            throw new RunFailure("no checkpoint at " + checkpointFile + " to resume from; train without --resume first, "
                    + "or pass --checkpoint FILE");
        }
        resumed = CheckpointFile.read(checkpointFile);
        Reconcile.training(options.explicit(), resumed, checkpointFile);
        ModelConfig c = resumed.config();
        shape = new TrainingRun.Shape(c.nEmbd(), c.nHead(), c.nLayer(), c.blockSize());
        seed = resumed.seed();
        adam = resumed.adam();
        totalSteps = resumed.totalSteps();
        batchSize = resumed.batchSize();
    }

    /** Before any training: the resumed run's data must be the checkpoint's, and the prefix must be samplable. */
    private void checkAgainstData() {
        if (resumed != null) {
            if (!resumed.vocabulary().equals(run.tokenizer().vocabulary())) {
                throw new RunFailure("checkpoint " + checkpointFile + " was trained on a vocabulary of "
                        + (resumed.config().vocabSize() - 1) + " characters that differs from this dataset's "
                        + (run.tokenizer().vocabSize() - 1) + "; resume with the --input it was trained on");
            }
            if (!resumed.datasetSha256().equals(dataset.sha256())) {
                if (DatasetSource.isBuiltinNames(resumed.datasetSha256())) {
                    throw new RunFailure("checkpoint " + checkpointFile + " was trained on the built-in list of names,"
                            + " which a run falls back to without --input, input.txt and network; resume it where those"
                            + " are missing, or with --input a file of those names");
                }
                throw new RunFailure("checkpoint " + checkpointFile + " was trained on another dataset (sha256 "
                        + resumed.datasetSha256().substring(0, 12) + "..., this one " + dataset.sha256().substring(0, 12)
                        + "...); resume with the --input it was trained on");
            }
        }
        Samples.requireSamplablePrefix(run.tokenizer(), shape.blockSize(), options.sampling());
    }

    /**
     * Where Ctrl-C saves: the checkpoint the options name when they asked for checkpoints, else a new file beside
     * them, so that interrupting a quick experiment never replaces another run's checkpoint.
     */
    private Path interruptCheckpoint(int stepsDone) {
        if (saving.checkpointsAsked()) {
            return checkpointFile;
        }
        Path file = Path.of("interrupted-step" + stepsDone + ".safetensors");
        for (int i = 2; Files.exists(file); i++) {
            file = Path.of("interrupted-step" + stepsDone + "-" + i + ".safetensors");
        }
        return file;
    }

    private void save(TrainingEngine engine, int stepsDone, Path path) {
        if (metrics != null) {
            metrics.flush();
        }
        int size = run.layout().size();
        double[] params = new double[size];
        double[] m = new double[size];
        double[] v = new double[size];
        engine.readParameters(params);
        engine.readMoments(m, v);
        Checkpoint checkpoint = new Checkpoint(run.layout().config(), run.tokenizer().vocabulary(), adam, stepsDone,
                lastLossStep == stepsDone ? lastLoss : Double.NaN, totalSteps, batchSize, seed, dataset.sha256(),
                run.rng().state(), Engines.dtypeOf(engine), params, m, v);
        try {
            CheckpointFile.write(path, checkpoint);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        lastSaved = path;
        lastSavedStep = stepsDone;
        Main.LOG.debug("checkpoint at step {} saved to {}", stepsDone, lastSaved);
    }
}
