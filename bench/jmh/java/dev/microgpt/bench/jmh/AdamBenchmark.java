package dev.microgpt.bench.jmh;

import dev.microgpt.engine.Adam;
import dev.microgpt.engine.AdamConfig;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link Adam#update} over every parameter of the 16/16 model (4,192) and of the 64/64 model (56,704). Adam clears the
 * gradients, so each call first copies them back in: without that the moments would decay towards subnormal numbers and
 * time the wrong arithmetic. {@link #refillGradientsOnly} times that copy alone, to subtract.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "--add-modules", "jdk.incubator.vector"})
public class AdamBenchmark {

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
