package dev.microgpt.train;

/** Told about every finished training step, in order. */
@FunctionalInterface
public interface StepListener {

    /**
     * @param step          1-based number of the step just finished
     * @param loss          its mean loss
     * @param learningRate  the decayed learning rate Adam used in it
     * @param elapsedNanos  wall-clock time since training started, at the end of this step
     * @param tokens        the positions it trained, over all its documents (for tokens/s)
     */
    void onStep(int step, double loss, double learningRate, long elapsedNanos, int tokens);
}
