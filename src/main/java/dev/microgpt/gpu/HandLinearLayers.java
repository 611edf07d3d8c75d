package dev.microgpt.gpu;

import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * The linear layers as the hand kernels of kernels/linear.cu and kernels/qkv.cu: one launch each over the step's B x T
 * rows, each document's n read on the device.
 */
record HandLinearLayers(KernelLibrary kernels, DocumentSlots docs) implements LinearLayers {

    @Override
    public List<StepOp> forward(CUdeviceptr y, CUdeviceptr x, CUdeviceptr w, CUdeviceptr residual, int in, int out) {
        return List.of(kernels.linearForward(y, x, w, residual, in, out, false, docs));
    }

    @Override
    public List<StepOp> backward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dy, CUdeviceptr x, CUdeviceptr w, int in,
                                 int out) {
        return List.of(kernels.linearBackward(dx, dw, dy, x, w, null, in, out, docs));
    }

    @Override
    public List<StepOp> qkvForward(CUdeviceptr qkv, CUdeviceptr x, CUdeviceptr w, int c) {
        return List.of(kernels.qkvForward(qkv, x, w, c, docs));
    }

    @Override
    public List<StepOp> qkvBackward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dqkv, CUdeviceptr x, CUdeviceptr w,
                                    int c) {
        return List.of(kernels.qkvBackward(dx, dw, dqkv, x, w, c, docs));
    }
}
