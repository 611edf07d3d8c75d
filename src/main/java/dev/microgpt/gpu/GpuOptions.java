package dev.microgpt.gpu;

import java.util.Objects;

/**
 * How the GPU engine runs a step: the mode that issues it, the backend of its linear layers, and the fused step's
 * two knobs.
 *
 * @param mode           how the step is issued
 * @param gemm           what multiplies the linear layers without a fused ReLU
 * @param fusedBlocks    the fused step's grid in blocks, or 0 to let the engine choose ({@link FusedStep}); a benchmark
 *                       knob, only for the fused mode
 * @param stepsPerLaunch training steps one launch of the fused kernel runs, their documents staged on the device
 *                       together (1 to {@link GpuEngine#LOSS_BATCH}; above 1 only for the fused mode; at B documents
 *                       a step at most {@link #maxStepsPerLaunch})
 */
public record GpuOptions(GpuMode mode, GemmBackend gemm, int fusedBlocks, int stepsPerLaunch) {

    public GpuOptions {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(gemm, "gemm");
        if (gemm == GemmBackend.cublas && !issuesCublasCalls(mode)) {
            throw new IllegalArgumentException("--gemm cublas applies to eager and graph modes, not --gpu-mode " + mode);
        }
        if (fusedBlocks < 0) {
            throw new IllegalArgumentException("--fused-blocks must be 0 (the engine chooses) or positive, got "
                    + fusedBlocks);
        }
        if (fusedBlocks > 0 && mode != GpuMode.fused) {
            throw new IllegalArgumentException("--fused-blocks " + fusedBlocks + " needs --gpu-mode fused (the grid of"
                    + " the fused step); --gpu-mode " + mode + " has no such grid");
        }
        if (stepsPerLaunch < 1 || stepsPerLaunch > GpuEngine.LOSS_BATCH) {
            throw new IllegalArgumentException("--steps-per-launch must be in [1, " + GpuEngine.LOSS_BATCH + "], got "
                    + stepsPerLaunch);
        }
        if (stepsPerLaunch > 1 && mode != GpuMode.fused) {
            throw new IllegalArgumentException("--steps-per-launch " + stepsPerLaunch + " needs --gpu-mode fused (one"
                    + " kernel runs the steps); --gpu-mode " + mode + " issues each step by itself");
        }
    }

    public GpuOptions(GpuMode mode, GemmBackend gemm) {
        this(mode, gemm, 0, 1);
    }

    /**
     * The most steps one fused launch runs at {@code batchSize} documents a step: a launch runs at most
     * {@link GpuEngine#LOSS_BATCH} documents (one group of losses), and always at least one step.
     */
    public static int maxStepsPerLaunch(int batchSize) {
        return Math.max(1, GpuEngine.LOSS_BATCH / batchSize);
    }

    /**
     * Refuses (IllegalArgumentException, naming the flags) these options for steps of {@code batchSize} documents where
     * they cannot train them: cuBLAS multiplies one document's rows, and a launch's steps are limited by its documents.
     */
    public void checkBatchSize(int batchSize) {
        if (gemm == GemmBackend.cublas && batchSize > 1) {
            throw new IllegalArgumentException("--gemm cublas trains one document a step; drop --gemm cublas, or"
                    + " drop --batch-size " + batchSize);
        }
        int most = maxStepsPerLaunch(batchSize);
        if (stepsPerLaunch > most) {
            throw new IllegalArgumentException("--steps-per-launch " + stepsPerLaunch + " with --batch-size " + batchSize
                    + ": a fused launch runs at most " + GpuEngine.LOSS_BATCH + " documents, " + most + " steps of "
                    + batchSize + "; lower one of them");
        }
    }

    /** These options with at most {@code most} steps a launch. */
    public GpuOptions withStepsPerLaunchAtMost(int most) {
        return new GpuOptions(mode, gemm, fusedBlocks, Math.min(stepsPerLaunch, most));
    }

    /**
     * Whether a mode issues the step as separate operations on a stream, among which cuBLAS calls can stand. No
     * default branch: a new mode does not compile until it answers (a single persistent kernel cannot call cuBLAS).
     */
    private static boolean issuesCublasCalls(GpuMode mode) {
        return switch (mode) {
            case eager, graph -> true;
            case fused -> false;
        };
    }

    /**
     * "eager", "graph-cublas", "fused-b4-k16", ...: the engine's name after "gpu-", and the benchmark's row (bench/run.sh
     * names its rows the same way).
     */
    public String label() {
        return mode + (gemm == GemmBackend.hand ? "" : "-" + gemm) + (fusedBlocks > 0 ? "-b" + fusedBlocks : "")
                + (stepsPerLaunch > 1 ? "-k" + stepsPerLaunch : "");
    }
}
