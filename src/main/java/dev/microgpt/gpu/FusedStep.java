package dev.microgpt.gpu;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import java.util.List;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * {@link GpuMode#fused}: one launch of {@code train_step_fused} (kernels/step.cu) runs forward, loss, backward and Adam,
 * working through the eager launches' stages with a barrier between stages; or K steps, one after another
 * ({@code --steps-per-launch}): submitted steps are held until K are staged (or the engine waits for the group's
 * losses), then their inputs go up in one copy and one launch runs them, 2 / K driver calls a step.
 *
 * <p>Where it runs, one document a step: when the step's activations fit in one block's shared memory (16/16 does,
 * 64/64 does not) the whole step runs in one block, on chip, its stages separated by {@code __syncthreads}. Otherwise
 * the activations live in global memory (in practice the L2 cache) and the grid spreads over as many blocks as the
 * widest layer (mlp_fc1's forward) has 32 x 32 output tiles, launched cooperatively so that a grid-wide sync can
 * separate the stages; every block must be resident at once, which caps the grid at what the GPU holds together.
 *
 * <p>B documents a step: the documents side by side, a block per document (each block taking documents in turn when
 * B exceeds the blocks resident at once), its activations on chip where they fit, its gradients into a slice of its
 * own; after a grid-wide sync the slices are summed in block order for Adam.
 */
final class FusedStep implements StepProgram {

    private final NativeResources resources = new NativeResources();
    private final KernelLibrary kernels;
    private final ParameterLayout layout;
    private final TrainingState state;
    private final StepInput input;
    private final CUstream stream;
    private final int stepsPerLaunch;
    private final DeviceArray workspace;     // [teams][workspace floats] global, or null: in shared memory
    private final DeviceArray tensorOffsets; // [3 + 4 L] int: ParameterLayout.weightBlocks' offsets, kernels/step.cu
    private final DeviceArray blockGrads;    // [blocks][P] zero between steps, or null: one document a step
    private final DeviceArray blockLosses;   // [blocks], with blockGrads
    private final int blocks;
    private final int sharedBytes;
    private DeviceArray losses;
    private AdamConfig adam;
    private Launch[] trainingLaunches; // [k]: k staged steps with Adam, built when first needed
    private Launch gradientsLaunch;    // one step without Adam
    private int held;                  // submitted steps not yet launched
    private int firstHeld;             // the host slot of the first of them

    /**
     * @param requestedBlocks the grid's blocks, or 0 to choose as described above
     * @param stepsPerLaunch  K, the steps one launch runs (the device's input has that many steps' slots)
     */
    FusedStep(GpuContext gpu, ParameterLayout layout, TrainingState state, StepInput input, int requestedBlocks,
              int stepsPerLaunch) {
        this.kernels = gpu.kernels();
        this.layout = layout;
        this.state = state;
        this.input = input;
        this.stream = gpu.stream();
        this.stepsPerLaunch = stepsPerLaunch;
        ModelConfig cfg = layout.config();
        try {
            long[] sizes = kernels.fusedStepSizes(gpu, cfg);
            long workspaceFloats = sizes[0];
            long scratchFloats = sizes[1];
            long onChipBytes = (scratchFloats + workspaceFloats) * DeviceArray.ELEMENT_BYTES;
            boolean fitsOnChip = onChipBytes <= gpu.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
            int widestLayerTiles = KernelLibrary.ceilDiv(cfg.blockSize(), KernelLibrary.TILE)
                    * KernelLibrary.ceilDiv(cfg.mlpHidden(), KernelLibrary.TILE);
            boolean sideBySide = input.batchSize() > 1;
            int chosen = requestedBlocks > 0 ? requestedBlocks
                    : sideBySide ? input.batchSize() : fitsOnChip ? 1 : widestLayerTiles;
            boolean onChip = fitsOnChip && (sideBySide || chosen == 1);
            this.sharedBytes = Math.toIntExact(onChip ? onChipBytes : scratchFloats * DeviceArray.ELEMENT_BYTES);
            int resident = kernels.fusedStepBlocksPerMultiprocessor(sharedBytes)
                    * gpu.attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
            if (resident < 1) {
                throw new CudaException("the fused step cannot run on " + gpu.deviceName() + ": not even one block of"
                        + " it with " + sharedBytes + " bytes of shared memory fits on a multiprocessor; use"
                        + " --gpu-mode graph");
            }
            this.blocks = requestedBlocks > 0 ? chosen : Math.min(chosen, resident);
            if (blocks > 1) {
                requireCooperative(gpu, resident);
            }
            int teams = sideBySide ? blocks : 1;
            this.workspace = onChip ? null
                    : resources.own(new DeviceArray("fused_workspace", teams * workspaceFloats));
            this.tensorOffsets = resources.own(new DeviceArray("fused_tensor_offsets", layout.weightBlocks().size()));
            tensorOffsets.upload(layout.weightBlocks().stream().mapToInt(ParameterLayout.Tensor::offset).toArray());
            this.blockGrads = sideBySide ? zeroed("fused_block_grads", (long) blocks * layout.size()) : null;
            this.blockLosses = sideBySide ? zeroed("fused_block_losses", blocks) : null;
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** A grid of more than one block syncs grid-wide: a cooperative launch, every block resident at once. */
    private void requireCooperative(GpuContext gpu, int resident) {
        if (gpu.attribute(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH) == 0) {
            throw new CudaException("the fused step needs cooperative launches for more than one block, and "
                    + gpu.deviceName() + " does not support them; use --gpu-mode graph");
        }
        if (blocks > resident) {
            throw new CudaException("--fused-blocks " + blocks + ": at most " + resident + " blocks of the fused step"
                    + " can be resident at once on " + gpu.deviceName() + "; ask for at most that many");
        }
    }

    /**
     * A launch of {@code steps} consecutive training steps writing their losses into {@code losses}, with Adam's
     * hyper-parameters; with {@code update} false (and one step) it stops after the backward, leaving the gradients
     * in grads.
     */
    Launch launch(boolean update, int steps) {
        return kernels.fusedStep(blocks, sharedBytes, state, losses.at(0), tensorOffsets.at(0), at(workspace),
                at(blockGrads), at(blockLosses), layout.config(), layout.size(), adam, update, steps,
                input.documents());
    }

    private static CUdeviceptr at(DeviceArray array) {
        return array == null ? null : array.at(0);
    }

    /** An array of zeros: the kernel keeps the block gradients zero between steps. */
    private DeviceArray zeroed(String name, long length) {
        DeviceArray array = resources.own(new DeviceArray(name, length));
        Cuda.check(cuMemsetD32Async(array.at(0), 0, length, stream), "cuMemsetD32Async(" + name + ")");
        return array;
    }

    /** Steps held so far keep the losses array and Adam settings they were submitted with: they are launched first. */
    @Override
    public void bind(DeviceArray newLosses, AdamConfig newAdam, Launch adamLaunch) {
        flush();
        losses = newLosses;
        adam = newAdam;
        trainingLaunches = new Launch[stepsPerLaunch + 1];
        gradientsLaunch = launch(false, 1);
    }

    @Override
    public void submit(int slot, int positions) {
        if (held == 0) {
            firstHeld = slot;
        }
        held++;
        if (held == stepsPerLaunch) {
            flush();
        }
    }

    /** The held steps, their inputs in one copy, then one launch. */
    @Override
    public void flush() {
        if (held > 0) {
            input.copyUp(firstHeld, held);
            trainingLaunch(held).enqueue(stream);
            held = 0;
        }
    }

    /** The launch of {@code steps} staged steps (built when first needed: its arguments are allocated once). */
    private Launch trainingLaunch(int steps) {
        if (trainingLaunches[steps] == null) {
            trainingLaunches[steps] = launch(true, steps);
        }
        return trainingLaunches[steps];
    }

    @Override
    public void gradients(int positions) {
        gradientsLaunch.enqueue(stream);
    }

    @Override
    public List<StepOp> operations(int positions) {
        return List.of(trainingLaunch(1));
    }

    /** A copy and a launch for every K steps (or fewer: a batch whose steps K does not divide ends in a shorter one). */
    @Override
    public double launchesPerStep() {
        return 2.0 / stepsPerLaunch;
    }

    /** The grid, how it shares the documents, and where the activations live. */
    @Override
    public String detail() {
        return blocks + (blocks == 1 ? " block" : " blocks (cooperative)")
                + (blockGrads == null ? "" : ", documents side by side") + ", activations in "
                + (workspace == null ? "shared" : "global") + " memory";
    }

    @Override
    public void close() {
        resources.close();
    }
}
