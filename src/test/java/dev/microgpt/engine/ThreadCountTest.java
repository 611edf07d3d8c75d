package dev.microgpt.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RandomDocuments;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fast engine spreads a step's documents over threads without changing a single bit: the groups it sums are
 * fixed by the batch size alone ({@link FastEngine#MAX_GROUPS}), so 1, 2 and 3 threads give the same losses, weights
 * and moments, compared exactly, over training steps on fresh random documents (whose lengths make the threads finish
 * their groups in varying order).
 */
class ThreadCountTest {

    private static final int STEPS = 25;

    @ParameterizedTest(name = "n_embd {0}, n_layer {1}, block {2}, B = {3}")
    @CsvSource({
        "16, 1, 16, 2",
        "16, 1, 16, 7",   // groups of one document
        "16, 1, 16, 37",  // groups of 2 and 3
        "48, 2, 24, 1",   // one document a step: Adam overlapped with the backward from 2 threads on
        "48, 2, 24, 5"})
    void theThreadCountNeverChangesTheNumbers(int nEmbd, int nLayer, int block, int batchSize) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(nEmbd, 4, nLayer, block, 27));
        Random random = new Random(7919L * batchSize + nEmbd);
        double[] initial = new double[layout.size()];
        for (int i = 0; i < initial.length; i++) {
            initial[i] = random.nextGaussian() * 0.08;
        }
        DocumentBatch[] batches = new DocumentBatch[STEPS];
        for (int s = 0; s < STEPS; s++) {
            batches[s] = new DocumentBatch(batchSize);
            for (int b = 0; b < batchSize; b++) {
                int[] tokens = RandomDocuments.of(random, 2 + random.nextInt(block + 3), 27);
                batches[s].set(b, tokens, Math.min(block, tokens.length - 1));
            }
        }
        Trained one = train(layout, initial, batches, 1);
        for (int threads : new int[] {2, 3, FastEngine.MAX_GROUPS}) { // 16: more threads than groups at B < 16
            Trained many = train(layout, initial, batches, threads);
            assertArrayEquals(one.losses, many.losses, threads + " threads: losses");
            assertArrayEquals(one.params, many.params, threads + " threads: weights");
            assertArrayEquals(one.m, many.m, threads + " threads: Adam's m");
            assertArrayEquals(one.v, many.v, threads + " threads: Adam's v");
            assertArrayEquals(one.gradients, many.gradients, threads + " threads: a forwardBackward's gradients");
        }
    }

    /** The groups depend on B and P alone: at most 16, and fewer where their sums would pass 2^25 doubles. */
    @Test
    void theGroupsAreAFunctionOfTheBatchAndTheModel() {
        assertEquals(1, FastEngine.groupsOf(1, 4192));
        assertEquals(7, FastEngine.groupsOf(7, 4192));
        assertEquals(16, FastEngine.groupsOf(4096, 56_704));
        assertEquals(4, FastEngine.groupsOf(128, 10_000_000)); // 1 + 3 sums of 10M doubles, under 2^25 = 33.5M
        assertEquals(1, FastEngine.groupsOf(128, (1 << 25) + 1));
    }

    private record Trained(double[] losses, double[] params, double[] m, double[] v, double[] gradients) {
    }

    private static Trained train(ParameterLayout layout, double[] initial, DocumentBatch[] batches, int threads) {
        int p = layout.size();
        Trained t = new Trained(new double[batches.length], new double[p], new double[p], new double[p], new double[p]);
        try (FastEngine engine = new FastEngine(layout, initial, threads)) {
            assertEquals(threads, engine.threads());
            double[] loss = new double[1];
            for (int s = 0; s < batches.length; s++) {
                engine.submitStep(batches[s], AdamConfig.MICROGPT, s, batches.length);
                engine.collectLosses(loss);
                t.losses[s] = loss[0];
            }
            engine.readParameters(t.params);
            engine.readMoments(t.m, t.v);
            engine.forwardBackward(batches[0]);
            engine.readGradients(t.gradients);
        }
        return t;
    }

    /**
     * A document whose loss is not finite stops the step on any thread count, after good steps: the step reports that
     * loss, Adam is skipped (the weights stay as they were), and the next good step trains from there, to the same
     * weights whatever the threads.
     */
    @Test
    void aDivergedDocumentLeavesTheWeightsAsTheyWere() {
        assertArrayEquals(trainThroughADivergedStep(1), trainThroughADivergedStep(3), "the weights, 1 vs 3 threads");
    }

    /** The weights after good steps, a diverged one and a good one, each step's outcome checked. */
    private static double[] trainThroughADivergedStep(int threads) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(16, 4, 1, 16, 27));
        Random random = new Random(11);
        double[] initial = new double[layout.size()];
        for (int i = 0; i < initial.length; i++) {
            initial[i] = random.nextGaussian() * 0.08;
        }
        int poisoned = 26; // a token only document 9 holds: its embedding row is NaN
        for (int c = 0; c < 16; c++) {
            initial[layout.wte().offset() + poisoned * 16 + c] = Double.NaN;
        }
        DocumentBatch good = new DocumentBatch(12);
        DocumentBatch bad = new DocumentBatch(12);
        for (int b = 0; b < good.size(); b++) {
            good.set(b, new int[] {0, 1 + b, 2 + b, 3, 0}, 4);
            int[] tokens = {0, 1 + b, 2 + b, b == 9 ? poisoned : 4, 0};
            bad.set(b, tokens, tokens.length - 1);
        }
        try (FastEngine engine = new FastEngine(layout, initial, threads)) {
            double[] loss = new double[1];
            for (int s = 0; s < 3; s++) {
                engine.submitStep(good, AdamConfig.MICROGPT, s, 10);
                engine.collectLosses(loss);
                assertTrue(Double.isFinite(loss[0]), "step " + s + " trains, got " + loss[0]);
            }
            double[] before = new double[layout.size()];
            engine.readParameters(before);
            engine.submitStep(bad, AdamConfig.MICROGPT, 3, 10);
            engine.collectLosses(loss);
            assertTrue(Double.isNaN(loss[0]), "the step's loss is the diverged document's, got " + loss[0]);
            double[] after = new double[layout.size()];
            engine.readParameters(after);
            assertArrayEquals(before, after, "a diverged step is not applied");

            engine.submitStep(good, AdamConfig.MICROGPT, 3, 10);
            engine.collectLosses(loss);
            assertTrue(Double.isFinite(loss[0]), "the next good step trains, got " + loss[0]);
            engine.readParameters(after);
            assertFalse(Arrays.equals(before, after), "the next good step updates the weights");
            return after;
        }
    }

    /**
     * A member's failure reaches the caller as thrown, whichever member it was (every other one suppressed in it); the team
     * goes on; a task runs on the members it asks for and no others; a closed team refuses work.
     */
    @Test
    void aMembersFailureReachesTheCallerAsThrown() {
        try (ThreadTeam team = new ThreadTeam(4)) {
            IllegalArgumentException planted = new IllegalArgumentException("planted");
            assertSame(planted, assertThrows(IllegalArgumentException.class, () -> team.run(member -> {
                if (member == 2) {
                    throw planted;
                }
            }, 4)));
            IllegalArgumentException own = assertThrows(IllegalArgumentException.class, () -> team.run(member -> {
                throw new IllegalArgumentException("member " + member);
            }, 2));
            assertEquals("member 0", own.getMessage());
            assertEquals("member 1", own.getSuppressed()[0].getMessage());
            IllegalArgumentException workers = assertThrows(IllegalArgumentException.class, () -> team.run(member -> {
                if (member > 0) {
                    throw new IllegalArgumentException("member " + member);
                }
            }, 4));
            List<String> all = new ArrayList<>(List.of(workers.getMessage()));
            Arrays.stream(workers.getSuppressed()).map(Throwable::getMessage).forEach(all::add);
            assertEquals(List.of("member 1", "member 2", "member 3"), all.stream().sorted().toList(),
                    "none of the workers' failures is lost");
            assertSame(planted, assertThrows(IllegalArgumentException.class, () -> team.run(member -> {
                throw planted; // the same throwable from every member: rethrown, not suppressed in itself
            }, 4)));
            assertEquals(0, planted.getSuppressed().length);

            AtomicIntegerArray ran = new AtomicIntegerArray(4);
            team.run(ran::incrementAndGet, 4);
            team.run(ran::incrementAndGet, 2);
            team.run(ran::incrementAndGet, 1);
            team.run(ran::incrementAndGet, 99);
            assertEquals("[4, 3, 2, 2]", ran.toString(), "runs per member");
            team.close();
            assertThrows(IllegalStateException.class, () -> team.run(member -> { }, 4));
        }
    }
}
