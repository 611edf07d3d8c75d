package dev.microgpt.cli;

import dev.microgpt.gpu.GemmBackend;
import dev.microgpt.gpu.GpuEngine;
import dev.microgpt.gpu.GpuMode;
import dev.microgpt.gpu.GpuOptions;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import picocli.CommandLine.Option;

/** The GPU engine's options, shared by the trainer and the step benchmark (a picocli mixin). */
public final class GpuFlags {

    /**
     * The flags declared below, by name, sorted (reflection gives fields in no set order): meaningless on the CPU, so
     * --device cpu refuses them.
     */
    static final List<String> NAMES = Arrays.stream(GpuFlags.class.getDeclaredFields())
            .map(field -> field.getAnnotation(Option.class)).filter(Objects::nonNull)
            .map(option -> option.names()[0]).sorted().toList();

    @Option(names = "--gpu-mode", paramLabel = "MODE",
            description = "GPU: eager (one launch per kernel), graph (the whole step replayed as one CUDA graph) or fused (the whole step in one kernel) (default: the fastest measured on an H100, graph for one document a step and fused for several; fused also where --steps-per-launch or --fused-blocks is given, graph with --gemm cublas).")
    GpuMode mode; // null: not given, the default for the step's batch (options)

    @Option(names = "--steps-per-launch", defaultValue = "1", paramLabel = "K",
            description = "GPU, --gpu-mode fused: training steps one kernel launch runs, their documents copied up together (1 to " + GpuEngine.LOSS_BATCH + ", and K x --batch-size at most " + GpuEngine.LOSS_BATCH + "; the steps and their losses are the same) (default: ${DEFAULT-VALUE}).")
    int stepsPerLaunch;

    @Option(names = "--fused-blocks", defaultValue = "0", paramLabel = "N",
            description = "GPU, --gpu-mode fused: the step's grid in thread blocks, a tuning knob; 0 lets the engine choose (one block where the activations fit in shared memory, else one per output tile of the widest layer) (default: ${DEFAULT-VALUE}).")
    int fusedBlocks;

    @Option(names = "--gemm", defaultValue = "hand", paramLabel = "BACKEND",
            description = "GPU: what multiplies the linear layers without a fused ReLU (qkv, attn_wo, mlp_fc2, lm_head): hand (the project's kernels) or cublas (cuBLAS sgemm; needs libcublas.so.12, and asks for the GPU as --device gpu does, also under --device auto). mlp_fc1 always runs its hand kernel, whose ReLU is fused (default: ${DEFAULT-VALUE}).")
    GemmBackend gemm;

    public GemmBackend gemm() {
        return gemm;
    }

    /** The mode a run takes, and why, as the run's log says it. */
    record ChosenMode(GpuMode mode, String why) {
    }

    /**
     * The mode for steps of {@code batchSize} documents: --gpu-mode, or where it is not given the mode the other flags
     * ask for (the fused step's knobs ask for it; cuBLAS calls stand only between launches), else the fastest for the
     * batch ({@link GpuMode#fastestFor}).
     */
    ChosenMode mode(int batchSize) {
        if (mode != null) {
            return new ChosenMode(mode, "--gpu-mode");
        }
        if (gemm == GemmBackend.cublas) {
            return new ChosenMode(GpuMode.graph, "for --gemm cublas, whose calls stand between launches");
        }
        if (stepsPerLaunch > 1 || fusedBlocks > 0) {
            return new ChosenMode(GpuMode.fused, "for " + (stepsPerLaunch > 1 ? "--steps-per-launch" : "--fused-blocks"));
        }
        return new ChosenMode(GpuMode.fastestFor(batchSize), "the fastest for " + batchSize + " document"
                + (batchSize == 1 ? "" : "s") + " per step");
    }

    /**
     * The options together, for steps of {@code batchSize} documents ({@link #mode}). Refuses (IllegalArgumentException,
     * naming the flags) a combination no mode can run.
     */
    public GpuOptions options(int batchSize) {
        return new GpuOptions(mode(batchSize).mode(), gemm, fusedBlocks, stepsPerLaunch);
    }
}
