package dev.microgpt.gpu;

import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * The step's linear layers without a fused ReLU (the [3C, C] qkv block, attn_wo, mlp_fc2, lm_head) as step
 * operations: the hand kernels ({@link HandLinearLayers}) or cuBLAS ({@link CublasGemm}). Shapes as in
 * kernels/README.md: activations [B x T, ...] row-major, of which each document's first n_b rows count, weights
 * [out, in] row-major.
 */
interface LinearLayers {

    /** y [n,out] = x [n,in] w^T, plus residual [n,out] where not null (a different buffer than y). */
    List<StepOp> forward(CUdeviceptr y, CUdeviceptr x, CUdeviceptr w, CUdeviceptr residual, int in, int out);

    /** dx [n,in] = dy [n,out] w (overwritten); dw [out,in] += dy^T x. */
    List<StepOp> backward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dy, CUdeviceptr x, CUdeviceptr w, int in, int out);

    /** qkv [n,3C] = x [n,C] w^T with w the [3C,C] block of wq, wk, wv. */
    List<StepOp> qkvForward(CUdeviceptr qkv, CUdeviceptr x, CUdeviceptr w, int c);

    /** dx [n,C] = dqkv w (overwritten); dw [3C,C] += dqkv^T x. */
    List<StepOp> qkvBackward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dqkv, CUdeviceptr x, CUdeviceptr w, int c);
}
