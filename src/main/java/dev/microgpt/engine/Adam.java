package dev.microgpt.engine;

/**
 * Adam exactly as microgpt.py writes it, over flat arrays in the parameter layout. It is the CPU engines'
 * optimizer and the CPU twin of the GPU's Adam kernel.
 */
public final class Adam {

    private Adam() {
    }

    /**
     * One update of every parameter from its gradient; clears the gradients for the next step.
     *
     * @param params [P] updated in place
     * @param grads  [P] read, then zeroed
     * @param m      [P] first moments
     * @param v      [P] second moments
     * @param step   0-based step number
     */
    public static void update(AdamConfig cfg, int step, int numSteps,
                              double[] params, double[] grads, double[] m, double[] v) {
        update(cfg, step, numSteps, params, grads, m, v, 0, params.length);
    }

    /** {@link #update} of the elements [from, to) only: Adam is elementwise, so ranges may be updated in any order. */
    public static void update(AdamConfig cfg, int step, int numSteps,
                              double[] params, double[] grads, double[] m, double[] v, int from, int to) {
        double lr = cfg.learningRateAt(step, numSteps);
        double b1 = cfg.beta1();
        double b2 = cfg.beta2();
        double mCorrection = 1 - Math.pow(b1, step + 1);
        double vCorrection = 1 - Math.pow(b2, step + 1);
        for (int i = from; i < to; i++) {
            double g = grads[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * (g * g);
            double mHat = m[i] / mCorrection;
            double vHat = v[i] / vCorrection;
            // microgpt.py: p.data -= lr_t * m_hat / (v_hat ** 0.5 + eps); x ** 0.5 is sqrt, correctly rounded.
            params[i] -= lr * mHat / (Math.sqrt(vHat) + cfg.eps());
            grads[i] = 0;
        }
    }
}
