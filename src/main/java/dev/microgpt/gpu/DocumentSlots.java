package dev.microgpt.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * A step's documents on the device, as every kernel takes them (kernels/common.cuh, Batch): {@code documents} slots of
 * {@code slotInts} ints from {@code slots}, each a document's T + 1 tokens then its StepScalars. The step's
 * activations have documents x T rows.
 */
record DocumentSlots(CUdeviceptr slots, int slotInts, int documents, int blockSize) {

    /** B x T, the rows of every activation buffer. */
    int rows() {
        return documents * blockSize;
    }
}
