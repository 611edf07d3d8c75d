package dev.microgpt.engine;

import dev.microgpt.model.ParameterLayout;
import java.util.Arrays;

/**
 * The state both CPU engines share: float64 parameters, gradients and Adam moments, kept in the engine's
 * {@link StorageOrder} and converted to layout order only when they cross the interface.
 */
public abstract class CpuEngine implements TrainingEngine {

    protected final ParameterLayout layout;
    protected final double[] params; // [P] in storage order
    protected final double[] grads;  // [P] in storage order
    private final double[] adamM;    // [P] in storage order
    private final double[] adamV;    // [P] in storage order
    private final StorageOrder order;
    private boolean gradientsZero = true;
    private double submittedLoss;
    private boolean lossPending;

    CpuEngine(ParameterLayout layout, double[] initialParams, StorageOrder order) {
        if (initialParams.length != layout.size()) {
            throw new IllegalArgumentException("expected " + layout.size() + " parameters, got " + initialParams.length);
        }
        this.layout = layout;
        this.order = order;
        this.params = new double[layout.size()];
        this.grads = new double[layout.size()];
        this.adamM = new double[layout.size()];
        this.adamV = new double[layout.size()];
        order.fromLayout(initialParams, params);
    }

    /**
     * Zeroes the gradients before a backward pass accumulates into them, unless Adam already left them zero:
     * at 64/64 a redundant clear costs as much as a tenth of the step.
     */
    protected final void clearGradients() {
        if (!gradientsZero) {
            Arrays.fill(grads, 0.0);
        }
        gradientsZero = false;
    }

    @Override
    public ParameterLayout layout() {
        return layout;
    }

    @Override
    public void adamUpdate(AdamConfig adam, int step, int numSteps) {
        Adam.update(adam, step, numSteps, params, grads, adamM, adamV);
        gradientsZero = true;
    }

    @Override
    public final void submitStep(DocumentBatch batch, AdamConfig adam, int step, int numSteps) {
        if (lossPending) {
            throw new IllegalStateException("collect the previous step's loss first; lossBatch() is 1");
        }
        submittedLoss = trainStep(batch, adam, step, numSteps);
        lossPending = true;
    }

    /** Forward, backward and, when the loss is finite, Adam; returns the loss. */
    protected double trainStep(DocumentBatch batch, AdamConfig adam, int step, int numSteps) {
        double loss = forwardBackward(batch);
        if (Double.isFinite(loss)) {
            adamUpdate(adam, step, numSteps);
        }
        return loss;
    }

    /** Adam on the parameters [from, to) only, clearing their gradients; call {@link #adamApplied} once all are. */
    protected final void adamUpdate(AdamConfig adam, int step, int numSteps, int from, int to) {
        Adam.update(adam, step, numSteps, params, grads, adamM, adamV, from, to);
    }

    /** Tells the base class that an overlapped Adam has updated every parameter and cleared every gradient. */
    protected final void adamApplied() {
        gradientsZero = true;
    }

    @Override
    public int collectLosses(double[] into) {
        if (!lossPending) {
            return 0;
        }
        into[0] = submittedLoss;
        lossPending = false;
        return 1;
    }

    @Override
    public void readGradients(double[] dst) {
        order.toLayout(grads, dst);
    }

    @Override
    public void readParameters(double[] dst) {
        order.toLayout(params, dst);
    }

    @Override
    public void writeParameters(double[] src) {
        order.fromLayout(src, params);
    }

    @Override
    public void readMoments(double[] m, double[] v) {
        order.toLayout(adamM, m);
        order.toLayout(adamV, v);
    }

    @Override
    public void writeMoments(double[] m, double[] v) {
        order.fromLayout(m, adamM);
        order.fromLayout(v, adamV);
    }
}
