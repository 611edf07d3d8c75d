package dev.microgpt.cli;

import dev.microgpt.files.ReplacedFile;
import java.awt.Color;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The loss curve with its moving average, rendered to PNG. */
final class LossPlot {

    /** The first bytes of every PNG file. */
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /** Width of the image in pixels. */
    private static final int WIDTH = 900;
    /**
     * Most points a series is drawn with: two per pixel column, as many as can show. Drawing every step of a long run
     * (200,000 steps took 24 s) would only paint the same pixels again.
     */
    static final int MAX_POINTS = 2 * WIDTH;

    private LossPlot() {
    }

    /** The points a series is drawn through: x the step, y the value there. */
    record Series(double[] steps, double[] values) {

        /**
         * Every value when there are at most {@link #MAX_POINTS}; else, for each of {@code MAX_POINTS / 2} runs of
         * consecutive steps, its lowest and its highest value in step order, so the drawn band covers every value.
         */
        static Series envelope(int firstStep, double[] values) {
            if (values.length <= MAX_POINTS) {
                return sampled(firstStep, values);
            }
            int buckets = MAX_POINTS / 2;
            double[] xs = new double[2 * buckets];
            double[] ys = new double[2 * buckets];
            for (int b = 0; b < buckets; b++) {
                int from = (int) ((long) b * values.length / buckets);
                int to = (int) ((long) (b + 1) * values.length / buckets);
                int low = from;
                int high = from;
                for (int i = from + 1; i < to; i++) {
                    low = values[i] < values[low] ? i : low;
                    high = values[i] > values[high] ? i : high;
                }
                int first = Math.min(low, high);
                int second = Math.max(low, high);
                xs[2 * b] = firstStep + first;
                ys[2 * b] = values[first];
                xs[2 * b + 1] = firstStep + second;
                ys[2 * b + 1] = values[second];
            }
            return new Series(xs, ys);
        }

        /** Every value when there are at most {@link #MAX_POINTS}; else that many evenly spaced, the last included. */
        static Series sampled(int firstStep, double[] values) {
            int points = Math.min(values.length, MAX_POINTS);
            double[] xs = new double[points];
            double[] ys = new double[points];
            for (int p = 0; p < points; p++) {
                int i = points == 1 ? 0 : (int) ((long) p * (values.length - 1) / (points - 1));
                xs[p] = firstStep + i;
                ys[p] = values[i];
            }
            return new Series(xs, ys);
        }
    }

    /** What {@code path} holds: a PNG image is OUTPUT, which a new plot replaces. */
    static OutputFile.Contents contents(Path path) {
        if (!Files.isRegularFile(path)) {
            return OutputFile.Contents.NOTHING;
        }
        try (InputStream in = Files.newInputStream(path)) {
            byte[] start = in.readNBytes(SIGNATURE.length);
            return start.length == 0 ? OutputFile.Contents.NOTHING
                    : Arrays.equals(start, SIGNATURE) ? OutputFile.Contents.OUTPUT : OutputFile.Contents.OTHER;
        } catch (IOException e) {
            return OutputFile.Contents.UNREADABLE;
        }
    }

    static void write(Path png, LossCurve curve, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        // Encoded in memory, not through a cache file in java.io.tmpdir, whose stream, failing to close (a full disk),
        // makes ImageIO's exit hook print a stack trace.
        ImageIO.setUseCache(false);
        double[] losses = curve.losses();
        int count = losses.length;
        int window = Math.max(1, Math.min(100, count / 10));
        double[] average = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += losses[i];
            if (i >= window) {
                sum -= losses[i - window];
            }
            average[i] = sum / Math.min(i + 1, window);
        }
        Series perStepPoints = Series.envelope(curve.firstStep(), losses);
        Series averagePoints = Series.sampled(curve.firstStep(), average);
        XYChart chart = new XYChartBuilder().width(WIDTH).height(500).title(title).xAxisTitle("step")
                .yAxisTitle("loss").build();
        chart.getStyler().setMarkerSize(0);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setXAxisDecimalPattern("#");
        chart.getStyler().setXAxisTickMarkSpacingHint(120);
        // The per-step loss is noisy (a step sees one document, or a few): drawn faint, under its moving average.
        XYSeries perStep = chart.addSeries("loss", perStepPoints.steps(), perStepPoints.values());
        perStep.setMarker(SeriesMarkers.NONE);
        perStep.setLineColor(new Color(70, 110, 200, 70));
        perStep.setLineWidth(1f);
        XYSeries smooth = chart.addSeries("moving average (" + window + " steps)", averagePoints.steps(),
                averagePoints.values());
        smooth.setMarker(SeriesMarkers.NONE);
        smooth.setLineColor(new Color(220, 90, 20));
        smooth.setLineWidth(2.5f);
        ReplacedFile.write(png,
                (OutputStream out) -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
