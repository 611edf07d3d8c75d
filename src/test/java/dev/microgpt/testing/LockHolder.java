package dev.microgpt.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Another process holding an exclusive lock on a file, as a run or a write in another JVM (or another container) would:
 * a second JVM that creates the file if need be, locks it, writes {@code contents} into it and holds the lock until
 * closed. A lock of this JVM's own would not do: POSIX locks are the process's, so this JVM would not see it.
 */
public final class LockHolder implements AutoCloseable {

    private static final String SOURCE = """
            import java.nio.channels.FileChannel;
            import java.nio.file.*;
            public class Holder {
                public static void main(String[] a) throws Exception {
                    FileChannel c = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE,
                            StandardOpenOption.READ, StandardOpenOption.WRITE);
                    c.lock();
                    c.write(java.nio.ByteBuffer.wrap(a[1].getBytes()));
                    System.out.println("locked");
                    System.in.read();
                }
            }
            """;

    private final Path source;
    private final Process process;

    private LockHolder(Path source, Process process) {
        this.source = source;
        this.process = process;
    }

    /** Returns once the lock on {@code file} is held. */
    public static LockHolder lock(Path file, String contents) throws IOException {
        Path source = Files.writeString(Files.createTempDirectory("lock-holder").resolve("Holder.java"), SOURCE);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(java.toString(), source.toString(), file.toString(), contents)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        LockHolder holder = new LockHolder(source, process);
        String line = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        if (!"locked".equals(line)) {
            holder.close();
            throw new IOException("the lock holder did not lock " + file + " (it said " + line + ")");
        }
        return holder;
    }

    @Override
    public void close() {
        try {
            process.destroyForcibly().waitFor();
            Files.delete(source);
            Files.delete(source.getParent());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // a source left in the temporary directory
        }
    }
}
