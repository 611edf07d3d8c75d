package dev.microgpt.bench.jmh;

import dev.microgpt.engine.Adam;
import dev.microgpt.engine.AdamConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * {@link Adam#update} over every parameter of the 16/16 model (4,192) and of the 64/64 model (56,704). Adam clears the
 * gradients, so each call first copies them back in: without that the moments would decay towards subnormal numbers and
 * time the wrong arithmetic. {@link #refillGradientsOnly} times that copy alone, to subtract.
 */
public class AdamBenchmark extends HotLoopBenchmark {

    @Param({"4192", "56704"})
    int params;

    double[] weights;
    double[] gradients;
    double[] grads;
    double[] m;
    double[] v;

    @Setup
    public void setup() {
        weights = Shapes.filled(params, 6, 0.08);
        gradients = Shapes.filled(params, 7, 0.05);
        grads = new double[params];
        m = new double[params];
        v = new double[params];
    }

    @Benchmark
    public double[] update() {
        System.arraycopy(gradients, 0, grads, 0, params);
        Adam.update(AdamConfig.MICROGPT, 10, 1000, weights, grads, m, v);
        return weights;
    }

    @Benchmark
    public double[] refillGradientsOnly() {
        System.arraycopy(gradients, 0, grads, 0, params);
        return grads;
    }
}
