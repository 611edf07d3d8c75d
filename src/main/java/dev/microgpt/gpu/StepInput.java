package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import java.nio.IntBuffer;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * What a training step reads besides the weights: its tokens and its StepScalars (kernels/common.cuh), one slot of
 * {@code T + 1} tokens then the 4 scalars each. The host stages a batch's steps into pinned slots; a copy takes one or
 * more of them, asynchronously, into the device's slots, which the kernels read (an eager or graph step slot 0, a fused
 * launch of K steps slots 0 to K - 1). The copy is ordered on the engine's stream after the steps before it, which
 * may still read those device slots, and nothing on the hot path waits or allocates.
 */
final class StepInput implements AutoCloseable {

    private static final int SCALARS = 4; // StepScalars: step, positions, num_steps, reserved

    private final NativeResources resources = new NativeResources();
    private final int t;
    private final int slotInts;
    private final CUstream stream;
    private final DeviceArray device;  // [device slots][T + 1 + 4] int
    private final PinnedInts host;     // [host slots][T + 1 + 4] int, slots as the device's
    private final Pointer[] hostSlots; // [host slots]: each slot's address, made once

    StepInput(int blockSize, int deviceSlots, int hostSlots, CUstream stream) {
        this.t = blockSize;
        this.slotInts = blockSize + 1 + SCALARS;
        this.stream = stream;
        try {
            this.device = resources.own(new DeviceArray("step_input", (long) deviceSlots * slotInts));
            this.host = resources.own(new PinnedInts("staging", hostSlots * slotInts));
            this.hostSlots = new Pointer[hostSlots];
            for (int slot = 0; slot < hostSlots; slot++) {
                this.hostSlots[slot] = host.at(slot * slotInts);
            }
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
    }

    /** [T + 1] int, the device's slot 0: the tokens a step's kernels read. */
    CUdeviceptr tokens() {
        return device.at(0);
    }

    /** [4] int, the device's slot 0: the StepScalars a step's kernels read. */
    CUdeviceptr scalars() {
        return device.at(t + 1);
    }

    /** Ints from one slot to the next. */
    int slotInts() {
        return slotInts;
    }

    /** Writes a step's tokens [0, positions] and its scalars into host slot {@code slot}. */
    void stage(int slot, int[] doc, int positions, int step, int numSteps) {
        if (positions < 1 || positions > t || doc.length < positions + 1) {
            throw new IllegalArgumentException("positions must be in [1, " + t + "] with positions + 1 tokens, got "
                    + positions + " of " + doc.length);
        }
        int base = slot * slotInts;
        IntBuffer pinned = host.ints();
        for (int i = 0; i <= positions; i++) {
            pinned.put(base + i, doc[i]);
        }
        stageScalars(slot, step, positions, numSteps);
    }

    /** Writes the scalars alone into host slot {@code slot}: a step that reads no tokens (an Adam update). */
    void stageScalars(int slot, int step, int positions, int numSteps) {
        int s = slot * slotInts + t + 1;
        host.ints().put(s, step).put(s + 1, positions).put(s + 2, numSteps).put(s + 3, 0);
    }

    /** Copies host slots [first, first + count) into the device's slots [0, count), in one copy on the stream. */
    void copyUp(int first, int count) {
        Cuda.check(cuMemcpyHtoDAsync(device.at(0), hostSlots[first], (long) count * slotInts * DeviceArray.ELEMENT_BYTES,
                stream), "cuMemcpyHtoDAsync(tokens and step scalars)");
    }

    @Override
    public void close() {
        resources.close();
    }
}
