package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loss plot draws a long run through at most {@link LossPlot#MAX_POINTS} points a series, hiding no extreme. */
class LossPlotTest {

    @TempDir
    Path dir;

    @Test
    void aShortRunIsDrawnThroughEveryStep() {
        double[] losses = new SplittableRandom(1).doubles(LossPlot.MAX_POINTS).toArray();
        LossPlot.Series s = LossPlot.Series.envelope(41, losses);
        assertEquals(LossPlot.MAX_POINTS, s.steps().length);
        assertEquals(41, s.steps()[0]);
        assertEquals(40 + LossPlot.MAX_POINTS, s.steps()[LossPlot.MAX_POINTS - 1]);
        assertTrue(Arrays.equals(losses, s.values()));
    }

    /** Every drawn point is a real step's loss, in step order, and the band reaches each run of steps' extremes. */
    @Test
    void aLongRunsEnvelopeKeepsEveryExtreme() {
        SplittableRandom random = new SplittableRandom(7);
        int count = 200_003; // not a multiple of the buckets
        double[] losses = random.doubles(count, 1, 4).toArray();
        losses[random.nextInt(count)] = 9;  // one spike, one dip: both must show
        losses[random.nextInt(count)] = -1;
        int first = 1001;
        LossPlot.Series s = LossPlot.Series.envelope(first, losses);
        assertEquals(LossPlot.MAX_POINTS, s.steps().length);
        for (int p = 0; p < s.steps().length; p++) {
            assertEquals(losses[(int) s.steps()[p] - first], s.values()[p], "point " + p);
            assertTrue(p == 0 || s.steps()[p] >= s.steps()[p - 1], "step order at point " + p);
        }
        assertEquals(9, Arrays.stream(s.values()).max().orElseThrow());
        assertEquals(-1, Arrays.stream(s.values()).min().orElseThrow());
        // each of the MAX_POINTS / 2 runs of consecutive steps (as equal as whole steps allow) by its two extremes
        int runs = LossPlot.MAX_POINTS / 2;
        for (int r = 0; r < runs; r++) {
            double[] run = Arrays.copyOfRange(losses, (int) ((long) r * count / runs),
                    (int) ((long) (r + 1) * count / runs));
            double low = Math.min(s.values()[2 * r], s.values()[2 * r + 1]);
            double high = Math.max(s.values()[2 * r], s.values()[2 * r + 1]);
            assertEquals(Arrays.stream(run).min().orElseThrow(), low, "run " + r);
            assertEquals(Arrays.stream(run).max().orElseThrow(), high, "run " + r);
        }
    }

    @Test
    void aLongRunsAverageIsSampledEvenlyEndsIncluded() {
        double[] average = new SplittableRandom(3).doubles(50_000).toArray();
        LossPlot.Series s = LossPlot.Series.sampled(1, average);
        assertEquals(LossPlot.MAX_POINTS, s.steps().length);
        assertEquals(1, s.steps()[0]);
        assertEquals(50_000, s.steps()[LossPlot.MAX_POINTS - 1]);
        assertEquals(average[average.length - 1], s.values()[LossPlot.MAX_POINTS - 1]);
    }

    @Test
    void aLongRunIsWrittenAsAPng() throws Exception {
        double[] losses = new SplittableRandom(5).doubles(200_000, 1, 4).toArray();
        Path png = dir.resolve("long.png");
        LossPlot.write(png, new LossCurve(1, losses), "test");
        assertEquals(OutputFile.Contents.OUTPUT, LossPlot.contents(png));
    }
}
