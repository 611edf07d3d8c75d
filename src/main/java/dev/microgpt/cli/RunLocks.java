package dev.microgpt.cli;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import dev.microgpt.files.ReplacedFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Keeps a second run off the files this one writes as it goes (its checkpoint, its metrics), which the two would
 * otherwise replace and interleave under each other: an exclusive lock on a hidden file beside each,
 * {@code .<name>.lock}, holding the owner's process id, taken before anything is read and held until the run ends.
 * The system releases it when the process ends, however it ends. The lock files stay (deleting one would let a third
 * run lock a new file while a second still holds the old). Where a lock cannot be taken at all (a read-only directory,
 * a file system without locks) the run goes on without it: writing the file itself then says what is wrong.
 */
final class RunLocks implements AutoCloseable {

    /** A file the run writes as it goes, and the option that names it. */
    record Output(Path file, String option) {
    }

    private final List<FileChannel> held = new ArrayList<>();
    private final Set<Path> lockFiles = new HashSet<>(); // two outputs landing on one file (refused later) lock it once

    private RunLocks() {
    }

    /**
     * Locks every output, or none: one that another process holds is refused (RunFailure), naming it, the holder's
     * process id and the way out.
     */
    static RunLocks acquire(List<Output> outputs) {
        RunLocks locks = new RunLocks();
        try {
            for (Output output : outputs) {
                locks.lock(output);
            }
            return locks;
        } catch (RuntimeException e) {
            locks.close();
            throw e;
        }
    }

    private void lock(Output output) {
        Path target = ReplacedFile.landing(output.file());
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            return; // a device or a pipe (--metrics /dev/stdout) is written in place, nothing replaced: no lock beside it
        }
        Path lockFile = target.resolveSibling("." + target.getFileName() + ".lock");
        FileChannel channel;
        try {
            channel = FileChannel.open(lockFile, CREATE, READ, WRITE);
            if (!lockFiles.add(lockFile.toRealPath())) {
                channel.close();
                return;
            }
        } catch (IOException e) {
            return; // see the class comment: no lock where none can be taken
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this process: another run in the same JVM
        } catch (IOException e) {
            closeQuietly(channel);
            return; // no locks on this file system
        }
        if (lock == null) {
            String holder = holder(lockFile);
            closeQuietly(channel);
            throw new RunFailure(output.option() + " " + output.file() + " is in use by another run" + holder
                    + "; wait for it to end, or give this run another " + output.option());
        }
        held.add(channel);
        try {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException e) {
            // the id is only for the message of a run refused: the lock holds without it
        }
    }

    /** " (process N)" from the lock file's contents, or nothing when it holds no id yet. */
    private static String holder(Path lockFile) {
        try {
            String pid = Files.readString(lockFile, StandardCharsets.US_ASCII).strip();
            return pid.matches("[0-9]{1,19}") ? " (process " + pid + ")" : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing held to lose
        }
    }

    /** Releases the locks (closing a channel releases its lock). */
    @Override
    public void close() {
        held.forEach(RunLocks::closeQuietly);
        held.clear();
    }
}
