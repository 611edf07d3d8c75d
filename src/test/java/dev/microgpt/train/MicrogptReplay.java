package dev.microgpt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TrainingEngine;
import java.util.ArrayList;
import java.util.List;

/**
 * microgpt.py's run replayed by the port, for the tests that hold it to a recorded run of the Python
 * (ReferenceRunTest on makemore's names beside the checkout, BuiltinReferenceRunTest on the built-in names):
 * its set-up (16/16, seed 42), 1000 steps, 20 samples at temperature 0.5, and the comparison of the losses.
 * A faithful float64 port differs only through last-bit differences of exp/log/pow between C's libm and the
 * JVM, so the bound of 1e-6 absolute on every loss is loose by many orders of magnitude; the largest difference
 * seen is printed.
 */
final class MicrogptReplay {

    static final double LOSS_TOLERANCE = 1e-6;
    static final int STEPS = 1000;
    static final long SEED = 42;
    static final int SAMPLES = 20;
    static final double TEMPERATURE = 0.5;

    /** The losses of every step and the samples as microgpt.py prints them ("sample  1: kamon"). */
    record Run(double[] losses, List<String> samples) {
    }

    private MicrogptReplay() {
    }

    /** microgpt.py's set-up on {@code documents}: n_embd 16, block_size 16, n_head 4, one layer, seed 42. */
    static TrainingRun prepare(List<String> documents) {
        return TrainingRun.prepare(documents, TrainingRun.Shape.MICROGPT, SEED);
    }

    /** Trains the fast engine for microgpt.py's 1000 steps, then draws its 20 samples from the same generator. */
    static Run fastEngine(TrainingRun run) {
        double[] losses = new double[STEPS];
        double[] params = new double[run.layout().size()];
        try (TrainingEngine engine = new FastEngine(run.layout(), run.initialParams())) {
            Trainer.train(run, engine, AdamConfig.MICROGPT, Trainer.Schedule.whole(STEPS), (s, loss, lr, t, tokens) -> losses[s - 1] = loss);
            engine.readParameters(params);
        }
        List<String> samples = new ArrayList<>();
        try (Sampler sampler = new Sampler(run.layout(), params, run.tokenizer())) {
            for (int i = 1; i <= SAMPLES; i++) {
                samples.add(String.format("sample %2d: %s", i, sampler.sample(run.rng(), TEMPERATURE, "")));
            }
        }
        return new Run(losses, samples);
    }

    /** A recorded run's losses: lines "&lt;step&gt; &lt;loss&gt;", steps 1, 2, ... in order, the loss as Python's repr. */
    static double[] parseLosses(List<String> lines) {
        double[] losses = new double[lines.size()];
        for (int i = 0; i < losses.length; i++) {
            String[] parts = lines.get(i).trim().split("\\s+");
            assertEquals(i + 1, Integer.parseInt(parts[0]));
            losses[i] = Double.parseDouble(parts[1]);
        }
        return losses;
    }

    /** Every one of the first {@code steps} losses within {@link #LOSS_TOLERANCE}; prints the largest difference. */
    static void assertLossesMatch(String engine, double[] expected, double[] actual, int steps) {
        assertTrue(expected.length >= steps, "the recorded run has " + expected.length + " steps, not " + steps);
        double worst = 0;
        int worstStep = 0;
        int bitwise = 0;
        for (int i = 0; i < steps; i++) {
            double diff = Math.abs(expected[i] - actual[i]);
            if (!(diff <= worst)) { // a NaN loss is the worst and ends the search
                worst = diff;
                worstStep = i + 1;
                if (Double.isNaN(diff)) {
                    break;
                }
            }
            if (expected[i] == actual[i]) {
                bitwise++;
            }
        }
        System.out.printf("%s engine vs microgpt.py over %d steps: largest |loss difference| %.3e at step %d; %d of %d bitwise equal%n",
                engine, steps, worst, worstStep, bitwise, steps);
        assertTrue(worst <= LOSS_TOLERANCE, engine + " engine: loss at step " + worstStep + " differs by " + worst);
    }
}
