package dev.microgpt.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Another process holding an exclusive lock on a file, as a run or a write in another JVM (or another container) would:
 * a second JVM that creates the file if need be, locks it, writes {@code contents} into it and holds the lock until
 * closed; and {@link #lockedForOthers}, what another process sees of this one's locks. Neither can be done within this
 * JVM: POSIX locks are the process's, so it never sees its own.
 */
public final class LockHolder implements AutoCloseable {

    private static final String SOURCE = """
            import java.nio.channels.FileChannel;
            import java.nio.file.*;
            public class Holder {
                public static void main(String[] a) throws Exception {
                    if (a.length == 1) {
                        FileChannel c = FileChannel.open(Path.of(a[0]), StandardOpenOption.READ);
                        System.out.println(c.tryLock(0, Long.MAX_VALUE, true) == null ? "held" : "free");
                        return;
                    }
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
        LockHolder holder = start(file.toString(), contents);
        String line = holder.firstLine();
        if (!"locked".equals(line)) {
            holder.close();
            throw new IOException("the lock holder did not lock " + file + " (it said " + line + ")");
        }
        return holder;
    }

    /** Whether another process finds {@code file} locked (a shared lock refused to it). */
    public static boolean lockedForOthers(Path file) throws IOException {
        try (LockHolder prober = start(file.toString())) {
            String line = prober.firstLine();
            if (!"held".equals(line) && !"free".equals(line)) {
                throw new IOException("the lock prober could not try " + file + " (it said " + line + ")");
            }
            return line.equals("held");
        }
    }

    private static LockHolder start(String... arguments) throws IOException {
        Path source = Files.writeString(Files.createTempDirectory("lock-holder").resolve("Holder.java"), SOURCE);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), source.toString()));
        command.addAll(List.of(arguments));
        return new LockHolder(source, new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD)
                .start());
    }

    private String firstLine() throws IOException {
        return new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)).readLine();
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
