package dev.microgpt.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The files a run writes (the checkpoint, the metrics, the loss plot), checked before training: a path that cannot be
 * written fails the run before it has cost any training, not after.
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
}
