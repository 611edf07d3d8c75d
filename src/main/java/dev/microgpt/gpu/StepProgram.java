package dev.microgpt.gpu;

import dev.microgpt.engine.AdamConfig;
import java.util.List;

/**
 * How a {@link GpuMode} issues training steps on the engine's stream, once {@link GpuEngine} has staged them
 * ({@link StepInput}): one launch per kernel ({@link EagerStep}), those launches captured as a CUDA graph
 * ({@link GraphStep}), or one kernel for the whole step ({@link FusedStep}).
 */
interface StepProgram extends AutoCloseable {

    /**
     * Binds the device's losses array (losses[step] of every step) and Adam, whose launch the engine has built for
     * {@code adam}; steps already issued keep what they were issued with.
     */
    void bind(DeviceArray losses, AdamConfig adam, Launch adamLaunch);

    /** A training step staged in host slot {@code slot} (a batch's steps take slots 0, 1, ...): issued, or held. */
    void submit(int slot, int positions);

    /** Issues every submitted step still held (before the engine waits for the batch's losses). */
    void flush();

    /** Forward and backward, without Adam, of the step staged and copied up to the device's slot 0. */
    void gradients(int positions);

    /** The operations a training step of {@code positions} issues once its input is on the device, in order. */
    List<StepOp> operations(int positions);

    /** Driver calls a training step costs the host on average, the copy of its input included. */
    double launchesPerStep();

    /** How the mode runs here, for reports (the fused step's grid and where its activations live), or empty. */
    String detail();

    @Override
    void close();
}
