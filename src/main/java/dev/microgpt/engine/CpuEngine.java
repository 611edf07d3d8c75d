package dev.microgpt.engine;

import dev.microgpt.model.ParameterLayout;

/** The state both CPU engines share: float64 parameters, gradients and Adam moments in layout order. */
public abstract class CpuEngine implements TrainingEngine {

    protected final ParameterLayout layout;
    protected final double[] params; // [P]
    protected final double[] grads;  // [P]
    private final double[] adamM;    // [P]
    private final double[] adamV;    // [P]

    protected CpuEngine(ParameterLayout layout, double[] initialParams) {
        if (initialParams.length != layout.size()) {
            throw new IllegalArgumentException("expected " + layout.size() + " parameters, got " + initialParams.length);
        }
        this.layout = layout;
        this.params = initialParams.clone();
        this.grads = new double[layout.size()];
        this.adamM = new double[layout.size()];
        this.adamV = new double[layout.size()];
    }

    /** Called after the parameters changed (Adam, or a write), for engines that keep derived copies. */
    protected void parametersChanged() {
    }

    @Override
    public ParameterLayout layout() {
        return layout;
    }

    @Override
    public void adamUpdate(AdamConfig adam, int step, int numSteps) {
        Adam.update(adam, step, numSteps, params, grads, adamM, adamV);
        parametersChanged();
    }

    @Override
    public void readGradients(double[] dst) {
        System.arraycopy(grads, 0, dst, 0, grads.length);
    }

    @Override
    public void readParameters(double[] dst) {
        System.arraycopy(params, 0, dst, 0, params.length);
    }

    @Override
    public void writeParameters(double[] src) {
        System.arraycopy(src, 0, params, 0, params.length);
        parametersChanged();
    }

    @Override
    public void readMoments(double[] m, double[] v) {
        System.arraycopy(adamM, 0, m, 0, adamM.length);
        System.arraycopy(adamV, 0, v, 0, adamV.length);
    }

    @Override
    public void writeMoments(double[] m, double[] v) {
        System.arraycopy(m, 0, adamM, 0, adamM.length);
        System.arraycopy(v, 0, adamV, 0, adamV.length);
    }
}
