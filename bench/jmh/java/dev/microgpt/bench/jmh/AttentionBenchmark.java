package dev.microgpt.bench.jmh;

import dev.microgpt.ops.Attention;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/** Causal 4-head attention, {@link Attention#forward} and {@link Attention#backward}, over a full context of size positions. */
public class AttentionBenchmark extends HotLoopBenchmark {

    @Param({"16", "64"})
    int size;

    double[] qkv;
    double[] probs;
    double[] out;
    double[] dout;
    double[] dqkv;
    double[] scratch;

    @Setup
    public void setup() {
        int c = size;
        int block = size;
        qkv = Shapes.filled(block * 3 * c, 4, 1.0);
        probs = new double[Shapes.N_HEAD * block * block];
        out = new double[block * c];
        dout = Shapes.filled(block * c, 5, 0.01);
        dqkv = new double[block * 3 * c];
        scratch = new double[block];
        // The backward reads the forward's attention weights.
        Attention.forward(qkv, probs, out, 0, block, c, Shapes.N_HEAD, block);
    }

    @Benchmark
    public double[] forward() {
        Attention.forward(qkv, probs, out, 0, size, size, Shapes.N_HEAD, size);
        return out;
    }

    @Benchmark
    public double[] backward() {
        Attention.backward(qkv, probs, dout, dqkv, scratch, size, size, Shapes.N_HEAD, size);
        return dqkv;
    }
}
