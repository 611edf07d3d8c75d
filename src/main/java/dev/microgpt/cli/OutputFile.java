package dev.microgpt.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The files a run writes (the checkpoint, the metrics, the loss plot), checked before training: a path that cannot be
 * written, or that would overwrite the dataset or another of the run's files, fails the run before it has cost any
 * training, not after, and before it has destroyed anything.
 */
final class OutputFile {

    private OutputFile() {
    }

    /**
     * Refuses {@code file} when it is a directory, its directory is missing, or either cannot be written, in one line
     * naming {@code what} it was to hold and the {@code option} that chose it (RunFailure).
     */
    static void requireWritable(Path file, String what, String option) {
        Path parent = file.toAbsolutePath().getParent();
        String problem = null;
        if (Files.isDirectory(file)) {
            problem = "it is a directory";
        } else if (parent == null || !Files.exists(parent)) {
            problem = "directory " + parent + " does not exist";
        } else if (!Files.isDirectory(parent)) {
            problem = parent + " is not a directory";
        } else if (!Files.isWritable(parent)) {
            problem = "directory " + parent + " is not writable";
        } else if (Files.exists(file) && !Files.isWritable(file)) {
            problem = "the file is not writable";
        }
        if (problem != null) {
            throw new RunFailure("cannot write " + what + " " + file + ": " + problem + "; choose another " + option
                    + " path");
        }
    }

    /**
     * {@link #requireWritable}, and a file that, where it exists, is a regular one: a checkpoint is written beside it
     * and renamed over it, which would replace a device or a pipe with a file.
     */
    static void requireReplaceable(Path file, String what, String option) {
        requireWritable(file, what, option);
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw new RunFailure("cannot write " + what + " " + file + ": it is not a regular file (a device or a pipe);"
                    + " choose another " + option + " path");
        }
    }

    /**
     * Refuses two options, among those in {@code pathsByOption} (in the order given, null values left out), that name
     * the same file, which one of them would overwrite (UsageException).
     */
    static void requireDistinct(Map<String, Path> pathsByOption) {
        var options = pathsByOption.entrySet().stream().filter(e -> e.getValue() != null).toList();
        for (int i = 0; i < options.size(); i++) {
            for (int j = i + 1; j < options.size(); j++) {
                if (sameFile(options.get(i).getValue(), options.get(j).getValue())) {
                    throw new UsageException(options.get(j).getKey() + " " + options.get(j).getValue() + " is also the "
                            + options.get(i).getKey() + ", which it would overwrite; choose another "
                            + options.get(j).getKey() + " path");
                }
            }
        }
    }

    private static boolean sameFile(Path a, Path b) {
        if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
            return true;
        }
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b); // links to one file
        } catch (IOException e) {
            return false; // unreadable: not provably the same, and the write itself will say what is wrong
        }
    }
}
