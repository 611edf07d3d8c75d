package dev.microgpt.bench.jmh;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.model.ParameterLayout;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The fast engine on a fixed document: {@link FastEngine#forwardBackward} (forward, loss and backward, no Adam), and a
 * whole training step with Adam as the trainer submits it, on the trainer's threads (at 64/64 Adam runs overlapped on a
 * second one). The document is either one name (7 positions, like a step on names.txt) or long enough to fill the
 * context (size positions).
 */
public class FastEngineBenchmark extends HotLoopBenchmark {

    @Param({"16", "64"})
    int size;

    @Param({"name", "full"})
    String document;

    FastEngine engine;
    DocumentBatch batch; // the one document, made once: a step allocates nothing
    final double[] loss = new double[1];

    @Setup
    public void setup() {
        ParameterLayout layout = Shapes.layout(size);
        engine = new FastEngine(layout, Shapes.initialParams(layout), FastEngine.defaultThreads());
        int[] tokens = Shapes.TOKENIZER.encodeDocument(document.equals("name") ? Shapes.NAME : Shapes.FULL_DOCUMENT);
        batch = DocumentBatch.of(tokens, Math.min(size, tokens.length - 1));
    }

    @TearDown
    public void tearDown() {
        engine.close();
    }

    @Benchmark
    public double forwardBackward() {
        return engine.forwardBackward(batch);
    }

    /** One step of a long run (step 10 of 1,000,000, so the learning rate stays near its start), Adam included. */
    @Benchmark
    public double trainStep() {
        engine.submitStep(batch, AdamConfig.MICROGPT, 10, 1_000_000);
        engine.collectLosses(loss);
        return loss[0];
    }
}
