package dev.microgpt.cli;

import java.awt.Color;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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

    private LossPlot() {
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
        double[] losses = curve.losses();
        int count = losses.length;
        int window = Math.max(1, Math.min(100, count / 10));
        double[] steps = new double[count];
        double[] average = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++) {
            steps[i] = curve.firstStep() + i;
            sum += losses[i];
            if (i >= window) {
                sum -= losses[i - window];
            }
            average[i] = sum / Math.min(i + 1, window);
        }
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle("step")
                .yAxisTitle("loss").build();
        chart.getStyler().setMarkerSize(0);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setXAxisDecimalPattern("#");
        chart.getStyler().setXAxisTickMarkSpacingHint(120);
        // The per-step loss is noisy (a step sees one document, or a few): drawn faint, under its moving average.
        XYSeries perStep = chart.addSeries("loss", steps, losses);
        perStep.setMarker(SeriesMarkers.NONE);
        perStep.setLineColor(new Color(70, 110, 200, 70));
        perStep.setLineWidth(1f);
        XYSeries smooth = chart.addSeries("moving average (" + window + " steps)", steps, average);
        smooth.setMarker(SeriesMarkers.NONE);
        smooth.setLineColor(new Color(220, 90, 20));
        smooth.setLineWidth(2.5f);
        ReplacedFile.write(png, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
