package dev.microgpt.gpu;

import java.util.List;
import jcuda.driver.CUdeviceptr;

/** The linear layers as the hand kernels of kernels/linear.cu and kernels/qkv.cu: one launch each, n read on the device. */
record HandLinearLayers(KernelLibrary kernels, int t, CUdeviceptr ss) implements LinearLayers {

    @Override
    public List<StepOp> forward(CUdeviceptr y, CUdeviceptr x, CUdeviceptr w, CUdeviceptr residual, int in, int out) {
        return List.of(kernels.linearForward(y, x, w, residual, in, out, false, t, ss));
    }

    @Override
    public List<StepOp> backward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dy, CUdeviceptr x, CUdeviceptr w, int in,
                                 int out) {
        return List.of(kernels.linearBackward(dx, dw, dy, x, w, null, in, out, t, ss));
    }

    @Override
    public List<StepOp> qkvForward(CUdeviceptr qkv, CUdeviceptr x, CUdeviceptr w, int c) {
        return List.of(kernels.qkvForward(qkv, x, w, c, t, ss));
    }

    @Override
    public List<StepOp> qkvBackward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dqkv, CUdeviceptr x, CUdeviceptr w,
                                    int c) {
        return List.of(kernels.qkvBackward(dx, dw, dqkv, x, w, c, t, ss));
    }
}
