package dev.microgpt.cli;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.model.ModelConfig;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A checkpoint decides what it was trained with; an option given explicitly that says otherwise is a usage error,
 * an option left at its default simply takes the checkpoint's value.
 */
final class Reconcile {

    private Reconcile() {
    }

    /** Refuses explicit --n-embd, --n-head, --n-layer, --block-size that contradict the checkpoint's model. */
    static void shape(RunOptions.Explicit given, ModelConfig config, Path checkpoint) {
        agree("--n-embd", given.nEmbd(), config.nEmbd(), checkpoint);
        agree("--n-head", given.nHead(), config.nHead(), checkpoint);
        agree("--n-layer", given.nLayer(), config.nLayer(), checkpoint);
        agree("--block-size", given.blockSize(), config.blockSize(), checkpoint);
    }

    /** Refuses, besides the shape, an explicit --seed, --steps, --batch-size or Adam setting that contradicts it. */
    static void training(RunOptions.Explicit given, Checkpoint resumed, Path checkpoint) {
        shape(given, resumed.config(), checkpoint);
        agree("--seed", given.seed(), resumed.seed(), checkpoint);
        agree("--steps", given.steps(), resumed.totalSteps(), checkpoint);
        agree("--batch-size", given.batchSize(), resumed.batchSize(), checkpoint);
        agree("--learning-rate", given.learningRate(), resumed.adam().learningRate(), checkpoint);
        agree("--beta1", given.beta1(), resumed.adam().beta1(), checkpoint);
        agree("--beta2", given.beta2(), resumed.adam().beta2(), checkpoint);
    }

    /** {@code given} null: the option was left at its default and takes the checkpoint's value. */
    private static void agree(String option, Object given, Object inCheckpoint, Path checkpoint) {
        if (given != null && !Objects.equals(given, inCheckpoint)) {
            throw new UsageException(option + " " + given + " contradicts checkpoint " + checkpoint
                    + ", which has " + inCheckpoint + "; drop " + option + " or use another --checkpoint");
        }
    }
}
