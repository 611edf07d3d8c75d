package dev.microgpt.engine;

/**
 * Adam's hyper-parameters. The learning rate decays linearly to zero over the run:
 * {@code lr_t = learningRate * (1 - step / numSteps)} with a 0-based step, as in microgpt.py.
 */
public record AdamConfig(double learningRate, double beta1, double beta2, double eps) {

    /** microgpt.py's values, the trainer's defaults. */
    public static final double DEFAULT_LEARNING_RATE = 0.01;
    public static final double DEFAULT_BETA1 = 0.85;
    public static final double DEFAULT_BETA2 = 0.99;
    public static final double DEFAULT_EPS = 1e-8;

    /** microgpt.py's Adam. */
    public static final AdamConfig MICROGPT = new AdamConfig(DEFAULT_LEARNING_RATE, DEFAULT_BETA1, DEFAULT_BETA2,
            DEFAULT_EPS);

    public AdamConfig {
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("--learning-rate must be a positive number, got " + learningRate);
        }
        requireUnitInterval("--beta1", beta1);
        requireUnitInterval("--beta2", beta2);
        if (!(eps > 0)) {
            throw new IllegalArgumentException("Adam eps must be positive, got " + eps);
        }
    }

    /** The decayed learning rate of 0-based {@code step} in a run of {@code numSteps}. */
    public double learningRateAt(int step, int numSteps) {
        return learningRate * (1 - (double) step / numSteps);
    }

    private static void requireUnitInterval(String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + value);
        }
    }
}
