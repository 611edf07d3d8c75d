package dev.microgpt.engine;

import static dev.microgpt.engine.GradientChecks.ENGINE_TOLERANCE;
import static dev.microgpt.engine.GradientChecks.assertRelative;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RandomDocuments;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A step over B documents ({@code --batch-size}) trains on the mean of their losses: its loss is that mean and its
 * gradient the mean of the B single-document gradients, on both CPU engines, on fresh random weights and documents
 * (short ones, ones that fill the block, ones longer than it).
 *
 * <p>Tolerances, per tensor as ||a - b|| / ||b||: batch vs mean of singles 1e-12, since both are float64 sums of the
 * same B terms that differ only in where the 1 / B is applied (folded into dlogits, or after each document's
 * gradient) and in summation order, a few ulps each; fast vs tape {@link GradientChecks#ENGINE_TOLERANCE}.
 */
class BatchGradientTest {

    private static final double BATCH_TOLERANCE = 1e-12;

    static Stream<Arguments> cases() {
        return Stream.of(
                // engine, nEmbd, nHead, nLayer, blockSize, vocab, B, threads
                Arguments.of("fast", 8, 2, 1, 8, 7, 2, 1),
                Arguments.of("fast", 16, 4, 1, 16, 27, 8, 2),
                Arguments.of("fast", 12, 4, 2, 10, 9, 5, 3),
                Arguments.of("fast", 48, 4, 2, 24, 27, 3, 2),
                Arguments.of("fast", 16, 4, 1, 16, 27, 37, 2), // over FastEngine.MAX_GROUPS: groups of 2 and 3
                Arguments.of("tape", 8, 2, 1, 8, 7, 3, 1),
                Arguments.of("tape", 8, 2, 2, 6, 5, 4, 1));
    }

    @ParameterizedTest(name = "{0} engine, n_embd {1}, n_head {2}, n_layer {3}, block {4}, vocab {5}, B = {6},"
            + " {7} threads")
    @MethodSource("cases")
    void theBatchGradientIsTheMeanOfTheDocumentGradients(String engineName, int nEmbd, int nHead, int nLayer,
                                                         int block, int vocab, int batchSize, int threads) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(nEmbd, nHead, nLayer, block, vocab));
        Random random = new Random(1009L * batchSize + 31L * nEmbd + nLayer + engineName.length());
        double[] params = weights(layout, random);
        DocumentBatch batch = randomBatch(random, batchSize, block, vocab);
        BiFunction<ParameterLayout, double[], CpuEngine> engines = engineName.equals("fast")
                ? (l, p) -> new FastEngine(l, p, threads) : TapeEngine::new;

        try (CpuEngine engine = engines.apply(layout, params)) {
            double[] meanOfSingles = new double[layout.size()];
            double[] single = new double[layout.size()];
            double lossSum = 0;
            for (int b = 0; b < batchSize; b++) {
                lossSum += engine.forwardBackward(batch.tokens(b), batch.positions(b));
                engine.readGradients(single);
                for (int i = 0; i < single.length; i++) {
                    meanOfSingles[i] += single[i] / batchSize;
                }
            }
            double batchLoss = engine.forwardBackward(batch);
            double[] batchGradient = new double[layout.size()];
            engine.readGradients(batchGradient);

            assertEquals(lossSum / batchSize, batchLoss, 1e-15 * batchLoss, "the batch's loss is its documents' mean");
            for (ParameterLayout.Tensor t : layout.tensors()) {
                assertRelative(t.name() + ": batch vs mean of the documents'", batchGradient, meanOfSingles, t,
                        BATCH_TOLERANCE);
            }
            if (engineName.equals("tape")) {
                try (FastEngine fast = new FastEngine(layout, params)) {
                    assertEquals(batchLoss, fast.forwardBackward(batch), 1e-13 * batchLoss, "fast vs tape loss");
                    double[] fastGradient = new double[layout.size()];
                    fast.readGradients(fastGradient);
                    for (ParameterLayout.Tensor t : layout.tensors()) {
                        assertRelative(t.name() + ": fast vs tape", fastGradient, batchGradient, t, ENGINE_TOLERANCE);
                    }
                }
            }
        }
    }

    private static double[] weights(ParameterLayout layout, Random random) {
        double[] params = new double[layout.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = random.nextGaussian() * 0.3; // larger than the init's 0.08, to exercise non-linearities
        }
        return params;
    }

    /** B documents of 2 to block + 4 tokens, the longer ones truncated to the block as the trainer does. */
    private static DocumentBatch randomBatch(Random random, int batchSize, int block, int vocab) {
        DocumentBatch batch = new DocumentBatch(batchSize);
        for (int b = 0; b < batchSize; b++) {
            int[] tokens = RandomDocuments.of(random, 2 + random.nextInt(block + 3), vocab);
            batch.set(b, tokens, Math.min(block, tokens.length - 1));
        }
        return batch;
    }
}
