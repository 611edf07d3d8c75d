package dev.microgpt.cli;

import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training progress on stderr: a progress bar (step/steps, loss, steps/s, ETA) on a terminal, a log line every
 * {@code logEvery} steps elsewhere, nothing with --quiet; and the end-of-run summary.
 */
final class Progress implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger("microgpt");
    private static final int RECENT = 100;
    private static final long BAR_MESSAGE_INTERVAL_NANOS = 100_000_000L;

    private final int totalSteps;
    private final boolean quiet;
    private final int logEvery;
    private final ProgressBar bar;
    private final double[] recent = new double[RECENT]; // ring of the last losses, for the summary
    private int stepsSeen;
    private int lastStep;
    private double lastLoss = Double.NaN;
    private final Throughput throughput; // the session's, updated before each step reaches onStep
    private boolean closed;
    private long lastBarMessageNanos = -BAR_MESSAGE_INTERVAL_NANOS; // so the first step sets the message

    /**
     * @param firstStep 0-based step the run starts at (non-zero when resuming)
     * @param logEvery  steps between log lines off a terminal; 0 for a tenth of the run
     */
    Progress(int firstStep, int endStep, int totalSteps, boolean quiet, int logEvery, Throughput throughput) {
        this.throughput = throughput;
        this.totalSteps = totalSteps;
        this.quiet = quiet;
        this.logEvery = logEvery > 0 ? logEvery : Math.max(1, (endStep - firstStep) / 10);
        boolean terminal = System.console() != null;
        this.bar = quiet || !terminal ? null : new ProgressBarBuilder()
                .setTaskName("train")
                .setInitialMax(totalSteps)
                .startsFrom(firstStep, Duration.ZERO)
                .setStyle(ProgressBarStyle.ASCII)
                // Redrawn from the training thread (onStep), never from the library's timer: a timed redraw racing
                // with close() would print the bar again after the summary.
                .setUpdateIntervalMillis(Integer.MAX_VALUE)
                .setUnit(" steps", 1)
                .setConsumer(new TerminalLine(System.err))
                .build();
    }

    void onStep(int step, double loss, double lr) {
        recent[stepsSeen % RECENT] = loss;
        stepsSeen++;
        lastStep = step;
        lastLoss = loss;
        long elapsedNanos = throughput.elapsedNanos();
        if (bar != null) {
            // Rendering allocates and even a step's bookkeeping costs, so the bar is moved and redrawn only as often as
            // a person can read it.
            if (elapsedNanos - lastBarMessageNanos >= BAR_MESSAGE_INTERVAL_NANOS) {
                lastBarMessageNanos = elapsedNanos;
                bar.stepTo(step);
                bar.setExtraMessage(barMessage(loss));
                bar.refresh();
            }
        } else if (!quiet && (step % logEvery == 0 || step == totalSteps)) {
            log.info(String.format(Locale.ROOT, "step %4d / %4d | loss %.4f | lr %.6f", step, totalSteps, loss, lr));
        }
    }

    /**
     * The loss, and the session's steps/s from its own clock (the library's speed reads "?" until a whole second has
     * passed, all of a default run).
     */
    private String barMessage(double loss) {
        return String.format(Locale.ROOT, "%.0f steps/s | loss %.4f", 1000 / throughput.millisPerStep(), loss);
    }

    /**
     * Closes the bar, then logs steps, wall time, ms/step, documents/s, tokens/s, final loss and the mean of the last
     * 100 losses.
     */
    void summary() {
        if (bar != null && !closed && stepsSeen > 0) {
            bar.stepTo(lastStep);
            bar.setExtraMessage(barMessage(lastLoss));
        }
        close();
        if (quiet || stepsSeen == 0) {
            return;
        }
        int n = Math.min(stepsSeen, RECENT);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += recent[i];
        }
        log.info(String.format(Locale.ROOT, "trained %d step%s (to step %d of %d) in %.3f s, %.4f ms/step, %.0f documents/s,"
                        + " %.0f tokens/s; final loss %.4f, mean of the last %d %.4f", stepsSeen, stepsSeen == 1 ? "" : "s",
                lastStep, totalSteps,
                throughput.elapsedNanos() / 1e9, throughput.millisPerStep(), throughput.documentsPerSecond(),
                throughput.tokensPerSecond(), lastLoss, n, sum / n));
    }

    /** Closes the bar (it prints its final state once); later calls do nothing. */
    @Override
    public void close() {
        if (bar != null && !closed) {
            closed = true;
            bar.close();
        }
    }
}
