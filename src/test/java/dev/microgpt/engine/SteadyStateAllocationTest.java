package dev.microgpt.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RandomDocuments;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Random;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.opentest4j.AssertionFailedError;

/**
 * A training step of the CPU engines allocates nothing once warm: the engines preallocate every buffer.
 *
 * <p>The JVM itself allocates on the training thread now and then while its JIT settles: when C2 deoptimises a method
 * whose Vector API calls it had intrinsified, the calls that run in the interpreter or C1 until the recompiled code is
 * installed box their vectors (88 to 304 bytes, at random moments up to a few thousand steps in, later under load; never
 * with the Vector API module left out). So the test looks for a window of {@value #WINDOW} consecutive steps that
 * allocates nothing, among the first {@value #WINDOWS}: an allocation of the engine's own recurs in every window
 * (even one every 256 steps: {@link #theCheckCatchesAnAllocationEvery256Steps}), the JIT's stops once it is settled.
 */
class SteadyStateAllocationTest {

    private static final int WARM_UP = 3000;
    private static final int WINDOW = 1000;
    private static final int WINDOWS = 30;

    @ParameterizedTest(name = "fast engine, n_embd = block_size = {0}, {1} documents a step, {2} threads")
    @CsvSource({"16, 1, 1", "64, 1, 2", "16, 4, 1", "16, 4, 2", "16, 40, 2"}) // 64/64 on 2: Adam overlapped
    void fastEngineStepsAllocateNothing(int size, int batchSize, int threads) {
        ParameterLayout layout = layout(size);
        try (FastEngine engine = new FastEngine(layout, weights(layout), threads)) {
            assertSomeWindowAllocatesNothing(engine.name(), steps(engine, size, batchSize));
        }
    }

    @ParameterizedTest(name = "tape engine, n_embd = block_size = {0}")
    @ValueSource(ints = {16})
    void tapeEngineStepsAllocateNothing(int size) {
        ParameterLayout layout = layout(size);
        TapeEngine engine = new TapeEngine(layout, weights(layout));
        assertSomeWindowAllocatesNothing(engine.name(), steps(engine, size, 1));
    }

    /** The check is not vacuous: 16 bytes allocated once every 256 steps, as a batched loss copy might, fail it. */
    @Test
    void theCheckCatchesAnAllocationEvery256Steps() {
        ParameterLayout layout = layout(16);
        try (FastEngine engine = new FastEngine(layout, weights(layout))) {
            IntConsumer step = steps(engine, 16, 1);
            IntConsumer leakingStep = s -> {
                step.accept(s);
                if (s % 256 == 0) {
                    escaped = new byte[0]; // 16 bytes: an array header
                }
            };
            assertThrows(AssertionFailedError.class, () -> assertSomeWindowAllocatesNothing("leaking", leakingStep));
        }
    }

    /** Written by the planted allocation, so that escape analysis cannot remove it. */
    private static volatile Object escaped;

    private static void assertSomeWindowAllocatesNothing(String engine, IntConsumer step) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported(), "this JVM cannot count a thread's allocations");
        int s = 0;
        step.accept(s++); // starts the engine's threads
        long[] tids = trainingThreads();
        for (; s < WARM_UP; s++) { // JIT, tape growth, and the counter itself
            step.accept(s);
            allocatedBy(threads, tids);
        }
        long[] allocated = new long[WINDOWS];
        for (int w = 0; w < WINDOWS; w++) {
            long before = allocatedBy(threads, tids);
            for (int end = s + WINDOW; s < end; s++) {
                step.accept(s);
            }
            allocated[w] = allocatedBy(threads, tids) - before;
            if (allocated[w] == 0) {
                return;
            }
        }
        fail("every window of " + WINDOW + " training steps of " + engine + " allocated; bytes per window: "
                + Arrays.toString(allocated));
    }

    /** This thread and the engines' own (FastEngine's team, named microgpt-...). */
    private static long[] trainingThreads() {
        return java.util.stream.LongStream.concat(java.util.stream.LongStream.of(Thread.currentThread().getId()),
                Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("microgpt-"))
                        .mapToLong(Thread::getId)).toArray();
    }

    /**
     * The bytes the threads {@code tids} have allocated so far (a thread that has ended counts 0), one thread at a time:
     * the call that takes them all would allocate its answer.
     */
    private static long allocatedBy(com.sun.management.ThreadMXBean threads, long[] tids) {
        long sum = 0;
        for (long tid : tids) {
            sum += Math.max(0, threads.getThreadAllocatedBytes(tid));
        }
        return sum;
    }

    /** A training step of {@code engine} on the step's documents: 64 random documents taken in turn. */
    private static IntConsumer steps(TrainingEngine engine, int block, int batchSize) {
        Random random = new Random(3);
        int[][] docs = new int[64][];
        for (int i = 0; i < docs.length; i++) {
            docs[i] = RandomDocuments.of(random, 2 + random.nextInt(block + 4), 27);
        }
        double[] loss = new double[1];
        int numSteps = WARM_UP + WINDOW * WINDOWS;
        DocumentBatch batch = new DocumentBatch(batchSize);
        return s -> {
            for (int b = 0; b < batchSize; b++) {
                int[] doc = docs[(s * batchSize + b) % docs.length];
                batch.set(b, doc, Math.min(block, doc.length - 1));
            }
            engine.submitStep(batch, AdamConfig.MICROGPT, s, numSteps);
            engine.collectLosses(loss);
        };
    }

    private static ParameterLayout layout(int size) {
        return new ParameterLayout(new ModelConfig(size, 4, 1, size, 27));
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
