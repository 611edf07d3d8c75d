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
    fused;

    /**
     * The fastest mode for steps of {@code batchSize} documents, as measured on an H100 (bench/results/2026-11-28-h100.md):
     * graph for one document (0.061 ms a step at 16/16 and 0.095 at 64/64, against fused's 0.090 and 0.121: one step of
     * one short document is too little work for the fused kernel's blocks, and the graph's launches cost less than their
     * idle time), fused for several (0.12 ms at 16/16 and 0.52 at 64/64 with 128 documents, against graph's 1.13 and
     * 3.28: the documents side by side, a block each, against kernels that loop over every document's rows).
     */
    public static GpuMode fastestFor(int batchSize) {
        return batchSize == 1 ? graph : fused;
    }
}
