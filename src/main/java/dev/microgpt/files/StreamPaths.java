package dev.microgpt.files;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Paths that name one of the process's open descriptors rather than a file: /dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N (or /proc/PID/fd/N), or a link on the way to one. Such a path is written in place, appending:
 * where it leads to a regular file (the shell's {@code > out.txt} behind /dev/stdout), replacing that file would take
 * it from the stream, leaving later output in a file no longer there, and truncating it would write over what the
 * process printed before. Standard output and error, by any of their names, are written through the process's own
 * descriptors, after what {@link System#out} and {@link System#err} hold. (Other files under /dev and /proc, such as
 * /dev/shm/x, are files.)
 */
public final class StreamPaths {

    /** A descriptor's names: group 1 is its number, or "stdout" or "stderr" (or "stdin"). */
    private static final Pattern DESCRIPTOR = Pattern.compile(
            "/dev/(std(?:in|out|err))|/dev/fd/([0-9]+)|/proc/(?:self|thread-self|[0-9]+)/fd/([0-9]+)");

    private StreamPaths() {
    }

    /** Whether {@code path}, or a link it leads through, names one of the process's descriptors. */
    public static boolean namesAStream(Path path) {
        return descriptor(path) != null;
    }

    /**
     * An output stream that appends to the stream {@code path} names: closing it flushes it, and closes what it opened
     * (never the process's standard output or error).
     */
    public static OutputStream appendingTo(Path path) throws IOException {
        String descriptor = descriptor(path);
        if ("1".equals(descriptor) || "stdout".equals(descriptor)) {
            System.out.flush();
            return ReplacedFile.keptOpen(new FileOutputStream(FileDescriptor.out));
        }
        if ("2".equals(descriptor) || "stderr".equals(descriptor)) {
            System.err.flush();
            return ReplacedFile.keptOpen(new FileOutputStream(FileDescriptor.err));
        }
        return Files.newOutputStream(path, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    /** The descriptor the first such name on {@code path}'s way names ("1", "stdout", ...), or null. */
    private static String descriptor(Path path) {
        List<Path> way = ReplacedFile.way(path);
        for (Path hop : way) {
            var name = DESCRIPTOR.matcher(hop.normalize().toString());
            if (name.matches()) {
                return name.group(1) != null ? name.group(1) : name.group(2) != null ? name.group(2) : name.group(3);
            }
        }
        return null;
    }
}
