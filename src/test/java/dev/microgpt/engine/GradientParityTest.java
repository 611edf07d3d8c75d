package dev.microgpt.engine;

import dev.microgpt.testing.RandomDocuments;
import static dev.microgpt.engine.GradientChecks.ENGINE_TOLERANCE;
import static dev.microgpt.engine.GradientChecks.FINITE_DIFFERENCE_TOLERANCE;
import static dev.microgpt.engine.GradientChecks.assertRelative;
import static dev.microgpt.engine.GradientChecks.centralDifferences;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fast engine's hand-derived backward against the tape engine's op-by-op autograd, and both against central
 * finite differences, on fresh random weights and documents.
 *
 * Tolerances, per tensor as ||a - b|| / ||b||, and why: {@link GradientChecks}.
 */
class GradientParityTest {

    static Stream<Arguments> shapes() {
        return Stream.of(
                // nEmbd, nHead, nLayer, blockSize, vocab
                Arguments.of(8, 1, 1, 8, 7),
                Arguments.of(8, 2, 1, 8, 7),
                Arguments.of(8, 4, 1, 8, 7),
                Arguments.of(8, 2, 2, 6, 5),
                Arguments.of(12, 4, 2, 10, 9),
                Arguments.of(16, 4, 1, 16, 27));
    }

    @ParameterizedTest(name = "n_embd {0}, n_head {1}, n_layer {2}, block {3}, vocab {4}")
    @MethodSource("shapes")
    void fastAndTapeGradientsAgreeWithEachOtherAndWithFiniteDifferences(int nEmbd, int nHead, int nLayer, int block,
                                                                        int vocab) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(nEmbd, nHead, nLayer, block, vocab));
        Random random = new Random(31L * nEmbd + 7L * nHead + nLayer + block);
        double[] params = new double[layout.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = random.nextGaussian() * 0.3; // larger than the init's 0.08, to exercise non-linearities
        }
        FastEngine fast = new FastEngine(layout, params);
        TapeEngine tape = new TapeEngine(layout, params);
        // a short document, one that fills the block exactly, and one longer than the block (truncated)
        for (int length : new int[] {2, block + 1, block + 4}) {
            int[] tokens = RandomDocuments.of(random, length, vocab);
            int positions = Math.min(block, tokens.length - 1);
            double fastLoss = fast.forwardBackward(tokens, positions);
            double tapeLoss = tape.forwardBackward(tokens, positions);
            assertEquals(tapeLoss, fastLoss, 1e-13 * Math.abs(tapeLoss), "loss");
            double[] fastGrad = new double[layout.size()];
            double[] tapeGrad = new double[layout.size()];
            fast.readGradients(fastGrad);
            tape.readGradients(tapeGrad);
            double[] numeric = centralDifferences(new FastEngine(layout, params), params, tokens, positions);
            for (ParameterLayout.Tensor t : layout.tensors()) {
                String where = t.name() + " (document of " + length + " tokens)";
                assertRelative(where + " fast vs tape", fastGrad, tapeGrad, t, ENGINE_TOLERANCE);
                assertRelative(where + " fast vs finite differences", fastGrad, numeric, t, FINITE_DIFFERENCE_TOLERANCE);
                assertRelative(where + " tape vs finite differences", tapeGrad, numeric, t, FINITE_DIFFERENCE_TOLERANCE);
            }
        }
    }
}
