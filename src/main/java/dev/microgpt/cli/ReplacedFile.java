package dev.microgpt.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes an output whole or not at all: into a file beside it, renamed over it at the end, so that a run stopped or
 * failing on the way leaves the previous contents as they were. Through links, the file they lead to is written (a
 * link stays a link, {@link OutputFile#landing}); a file that is not a regular one (a device, a pipe) is written in
 * place. {@link OutputFile#requireWritableWhole} checks beforehand that this can be done.
 */
final class ReplacedFile {

    /** What writes the contents. */
    interface Contents {
        void writeTo(OutputStream out) throws IOException;
    }

    private ReplacedFile() {
    }

    static void write(Path file, Contents contents) throws IOException {
        Path target = OutputFile.landing(file);
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            try (OutputStream out = Files.newOutputStream(target)) {
                contents.writeTo(out);
            }
            return;
        }
        Path temporary = target.resolveSibling(target.getFileName() + "."
                + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".partial");
        try {
            try (OutputStream out = Files.newOutputStream(temporary, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                contents.writeTo(out);
            }
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }
}
