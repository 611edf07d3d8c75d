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
 * The benchmark chart: median ms/step against model size (n_embd = block_size, on a log2 axis), log scale, one line
 * per engine and dataset (one colour per engine, one line style per dataset; the legend in the report's engine order,
 * {@link BenchReport#ENGINE_ORDER}). Modes without a number (unavailable, failed) are listed in a footer under the plot
 * instead. Kept apart from {@link BenchReport} because it needs AWT (java.desktop), which a trimmed runtime may lack:
 * the report catches the failure and writes everything else.
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

    static void write(Path png, List<Row> rows) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<Row> measured = rows.stream().filter(r -> r.status() == Status.measured).toList();
        if (measured.isEmpty()) {
            throw new IOException("no measured row to plot");
        }
        List<String> engines = BenchReport.engines(rows);
        List<String> datasets = rows.stream().map(Row::dataset).distinct().toList();

        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Training step time against model size (lower is better)")
                .xAxisTitle("n_embd = block_size").yAxisTitle("median ms/step (log scale)").build();
        XYStyler styler = chart.getStyler();
        styler.setYAxisLogarithmic(true);
        styler.setLegendPosition(Styler.LegendPosition.OutsideE);
        styler.setMarkerSize(8);
        styler.setPlotGridLinesVisible(true);
        // x is log2(size), so that 16, 32, 64, 128 sit evenly apart; with a label function XChart puts the ticks at the
        // measured x values, each labelled with its size.
        styler.setxAxisTickLabelsFormattingFunction(BenchChart::sizeLabel);
        styler.setChartBackgroundColor(Color.WHITE);

        // One series per engine and dataset, added (so listed in the legend) by engine, then dataset.
        List<Row> ordered = new ArrayList<>(measured);
        ordered.sort(Comparator.comparing(Row::engine, BenchReport.ENGINE_ORDER)
                .thenComparingInt(r -> datasets.indexOf(r.dataset())));
        Map<String, List<Row>> series = new LinkedHashMap<>();
        for (Row r : ordered) {
            series.computeIfAbsent(r.engine() + " · " + r.dataset(), k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Row>> e : series.entrySet()) {
            List<Row> points = new ArrayList<>(e.getValue());
            points.sort(Comparator.comparingInt(Row::nEmbd).thenComparingInt(Row::blockSize));
            double[] x = new double[points.size()];
            double[] y = new double[points.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = Math.log(points.get(i).nEmbd()) / Math.log(2);
                y[i] = points.get(i).measurement("median_ms_per_step").orElseThrow();
            }
            Row first = points.get(0);
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            Color color = COLORS[engines.indexOf(first.engine()) % COLORS.length];
            s.setLineColor(color);
            s.setMarkerColor(color);
            s.setLineStyle(LINES[datasets.indexOf(first.dataset()) % LINES.length]);
            s.setMarker(SeriesMarkers.CIRCLE);
        }

        BufferedImage plot = BitmapEncoder.getBufferedImage(chart);
        // Modes without a number go in a footer under the plot, where they cannot hide a line.
        List<String> missing = unmeasured(rows);
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

    private static String sizeLabel(Double log2) {
        return Long.toString(Math.round(Math.pow(2, log2)));
    }
}
