package dev.microgpt.checkpoint;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.security.MessageDigest;

/**
 * The data buffer of a checkpoint: params ‖ adam_m ‖ adam_v, [P] each, little-endian values of the checkpoint's
 * dtype. Encoded and decoded through one small reusable chunk, so no copy of the whole buffer is ever made.
 */
final class TensorData {

    /** A multiple of 8, so that every chunk holds whole values of either dtype. */
    private static final int CHUNK_BYTES = 1 << 16;

    private TensorData() {
    }

    /** Receives the encoded buffer chunk by chunk; a chunk is only valid during the call. */
    @FunctionalInterface
    interface ChunkSink {
        void accept(ByteBuffer chunk) throws IOException;
    }

    /** Encodes the checkpoint's three arrays, F32 values rounded to float, into consecutive chunks. */
    static void encode(Checkpoint checkpoint, ChunkSink sink) throws IOException {
        DType dtype = checkpoint.dtype();
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (double[] values : new double[][] {checkpoint.params(), checkpoint.adamM(), checkpoint.adamV()}) {
            for (double value : values) {
                if (!chunk.hasRemaining()) {
                    drain(chunk, sink);
                }
                if (dtype == DType.F64) {
                    chunk.putDouble(value);
                } else {
                    chunk.putFloat((float) value);
                }
            }
        }
        drain(chunk, sink);
    }

    private static void drain(ByteBuffer chunk, ChunkSink sink) throws IOException {
        chunk.flip();
        sink.accept(chunk);
        chunk.clear();
    }

    /**
     * Fills {@code arrays} in order from the next bytes of {@code in}, as many as they hold, widening F32 values to
     * double, and feeds every byte read to {@code digest}.
     *
     * @throws EOFException if the channel ends first
     */
    static void decode(ReadableByteChannel in, DType dtype, MessageDigest digest, double[]... arrays)
            throws IOException {
        long remaining = 0;
        for (double[] values : arrays) {
            remaining += (long) values.length * dtype.bytes();
        }
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        chunk.limit(0);
        for (double[] values : arrays) {
            for (int i = 0; i < values.length; i++) {
                if (!chunk.hasRemaining()) {
                    chunk.clear();
                    chunk.limit((int) Math.min(CHUNK_BYTES, remaining));
                    readFully(in, chunk);
                    remaining -= chunk.limit();
                    digest.update(chunk.array(), 0, chunk.limit());
                    chunk.flip();
                }
                values[i] = dtype == DType.F64 ? chunk.getDouble() : chunk.getFloat();
            }
        }
    }

    /** Reads until {@code buffer} is full. */
    static void readFully(ReadableByteChannel in, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (in.read(buffer) < 0) {
                throw new EOFException("the file ended " + buffer.remaining() + " bytes early; it changed while"
                        + " being read");
            }
        }
    }
}
