package dev.microgpt.engine;

import dev.microgpt.testing.RandomDocuments;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A training step of the CPU engines allocates nothing once warm: the engines preallocate every buffer. */
class SteadyStateAllocationTest {

    @ParameterizedTest(name = "fast engine, n_embd = block_size = {0}")
    @ValueSource(ints = {16, 64}) // 64/64 takes the overlapped-Adam path
    void fastEngineStepsAllocateNothing(int size) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(size, 4, 1, size, 27));
        try (FastEngine engine = new FastEngine(layout, weights(layout))) {
            assertAllocationFree(engine, size);
        }
    }

    @ParameterizedTest(name = "tape engine, n_embd = block_size = {0}")
    @ValueSource(ints = {16})
    void tapeEngineStepsAllocateNothing(int size) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(size, 4, 1, size, 27));
        assertAllocationFree(new TapeEngine(layout, weights(layout)), size);
    }

    private static void assertAllocationFree(TrainingEngine engine, int block) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported(), "this JVM cannot count a thread's allocations");
        Random random = new Random(3);
        int[][] docs = new int[64][];
        for (int i = 0; i < docs.length; i++) {
            docs[i] = RandomDocuments.of(random, 2 + random.nextInt(block + 4), 27);
        }
        double[] loss = new double[1];
        int steps = 3000;
        long tid = Thread.currentThread().getId();
        for (int s = 0; s < steps; s++) { // warm: JIT, tape growth, the Adam worker started, and the counter itself
            train(engine, docs[s % docs.length], block, s, 2 * steps, loss);
            threads.getThreadAllocatedBytes(tid);
        }
        // What reading the counter costs on its own (the management call may allocate until it is compiled).
        long probe = threads.getThreadAllocatedBytes(tid);
        long counterCost = threads.getThreadAllocatedBytes(tid) - probe;
        long before = threads.getThreadAllocatedBytes(tid);
        for (int s = steps; s < 2 * steps - 1000; s++) {
            train(engine, docs[s % docs.length], block, s, 2 * steps, loss);
        }
        long allocated = threads.getThreadAllocatedBytes(tid) - before - counterCost;
        assertEquals(0, allocated, "bytes allocated by 2000 training steps of " + engine.name());
    }

    private static void train(TrainingEngine engine, int[] doc, int block, int step, int numSteps, double[] loss) {
        engine.submitStep(doc, Math.min(block, doc.length - 1), AdamConfig.MICROGPT, step, numSteps);
        engine.collectLosses(loss);
    }

    private static double[] weights(ParameterLayout layout) {
        Random random = new Random(5);
        double[] w = new double[layout.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = random.nextGaussian() * 0.08;
        }
        return w;
    }
}
