package dev.microgpt.cli;

import dev.microgpt.data.DatasetSource;
import dev.microgpt.files.ReplacedFile;
import dev.microgpt.files.StreamPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The files a run writes (the checkpoint, the metrics, the loss plot), checked before training: a path that cannot be
 * written, or that would overwrite the dataset or another of the run's files, fails the run before it has cost any
 * training, not after, and before it has destroyed anything.
 */
final class OutputFile {

    private OutputFile() {
    }

    /** What a file an output is to replace holds already, as far as replacing it goes. */
    enum Contents {
        /** Nothing a run made: the file is missing or empty, holds a header alone, or is a device (/dev/null). */
        NOTHING,
        /** What this kind of output holds: a run's metrics rows, a PNG image. */
        OUTPUT,
        /** Something else, which the output must never replace. */
        OTHER,
        /** Unknown: the file cannot be read. */
        UNREADABLE
    }

    /**
     * Before any training: every file the run will write can be written, none is the dataset or another of them, and
     * a new run ({@code resuming} false) replaces no other run's checkpoint or metrics (RunFailure, UsageException).
     */
    static void requireSafe(RunOptions options, boolean resuming) {
        RunOptions.Saving saving = options.saving();
        RunOptions.Report report = options.report();
        Path checkpointFile = saving.checkpoint();
        Map<String, Path> files = new LinkedHashMap<>();
        if (!DatasetSource.STANDARD_INPUT.equals(options.input())) {
            files.put(options.input() == null ? "dataset (the default --input)" : "--input",
                    options.input() == null ? Path.of(DatasetSource.DEFAULT_INPUT) : options.input());
        }
        files.put("--checkpoint", saving.checkpointsAsked() ? checkpointFile : null);
        files.put("--metrics", report.metrics());
        files.put("--plot", report.plot());
        requireDistinct(files);
        if (saving.checkpointsAsked()) {
            requireReplaceable(checkpointFile, "checkpoint", "--checkpoint");
            if (!resuming && Files.exists(checkpointFile)) {
                throw new RunFailure("--checkpoint " + checkpointFile + " already exists, and this new run would"
                        + " replace it; continue its run with --resume, or move it away or choose another --checkpoint");
            }
        }
        // A name of the process's stdout or stderr (/dev/stdout) is appended to: what the file behind it holds stays
        if (report.metrics() != null && !StreamPaths.namesAStream(report.metrics())) {
            Path file = report.metrics();
            requireWritable(file, "metrics", "--metrics");
            switch (MetricsWriter.contents(file)) {
                case NOTHING -> { }
                case OUTPUT -> {
                    if (!resuming) {
                        throw new RunFailure("--metrics " + file + " already holds another run's metrics, and this new"
                                + " run would replace them; continue that run with --resume, or move it away or choose"
                                + " another --metrics");
                    }
                    requireWritableWhole(file, "metrics", "--metrics"); // the resume rewrites the rows it keeps
                }
                case OTHER -> throw new RunFailure("--metrics " + file + " does not start with this version's header ("
                        + MetricsWriter.HEADER + "): it holds something else, or older metrics, which this run would"
                        + " replace; choose another --metrics or move it away");
                case UNREADABLE -> throw unreadable(file, "--metrics");
            }
        }
        if (report.plot() != null && !StreamPaths.namesAStream(report.plot())) {
            Path file = report.plot();
            requireWritableWhole(file, "the loss plot", "--plot");
            switch (LossPlot.contents(file)) {
                case NOTHING, OUTPUT -> { } // a plot is drawn anew from the losses
                case OTHER -> throw new RunFailure("--plot " + file + " holds something else than a PNG image, which the"
                        + " plot would replace; choose another --plot");
                case UNREADABLE -> throw unreadable(file, "--plot");
            }
        }
    }

    private static RunFailure unreadable(Path file, String option) {
        return new RunFailure(option + " " + file + " cannot be read, so this run cannot tell whether replacing it would"
                + " lose anything; make it readable, or choose another " + option);
    }

    /**
     * Refuses {@code file}, written in place, when it is a directory or cannot be written, or when it is to be created
     * in a directory that is missing or cannot be written; the line names {@code what} it was to hold and the
     * {@code option} that chose it (RunFailure).
     */
    static void requireWritable(Path file, String what, String option) {
        Path landing = ReplacedFile.landing(file);
        String problem = Files.isDirectory(landing) ? "it is a directory"
                : Files.exists(landing) ? (Files.isWritable(landing) ? null : "the file is not writable")
                : directoryProblem(landing.getParent());
        refuseIf(problem, file, what, option);
    }

    /**
     * As {@link #requireWritable}, for a file {@link ReplacedFile} writes: where it lands on a regular file, that file's
     * directory must be writable too, for the rename.
     */
    static void requireWritableWhole(Path file, String what, String option) {
        requireWritable(file, what, option);
        Path landing = ReplacedFile.landing(file);
        if (Files.isRegularFile(landing)) {
            refuseIf(directoryProblem(landing.getParent()), file, what, option);
        }
    }

    /**
     * Refuses {@code file}, written beside itself and renamed over it, unless it is a regular file or not there yet, and
     * its directory (through a link, its target's) can be written: a rename would replace a device, a pipe or a link,
     * and a stream's name (/dev/stdout) has nothing to rename over.
     */
    static void requireReplaceable(Path file, String what, String option) {
        String problem;
        if (StreamPaths.namesAStream(file)) {
            problem = "it names a stream, not a file that can be read back";
        } else if (Files.isSymbolicLink(file) && !Files.exists(file)) {
            problem = "it is a link to a file that is not there";
        } else if (Files.exists(file) && !Files.isRegularFile(file)) {
            problem = Files.isDirectory(file) ? "it is a directory" : "it is not a regular file (a device or a pipe)";
        } else if (Files.exists(file) && !Files.isWritable(file)) {
            problem = "the file is not writable";
        } else {
            problem = directoryProblem(realParent(file));
        }
        refuseIf(problem, file, what, option);
    }

    /**
     * Refuses two options, among those in {@code pathsByOption} (in the order given, null values left out), that name
     * the same file, which one of them would overwrite (UsageException).
     */
    static void requireDistinct(Map<String, Path> pathsByOption) {
        var options = pathsByOption.entrySet().stream().filter(e -> e.getValue() != null).toList();
        for (int i = 0; i < options.size(); i++) {
            for (int j = i + 1; j < options.size(); j++) {
                if (real(options.get(i).getValue()).equals(real(options.get(j).getValue()))) {
                    throw new UsageException(options.get(j).getKey() + " " + options.get(j).getValue() + " is also the "
                            + options.get(i).getKey() + ", which it would overwrite; choose another "
                            + options.get(j).getKey() + " path");
                }
            }
        }
    }

    private static String directoryProblem(Path directory) {
        if (directory == null || !Files.exists(directory)) {
            return "directory " + directory + " does not exist";
        }
        if (!Files.isDirectory(directory)) {
            return directory + " is not a directory";
        }
        return Files.isWritable(directory) ? null : "directory " + directory + " is not writable";
    }

    private static void refuseIf(String problem, Path file, String what, String option) {
        if (problem != null) {
            throw new RunFailure("cannot write " + what + " " + file + ": " + problem + "; choose another " + option
                    + " path");
        }
    }

    /** Where {@code file} is, or would be, once every link on the way is followed: two names of one file meet here. */
    private static Path real(Path file) {
        Path landing = ReplacedFile.landing(file);
        try {
            return Files.exists(landing) ? landing.toRealPath() : realParent(landing).resolve(landing.getFileName());
        } catch (IOException e) {
            return file.toAbsolutePath().normalize(); // unreadable: compared by name, and the write will say what is wrong
        }
    }

    private static Path realParent(Path file) {
        Path target = file.toAbsolutePath();
        try {
            target = Files.exists(target) ? target.toRealPath() : target;
            Path parent = target.getParent();
            return parent != null && Files.exists(parent) ? parent.toRealPath() : parent;
        } catch (IOException e) {
            return target.getParent();
        }
    }
}
