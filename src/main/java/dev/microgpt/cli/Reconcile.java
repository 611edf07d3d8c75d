package dev.microgpt.cli;

import dev.microgpt.model.ModelConfig;
import java.util.Objects;

/**
 * A checkpoint decides what it was trained with; an option given explicitly that says otherwise is a usage error,
 * an option left at its default simply takes the checkpoint's value.
 */
final class Reconcile {

    private Reconcile() {
    }

    /** Refuses explicit --n-embd, --n-head, --n-layer, --block-size that contradict the checkpoint's model. */
    static void shape(Main options, ModelConfig config) {
        agree(options, "--n-embd", options.nEmbd, config.nEmbd());
        agree(options, "--n-head", options.nHead, config.nHead());
        agree(options, "--n-layer", options.nLayer, config.nLayer());
        agree(options, "--block-size", options.blockSize, config.blockSize());
    }

    /** Refuses an explicit option whose value differs from the checkpoint's. */
    static void agree(Main options, String option, Object given, Object inCheckpoint) {
        if (options.given(option) && !Objects.equals(given, inCheckpoint)) {
            throw new UsageException(option + " " + given + " contradicts checkpoint " + options.checkpoint
                    + ", which has " + inCheckpoint + "; drop " + option + " or use another --checkpoint");
        }
    }
}
