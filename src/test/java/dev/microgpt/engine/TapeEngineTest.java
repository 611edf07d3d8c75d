package dev.microgpt.engine;

import dev.microgpt.testing.RandomDocuments;
import static dev.microgpt.engine.GradientChecks.FINITE_DIFFERENCE_TOLERANCE;
import static dev.microgpt.engine.GradientChecks.assertRelative;
import static dev.microgpt.engine.GradientChecks.centralDifferences;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.ParameterLayout.Layer;
import dev.microgpt.model.ParameterLayout.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The tape engine is the project's gradient oracle, so it is checked against things that do not depend on it:
 * central finite differences of its loss, a plain-double forward pass written out here, a closed form, and Adam.
 */
class TapeEngineTest {

    private static final int VOCAB = 7;
    private static final double INIT_STD = 0.08; // microgpt.py's initialisation


    @ParameterizedTest(name = "n_embd {0}, n_head {1}, n_layer {2}, block {3}")
    @CsvSource({"8, 1, 1, 8", "8, 2, 2, 8", "8, 4, 1, 6"})
    void gradientOfEveryParameterMatchesCentralFiniteDifferences(int nEmbd, int nHead, int nLayer, int block) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(nEmbd, nHead, nLayer, block, VOCAB));
        Random random = new Random(1000L * nEmbd + 100L * nHead + 10L * nLayer + block);
        double[] params = gaussian(layout, random, INIT_STD);
        TapeEngine engine = new TapeEngine(layout, params);
        TapeEngine probe = new TapeEngine(layout, params);
        // a short document, a longer one, and one longer than the block, which fills it
        for (int characters : new int[] {1, 4, block + 2}) {
            int[] tokens = document(random, characters);
            int positions = Math.min(block, tokens.length - 1);
            engine.forwardBackward(tokens, positions);
            double[] analytic = new double[layout.size()];
            engine.readGradients(analytic);
            double[] numeric = centralDifferences(probe, params, tokens, positions);
            for (Tensor t : layout.tensors()) {
                assertRelative(t.name() + " with " + positions + " positions", analytic, numeric, t,
                        FINITE_DIFFERENCE_TOLERANCE);
            }
        }
    }

    @ParameterizedTest(name = "n_embd {0}, n_head {1}, n_layer {2}, block {3}, vocab {4}")
    @CsvSource({"8, 2, 2, 8, 7", "16, 4, 1, 16, 27"})
    void lossEqualsAPlainForwardPassToTheLastBit(int nEmbd, int nHead, int nLayer, int block, int vocab) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(nEmbd, nHead, nLayer, block, vocab));
        Random random = new Random(7);
        double[] params = gaussian(layout, random, 0.3); // larger than the init's, so that relu cuts and softmax peaks
        TapeEngine engine = new TapeEngine(layout, params);
        for (int characters : new int[] {1, 5, block}) {
            int[] tokens = document(random, characters, vocab);
            int positions = Math.min(block, tokens.length - 1);
            assertEquals(plainLoss(layout, params, tokens, positions), engine.forwardBackward(tokens, positions), 0.0,
                    positions + " positions");
        }
    }

    @Test
    void zeroWeightsPredictUniformlySoTheLossIsLogVocabAndNothingHasAGradient() {
        int vocab = 8;
        ParameterLayout layout = new ParameterLayout(new ModelConfig(8, 2, 1, 8, vocab));
        TapeEngine engine = new TapeEngine(layout, new double[layout.size()]);
        double loss = engine.forwardBackward(new int[] {7, 1, 2, 3, 7}, 4);
        assertEquals(Math.log(vocab), loss, 2 * Math.ulp(Math.log(vocab)));
        // Every path from a weight to the loss crosses lm_head = 0.
        double[] grads = new double[layout.size()];
        engine.readGradients(grads);
        assertArrayEquals(new double[layout.size()], grads);
    }

    @Test
    void adamStepsLowerTheLossOfARepeatedDocument() {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(8, 2, 1, 8, VOCAB));
        Random random = new Random(3);
        TapeEngine engine = new TapeEngine(layout, gaussian(layout, random, INIT_STD));
        int[] tokens = document(random, 5);
        int steps = 5;
        double first = engine.forwardBackward(tokens, tokens.length - 1);
        double previous = first;
        for (int step = 0; step < steps; step++) {
            engine.adamUpdate(AdamConfig.MICROGPT, step, steps);
            double loss = engine.forwardBackward(tokens, tokens.length - 1);
            assertTrue(loss < previous, "step " + step + " raised the loss from " + previous + " to " + loss);
            previous = loss;
        }
        assertTrue(previous < first - 0.05, "five steps lowered the loss only from " + first + " to " + previous);
    }

    @Test
    void eachStepReplacesTheGradientsInsteadOfAddingToThem() {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(8, 2, 1, 8, VOCAB));
        Random random = new Random(4);
        TapeEngine engine = new TapeEngine(layout, gaussian(layout, random, INIT_STD));
        int[] first = document(random, 3);
        int[] second = document(random, 6);
        double[] once = new double[layout.size()];
        double[] again = new double[layout.size()];

        engine.forwardBackward(first, first.length - 1);
        engine.readGradients(once);
        engine.forwardBackward(first, first.length - 1);
        engine.readGradients(again);
        assertArrayEquals(once, again, "the same document twice");

        engine.forwardBackward(second, second.length - 1);
        engine.forwardBackward(first, first.length - 1);
        engine.readGradients(again);
        assertArrayEquals(once, again, "after another document");
    }

    @Test
    void growingTheTapeMidStepChangesNothing() {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(8, 2, 2, 8, VOCAB));
        Random random = new Random(5);
        double[] params = gaussian(layout, random, INIT_STD);
        TapeEngine roomy = new TapeEngine(layout, params);
        TapeEngine cramped = new TapeEngine(layout, params, 1); // grows many times in its first steps
        double[] expected = new double[layout.size()];
        double[] actual = new double[layout.size()];
        for (int characters : new int[] {2, 9, 3}) {
            int[] tokens = document(random, characters);
            int positions = Math.min(8, tokens.length - 1);
            assertEquals(roomy.forwardBackward(tokens, positions), cramped.forwardBackward(tokens, positions), 0.0);
            roomy.readGradients(expected);
            cramped.readGradients(actual);
            assertArrayEquals(expected, actual);
        }
    }

    @Test
    void rejectsDocumentsThatDoNotFitTheModel() {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(8, 2, 1, 4, VOCAB));
        TapeEngine engine = new TapeEngine(layout, new double[layout.size()]);
        assertEquals("cpu-tape", engine.name());
        assertThrows(IllegalArgumentException.class, () -> engine.forwardBackward(new int[] {6, 1, 6}, 0));
        assertThrows(IllegalArgumentException.class, () -> engine.forwardBackward(new int[] {6, 1, 2, 3, 4, 6}, 5));
        assertThrows(IllegalArgumentException.class, () -> engine.forwardBackward(new int[] {6, 1, 6}, 3));
        assertThrows(IllegalArgumentException.class, () -> engine.forwardBackward(new int[] {6, 7, 6}, 2));
    }

    // ---- microgpt.py's forward pass on plain doubles ----

    /**
     * microgpt.py's mean loss, computed without any tape: the Value operations become double operations, with
     * Python's meaning ({@code a / b} is {@code a * b**-1}, {@code sum()} adds from 0 left to right), so the result
     * must equal the tape's to the last bit.
     */
    private static double plainLoss(ParameterLayout layout, double[] w, int[] tokens, int positions) {
        ModelConfig c = layout.config();
        double[][][] keys = new double[c.nLayer()][positions][];
        double[][][] values = new double[c.nLayer()][positions][];
        double lossSum = 0;
        for (int pos = 0; pos < positions; pos++) {
            double[] x = new double[c.nEmbd()];
            for (int i = 0; i < x.length; i++) {
                x[i] = w[layout.wte().at(tokens[pos], i)] + w[layout.wpe().at(pos, i)];
            }
            x = rmsnorm(x);
            for (int li = 0; li < c.nLayer(); li++) {
                Layer l = layout.layer(li);
                double[] residual = x;
                double[] xn = rmsnorm(x);
                double[] q = linear(xn, l.attnWq(), w);
                keys[li][pos] = linear(xn, l.attnWk(), w);
                values[li][pos] = linear(xn, l.attnWv(), w);
                double[] attended = new double[c.nEmbd()];
                int hd = c.headDim();
                for (int hs = 0; hs < c.nEmbd(); hs += hd) {
                    double[] logits = new double[pos + 1];
                    for (int t = 0; t <= pos; t++) {
                        double dot = 0;
                        for (int j = hs; j < hs + hd; j++) {
                            dot += q[j] * keys[li][t][j];
                        }
                        logits[t] = dot * Math.pow(Math.pow(hd, 0.5), -1);
                    }
                    double[] weights = softmax(logits);
                    for (int j = hs; j < hs + hd; j++) {
                        double mixed = 0;
                        for (int t = 0; t <= pos; t++) {
                            mixed += weights[t] * values[li][t][j];
                        }
                        attended[j] = mixed;
                    }
                }
                x = plus(linear(attended, l.attnWo(), w), residual);
                residual = x;
                double[] hidden = linear(rmsnorm(x), l.mlpFc1(), w);
                for (int j = 0; j < hidden.length; j++) {
                    hidden[j] = hidden[j] > 0 ? hidden[j] : 0;
                }
                x = plus(linear(hidden, l.mlpFc2(), w), residual);
            }
            double[] probs = softmax(linear(x, layout.lmHead(), w));
            lossSum += -Math.log(probs[tokens[pos + 1]]);
        }
        return lossSum * (1.0 / positions);
    }

    private static double[] linear(double[] x, Tensor t, double[] w) {
        double[] out = new double[t.rows()];
        for (int o = 0; o < out.length; o++) {
            double s = 0;
            for (int i = 0; i < x.length; i++) {
                s += w[t.at(o, i)] * x[i];
            }
            out[o] = s;
        }
        return out;
    }

    private static double[] rmsnorm(double[] x) {
        double squares = 0;
        for (double xi : x) {
            squares += xi * xi;
        }
        double scale = Math.pow(squares * Math.pow(x.length, -1) + 1e-5, -0.5);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale;
        }
        return out;
    }

    private static double[] softmax(double[] logits) {
        double max = logits[0];
        for (double v : logits) {
            max = Math.max(max, v);
        }
        double[] out = new double[logits.length];
        double total = 0;
        for (int k = 0; k < logits.length; k++) {
            out[k] = Math.exp(logits[k] - max);
            total += out[k];
        }
        double inverse = Math.pow(total, -1);
        for (int k = 0; k < logits.length; k++) {
            out[k] *= inverse;
        }
        return out;
    }

    private static double[] plus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    // ---- random data ----

    private static double[] gaussian(ParameterLayout layout, Random random, double std) {
        double[] params = new double[layout.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = random.nextGaussian() * std;
        }
        return params;
    }

    private static int[] document(Random random, int characters) {
        return document(random, characters, VOCAB);
    }

    /** [BOS] + {@code characters} random characters + [BOS]. */
    private static int[] document(Random random, int characters, int vocab) {
        return RandomDocuments.of(random, characters + 2, vocab);
    }
}
