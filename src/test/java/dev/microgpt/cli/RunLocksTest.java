package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The locks within one process (the command-line tests check them across processes): a file locked is refused to a
 * second run until released, by any of its names, and one run naming a file twice locks it once.
 */
class RunLocksTest {

    @TempDir
    Path dir;

    @Test
    void aFileLockedHereIsRefusedToAnotherRunByAnyNameUntilReleased() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("runs"));
        Path viaLink = Files.createSymbolicLink(dir.resolve("link"), sub);
        RunLocks.Output metrics = new RunLocks.Output(sub.resolve("m.csv"), "--metrics");
        try (RunLocks first = RunLocks.acquire(List.of(metrics, new RunLocks.Output(dir.resolve("runs/./m.csv"),
                "--checkpoint")))) {
            RunFailure refused = assertThrows(RunFailure.class, () -> RunLocks.acquire(List.of(
                    new RunLocks.Output(viaLink.resolve("m.csv"), "--metrics"))));
            assertTrue(refused.getMessage().contains("is in use by another run in this process"), refused.getMessage());
            assertTrue(Files.exists(sub.resolve(".m.csv.lock")));
            assertTrue(Files.readString(sub.resolve(".m.csv.lock")).startsWith(ProcessHandle.current().pid() + " "),
                    "the holder's process id, then its host");
        }
        try (RunLocks again = RunLocks.acquire(List.of(new RunLocks.Output(viaLink.resolve("m.csv"), "--metrics")))) {
            assertTrue(Files.exists(sub.resolve(".m.csv.lock")), "released, and taken again");
        }
    }

    /**
     * A lock another process holds is refused, naming the process, and its host where that is another (a container,
     * a machine sharing the directory). The holder is a second JVM that locks the file as a run on "elsewhere" would.
     */
    @Test
    void aLockHeldElsewhereIsRefusedNamingItsProcessAndHost() throws Exception {
        Path holder = Files.writeString(dir.resolve("Holder.java"), """
                import java.nio.channels.FileChannel;
                import java.nio.file.*;
                public class Holder {
                    public static void main(String[] a) throws Exception {
                        FileChannel c = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE,
                                StandardOpenOption.READ, StandardOpenOption.WRITE);
                        c.lock();
                        c.write(java.nio.ByteBuffer.wrap("4242 elsewhere\\n".getBytes()));
                        System.out.println("locked");
                        System.in.read();
                    }
                }
                """);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), holder.toString(),
                dir.resolve(".c.safetensors.lock").toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            assertEquals("locked", new BufferedReader(new InputStreamReader(p.getInputStream())).readLine(),
                    "the holder took the lock");
            RunFailure refused = assertThrows(RunFailure.class, () -> RunLocks.acquire(List.of(
                    new RunLocks.Output(dir.resolve("c.safetensors"), "--checkpoint"))));
            assertTrue(refused.getMessage().contains("is in use by another run (process 4242 on host elsewhere)"),
                    refused.getMessage());
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    /** A run refused on its second output holds none: the first is free for the next. */
    @Test
    void aRunRefusedOnOneOutputHoldsNone() throws Exception {
        RunLocks.Output checkpoint = new RunLocks.Output(dir.resolve("c.safetensors"), "--checkpoint");
        RunLocks.Output metrics = new RunLocks.Output(dir.resolve("m.csv"), "--metrics");
        try (RunLocks holder = RunLocks.acquire(List.of(metrics))) {
            assertThrows(RunFailure.class, () -> RunLocks.acquire(List.of(checkpoint, metrics)));
            RunLocks.acquire(List.of(checkpoint)).close();
        }
    }

    /** A device is written in place, and gets no lock file; a missing directory none either (the write says so). */
    @Test
    void noLockBesideADeviceOrInAMissingDirectory() {
        RunLocks.acquire(List.of(new RunLocks.Output(Path.of("/dev/null"), "--metrics"),
                new RunLocks.Output(dir.resolve("missing/m.csv"), "--metrics"))).close();
        assertTrue(Files.notExists(Path.of("/dev/.null.lock")) && Files.notExists(dir.resolve("missing")));
    }
}
