package dev.microgpt.gpu;

/**
 * What multiplies the GPU engine's linear layers that have no fused ReLU: qkv, attn_wo, mlp_fc2 and lm_head, forward
 * and backward. mlp_fc1 always runs the hand kernel, whose epilogue applies the ReLU (and whose backward masks by it).
 */
public enum GemmBackend {
    /** The project's own tiled kernels (kernels/linear.cu, kernels/qkv.cu), the default. */
    hand,
    /** cuBLAS {@code cublasSgemm} through JCublas; needs libcublas.so.12 (see {@link CublasSupport}). */
    cublas
}
