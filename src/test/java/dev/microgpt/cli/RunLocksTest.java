package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.testing.LockHolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
        try (LockHolder holder = LockHolder.lock(dir.resolve(".c.safetensors.lock"), "4242 elsewhere\n")) {
            RunFailure refused = checkpointRefused();
            assertTrue(refused.getMessage().contains("is in use by another run (process 4242 on host elsewhere)"),
                    refused.getMessage());
        }
    }

    /** A link where the lock file should be (planted in a shared directory) is refused; what it leads to untouched. */
    @Test
    void aLockFileThatIsALinkIsRefusedAndNotWrittenThrough() throws Exception {
        Path notes = Files.writeString(dir.resolve("notes.txt"), "precious");
        Files.createSymbolicLink(dir.resolve(".c.safetensors.lock"), notes);
        RunFailure refused = checkpointRefused();
        assertTrue(refused.getMessage().contains("is a symbolic link, which a run never writes through; remove the"
                + " link"), refused.getMessage());
        assertEquals("precious", Files.readString(notes));
    }

    /** A lock file is made writable by every user, so that a run under another user id can lock it in turn. */
    @Test
    void aNewLockFileIsWritableByEveryUser() throws Exception {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        RunLocks.acquire(List.of(new RunLocks.Output(dir.resolve("m.csv"), "--metrics"))).close();
        Path lockFile = dir.resolve(".m.csv.lock");
        assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(lockFile)));
    }

    /**
     * A lock file this user cannot write (left by another user's run before lock files were made writable) cannot
     * keep a second run of this user off the file: refused, saying why and what to do. Root writes any file, so there
     * the case does not arise (and the test is skipped).
     */
    @Test
    void aLockFileThisUserCannotWriteIsRefused() throws Exception {
        Path lockFile = Files.writeString(dir.resolve(".c.safetensors.lock"), "4242 elsewhere\n");
        Files.setPosixFilePermissions(lockFile, PosixFilePermissions.fromString("r--r--r--"));
        assumeFalse(Files.isWritable(lockFile), "this user (root) can write a read-only file");
        RunFailure refused = checkpointRefused();
        assertTrue(refused.getMessage().contains("and this user cannot write it; if no run uses"),
                refused.getMessage());
    }

    /** The refusal of a run that would lock c.safetensors in {@link #dir}. */
    private RunFailure checkpointRefused() {
        return assertThrows(RunFailure.class, () -> RunLocks.acquire(List.of(
                new RunLocks.Output(dir.resolve("c.safetensors"), "--checkpoint"))));
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
