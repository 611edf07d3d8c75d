package dev.microgpt.gpu;

import dev.microgpt.engine.AdamConfig;
import java.util.List;
import jcuda.driver.CUstream;

/**
 * {@link GpuMode#eager}: a step is the copy of its input, then one launch per kernel ({@link StepLaunches}) and Adam's,
 * issued one after another: the copy and 7 + 14 n_layer launches a step with the hand kernels.
 */
class EagerStep implements StepProgram {

    final StepLaunches launches;
    final StepInput input;
    final CUstream stream;
    Launch adam;

    EagerStep(StepLaunches launches, StepInput input, CUstream stream) {
        this.launches = launches;
        this.input = input;
        this.stream = stream;
    }

    @Override
    public void bind(DeviceArray losses, AdamConfig adamConfig, Launch adamLaunch) {
        launches.bindLosses(losses);
        adam = adamLaunch;
    }

    @Override
    public void submit(int slot, int positions) {
        input.copyUp(slot, 1);
        launches.enqueue(stream, positions);
        adam.enqueue(stream);
    }

    @Override
    public void flush() {
    }

    @Override
    public void gradients(int positions) {
        launches.enqueue(stream, positions);
    }

    @Override
    public List<StepOp> operations(int positions) {
        List<StepOp> step = launches.operations();
        step.add(adam);
        return step;
    }

    @Override
    public double launchesPerStep() {
        return 1 + launches.size() + 1;
    }

    @Override
    public String detail() {
        return "";
    }

    @Override
    public void close() {
        launches.close();
    }
}
