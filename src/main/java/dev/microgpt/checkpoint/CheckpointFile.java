package dev.microgpt.checkpoint;

import static java.nio.file.StandardOpenOption.READ;

import dev.microgpt.files.ReplacedFile;
import dev.microgpt.files.StreamPaths;
import dev.microgpt.files.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * Checkpoints on disk, in the <a href="https://github.com/huggingface/safetensors">safetensors</a> format: an 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON (padded with spaces so that the data starts 8-byte aligned),
 * then the data buffer. Any safetensors reader can open the file; {@link CheckpointHeader} lists its tensors and
 * metadata, {@link TensorData} its data.
 *
 * <p>{@link #write} replaces a checkpoint atomically and durably: a process killed at any moment, even by SIGKILL,
 * or a machine that loses power, leaves either the old checkpoint or the new one, never a mix. {@link #read} trusts
 * nothing in the file: every length, name, shape and offset is checked, and the data against its SHA-256.
 */
public final class CheckpointFile {

    private static final int LENGTH_BYTES = Long.BYTES;
    private CheckpointFile() {
    }

    /** Told how many bytes of the temporary file are written, after the header and after each chunk of data. */
    @FunctionalInterface
    interface WriteProgress {
        void written(long bytes) throws IOException;
    }

    /**
     * Writes {@code checkpoint} to {@code path}, replacing any file there only once the new one is complete on disk
     * ({@link ReplacedFile}: a temporary file beside it, forced, renamed over it, the rename made durable). On failure
     * an existing checkpoint at {@code path} is left as it was. The directory is not created.
     *
     * @throws CheckpointException if the directory is missing or the file cannot be written; the message says why
     */
    public static void write(Path path, Checkpoint checkpoint) throws CheckpointException {
        write(path, checkpoint, bytes -> { });
    }

    /** {@link #write(Path, Checkpoint)}, reporting progress to {@code progress}, which may fail it (for tests). */
    static void write(Path path, Checkpoint checkpoint, WriteProgress progress) throws CheckpointException {
        if (StreamPaths.namesAStream(path)) {
            throw new CheckpointException("cannot write checkpoint " + path + ": it names a stream, not a file, and a"
                    + " checkpoint is a file that --resume reads back; choose a file");
        }
        Path target = ReplacedFile.landing(path);
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            throw new CheckpointException("cannot write checkpoint " + path + ": it is not a regular file (a"
                    + " directory, a device or a pipe), which the write would replace; choose another path");
        }
        Path directory = target.getParent();
        if (!Files.isDirectory(directory)) {
            throw new CheckpointException("cannot write checkpoint " + path + ": directory " + directory
                    + " does not exist; create it or choose another path");
        }
        byte[] header = CheckpointHeader.of(checkpoint, sha256Hex(checkpoint)).encode();
        try {
            ReplacedFile.write(target, (FileChannel out) -> {
                writeFully(out, ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(0, header.length));
                writeFully(out, ByteBuffer.wrap(header));
                progress.written(out.position());
                TensorData.encode(checkpoint, chunk -> {
                    writeFully(out, chunk);
                    progress.written(out.position());
                });
            });
        } catch (IOException e) {
            throw new CheckpointException("cannot write checkpoint " + path + " (" + describe(e) + "); check that "
                    + directory + " is writable and has free space", e);
        }
    }

    private static String sha256Hex(Checkpoint checkpoint) {
        MessageDigest digest = Sha256.digest();
        try {
            TensorData.encode(checkpoint, digest::update);
        } catch (IOException e) {
            throw new AssertionError("a digest does not do I/O", e);
        }
        return Sha256.hex(digest);
    }

    /**
     * Reads and validates the checkpoint at {@code path}. F32 files are widened to double; F64 files read back bit
     * for bit.
     *
     * @return the checkpoint, its arrays [P] each in layout order
     * @throws CheckpointException if the file is missing, unreadable, not a microgpt checkpoint, of another format
     *     version, truncated, inconsistent or corrupt; the one-line message names the problem and what to do
     */
    public static Checkpoint read(Path path) throws CheckpointException {
        String file = path.toString();
        if (!Files.exists(path)) {
            throw new CheckpointException("no checkpoint at " + file + ": the file does not exist; check the path");
        }
        if (Files.isDirectory(path)) {
            throw new CheckpointException("checkpoint " + file + " is a directory; pass the checkpoint file in it");
        }
        try (FileChannel in = FileChannel.open(path, READ)) {
            return read(file, in);
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw new CheckpointException("cannot read checkpoint " + file + " (" + describe(e)
                    + "); check that it is a readable file", e);
        }
    }

    private static Checkpoint read(String file, FileChannel in) throws IOException {
        long size = in.size();
        if (size < LENGTH_BYTES) {
            throw new CheckpointException("checkpoint " + file + " is truncated or not a checkpoint: it holds " + size
                    + " bytes, fewer than the 8 of a safetensors header length; use an earlier checkpoint");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        TensorData.readFully(in, lengthBytes);
        long headerLength = lengthBytes.getLong(0); // unsigned in the spec: negative here means at least 2^63
        if (headerLength < 0 || headerLength > CheckpointHeader.MAX_HEADER_BYTES) {
            throw new CheckpointException("checkpoint " + file + " is not a safetensors file: its first 8 bytes give a"
                    + " header length of " + Long.toUnsignedString(headerLength) + " bytes, over the limit of "
                    + CheckpointHeader.MAX_HEADER_BYTES + "; pass a checkpoint written by microgpt");
        }
        if (headerLength > size - LENGTH_BYTES) {
            throw new CheckpointException("checkpoint " + file + " is truncated: its header length is " + headerLength
                    + " bytes but the file holds " + (size - LENGTH_BYTES) + " after the length; it was not written"
                    + " completely, use an earlier checkpoint");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        TensorData.readFully(in, headerBytes);
        CheckpointHeader header = CheckpointHeader.parse(file, utf8(file, headerBytes.flip()));

        long expected = header.dataBytes();
        long actual = size - LENGTH_BYTES - headerLength;
        if (actual < expected) {
            throw new CheckpointException("checkpoint " + file + " is truncated: its header says " + expected
                    + " bytes of tensors but the file holds " + actual + "; it was not written completely, use an"
                    + " earlier checkpoint");
        }
        if (actual > expected) {
            throw new CheckpointException("checkpoint " + file + " has " + (actual - expected) + " bytes after its "
                    + expected + " bytes of tensors, which its header does not describe; " + CheckpointHeader.DAMAGED);
        }

        double[] params = new double[header.parameterCount()];
        double[] adamM = new double[params.length];
        double[] adamV = new double[params.length];
        MessageDigest digest = Sha256.digest();
        TensorData.decode(in, header.dtype(), digest, params, adamM, adamV);
        String checksum = Sha256.hex(digest);
        if (!checksum.equals(header.dataSha256())) {
            throw new CheckpointException("checkpoint " + file + " is corrupt: its tensor data has SHA-256 " + checksum
                    + " but its header records " + header.dataSha256() + "; the file was damaged after it was"
                    + " written, use an earlier checkpoint");
        }
        try {
            return header.withData(params, adamM, adamV);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("checkpoint " + file + " has inconsistent metadata: "
                    + CheckpointHeader.oneLine(e.getMessage()) + "; " + CheckpointHeader.DAMAGED, e);
        }
    }

    /** Strict UTF-8, as safetensors requires: malformed bytes are refused, not replaced. */
    private static String utf8(String file, ByteBuffer bytes) throws CheckpointException {
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException("checkpoint " + file + " is not a safetensors file: its header is not UTF-8"
                    + " text; pass a checkpoint written by microgpt", e);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
    }

    /** What went wrong, in words for the user: the file-system exceptions carry it in their type, not their message. */
    private static String describe(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return CheckpointHeader.oneLine(f.getReason());
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : CheckpointHeader.oneLine(e.getMessage());
    }
}
