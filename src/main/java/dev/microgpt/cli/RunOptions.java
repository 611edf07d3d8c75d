package dev.microgpt.cli;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.train.TrainingRun;
import java.nio.file.Path;
import java.util.List;

/**
 * The command line, checked: what one invocation does, built once by {@link Main}. Nothing after it asks picocli
 * which options were given; where that matters (a default that a checkpoint or the data may replace), it is here.
 *
 * @param input    the dataset file, or null: input.txt, else downloaded, else the built-in names (DatasetSource)
 * @param shape    the model, for a fresh run (a checkpoint brings its own)
 * @param steps    the schedule's length, for a fresh run
 * @param batchSize the documents of every step, for a fresh run
 * @param adam     Adam's settings, for a fresh run
 * @param seed     the RNG's seed, for a fresh run
 * @param explicit the settings given on the command line, which a checkpoint's must agree with
 * @param device   where to train, and how
 * @param saving   checkpoints: where, when, and whether to resume or only sample
 * @param sampling what to print after training (or instead of it, with --predict)
 * @param report   progress, metrics and the loss plot
 */
record RunOptions(Path input, TrainingRun.Shape shape, int steps, int batchSize, AdamConfig adam, long seed,
                  Explicit explicit, DeviceRequest device, Saving saving, Sampling sampling, Report report) {

    /**
     * The settings a checkpoint decides, as given on the command line: null where left at the default, which then
     * simply takes the checkpoint's value; an explicit one that says otherwise is a usage error ({@link Reconcile}).
     */
    record Explicit(Integer nEmbd, Integer nHead, Integer nLayer, Integer blockSize, Long seed, Integer steps,
                    Integer batchSize, Double learningRate, Double beta1, Double beta2) {
    }

    /**
     * --device, the CPU engine if one was named (null: none, the fast one where the CPU trains), --threads if given
     * (null: the machine's cores, {@link FastEngine#defaultThreads}), the GPU's options, and which GPU flags were given
     * (--device cpu refuses them).
     */
    record DeviceRequest(Main.Device device, Main.Engine cpuEngine, Integer cpuThreads, GpuFlags gpu,
                         List<String> gpuFlagsGiven) {

        Main.Engine cpuEngineOrDefault() {
            return cpuEngine == null ? Main.Engine.fast : cpuEngine;
        }

        int cpuThreadsOrDefault() {
            return cpuThreads == null ? FastEngine.defaultThreads() : cpuThreads;
        }

        /** The first CPU engine option given (--engine, --threads), which asks for the CPU; null if none. */
        String cpuFlagGiven() {
            return cpuEngine != null ? "--engine" : cpuThreads != null ? "--threads" : null;
        }
    }

    /**
     * @param checkpoint      the checkpoint file
     * @param checkpointNamed whether --checkpoint was given: a run then saves to it at the end
     * @param every           --checkpoint-every, or null
     * @param stopAfter       --stop-after, or null
     */
    record Saving(Path checkpoint, boolean checkpointNamed, Integer every, Integer stopAfter, boolean resume,
                  boolean predict) {

        /**
         * Whether checkpoints at {@link #checkpoint} are asked for: by naming it, --checkpoint-every, --stop-after, or
         * --resume (a resumed run goes on in the checkpoint it came from).
         */
        boolean checkpointsAsked() {
            return savesAtEnd() || stopAfter != null;
        }

        /** Whether a run that reaches its last step saves it (one that stops after an earlier step always does). */
        boolean savesAtEnd() {
            return checkpointNamed || every != null || resume;
        }
    }

    /** The samples: how many, at what temperature, each continuing {@code prefix}. */
    record Sampling(int count, double temperature, String prefix) {
    }

    /**
     * @param metrics  the CSV of every step, or null
     * @param plot     the loss curve's PNG, or null
     * @param logEvery progress lines off a terminal every N steps, 0 for a tenth of the run
     */
    record Report(Path metrics, Path plot, int logEvery, boolean quiet) {
    }
}
