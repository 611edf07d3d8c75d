package dev.microgpt.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Training progress on stderr: microgpt.py's step line, a tenth of the run apart, then a summary. */
final class Progress {

    private static final Logger log = LoggerFactory.getLogger("microgpt");

    private final int steps;
    private final boolean quiet;
    private final int every;
    private int lastStep;
    private double lastLoss = Double.NaN;
    private long lastNanos;

    Progress(int steps, boolean quiet) {
        this.steps = steps;
        this.quiet = quiet;
        this.every = Math.max(1, steps / 10);
    }

    void onStep(int step, double loss, double lr, long elapsedNanos) {
        lastStep = step;
        lastLoss = loss;
        lastNanos = elapsedNanos;
        if (!quiet && (step % every == 0 || step == steps)) {
            log.info(String.format("step %4d / %4d | loss %.4f | lr %.6f", step, steps, loss, lr));
        }
    }

    void finish() {
        if (!quiet && lastStep > 0) {
            log.info(String.format("trained %d steps in %.3f s (%.4f ms/step), final loss %.4f", lastStep,
                    lastNanos / 1e9, lastNanos / 1e6 / lastStep, lastLoss));
        }
    }
}
