package dev.microgpt.gpu;

/** How the GPU engine issues a training step; every mode computes the same numbers. */
public enum GpuMode {
    /** One launch per kernel per step (7 + 14 n_layer launches), the baseline. */
    eager,
    /** The whole step captured once as a CUDA graph and replayed with one launch per step. */
    graph,
    /**
     * One kernel runs the whole step (kernels/step.cu): one launch per step, or per K steps with --steps-per-launch,
     * and no gaps between kernels on the GPU.
     */
    fused
}
