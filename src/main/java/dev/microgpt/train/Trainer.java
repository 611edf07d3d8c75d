package dev.microgpt.train;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.TrainingEngine;

/** microgpt.py's training loop: one document per step, forward, backward, Adam. */
public final class Trainer {

    private Trainer() {
    }

    /**
     * Runs 0-based steps [firstStep, endStep) of a {@code numSteps}-step schedule.
     *
     * @return the loss of the last step run (NaN if none ran)
     */
    public static double train(TrainingRun run, TrainingEngine engine, AdamConfig adam, int firstStep, int endStep,
                               int numSteps, StepListener listener) {
        double loss = Double.NaN;
        long start = System.nanoTime();
        for (int step = firstStep; step < endStep; step++) {
            int[] doc = run.documentAt(step);
            loss = engine.forwardBackward(doc, run.positionsOf(doc));
            engine.adamUpdate(adam, step, numSteps);
            listener.onStep(step + 1, loss, adam.learningRateAt(step, numSteps), System.nanoTime() - start);
        }
        return loss;
    }
}
