package dev.microgpt.files;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Every file the trainer writes whole (the checkpoint, the loss plot, the metrics a resume keeps, the downloaded
 * dataset) is replaced whole or not at all, and durably: the contents go to a hidden temporary file beside it,
 * {@code .<name>.tmp-<pid>-<random>}, which is forced to disk, renamed over it atomically, and the rename made durable
 * by forcing the directory. A process killed at any moment, even by SIGKILL, or a machine that loses power, leaves the
 * old file or the new one, never a mix; the next write to the file removes what a write no longer under way left (where
 * it can read it, on a file system with locks: elsewhere a leftover stays, hidden and harmless). Two runs may write one
 * file at once (two first runs both saving the downloaded dataset, in two containers sharing a volume): neither
 * removes the other's temporary file, which its writer holds locked until the rename (a lock the system releases
 * however the process ends, and which other containers see, where process ids are their own). Through links, the file
 * they lead to is replaced, and a link stays a link ({@link #landing}). A path that names one of the process's
 * descriptors ({@link StreamPaths}: /dev/stdout, even where it leads to a file) or exists but is not a regular file (a
 * device such as /dev/null, a pipe) has nothing to keep and is written in place, appending; a caller for which that
 * makes no sense refuses it first.
 */
public final class ReplacedFile {

    /** What writes the contents, into the temporary file's channel (which it must leave open). */
    @FunctionalInterface
    public interface Contents {
        void writeTo(FileChannel out) throws IOException;
    }

    /** What writes the contents as a stream (which it must leave open). */
    @FunctionalInterface
    public interface StreamContents {
        void writeTo(OutputStream out) throws IOException;
    }

    /** The temporary files of the writes under way, for {@link #abandonWritesInProgress}. */
    private static final Set<Path> IN_PROGRESS = ConcurrentHashMap.newKeySet();
    /** What follows a temporary file's prefix: its writer's process id, and a random number in base 36. */
    private static final Pattern TEMPORARY_SUFFIX = Pattern.compile("[0-9]+-[0-9a-z]+");
    /** Links followed at most, as a shell's loop limit: a write refuses a longer chain. */
    private static final int MAX_LINKS = 8;

    private ReplacedFile() {
    }

    /**
     * Replaces {@code file} with what {@code contents} writes; on failure the temporary file is removed and the file is
     * left as it was. The directory is not created.
     */
    public static void write(Path file, Contents contents) throws IOException {
        Path target = landing(file);
        if (Files.isSymbolicLink(target)) {
            throw new FileSystemException(file.toString(), null, "too many levels of symbolic links");
        }
        if (writtenInPlace(file)) {
            try (FileChannel out = FileChannel.open(file, WRITE, APPEND)) {
                contents.writeTo(out);
            }
            return;
        }
        Path directory = target.getParent();
        String tempPrefix = "." + target.getFileName() + ".tmp-";
        removeLeftovers(directory, tempPrefix);
        for (int attempt = 1; ; attempt++) {
            Path temp = directory.resolve(tempPrefix + ProcessHandle.current().pid() + "-"
                    + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36)); // as TEMPORARY_SUFFIX
            IN_PROGRESS.add(temp);
            try (FileChannel out = FileChannel.open(temp, CREATE_NEW, WRITE)) {
                if (!holdAsWriter(out, temp)) {
                    if (attempt < 3) {
                        continue; // taken for a leftover by another write in the instant before the lock: a new name
                    }
                    throw new FileSystemException(temp.toString(), null,
                            "other writes keep removing this temporary file");
                }
                contents.writeTo(out);
                out.force(true); // the data must be on disk before the rename can make it the file
                Files.move(temp, target, ATOMIC_MOVE, REPLACE_EXISTING); // still locked: not a leftover to anyone
            } catch (IOException | RuntimeException | Error e) {
                discard(temp, e);
                throw e;
            } finally {
                IN_PROGRESS.remove(temp);
            }
            syncDirectory(directory);
            return;
        }
    }

    /**
     * Locks a new temporary file for its writer, as {@link #removeLeftovers} expects of a write under way: false where
     * another write's clean-up had it first (and removes it). On a file system without locks, the write goes unlocked.
     */
    private static boolean holdAsWriter(FileChannel out, Path temp) {
        try {
            return out.tryLock() != null && Files.exists(temp, NOFOLLOW_LINKS);
        } catch (IOException e) {
            return true;
        }
    }

    /**
     * {@link #write(Path, Contents)} for contents written as a stream, buffered; on a name of standard output or error,
     * through the process's own descriptor ({@link StreamPaths#appendingTo}), after what it printed there.
     */
    public static void write(Path file, StreamContents contents) throws IOException {
        if (StreamPaths.namesAStream(file)) {
            try (OutputStream out = new BufferedOutputStream(StreamPaths.appendingTo(file))) {
                contents.writeTo(out);
            }
            return;
        }
        write(file, (FileChannel channel) -> {
            // the channel stays open for the force and the rename: closing the stream must not close it
            OutputStream out = new BufferedOutputStream(keptOpen(Channels.newOutputStream(channel)));
            contents.writeTo(out);
            out.flush();
        });
    }

    /** {@code out}, but closing it only flushes it: what it writes to stays open. */
    static OutputStream keptOpen(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                this.out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush();
            }
        };
    }

    /**
     * Whether a write to {@code file} goes in place, appending, and replaces nothing: it names one of the process's
     * descriptors (/dev/stdout), or leads to something that exists and is not a regular file (a device, a pipe).
     */
    public static boolean writtenInPlace(Path file) {
        Path target = landing(file);
        return StreamPaths.namesAStream(file) || Files.exists(target) && !Files.isRegularFile(target);
    }

    /** Where a write to {@code file} lands: the path at the end of its links (which need not exist yet), absolute. */
    public static Path landing(Path file) {
        List<Path> way = way(file);
        return way.get(way.size() - 1);
    }

    /** {@code file} and each link it leads through, to where a write lands, absolute. */
    static List<Path> way(Path file) {
        List<Path> way = new ArrayList<>();
        Path path = file.toAbsolutePath();
        way.add(path);
        for (int hops = 0; hops < MAX_LINKS && Files.isSymbolicLink(path); hops++) {
            try {
                path = path.resolveSibling(Files.readSymbolicLink(path)).toAbsolutePath();
            } catch (IOException e) {
                break; // unreadable: written as it is, and the write will say what is wrong
            }
            way.add(path);
        }
        return way;
    }

    /**
     * Deletes the temporary files of the writes under way, for a process about to end at once (a second Ctrl-C during a
     * save), which would leave them behind: each such write then fails, and the file it was to replace stays.
     */
    public static void abandonWritesInProgress() {
        for (Path temp : IN_PROGRESS) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // the process is ending: a file that cannot be deleted stays, for the next write to remove
            }
        }
    }

    /**
     * Deletes the temporary files of writes to this file that are no longer under way (killed before their rename):
     * those no writer holds locked, in this process or any other; failing to delete one only leaves it behind.
     */
    private static void removeLeftovers(Path directory, String tempPrefix) {
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(directory, p -> isTemporaryName(
                p.getFileName().toString(), tempPrefix))) {
            for (Path leftover : leftovers) {
                if (!IN_PROGRESS.contains(leftover)) {
                    removeUnlocked(leftover);
                }
            }
        } catch (IOException | DirectoryIteratorException e) {
            // not ours to fail a write over: the next write tries again
        }
    }

    /**
     * Whether {@code name} is one of this class's temporary files for the file whose temporaries start with
     * {@code tempPrefix}: nothing else is touched, not even another file under that prefix (a lock file beside an
     * output named like a temporary one, which opening and closing would unlock).
     */
    private static boolean isTemporaryName(String name, String tempPrefix) {
        return name.startsWith(tempPrefix) && TEMPORARY_SUFFIX.matcher(name.substring(tempPrefix.length())).matches();
    }

    /** Deletes {@code leftover} where no writer holds it, holding it meanwhile: its writer, if any, finds it gone. */
    private static void removeUnlocked(Path leftover) {
        try (FileChannel channel = FileChannel.open(leftover, READ, NOFOLLOW_LINKS)) {
            if (channel.tryLock(0, Long.MAX_VALUE, true) != null) {
                Files.deleteIfExists(leftover);
            }
        } catch (IOException | OverlappingFileLockException e) {
            // unreadable, a link, no locks here, or another thread's lock: left as it is
        }
    }

    private static void discard(Path temp, Throwable failure) {
        try {
            Files.deleteIfExists(temp);
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    /**
     * Forces the directory so that the rename survives a power loss. Some systems (Windows) refuse to open a
     * directory; there the rename is as durable as the system makes it, and the file is still complete.
     */
    private static void syncDirectory(Path directory) {
        try (FileChannel dir = FileChannel.open(directory, READ)) {
            dir.force(true);
        } catch (IOException e) {
            // see above: nothing more can be done, and the new file is already in place
        }
    }
}
