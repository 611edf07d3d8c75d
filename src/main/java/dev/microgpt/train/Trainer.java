package dev.microgpt.train;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.TrainingEngine;
import java.util.function.BooleanSupplier;

/**
 * microgpt.py's training loop: one document per step, forward, backward, Adam. Steps are submitted to the engine
 * in batches of its {@link TrainingEngine#lossBatch()} and their losses collected after each batch, so a GPU runs a
 * batch without a host synchronisation; on the CPU a batch is one step.
 */
public final class Trainer {

    private Trainer() {
    }

    /**
     * Which steps to run.
     *
     * @param firstStep 0-based step to start at (non-zero when resuming)
     * @param endStep   0-based step to stop before
     * @param numSteps  the schedule's length, over which the learning rate decays to zero
     * @param syncEvery if positive, every step that is a multiple of it ends a batch, so that the engine's state at
     *                  that step can be read from the listener (checkpoints); 0 for none
     */
    public record Schedule(int firstStep, int endStep, int numSteps, int syncEvery) {
        public Schedule {
            if (firstStep < 0 || firstStep > endStep || endStep > numSteps || syncEvery < 0) {
                throw new IllegalArgumentException("bad schedule: steps [" + firstStep + ", " + endStep + ") of "
                        + numSteps + ", sync every " + syncEvery);
            }
        }

        /** Steps [0, numSteps), the whole run. */
        public static Schedule whole(int numSteps) {
            return new Schedule(0, numSteps, numSteps, 0);
        }
    }

    /** Why a call to {@link #train} returned. */
    public enum Stop {
        /** Every requested step ran. */
        COMPLETED,
        /** A stop was requested (Ctrl-C) before the next batch. */
        INTERRUPTED,
        /** A step's loss was not finite. */
        DIVERGED
    }

    /**
     * @param stepsDone the number of 0-based steps completed with a finite loss (the next step's index)
     * @param lastLoss  the loss of the last step collected (for DIVERGED, the non-finite one); NaN if none ran
     */
    public record Outcome(Stop stop, int stepsDone, double lastLoss) {
    }

    /**
     * Runs the schedule's steps, telling {@code listener} about each (with the time its loss was collected) and
     * checking {@code stopRequested} before each step.
     */
    public static Outcome train(TrainingRun run, TrainingEngine engine, AdamConfig adam, Schedule schedule,
                                StepListener listener, BooleanSupplier stopRequested) {
        double[] losses = new double[engine.lossBatch()];
        double loss = Double.NaN;
        long start = System.nanoTime();
        int step = schedule.firstStep();
        while (step < schedule.endStep()) {
            int batchEnd = Math.min(schedule.endStep(), step + losses.length);
            if (schedule.syncEvery() > 0) {
                batchEnd = Math.min(batchEnd, (step / schedule.syncEvery() + 1) * schedule.syncEvery());
            }
            for (int s = step; s < batchEnd && !stopRequested.getAsBoolean(); s++) {
                int[] doc = run.documentAt(s);
                engine.submitStep(doc, run.positionsOf(doc), adam, s, schedule.numSteps());
            }
            int collected = engine.collectLosses(losses);
            long elapsed = System.nanoTime() - start;
            for (int i = 0; i < collected; i++) {
                loss = losses[i];
                if (!Double.isFinite(loss)) {
                    return new Outcome(Stop.DIVERGED, step, loss);
                }
                listener.onStep(step + 1, loss, adam.learningRateAt(step, schedule.numSteps()), elapsed);
                step++;
            }
            if (collected == 0 || stopRequested.getAsBoolean()) {
                return new Outcome(Stop.INTERRUPTED, step, loss);
            }
        }
        return new Outcome(Stop.COMPLETED, step, loss);
    }

    /** {@link #train} without a stop request. */
    public static Outcome train(TrainingRun run, TrainingEngine engine, AdamConfig adam, Schedule schedule,
                                StepListener listener) {
        return train(run, engine, adam, schedule, listener, () -> false);
    }
}
