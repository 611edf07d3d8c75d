package dev.microgpt.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.testing.LockHolder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file written whole or not at all: the previous contents survive a failure, a killed write's leftover goes with the
 * next write, a link stays a link, and a device is written in place.
 */
class ReplacedFileTest {

    @TempDir
    Path dir;

    private final Random random = new Random();

    @Test
    void aWriteThatFailsLeavesThePreviousContentsAndNoPartialFile() throws Exception {
        Path file = dir.resolve("loss.png");
        byte[] before = bytes(1000);
        Files.write(file, before);
        IOException thrown = assertThrows(IOException.class, () -> ReplacedFile.write(file, (OutputStream out) -> {
            out.write(bytes(500));
            throw new IOException("disk full");
        }));
        assertEquals("disk full", thrown.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), list());
    }

    @Test
    void aLinkStaysALinkAndItsTargetIsReplacedEvenBeforeItExists() throws Exception {
        Path runs = Files.createDirectory(dir.resolve("runs"));
        Path link = Files.createSymbolicLink(dir.resolve("loss.png"), runs.resolve("loss.png"));
        byte[] first = bytes(300);
        ReplacedFile.write(link, (OutputStream out) -> out.write(first));
        byte[] second = bytes(200);
        ReplacedFile.write(link, (OutputStream out) -> out.write(second));
        assertTrue(Files.isSymbolicLink(link));
        assertArrayEquals(second, Files.readAllBytes(runs.resolve("loss.png")));
        assertEquals(List.of(link, runs), list());
    }

    /** What a write killed before its rename left (a hidden temporary file) is removed by the next write. */
    @Test
    void theNextWriteRemovesAKilledWritesTemporaryFile() throws Exception {
        Path file = dir.resolve("m.csv");
        Path leftover = Files.write(dir.resolve(".m.csv.tmp-4242-1x2y3z"), bytes(100));
        Path otherFiles = Files.write(dir.resolve(".other.csv.tmp-4242-1x2y3z"), bytes(100));
        Path notATemporary = Files.write(dir.resolve(".m.csv.tmp-4242.lock"), bytes(100));
        byte[] contents = bytes(50);
        ReplacedFile.write(file, (OutputStream out) -> out.write(contents));
        assertArrayEquals(contents, Files.readAllBytes(file));
        assertEquals(List.of(notATemporary, otherFiles, file), list(), "only this file's leftovers go: " + leftover);
    }

    /**
     * Two writes of one file at once (two first runs saving the downloaded dataset) both succeed, the last renamed
     * wins; neither removes the other's temporary file, nor one another process is writing. That process is a second
     * JVM holding its file locked as a write does, under this process's id, as a writer in another container may be.
     */
    @Test
    void aWriteUnderWayHereOrElsewhereIsNotALeftover() throws Exception {
        Path file = dir.resolve("input.txt");
        Path othersUnderWay = dir.resolve(".input.txt.tmp-" + ProcessHandle.current().pid() + "-abc");
        try (LockHolder elsewhere = LockHolder.lock(othersUnderWay, "half a dataset")) {
            writeTwiceAtOnce(file);
            assertTrue(Files.exists(othersUnderWay), "the temporary file of a write under way elsewhere stays");
        }
        ReplacedFile.write(file, (OutputStream out) -> out.write(bytes(20)));
        assertEquals(List.of(file), list(), "its writer gone, it is a leftover");
    }

    private void writeTwiceAtOnce(Path file) throws Exception {
        CountDownLatch firstWriting = new CountDownLatch(1);
        CountDownLatch secondDone = new CountDownLatch(1);
        byte[] first = bytes(40);
        byte[] second = bytes(30);
        Thread slow = new Thread(() -> {
            try {
                ReplacedFile.write(file, (OutputStream out) -> {
                    out.write(first);
                    firstWriting.countDown();
                    try {
                        secondDone.await();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                });
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        List<Throwable> failures = new ArrayList<>();
        slow.setUncaughtExceptionHandler((t, e) -> failures.add(e));
        slow.start();
        firstWriting.await();
        ReplacedFile.write(file, (OutputStream out) -> out.write(second));
        assertArrayEquals(second, Files.readAllBytes(file));
        secondDone.countDown();
        slow.join();
        assertEquals(List.of(), failures, "the first write was not broken by the second");
        assertArrayEquals(first, Files.readAllBytes(file), "renamed last, it wins");
    }

    /**
     * A write holds its temporary file locked from its creation to the rename, which is what keeps other processes'
     * writes from taking it for a leftover, and lets go when it is done.
     */
    @Test
    void aWriteHoldsItsTemporaryFileLockedUntilItIsRenamed() throws Exception {
        Path file = dir.resolve("c.safetensors");
        List<Boolean> lockedMidway = new ArrayList<>();
        ReplacedFile.write(file, (OutputStream out) -> {
            out.write(bytes(10));
            out.flush();
            Path temp = list().stream().filter(p -> !p.equals(file)).findFirst().orElseThrow();
            lockedMidway.add(LockHolder.lockedForOthers(temp));
        });
        assertEquals(List.of(true), lockedMidway);
        assertFalse(LockHolder.lockedForOthers(file), "released once renamed");
    }

    /** Abandoned midway (a second Ctrl-C halting the process), a write leaves no temporary file, and fails. */
    @Test
    void anAbandonedWriteLeavesThePreviousContentsAndNoTemporaryFile() throws Exception {
        Path file = dir.resolve("loss.png");
        byte[] before = bytes(64);
        Files.write(file, before);
        List<Path> midway = new ArrayList<>();
        assertThrows(IOException.class, () -> ReplacedFile.write(file, (OutputStream out) -> {
            out.write(bytes(10));
            out.flush();
            midway.addAll(list());
            ReplacedFile.abandonWritesInProgress();
        }));
        assertEquals(2, midway.size(), "a temporary file was being written: " + midway);
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), list());
    }

    /** A chain of links too long to follow is refused, not replaced by a file where its end was not reached. */
    @Test
    void aChainOfLinksTooLongIsRefused() throws Exception {
        Path end = Files.write(dir.resolve("end.csv"), bytes(5));
        Path link = end;
        for (int i = 0; i < 12; i++) {
            link = Files.createSymbolicLink(dir.resolve("link" + i), link.getFileName());
        }
        Path start = link;
        IOException thrown = assertThrows(IOException.class,
                () -> ReplacedFile.write(start, (OutputStream out) -> out.write(1)));
        assertTrue(thrown.getMessage().contains("too many levels of symbolic links"), thrown.getMessage());
        assertTrue(Files.isSymbolicLink(start));
        assertEquals(5, Files.size(end));
    }

    /** A device has no contents to keep: written in place, it stays a device. */
    @Test
    void aDeviceIsWrittenInPlace() throws Exception {
        Path devNull = Path.of("/dev/null");
        assumeTrue(Files.exists(devNull) && !Files.isRegularFile(devNull), "a /dev/null device");
        ReplacedFile.write(devNull, (OutputStream out) -> out.write(bytes(10)));
        assertTrue(Files.exists(devNull) && !Files.isRegularFile(devNull));
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private List<Path> list() throws IOException {
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }
}
