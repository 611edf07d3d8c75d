package dev.microgpt.cli;

import dev.microgpt.checkpoint.DType;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.gpu.CublasSupport;
import dev.microgpt.gpu.GemmBackend;
import dev.microgpt.gpu.GpuEngine;
import dev.microgpt.gpu.GpuOptions;
import dev.microgpt.gpu.GpuSupport;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.train.EngineChoice;
import dev.microgpt.train.TrainingRun;

/** Picks and builds the engine for --device, --engine, --gpu-mode and --gemm. */
final class Engines {

    private Engines() {
    }

    /**
     * From a model of this n_embd x block_size, {@value #AUTO_GPU_FROM}, or from {@value #AUTO_GPU_FROM_DOCUMENTS}
     * documents a step, --device auto trains on a usable GPU. As measured on an H100 beside its host's 16 cores
     * (bench/results/2026-11-28-h100.md): one document a step at 16/16 takes 0.061 ms on the CPU and as long on the GPU
     * (graph), so the exact float64 engine keeps it, and the default run reproduces microgpt.py on every host; at 64/64
     * the GPU takes 0.095 ms to the CPU's 0.44; at 128 documents a step the fused step trains 4.2 times as many
     * documents a second as the CPU's cores at 16/16, 5.9 times at 64/64. The sizes and batches between are not
     * measured yet (bench/gpu-proof.sh's tune stage measures them), and stay on the CPU.
     */
    private static final int AUTO_GPU_FROM_N_EMBD = 64;
    private static final int AUTO_GPU_FROM_BLOCK_SIZE = 64;
    private static final int AUTO_GPU_FROM_DOCUMENTS = 128;
    /** The thresholds above, as the messages and --help name them. */
    static final String AUTO_GPU_FROM = AUTO_GPU_FROM_N_EMBD + "/" + AUTO_GPU_FROM_BLOCK_SIZE + " (n_embd x block_size)"
            + " or " + AUTO_GPU_FROM_DOCUMENTS + " documents per step";

    /**
     * The device a run trains on, decided before any data is read: --device gpu without a usable GPU is an error
     * naming the reason, and so is --gemm cublas without cuBLAS. Under --device auto a GPU flag ({@link GpuFlags})
     * asks for the GPU as --device gpu does, a CPU engine option for the CPU; without either, auto takes the GPU when
     * it is usable and the model or the batch of {@code batchSize} documents a step is large enough for it to pay, else
     * the CPU, and says which and why. (A GPU flag with --device cpu is refused with the other options, {@link Main}.)
     */
    static Main.Device resolve(RunOptions.DeviceRequest request, TrainingRun.Shape shape, int batchSize) {
        switch (request.device()) {
            case cpu:
                return Main.Device.cpu;
            case gpu:
                return requireGpu(request, "--device gpu");
            default: {
                if (request.gpu().gemm() == GemmBackend.cublas) {
                    return requireGpu(request, "--gemm cublas"); // asking for cuBLAS is asking for the GPU
                }
                if (!request.gpuFlagsGiven().isEmpty()) {
                    return requireGpu(request, request.gpuFlagsGiven().get(0)); // as a CPU flag asks for the CPU
                }
                if (request.cpuFlagGiven() != null) {
                    Main.LOG.info("device auto: training on the CPU ({} asks for the CPU engine)", request.cpuFlagGiven());
                    return Main.Device.cpu;
                }
                if (shape.nEmbd() * shape.blockSize() < AUTO_GPU_FROM_N_EMBD * AUTO_GPU_FROM_BLOCK_SIZE
                        && batchSize < AUTO_GPU_FROM_DOCUMENTS) {
                    Main.LOG.info("device auto: training on the CPU ({}/{}, {} document{} per step, is below the {},"
                            + " from which the GPU is used; --device gpu to use it anyway)", shape.nEmbd(),
                            shape.blockSize(), batchSize, batchSize == 1 ? "" : "s", AUTO_GPU_FROM);
                    return Main.Device.cpu;
                }
                GpuSupport.Status gpu = GpuSupport.status();
                if (gpu.usable() && gpu.emulated()) {
                    Main.LOG.info("device auto: training on the CPU (the only CUDA device is {}, which runs the kernels"
                            + " on the CPU; --device gpu to use it anyway)", gpu.device());
                    return Main.Device.cpu;
                }
                Main.LOG.info(gpu.usable() ? "device auto: training on the GPU ({})"
                        : "device auto: training on the CPU (no usable GPU: {})", gpu.usable() ? gpu.device() : gpu.reason());
                return gpu.usable() ? Main.Device.gpu : Main.Device.cpu;
            }
        }
    }

    /**
     * The GPU, as {@code asked} (the option that asked for it) requires: a usable GPU, and cuBLAS loaded when --gemm
     * cublas asks for it (checked first: it is the narrower request, and dropping it is the fix on any machine).
     */
    private static Main.Device requireGpu(RunOptions.DeviceRequest request, String asked) {
        if (request.cpuFlagGiven() != null) {
            throw new UsageException(request.cpuFlagGiven() + " applies to the CPU engine; drop it with " + asked);
        }
        if (request.gpu().gemm() == GemmBackend.cublas) {
            CublasSupport.Status cublas = CublasSupport.status();
            if (!cublas.usable()) {
                throw new RunFailure("--gemm cublas: " + cublas.reason());
            }
        }
        GpuSupport.Status gpu = GpuSupport.status();
        if (!gpu.usable()) {
            throw new RunFailure(asked + ": no usable GPU (" + gpu.reason() + "); train on the CPU instead (--device cpu"
                    + (request.gpuFlagsGiven().isEmpty() ? "" : " without " + String.join(", ", request.gpuFlagsGiven()))
                    + ", or ./run-cpu.sh)");
        }
        Main.LOG.info("device gpu: {}", gpu.device());
        if (request.gpu().gemm() == GemmBackend.cublas) {
            Main.LOG.info("gemm cublas: {}", CublasSupport.status().version());
        }
        return Main.Device.gpu;
    }

    /** The engine for a resolved device, for steps of {@code batchSize} documents. */
    static TrainingEngine create(Main.Device device, RunOptions.DeviceRequest request, ParameterLayout layout,
                                 double[] params, int batchSize) {
        EngineChoice choice;
        if (device == Main.Device.gpu) {
            GpuOptions gpu = request.gpu().options(batchSize);
            Main.LOG.info("gpu mode: {} ({})", gpu.label(), request.gpu().mode(batchSize).why());
            choice = new EngineChoice.Gpu(gpu);
        } else {
            choice = request.cpuEngineOrDefault() == Main.Engine.tape ? new EngineChoice.Tape()
                    : new EngineChoice.Fast(request.cpuThreadsOrDefault());
        }
        return choice.open(layout, params, batchSize);
    }

    /** The precision a checkpoint written by this engine holds: the one it trains in. */
    static DType dtypeOf(TrainingEngine engine) {
        return engine instanceof GpuEngine ? DType.F32 : DType.F64;
    }
}
