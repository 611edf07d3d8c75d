package dev.microgpt.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Per-step metrics as CSV, {@code step,loss,lr,elapsed_ms}. The loss and learning rate are written with
 * Double.toString, which round-trips exactly; elapsed_ms has microsecond resolution.
 */
final class MetricsWriter implements AutoCloseable {

    static final String HEADER = "step,loss,lr,elapsed_ms";

    private final BufferedWriter out;

    private MetricsWriter(BufferedWriter out) {
        this.out = out;
    }

    /**
     * @param resuming append to an existing file (a resumed run continues its metrics), else start a new one
     */
    static MetricsWriter open(Path path, boolean resuming) throws IOException {
        boolean append = resuming && Files.isRegularFile(path) && Files.size(path) > 0;
        BufferedWriter out = append
                ? Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.APPEND)
                : Files.newBufferedWriter(path, StandardCharsets.UTF_8);
        if (!append) {
            out.write(HEADER);
            out.newLine();
        }
        return new MetricsWriter(out);
    }

    void record(int step, double loss, double learningRate, long elapsedNanos) {
        try {
            out.write(step + "," + loss + "," + learningRate + "," + (elapsedNanos / 1000) / 1000.0);
            out.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
