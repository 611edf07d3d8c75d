package dev.microgpt.gpu;

import dev.microgpt.model.ParameterLayout;
import jcuda.driver.CUdeviceptr;

/**
 * The model on the device, every array [P] float in the {@link ParameterLayout}: the parameters, their gradients (zero
 * between steps: Adam clears them) and Adam's two moments. Owned by the engine; the step programs read and write it.
 */
record TrainingState(DeviceArray params, DeviceArray grads, DeviceArray adamM, DeviceArray adamV) {

    CUdeviceptr weight(ParameterLayout.Tensor tensor) {
        return params.at(tensor.offset());
    }

    CUdeviceptr gradient(ParameterLayout.Tensor tensor) {
        return grads.at(tensor.offset());
    }
}
