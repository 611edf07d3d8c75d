package dev.microgpt.checkpoint;

/**
 * Element type of a checkpoint's tensors, named as safetensors names it. A checkpoint is stored in the precision
 * its engine trains in: {@link #F64} for the exact CPU engines, {@link #F32} for a float32 GPU engine. In memory the
 * values are always {@code double}; F32 values are rounded to float when written.
 */
public enum DType {
    F64(Double.BYTES),
    F32(Float.BYTES);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element in the file. */
    public int bytes() {
        return bytes;
    }
}
