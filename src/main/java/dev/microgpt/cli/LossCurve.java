package dev.microgpt.cli;

import java.util.Arrays;

/** The losses of consecutive steps of a run, the first of them {@code firstStep} (1-based). */
record LossCurve(int firstStep, double[] losses) {

    /** No losses, the first step to come {@code firstStep}. */
    static LossCurve startingAt(int firstStep) {
        return new LossCurve(firstStep, new double[0]);
    }

    /** These losses, then the first {@code count} of {@code next}, of the steps right after them. */
    LossCurve then(double[] next, int count) {
        double[] all = Arrays.copyOf(losses, losses.length + count);
        System.arraycopy(next, 0, all, losses.length, count);
        return new LossCurve(firstStep, all);
    }
}
