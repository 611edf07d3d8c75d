package dev.microgpt.bench;

import dev.microgpt.bench.BenchReport.Row;
import dev.microgpt.bench.BenchReport.Status;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.function.ToIntFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The benchmark's charts, log scales, one colour per engine and one line style per dataset (the legend in the report's
 * engine order, {@link BenchReport#ENGINE_ORDER}): median ms/step against model size (n_embd = block_size), one line
 * per engine and dataset; and documents per second against the documents a step (B), one line per engine (its batch
 * rows on the line of its one-document name), size and dataset. Modes without a number (unavailable, failed) are listed
 * in a footer under the plot instead. Kept apart from {@link BenchReport} because it needs AWT (java.desktop), which a
 * trimmed runtime may lack: the report catches the failure and writes everything else.
 */
final class BenchChart {

    private static final Color[] COLORS = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf),
    };
    private static final BasicStroke[] LINES = {SeriesLines.SOLID, SeriesLines.DASH_DASH, SeriesLines.DOT_DOT, SeriesLines.DASH_DOT};
    private static final int WIDTH = 1000;
    private static final int HEIGHT = 620;

    private BenchChart() {
    }

    /** Median ms/step against size, the rows of one document a step. */
    static void write(Path png, List<Row> rows) throws IOException {
        List<String> datasets = rows.stream().map(Row::dataset).distinct().toList();
        plot(png, rows, new Axes("Training step time against model size (lower is better)", "n_embd = block_size",
                "median ms/step (log scale)", r -> r.engine() + " · " + r.dataset(), Row::engine,
                r -> datasets.indexOf(r.dataset()), Row::nEmbd, r -> r.measurement("median_ms_per_step").orElseThrow()));
    }

    /** Documents/s against B, each engine's rows at every batch size on one line per size and dataset. */
    static void writeDocumentsPerSecond(Path png, List<Row> rows) throws IOException {
        List<String> lineStyles = rows.stream().map(r -> r.size() + " · " + r.dataset()).distinct().toList();
        plot(png, rows, new Axes("Documents trained per second against documents a step (higher is better)",
                "documents a step (B)", "documents/s (log scale)",
                r -> r.oneDocumentEngine() + " · " + r.size() + " · " + r.dataset(), Row::oneDocumentEngine,
                r -> lineStyles.indexOf(r.size() + " · " + r.dataset()), Row::batchSize,
                r -> r.batchSize() * 1000 / r.measurement("median_ms_per_step").orElseThrow()));
    }

    /**
     * What a chart plots: its titles, the series a row is on, the engine that colours it and the index of its line
     * style, and its x (on a log2 axis, labelled with the value) and y (log scale).
     */
    private record Axes(String title, String xTitle, String yTitle, Function<Row, String> series,
                        Function<Row, String> colourEngine, ToIntFunction<Row> lineStyle, ToIntFunction<Row> x,
                        ToDoubleFunction<Row> y) {
    }

    private static void plot(Path png, List<Row> rows, Axes axes) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<Row> measured = rows.stream().filter(r -> r.status() == Status.measured).toList();
        if (measured.isEmpty()) {
            throw new IOException("no measured row to plot");
        }
        List<String> engines = measured.stream().map(axes.colourEngine()).distinct().sorted(BenchReport.ENGINE_ORDER)
                .toList();

        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(axes.title()).xAxisTitle(axes.xTitle())
                .yAxisTitle(axes.yTitle()).build();
        XYStyler styler = chart.getStyler();
        styler.setYAxisLogarithmic(true);
        styler.setLegendPosition(Styler.LegendPosition.OutsideE);
        styler.setMarkerSize(8);
        styler.setPlotGridLinesVisible(true);
        // x is log2 of the value, so that 16, 32, 64, 128 (or 1, 8, 32, 128) sit evenly apart; with a label function
        // XChart puts the ticks at the measured x values, each labelled with its value.
        styler.setxAxisTickLabelsFormattingFunction(BenchChart::powerOfTwoLabel);
        styler.setChartBackgroundColor(Color.WHITE);

        // One series per key, added (so listed in the legend) in the report's engine order, then as the rows came.
        List<Row> ordered = new ArrayList<>(measured);
        ordered.sort(Comparator.comparing(axes.colourEngine(), BenchReport.ENGINE_ORDER));
        Map<String, List<Row>> series = new LinkedHashMap<>();
        for (Row r : ordered) {
            series.computeIfAbsent(axes.series().apply(r), k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Row>> e : series.entrySet()) {
            List<Row> points = new ArrayList<>(e.getValue());
            points.sort(Comparator.comparingInt(axes.x()));
            double[] x = new double[points.size()];
            double[] y = new double[points.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = Math.log(axes.x().applyAsInt(points.get(i))) / Math.log(2);
                y[i] = axes.y().applyAsDouble(points.get(i));
            }
            Row first = points.get(0);
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            Color color = COLORS[engines.indexOf(axes.colourEngine().apply(first)) % COLORS.length];
            s.setLineColor(color);
            s.setMarkerColor(color);
            s.setLineStyle(LINES[axes.lineStyle().applyAsInt(first) % LINES.length]);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        writeWithFooter(png, BitmapEncoder.getBufferedImage(chart), unmeasured(rows));
    }

    /** The plot, with what has no number listed under it, where it cannot hide a line. */
    private static void writeWithFooter(Path png, BufferedImage plot, List<String> missing) throws IOException {
        int lineHeight = 18;
        int footer = missing.isEmpty() ? 0 : 12 + lineHeight * missing.size();
        BufferedImage image = new BufferedImage(plot.getWidth(), plot.getHeight() + footer, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, image.getWidth(), image.getHeight());
            g.drawImage(plot, 0, 0, null);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.DARK_GRAY);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            int y = plot.getHeight() + lineHeight - 4;
            for (String line : missing) {
                g.drawString(line, 20, y);
                y += lineHeight;
            }
        } finally {
            g.dispose();
        }
        if (!ImageIO.write(image, "png", png.toFile())) {
            throw new IOException("no PNG writer in this runtime");
        }
    }

    /**
     * One line per reason that rows have no number, naming their engines in report order: "not plotted: gpu-eager,
     * gpu-graph: unavailable: no usable CUDA driver or device".
     */
    static List<String> unmeasured(List<Row> rows) {
        List<Row> ordered = new ArrayList<>(rows);
        ordered.sort(Comparator.comparing(Row::engine, BenchReport.ENGINE_ORDER));
        Map<String, Set<String>> byWhat = new LinkedHashMap<>();
        for (Row r : ordered) {
            String what = switch (r.status()) {
                case measured -> null;
                case unavailable -> "unavailable: " + r.reason();
                case failed -> "failed (see results.md)";
            };
            if (what != null) {
                byWhat.computeIfAbsent(what, k -> new LinkedHashSet<>()).add(r.engine());
            }
        }
        List<String> lines = new ArrayList<>();
        byWhat.forEach((what, engines) -> {
            String line = "not plotted: " + String.join(", ", engines) + ": " + what;
            lines.add(line.length() > 140 ? line.substring(0, 137) + "..." : line);
        });
        return lines;
    }

    private static String powerOfTwoLabel(Double log2) {
        return Long.toString(Math.round(Math.pow(2, log2)));
    }
}
