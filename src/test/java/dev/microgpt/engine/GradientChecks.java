package dev.microgpt.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.model.ParameterLayout;

/** The gradient checks the engine tests share: central finite differences and a per-tensor relative difference. */
final class GradientChecks {

    /**
     * Central differences with h = 1e-5 in float64: the truncation error h^2 / 6 * L''' is ~1e-11 and the rounding
     * error eps * |L| / h is ~5e-11 per element (h is near eps^(1/3), where the two balance). Per-tensor gradient
     * norms range from ~5e-4 (attention's wq and wk at microgpt's initialisation) to ~1, so an exact gradient lands
     * at 1e-9 to 2e-7 relative, while a missing, doubled or misrouted contribution lands at 1e-3 or more:
     * {@link #FINITE_DIFFERENCE_TOLERANCE} separates the two with room on both sides.
     */
    static final double FINITE_DIFFERENCE_STEP = 1e-5;
    static final double FINITE_DIFFERENCE_TOLERANCE = 1e-6;

    /**
     * Between two engines' exact float64 gradients of the same function: they differ only in summation order, a few
     * ulps (relative ~1e-15 per element), amplified at most modestly through the network.
     */
    static final double ENGINE_TOLERANCE = 1e-10;

    private GradientChecks() {
    }

    /** (L(p + h e_i) - L(p - h e_i)) / 2h for every parameter i, evaluated on {@code probe}, whose weights it sets. */
    static double[] centralDifferences(TrainingEngine probe, double[] params, int[] tokens, int positions) {
        double h = FINITE_DIFFERENCE_STEP;
        double[] p = params.clone();
        double[] numeric = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            double saved = p[i];
            p[i] = saved + h;
            probe.writeParameters(p);
            double up = probe.forwardBackward(tokens, positions);
            p[i] = saved - h;
            probe.writeParameters(p);
            double down = probe.forwardBackward(tokens, positions);
            p[i] = saved;
            numeric[i] = (up - down) / (2 * h);
        }
        return numeric;
    }

    /** ||actual - expected|| / ||expected|| over tensor {@code t} at most {@code tolerance}. */
    static void assertRelative(String what, double[] actual, double[] expected, ParameterLayout.Tensor t,
                               double tolerance) {
        double diff = 0;
        double norm = 0;
        for (int i = t.offset(); i < t.end(); i++) {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        if (norm == 0) {
            // A tensor the document cannot reach (e.g. unused wpe rows) must have exactly zero gradient.
            assertEquals(0, diff, what + ": expected all-zero gradient");
            return;
        }
        double relative = Math.sqrt(diff / norm);
        assertTrue(relative <= tolerance, what + ": relative difference " + relative + " > " + tolerance);
    }
}
