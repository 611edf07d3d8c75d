package dev.microgpt.engine;

import dev.microgpt.testing.RandomDocuments;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Adam overlapped with the backward on a second thread gives bitwise the weights of the serial update. */
class OverlappedAdamTest {

    /** Batches of 1 to 4 documents: Adam overlaps the last document's backward. */
    @Test
    void overlappedTrainingStepsEqualSerialOnesBitForBit() {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(48, 4, 2, 24, 27));
        assertTrue(layout.size() >= OverlappedAdam.MIN_PARAMETERS, "large enough to use the worker");
        Random random = new Random(11);
        double[] init = new double[layout.size()];
        for (int i = 0; i < init.length; i++) {
            init[i] = random.nextGaussian() * 0.08;
        }
        try (FastEngine overlapped = new FastEngine(layout, init); FastEngine serial = new FastEngine(layout, init)) {
            trainBoth(layout, random, overlapped, serial);
        }
    }

    private static void trainBoth(ParameterLayout layout, Random random, FastEngine overlapped, FastEngine serial) {
        double[] loss = new double[1];
        for (int step = 0; step < 60; step++) {
            DocumentBatch batch = new DocumentBatch(1 + step % 4);
            for (int b = 0; b < batch.size(); b++) {
                int length = 2 + random.nextInt(30);
                batch.set(b, RandomDocuments.of(random, length, 27), Math.min(24, length - 1));
            }
            overlapped.submitStep(batch, AdamConfig.MICROGPT, step, 60);
            assertEquals(1, overlapped.collectLosses(loss));
            double serialLoss = serial.forwardBackward(batch);
            serial.adamUpdate(AdamConfig.MICROGPT, step, 60);
            assertEquals(serialLoss, loss[0], 0.0, "loss of step " + step);
        }
        double[] a = new double[layout.size()];
        double[] b = new double[layout.size()];
        overlapped.readParameters(a);
        serial.readParameters(b);
        assertArrayEquals(b, a, 0.0);
        double[] m1 = new double[layout.size()];
        double[] v1 = new double[layout.size()];
        double[] m2 = new double[layout.size()];
        double[] v2 = new double[layout.size()];
        overlapped.readMoments(m1, v1);
        serial.readMoments(m2, v2);
        assertArrayEquals(m2, m1, 0.0);
        assertArrayEquals(v2, v1, 0.0);
    }
}
