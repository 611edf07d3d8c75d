package dev.microgpt.files;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;

/**
 * Paths that name a stream rather than a file: anything under /dev or /proc (/dev/stdout, /dev/fd/N, /proc/self/fd/N,
 * /dev/null), or a link on the way there. Such a path is written in place, appending. Where it leads to a regular file (the shell's
 * {@code > out.txt} behind /dev/stdout), replacing that file would take it from the stream, leaving later output in a
 * file no longer there, and truncating it would write over what the process printed before. The process's standard
 * output and error, by any of their names, are written through its own descriptors, after what {@link System#out} and
 * {@link System#err} hold, so that everything on them stays in order.
 */
public final class StreamPaths {

    private static final Set<Path> STANDARD_OUTPUT = Set.of(Path.of("/dev/stdout"), Path.of("/dev/fd/1"),
            Path.of("/proc/self/fd/1"), Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/1"));
    private static final Set<Path> STANDARD_ERROR = Set.of(Path.of("/dev/stderr"), Path.of("/dev/fd/2"),
            Path.of("/proc/self/fd/2"), Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/2"));

    private StreamPaths() {
    }

    /** Whether {@code path}, or a link it leads through, lies under /dev or /proc: written in place, not replaced. */
    public static boolean namesAStream(Path path) {
        return hops(path).stream().anyMatch(hop -> hop.startsWith("/dev") || hop.startsWith("/proc"));
    }

    /** {@code path} and each link it leads through ({@link ReplacedFile#landing}'s way), normalized. */
    private static List<Path> hops(Path path) {
        return ReplacedFile.way(path).stream().map(Path::normalize).toList();
    }

    /** What writes to a channel. */
    @FunctionalInterface
    public interface ChannelWrite {
        void writeTo(FileChannel out) throws IOException;
    }

    /** Runs {@code write} on a channel that appends to the stream {@code path} names. */
    public static void append(Path path, ChannelWrite write) throws IOException {
        FileDescriptor standard = standardDescriptor(path);
        if (standard != null) {
            write.writeTo(new FileOutputStream(standard).getChannel()); // not closed: that would close the descriptor
            return;
        }
        try (FileChannel out = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            write.writeTo(out);
        }
    }

    /**
     * An output stream that appends to the stream {@code path} names: closing it flushes it, and closes what it opened
     * (never the process's standard output or error).
     */
    public static OutputStream appendingTo(Path path) throws IOException {
        FileDescriptor standard = standardDescriptor(path);
        if (standard == null) {
            return Files.newOutputStream(path, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        }
        return ReplacedFile.keptOpen(new FileOutputStream(standard));
    }

    /**
     * The process's standard output or error where {@code path} is one of their names, with what {@link System#out}
     * or {@link System#err} holds flushed to it first; null for any other path.
     */
    private static FileDescriptor standardDescriptor(Path path) {
        for (Path hop : hops(path)) {
            if (STANDARD_OUTPUT.contains(hop)) {
                System.out.flush();
                return FileDescriptor.out;
            }
            if (STANDARD_ERROR.contains(hop)) {
                System.err.flush();
                return FileDescriptor.err;
            }
        }
        return null;
    }
}
