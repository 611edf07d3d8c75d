package dev.microgpt.cli;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import dev.microgpt.files.ReplacedFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps a second run off the files this one writes as it goes (its checkpoint, its metrics), which the two would
 * otherwise replace and interleave under each other: an exclusive lock on a hidden file beside each,
 * {@code .<name>.lock}, holding the owner's process id and host name, taken before anything is read and held until
 * the run ends. The system releases it when the process ends, however it ends. The lock files stay (deleting one would let a
 * third run lock a new file while a second still holds the old), writable by every user, so that runs under other user
 * ids lock them too. Where a lock cannot be taken at all (a read-only directory, a file system without locks) the run
 * goes on without it: writing the file itself then says what is wrong.
 */
final class RunLocks implements AutoCloseable {

    /** A file the run writes as it goes, and the option that names it. */
    record Output(Path file, String option) {
    }

    /**
     * The lock files this process holds, by real path. A lock is the process's (POSIX), and closing any other channel on
     * its file would release it, so a file held here is never opened again until it is released.
     */
    private static final Set<Path> HELD_HERE = ConcurrentHashMap.newKeySet();
    /** Written beside the process id, so a run refused in another container or on another machine can tell. */
    private static final String HOST = hostName();

    private final List<FileChannel> channels = new ArrayList<>();
    private final List<Path> lockFiles = new ArrayList<>();

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
        if (ReplacedFile.writtenInPlace(output.file())) {
            return; // a stream (--metrics /dev/stdout), a device or a pipe: nothing replaced, no lock beside it
        }
        Path target = ReplacedFile.landing(output.file());
        Path lockFile;
        try {
            lockFile = target.getParent().toRealPath().resolve("." + target.getFileName() + ".lock");
        } catch (IOException e) {
            return; // no directory: writing the output says so
        }
        if (lockFiles.contains(lockFile)) {
            return; // two outputs landing on one file, which is refused next with its own message
        }
        if (!HELD_HERE.add(lockFile)) {
            throw inUse(output, " in this process");
        }
        boolean locked = false;
        try {
            locked = lockAs(output, lockFile);
        } finally {
            if (!locked) {
                HELD_HERE.remove(lockFile);
            }
        }
    }

    /** Takes the lock on {@code lockFile}: whether it is held now (false where none can be taken). */
    private boolean lockAs(Output output, Path lockFile) {
        if (Files.isSymbolicLink(lockFile)) { // planted in a shared directory, it would have this run write elsewhere
            throw new RunFailure(output.option() + " " + output.file() + " cannot be locked against other runs: its"
                    + " lock file " + lockFile + " is a symbolic link, which a run never writes through; remove the link");
        }
        FileChannel channel;
        try {
            channel = openWritable(lockFile);
        } catch (AccessDeniedException e) {
            if (Files.exists(lockFile, NOFOLLOW_LINKS)) {
                throw new RunFailure(output.option() + " " + output.file() + " cannot be locked against other runs: its"
                        + " lock file " + lockFile + " belongs to " + owner(lockFile) + " and this user cannot write"
                        + " it; if no run uses " + output.file() + " now, remove the lock file (or have its owner make"
                        + " it writable: chmod a+w)");
            }
            return false; // a directory this user cannot write in: writing the output says so
        } catch (IOException e) {
            return false; // see the class comment: no lock where none can be taken
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (IOException e) {
            closeQuietly(channel);
            return false; // no locks on this file system
        }
        if (lock == null) {
            String holder = holder(channel);
            closeQuietly(channel);
            throw inUse(output, holder);
        }
        channels.add(channel);
        lockFiles.add(lockFile);
        try {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + " " + HOST + "\n")
                    .getBytes(StandardCharsets.UTF_8)));
        } catch (IOException e) {
            // the id is only for the message of a run refused: the lock holds without it
        }
        return true;
    }

    /**
     * The lock file, open to read and write: created where missing, then made writable by every user (through the file
     * itself, not a link put in its place), so that a run under another user id (a container's) can lock it too; an
     * existing one is opened as it is, never through a link. One that another user's run has only just created, and
     * not yet made writable, is tried again a moment later.
     */
    private static FileChannel openWritable(Path lockFile) throws IOException {
        try {
            FileChannel created = FileChannel.open(lockFile, CREATE_NEW, READ, WRITE);
            PosixFileAttributeView modes = Files.getFileAttributeView(lockFile, PosixFileAttributeView.class,
                    NOFOLLOW_LINKS); // null on a system without POSIX modes: the lock works for this user as it is
            if (modes != null) {
                try {
                    modes.setPermissions(PosixFilePermissions.fromString("rw-rw-rw-"));
                } catch (IOException e) {
                    // left as this user's umask made it: runs of other users are refused, saying why
                }
            }
            return created;
        } catch (FileAlreadyExistsException e) {
            try {
                return FileChannel.open(lockFile, READ, WRITE, NOFOLLOW_LINKS);
            } catch (AccessDeniedException denied) {
                sleepBriefly();
                return FileChannel.open(lockFile, READ, WRITE, NOFOLLOW_LINKS);
            }
        }
    }

    private static void sleepBriefly() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String owner(Path file) {
        try {
            return "user " + Files.getOwner(file, NOFOLLOW_LINKS).getName();
        } catch (IOException | UnsupportedOperationException e) {
            return "another user";
        }
    }

    private static RunFailure inUse(Output output, String holder) {
        return new RunFailure(output.option() + " " + output.file() + " is in use by another run" + holder
                + "; wait for it to end, or give this run another " + output.option());
    }

    /**
     * " (process N)" from the lock file's contents ("pid host"), read through the channel already open on it, with
     * " on host H" where that is not this one (a container, another machine sharing the directory); else nothing.
     */
    private static String holder(FileChannel channel) {
        try {
            ByteBuffer contents = ByteBuffer.allocate(320);
            channel.read(contents, 0);
            String[] fields = new String(contents.array(), 0, contents.position(), StandardCharsets.UTF_8).strip()
                    .split(" ", 2);
            if (!fields[0].matches("[0-9]{1,19}")) {
                return "";
            }
            String host = fields.length == 2 ? fields[1].strip() : "";
            return " (process " + fields[0] + (host.isEmpty() || host.equals(HOST) ? "" : " on host " + host) + ")";
        } catch (IOException e) {
            return "";
        }
    }

    /** This machine's (or container's) name, as the kernel has it; empty where it cannot be read. */
    private static String hostName() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.UTF_8).strip();
        } catch (IOException | RuntimeException e) {
            return Objects.requireNonNullElse(System.getenv("HOSTNAME"), "").strip();
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
        channels.forEach(RunLocks::closeQuietly);
        channels.clear();
        HELD_HERE.removeAll(lockFiles);
        lockFiles.clear();
    }
}
