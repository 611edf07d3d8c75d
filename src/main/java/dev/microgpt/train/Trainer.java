package dev.microgpt.train;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.engine.TrainingEngine;
import java.util.function.BooleanSupplier;

/**
 * microgpt.py's training loop: forward, backward and Adam, one document per step, or B with {@code --batch-size}
 * ({@link DocumentBatch}). Steps are submitted to the engine in groups of its {@link TrainingEngine#lossBatch()} and
 * their losses collected after each group, so a GPU runs a group without a host synchronisation; on the CPU a group
 * is one step.
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
     * @param syncEvery if positive, every step that is a multiple of it ends a group, so that the engine's state at
     *                  that step can be read from the listener (checkpoints); 0 for none
     * @param batchSize B, the documents of every step: step s trains on docs[(s * B + b) % len(docs)], b < B
     */
    public record Schedule(int firstStep, int endStep, int numSteps, int syncEvery, int batchSize) {
        public Schedule {
            if (firstStep < 0 || firstStep > endStep || endStep > numSteps || syncEvery < 0 || batchSize < 1) {
                throw new IllegalArgumentException("bad schedule: steps [" + firstStep + ", " + endStep + ") of "
                        + numSteps + ", sync every " + syncEvery + ", " + batchSize + " documents a step");
            }
        }

        /** One document a step, as microgpt.py. */
        public Schedule(int firstStep, int endStep, int numSteps, int syncEvery) {
            this(firstStep, endStep, numSteps, syncEvery, 1);
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
        int[] tokens = new int[losses.length]; // the positions each submitted step trains, for tokens/s
        DocumentBatch batch = new DocumentBatch(schedule.batchSize());
        double loss = Double.NaN;
        long start = System.nanoTime();
        int step = schedule.firstStep();
        while (step < schedule.endStep()) {
            int groupEnd = Math.min(schedule.endStep(), step + losses.length);
            if (schedule.syncEvery() > 0) {
                groupEnd = Math.min(groupEnd, (step / schedule.syncEvery() + 1) * schedule.syncEvery());
            }
            for (int s = step; s < groupEnd && !stopRequested.getAsBoolean(); s++) {
                run.fill(batch, s);
                tokens[s - step] = batch.totalPositions();
                engine.submitStep(batch, adam, s, schedule.numSteps());
            }
            int collected = engine.collectLosses(losses);
            long elapsed = System.nanoTime() - start;
            for (int i = 0; i < collected; i++) {
                loss = losses[i];
                if (!Double.isFinite(loss)) {
                    return new Outcome(Stop.DIVERGED, step, loss);
                }
                listener.onStep(step + 1, loss, adam.learningRateAt(step, schedule.numSteps()), elapsed, tokens[i]);
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
