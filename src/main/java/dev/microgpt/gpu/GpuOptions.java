package dev.microgpt.gpu;

import java.util.Objects;

/**
 * How the GPU engine runs a step: the mode that issues it and the backend of its linear layers.
 *
 * @param mode how the step is issued
 * @param gemm what multiplies the linear layers without a fused ReLU
 */
public record GpuOptions(GpuMode mode, GemmBackend gemm) {

    public GpuOptions {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(gemm, "gemm");
        if (gemm == GemmBackend.cublas && !issuesCublasCalls(mode)) {
            throw new IllegalArgumentException("--gemm cublas applies to eager and graph modes, not --gpu-mode " + mode);
        }
    }

    /**
     * Whether a mode issues the step as separate operations on a stream, among which cuBLAS calls can stand. No
     * default branch: a new mode does not compile until it answers (a single persistent kernel cannot call cuBLAS).
     */
    private static boolean issuesCublasCalls(GpuMode mode) {
        return switch (mode) {
            case eager, graph -> true;
        };
    }

    /** "eager", "graph-cublas", ...: the engine's name after "gpu-", and the benchmark's row. */
    public String label() {
        return gemm == GemmBackend.hand ? mode.name() : mode + "-" + gemm;
    }
}
