package dev.microgpt.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Per-step metrics as CSV, {@code step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s}. The loss and learning rate are
 * written with Double.toString, which round-trips exactly; elapsed_ms has microsecond resolution (on the GPU, the time
 * the step's group of losses was collected, so the steps of one group share it); the rates are this session's so far.
 */
final class MetricsWriter implements AutoCloseable {

    static final String HEADER = "step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s";
    private static final int COLUMNS = HEADER.split(",").length;

    private final Path path;
    private final BufferedWriter out;

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
            return new MetricsWriter(path, out);
        } catch (IOException e) {
            throw failure(path, e);
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
        try {
            out.write(step + "," + loss + "," + learningRate + "," + (throughput.elapsedNanos() / 1000) / 1000.0 + ","
                    + Math.round(throughput.documentsPerSecond()) + "," + Math.round(throughput.tokensPerSecond()));
            out.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException(failure(path, e));
        }
    }

    /** Puts every row so far on disk: done before each checkpoint, so a resumed run finds them all. */
    void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(failure(path, e));
        }
    }

    @Override
    public void close() throws IOException {
        try {
            out.close();
        } catch (IOException e) {
            throw failure(path, e);
        }
    }

    private static IOException failure(Path path, IOException e) {
        return new IOException("cannot write metrics to " + path + " (" + e.getMessage() + "); choose another --metrics"
                + " path or free some space", e);
    }
}
