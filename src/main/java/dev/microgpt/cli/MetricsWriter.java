package dev.microgpt.cli;

import dev.microgpt.files.ReplacedFile;
import dev.microgpt.files.StreamPaths;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-step metrics as CSV, {@code step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s}. The loss and learning rate are
 * written with Double.toString, which round-trips exactly; elapsed_ms is the training time since the run's first step,
 * with microsecond resolution (on the GPU, the time the step's group of losses was collected, so the steps of one group
 * share it), and goes on from the resumed step's row in a resumed run; the rates are this session's so far.
 * A file that cannot be opened fails the run before it trains; one that fails later (a full disk) stops the metrics,
 * never the training: it is logged then, and {@link #failure} says so at the end.
 */
final class MetricsWriter implements AutoCloseable {

    static final String HEADER = "step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s";
    private static final int COLUMNS = HEADER.split(",").length;

    private final Path path;
    private final BufferedWriter out;
    private final boolean rowByRow;         // a stream (/dev/stdout): each row goes out whole as it is written
    private final LossCurve kept;           // the kept rows' losses up to the resumed step
    private final long elapsedMicrosBefore; // the training time of the sessions before this one
    private String failure;                 // why the rows stopped, or null

    private MetricsWriter(Path path, BufferedWriter out, boolean rowByRow, LossCurve kept, long elapsedMicrosBefore) {
        this.path = path;
        this.out = out;
        this.rowByRow = rowByRow;
        this.kept = kept;
        this.elapsedMicrosBefore = elapsedMicrosBefore;
    }

    /**
     * @param resumedStep for a resumed run, the checkpoint's step: the file keeps its complete rows up to that step
     *                    and goes on from there (a run killed after its last checkpoint may have written more rows,
     *                    or half of one); -1 to start a new file
     * @param resumedLoss the checkpoint's loss at that step, NaN where it has none: a file whose row of that step
     *                    has another loss is another run's, and is refused (RunFailure) before it is changed
     */
    static MetricsWriter open(Path path, int resumedStep, double resumedLoss) throws IOException {
        List<String> kept = new ArrayList<>(List.of(HEADER));
        double[] losses = new double[Math.max(resumedStep, 0) + 1]; // [step], of the kept rows
        boolean[] present = new boolean[losses.length];
        double elapsedMs = 0;
        boolean stream = StreamPaths.namesAStream(path);
        // A resume keeps the rows up to its step, of a file it can replace: not of a stream's other name (below)
        boolean keeping = resumedStep >= 0 && !stream && Files.isRegularFile(path);
        try {
            if (keeping) {
                for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
                    String[] row = rowUpTo(line, resumedStep);
                    if (row != null) {
                        kept.add(line);
                        int step = Integer.parseInt(row[0]);
                        losses[step] = Double.parseDouble(row[1]);
                        present[step] = true;
                        if (step == resumedStep) {
                            elapsedMs = Double.parseDouble(row[3]);
                        }
                    }
                }
            }
            if (resumedStep > 0 && present[resumedStep] && !Double.isNaN(resumedLoss)
                    && Double.compare(losses[resumedStep], resumedLoss) != 0) {
                throw new RunFailure("--metrics " + path + " holds another run's metrics: its step " + resumedStep
                        + " has loss " + losses[resumedStep] + " where the checkpoint's run had " + resumedLoss
                        + " (or rows of a session killed after a checkpoint that a later session without --metrics"
                        + " went past); give this run's metrics file, or a new --metrics path");
            }
            BufferedWriter out;
            if (keeping) {
                ReplacedFile.write(path, (OutputStream rows) -> rows.write((String.join(System.lineSeparator(), kept)
                        + System.lineSeparator()).getBytes(StandardCharsets.UTF_8))); // a failure loses no row
                out = Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
            } else {
                out = stream // appended to, after what the process printed
                        ? new BufferedWriter(new OutputStreamWriter(StreamPaths.appendingTo(path), StandardCharsets.UTF_8))
                        : Files.newBufferedWriter(path, StandardCharsets.UTF_8);
                try {
                    out.write(HEADER);
                    out.newLine();
                } catch (IOException e) {
                    out.close();
                    throw e;
                }
            }
            int last = Math.max(resumedStep, 0); // the last step before this session's
            int first = last + 1;                 // the first of the kept steps without a gap up to it
            while (first > 1 && present[first - 1]) {
                first--;
            }
            if (resumedStep > 0 && kept.size() > 1 && !present[resumedStep]) {
                int before = resumedStep - 1;
                while (before > 0 && !present[before]) {
                    before--;
                }
                Main.LOG.warn("--metrics {} has no row for step {}, the checkpoint's: steps {} to {} are missing (a"
                        + " session without --metrics?), so its elapsed_ms starts again and the plot covers this"
                        + " session only", path, resumedStep, before + 1, resumedStep);
            }
            LossCurve keptLosses = new LossCurve(first, Arrays.copyOfRange(losses, first, last + 1));
            return new MetricsWriter(path, out, stream, keptLosses, Math.round(elapsedMs * 1000));
        } catch (IOException e) {
            throw cannotOpen(path, e);
        }
    }

    /**
     * The losses kept from the sessions before this one, of the steps without a gap up to the resumed step (none for a
     * new run), for a plot of the whole run.
     */
    LossCurve kept() {
        return kept;
    }

    /** What {@code path} holds: metrics are this version's header, then rows (OUTPUT when there is one). */
    static OutputFile.Contents contents(Path path) {
        if (!Files.isRegularFile(path)) {
            return OutputFile.Contents.NOTHING; // missing, or not a regular file (a device such as /dev/null)
        }
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String first = in.readLine();
            if (first == null) {
                return OutputFile.Contents.NOTHING;
            }
            if (!first.equals(HEADER)) {
                return OutputFile.Contents.OTHER;
            }
            return in.readLine() == null ? OutputFile.Contents.NOTHING : OutputFile.Contents.OUTPUT;
        } catch (CharacterCodingException e) {
            return OutputFile.Contents.OTHER; // not UTF-8 text
        } catch (IOException e) {
            return OutputFile.Contents.UNREADABLE;
        }
    }

    /** The fields of {@code line} when it is a complete row of a step from 1 to {@code lastStep}, else null. */
    private static String[] rowUpTo(String line, int lastStep) {
        String[] fields = line.split(",", -1);
        if (fields.length != COLUMNS) {
            return null;
        }
        try {
            for (int i = 1; i < COLUMNS; i++) {
                Double.parseDouble(fields[i]);
            }
            int step = Integer.parseInt(fields[0]);
            return step >= 1 && step <= lastStep ? fields : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    void record(int step, double loss, double learningRate, Throughput throughput) {
        if (failure != null) {
            return;
        }
        try {
            out.write(step + "," + loss + "," + learningRate + ","
                    + (elapsedMicrosBefore + throughput.elapsedNanos() / 1000) / 1000.0 + ","
                    + Math.round(throughput.documentsPerSecond()) + "," + Math.round(throughput.tokensPerSecond())
                    + System.lineSeparator());
            if (rowByRow) {
                out.flush(); // in one write, which lines the process prints on the same stream cannot cut
            }
        } catch (IOException e) {
            stopDuringTraining(e);
        }
    }

    /** Puts every row so far on disk: done before each checkpoint, so a resumed run finds them all. */
    void flush() {
        if (failure != null) {
            return;
        }
        try {
            out.flush();
        } catch (IOException e) {
            stopDuringTraining(e);
        }
    }

    /** Why the rows stopped before the end of the run, in a line naming the file; null when every row was written. */
    String failure() {
        return failure;
    }

    /** A failure while training goes on: logged now, so the user knows before the run ends. */
    private void stopDuringTraining(IOException e) {
        stop(e);
        Main.LOG.warn("{}: training goes on without them", failure);
    }

    private void stop(IOException e) {
        failure = "cannot write metrics to " + path + " (" + e.getMessage() + ")";
        try {
            out.close();
        } catch (IOException alsoFailed) {
            // the rows are stopped either way
        }
    }

    @Override
    public void close() {
        if (failure == null) {
            try {
                out.close();
            } catch (IOException e) {
                stop(e);
            }
        }
    }

    private static IOException cannotOpen(Path path, IOException e) {
        return new IOException("cannot write metrics to " + path + " (" + e.getMessage() + "); choose another --metrics"
                + " path or free some space", e);
    }
}
