package dev.microgpt.cli;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Per-step metrics as CSV, {@code step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s}. The loss and learning rate are
 * written with Double.toString, which round-trips exactly; elapsed_ms has microsecond resolution (on the GPU, the time
 * the step's group of losses was collected, so the steps of one group share it); the rates are this session's so far.
 * A file that cannot be opened fails the run before it trains; one that fails later (a full disk) stops the metrics,
 * never the training: it is logged then, and {@link #failure} says so at the end.
 */
final class MetricsWriter implements AutoCloseable {

    static final String HEADER = "step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s";
    private static final int COLUMNS = HEADER.split(",").length;

    private final Path path;
    private final BufferedWriter out;
    private String failure; // why the rows stopped, or null

    private MetricsWriter(Path path, BufferedWriter out) {
        this.path = path;
        this.out = out;
    }

    /**
     * @param resumedStep for a resumed run, the checkpoint's step: the file keeps its complete rows up to that step
     *                    and goes on from there (a run killed after its last checkpoint may have written more rows,
     *                    or half of one); -1 to start a new file
     */
    static MetricsWriter open(Path path, int resumedStep) throws IOException {
        List<String> kept = new ArrayList<>(List.of(HEADER));
        try {
            if (resumedStep >= 0 && Files.isRegularFile(path)) {
                for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
                    if (isRowUpTo(line, resumedStep)) {
                        kept.add(line);
                    }
                }
            }
            BufferedWriter out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
            for (String line : kept) {
                out.write(line);
                out.newLine();
            }
            if (resumedStep >= 0) {
                out.flush(); // the rows kept from before the resume are on disk again before training can be killed
            }
            return new MetricsWriter(path, out);
        } catch (IOException e) {
            throw cannotOpen(path, e);
        }
    }

    /** Whether {@code path} is missing, empty, or a file of metrics (its first line the header): one they may replace. */
    static boolean isMetricsOrAbsent(Path path) {
        if (!Files.isRegularFile(path)) {
            return true; // missing, or not a regular file (a device such as /dev/null)
        }
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String first = in.readLine();
            return first == null || first.equals(HEADER);
        } catch (IOException e) {
            return false; // not UTF-8 text, or unreadable: not metrics
        }
    }

    private static boolean isRowUpTo(String line, int lastStep) {
        String[] fields = line.split(",", -1);
        if (fields.length != COLUMNS) {
            return false;
        }
        try {
            for (int i = 1; i < COLUMNS; i++) {
                Double.parseDouble(fields[i]);
            }
            return Integer.parseInt(fields[0]) <= lastStep;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    void record(int step, double loss, double learningRate, Throughput throughput) {
        if (failure != null) {
            return;
        }
        try {
            out.write(step + "," + loss + "," + learningRate + "," + (throughput.elapsedNanos() / 1000) / 1000.0 + ","
                    + Math.round(throughput.documentsPerSecond()) + "," + Math.round(throughput.tokensPerSecond()));
            out.newLine();
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
