package dev.microgpt.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RandomDocuments;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/**
 * A one-document step with Adam overlapped on a second thread of the team gives bitwise the losses, weights and moments
 * of the serial step, and a step that diverges or fails leaves neither the weights nor the helper behind.
 */
class OverlappedAdamTest {

    private static final ParameterLayout LAYOUT = new ParameterLayout(new ModelConfig(48, 4, 2, 24, 27));
    private static final int STEPS = 60;
    private static final int STEPS_OF_RANGES = 500;

    /** One document a step, with a batch of 3 every fifth step, so the helper also runs the team's other tasks between. */
    @Test
    void overlappedStepsEqualSerialOnesBitForBit() {
        assertTrue(LAYOUT.size() >= FastEngine.MIN_OVERLAP_PARAMETERS, "large enough to overlap Adam");
        Random random = new Random(11);
        double[] init = weights(random);
        try (FastEngine overlapped = new FastEngine(LAYOUT, init, 2); FastEngine serial = new FastEngine(LAYOUT, init)) {
            assertEquals(2, overlapped.threadsAt(1), "two threads: Adam overlapped");
            assertEquals(1, serial.threadsAt(1), "one thread: nothing overlapped");
            double[] loss = new double[1];
            for (int step = 0; step < STEPS; step++) {
                DocumentBatch batch = new DocumentBatch(step % 5 == 4 ? 3 : 1);
                for (int b = 0; b < batch.size(); b++) {
                    int length = 2 + random.nextInt(30);
                    batch.set(b, RandomDocuments.of(random, length, 27), Math.min(24, length - 1));
                }
                overlapped.submitStep(batch, AdamConfig.MICROGPT, step, STEPS);
                assertEquals(1, overlapped.collectLosses(loss));
                serial.submitStep(batch, AdamConfig.MICROGPT, step, STEPS);
                double[] serialLoss = new double[1];
                serial.collectLosses(serialLoss);
                assertEquals(serialLoss[0], loss[0], 0.0, "loss of step " + step);
            }
            assertArrayEquals(parameters(serial), parameters(overlapped), "weights");
            double[] m1 = new double[LAYOUT.size()];
            double[] v1 = new double[LAYOUT.size()];
            double[] m2 = new double[LAYOUT.size()];
            double[] v2 = new double[LAYOUT.size()];
            overlapped.readMoments(m1, v1);
            serial.readMoments(m2, v2);
            assertArrayEquals(m2, m1, "Adam's m");
            assertArrayEquals(v2, v1, "Adam's v");
        }
    }

    /**
     * A document whose loss is not finite publishes nothing and updates nothing; a step whose forward throws reaches
     * the caller, and the helper it had woken lets go of it (the test would hang otherwise); good steps then train.
     */
    @Test
    void aDivergedOrFailedStepLeavesTheWeightsAndTheHelper() {
        Random random = new Random(13);
        double[] init = weights(random);
        int poisoned = 25; // a token only the diverging document holds: its embedding row is NaN
        Arrays.fill(init, LAYOUT.wte().offset() + poisoned * 48, LAYOUT.wte().offset() + (poisoned + 1) * 48, Double.NaN);
        DocumentBatch good = DocumentBatch.of(new int[] {26, 1, 2, 3, 26}, 4);
        DocumentBatch diverging = DocumentBatch.of(new int[] {26, 1, poisoned, 3, 26}, 4);
        DocumentBatch failing = DocumentBatch.of(new int[] {26, 1, 1 << 30, 3, 26}, 4); // a token past every array
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (FastEngine engine = new FastEngine(LAYOUT, init, 2)) {
                double[] loss = new double[1];
                engine.submitStep(good, AdamConfig.MICROGPT, 0, 10);
                engine.collectLosses(loss);
                assertTrue(Double.isFinite(loss[0]), "the first step trains, got " + loss[0]);
                double[] before = parameters(engine);

                engine.submitStep(diverging, AdamConfig.MICROGPT, 1, 10);
                engine.collectLosses(loss);
                assertTrue(Double.isNaN(loss[0]), "the step's loss is the diverged document's, got " + loss[0]);
                assertArrayEquals(before, parameters(engine), "a diverged step is not applied");

                assertThrows(ArrayIndexOutOfBoundsException.class,
                        () -> engine.submitStep(failing, AdamConfig.MICROGPT, 1, 10));
                assertArrayEquals(before, parameters(engine), "a step whose forward failed updates nothing");

                engine.submitStep(good, AdamConfig.MICROGPT, 1, 10);
                engine.collectLosses(loss);
                assertTrue(Double.isFinite(loss[0]), "the next good step trains, got " + loss[0]);
                assertFalse(Arrays.equals(before, parameters(engine)), "the next good step updates the weights");
            }
        });
    }

    /**
     * Many small ranges published while the helper claims them, the backward's member joining in at the end: each is
     * updated exactly once (a claim that two members could both win would update one twice), over many steps.
     */
    @Test
    void everyPublishedRangeIsUpdatedOnceWhoeverClaimsIt() {
        int size = 16_384;
        AtomicIntegerArray updates = new AtomicIntegerArray(size);
        OverlappedAdam adam = new OverlappedAdam((from, to) -> {
            for (int i = from; i < to; i++) {
                updates.incrementAndGet(i);
            }
        }, size);
        try (ThreadTeam team = new ThreadTeam(2)) {
            for (int step = 0; step < STEPS_OF_RANGES; step++) {
                adam.begin();
                team.run(member -> {
                    if (member == 0) {
                        for (int i = 0; i < size; i++) {
                            adam.publish(i, 1);
                        }
                        adam.endBackward();
                    }
                    adam.help();
                }, 2);
            }
        }
        for (int i = 0; i < size; i++) {
            assertEquals(STEPS_OF_RANGES, updates.get(i), "updates of element " + i);
        }
    }

    private static double[] weights(Random random) {
        double[] w = new double[LAYOUT.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = random.nextGaussian() * 0.08;
        }
        return w;
    }

    private static double[] parameters(FastEngine engine) {
        double[] p = new double[LAYOUT.size()];
        engine.readParameters(p);
        return p;
    }
}
