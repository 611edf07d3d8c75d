package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import dev.microgpt.engine.DocumentBatch;
import java.nio.IntBuffer;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * What a training step reads besides the weights: its B documents, each as a slot of {@code T + 1} tokens then its
 * 4 StepScalars (kernels/common.cuh, Batch). The host stages a group of steps into pinned slots, B a step; a copy
 * takes one or more steps' slots, asynchronously, into the device's, which the kernels read (an eager or graph step
 * the first B, a fused launch of K steps K x B). The copy is ordered on the engine's stream after the steps before
 * it, which may still read those device slots, and nothing on the hot path waits or allocates.
 */
final class StepInput implements AutoCloseable {

    private static final int SCALARS = 4; // StepScalars: step, positions, num_steps, reserved

    private final NativeResources resources = new NativeResources();
    private final int t;
    private final int documents;
    private final int slotInts;
    private final CUstream stream;
    private final DeviceArray device;  // [device steps][B][T + 1 + 4] int
    private final PinnedInts host;     // [host steps][B][T + 1 + 4] int, laid out as the device's
    private final Pointer[] hostSteps; // [host steps]: each step's first slot, made once

    /**
     * @param documents   B, the documents of every step
     * @param deviceSteps the steps one copy may take up (a fused launch's K)
     * @param hostSteps   the steps staged before their losses are collected
     */
    StepInput(int blockSize, int documents, int deviceSteps, int hostSteps, CUstream stream) {
        this.t = blockSize;
        this.documents = documents;
        this.slotInts = blockSize + 1 + SCALARS;
        this.stream = stream;
        try {
            this.device = resources.own(new DeviceArray("step_input", (long) deviceSteps * documents * slotInts));
            this.host = resources.own(new PinnedInts("staging", Math.multiplyExact(hostSteps * documents, slotInts)));
            this.hostSteps = new Pointer[hostSteps];
            for (int step = 0; step < hostSteps; step++) {
                this.hostSteps[step] = host.at(step * documents * slotInts);
            }
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
    }

    /** The device's first step's documents, as the kernels take them. */
    DocumentSlots documents() {
        return new DocumentSlots(device.at(0), slotInts, documents, t);
    }

    /** [4] int, the first document's StepScalars on the device: the step's, for Adam. */
    CUdeviceptr scalars() {
        return device.at(t + 1);
    }

    /** B. */
    int batchSize() {
        return documents;
    }

    /** Writes the batch's documents and their scalars into host step {@code slot}. */
    void stage(int slot, DocumentBatch batch, int step, int numSteps) {
        if (batch.size() != documents) {
            throw new IllegalArgumentException("this engine trains " + documents + " documents a step, got "
                    + batch.size());
        }
        IntBuffer pinned = host.ints();
        for (int b = 0; b < documents; b++) {
            int[] doc = batch.tokens(b);
            int positions = batch.positions(b);
            if (positions > t) {
                throw new IllegalArgumentException("positions must be in [1, " + t + "], got " + positions);
            }
            int base = (slot * documents + b) * slotInts;
            for (int i = 0; i <= positions; i++) {
                pinned.put(base + i, doc[i]);
            }
            putScalars(base, step, positions, numSteps);
        }
    }

    /** Writes the first document's scalars alone into host step {@code slot}: a step that reads no tokens (Adam). */
    void stageScalars(int slot, int step, int numSteps) {
        putScalars(slot * documents * slotInts, step, 0, numSteps);
    }

    private void putScalars(int slotBase, int step, int positions, int numSteps) {
        int s = slotBase + t + 1;
        host.ints().put(s, step).put(s + 1, positions).put(s + 2, numSteps).put(s + 3, 0);
    }

    /** Copies host steps [first, first + count) into the device's first steps, in one copy on the stream. */
    void copyUp(int first, int count) {
        Cuda.check(cuMemcpyHtoDAsync(device.at(0), hostSteps[first],
                (long) count * documents * slotInts * DeviceArray.ELEMENT_BYTES, stream),
                "cuMemcpyHtoDAsync(tokens and step scalars)");
    }

    @Override
    public void close() {
        resources.close();
    }
}
