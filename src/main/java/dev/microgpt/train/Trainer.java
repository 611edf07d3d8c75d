package dev.microgpt.train;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.TrainingEngine;
import java.util.function.BooleanSupplier;

/** microgpt.py's training loop: one document per step, forward, backward, Adam. */
public final class Trainer {

    private Trainer() {
    }

    /** Why a call to {@link #train} returned. */
    public enum Stop {
        /** Every requested step ran. */
        COMPLETED,
        /** A stop was requested (Ctrl-C) before the next step. */
        INTERRUPTED,
        /** A step's loss was not finite; that step's Adam update was not applied. */
        DIVERGED
    }

    /**
     * @param stepsDone the number of 0-based steps completed (the next step's index)
     * @param lastLoss  the loss of the last step run (for DIVERGED, the non-finite one); NaN if none ran
     */
    public record Outcome(Stop stop, int stepsDone, double lastLoss) {
    }

    /**
     * Runs 0-based steps [firstStep, endStep) of a {@code numSteps}-step schedule, checking {@code stopRequested}
     * before each step.
     */
    public static Outcome train(TrainingRun run, TrainingEngine engine, AdamConfig adam, int firstStep, int endStep,
                                int numSteps, StepListener listener, BooleanSupplier stopRequested) {
        double loss = Double.NaN;
        long start = System.nanoTime();
        for (int step = firstStep; step < endStep; step++) {
            if (stopRequested.getAsBoolean()) {
                return new Outcome(Stop.INTERRUPTED, step, loss);
            }
            int[] doc = run.documentAt(step);
            loss = engine.forwardBackward(doc, run.positionsOf(doc));
            if (!Double.isFinite(loss)) {
                return new Outcome(Stop.DIVERGED, step, loss);
            }
            engine.adamUpdate(adam, step, numSteps);
            listener.onStep(step + 1, loss, adam.learningRateAt(step, numSteps), System.nanoTime() - start);
        }
        return new Outcome(Stop.COMPLETED, endStep, loss);
    }

    /** {@link #train} without a stop request. */
    public static Outcome train(TrainingRun run, TrainingEngine engine, AdamConfig adam, int firstStep, int endStep,
                                int numSteps, StepListener listener) {
        return train(run, engine, adam, firstStep, endStep, numSteps, listener, () -> false);
    }
}
