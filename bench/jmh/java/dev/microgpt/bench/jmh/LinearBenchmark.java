package dev.microgpt.bench.jmh;

import dev.microgpt.ops.Linear;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * {@link Linear#forward} and {@link Linear#backward} over a full context (block_size rows) at the layer shapes of the
 * 16/16 and 64/64 models: the fused q|k|v projection [C -> 3C], the MLP's fc1 [C -> 4C] and fc2 [4C -> C], and
 * lm_head [C -> 27].
 */
public class LinearBenchmark extends HotLoopBenchmark {

    @Param({"16", "64"})
    int size;

    @Param({"qkv", "mlp_fc1", "mlp_fc2", "lm_head"})
    String layer;

    int rows;
    int in;
    int out;
    double[] x;
    double[] wT;
    double[] y;
    double[] dy;
    double[] dx;
    double[] dwT;

    @Setup
    public void setup() {
        int c = size;
        rows = size;
        switch (layer) {
            case "qkv" -> { in = c; out = 3 * c; }
            case "mlp_fc1" -> { in = c; out = 4 * c; }
            case "mlp_fc2" -> { in = 4 * c; out = c; }
            case "lm_head" -> { in = c; out = Shapes.VOCAB; }
            default -> throw new IllegalArgumentException(layer);
        }
        x = Shapes.filled(rows * in, 1, 1.0);
        wT = Shapes.filled(in * out, 2, 0.08);
        y = new double[rows * out];
        dy = Shapes.filled(rows * out, 3, 0.01);
        dx = new double[rows * in];
        dwT = new double[in * out];
    }

    @Benchmark
    public double[] forward() {
        Linear.forward(x, 0, wT, 0, y, 0, 0, rows, in, out);
        return y;
    }

    /** Accumulates into dx and dwT, as the engine does after clearing them once per step; the sums stay small. */
    @Benchmark
    public double[] backward() {
        Linear.backward(x, 0, dy, 0, wT, 0, dx, 0, dwT, 0, rows, in, out);
        return dwT;
    }
}
