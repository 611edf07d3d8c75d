package dev.microgpt.checkpoint;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.rng.PyRandom;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;

/** Checkpoints of fresh random values for the tests. */
final class TestCheckpoints {

    /**
     * 16 characters in code-point order that exercise the header's JSON and UTF-8: a quote and a backslash (escaped),
     * '<', '=' and '>' (which Gson escapes unless told not to), two- and three-byte UTF-8, and an emoji outside the
     * BMP (two Java chars, one token).
     */
    static final String VOCABULARY = "\"'-<=>\\abcxyz\u00e9\u4e2d\uD83D\uDE00";
    static final int VOCAB_SIZE = 17;

    /** Two layers, so that layer-indexed names beyond layer0 are covered; 4-wide heads. */
    static final ModelConfig SMALL = new ModelConfig(8, 2, 2, 6, VOCAB_SIZE);
    /** A 64-wide model with a 64-token context, ~55k parameters: its data spans many write chunks. */
    static final ModelConfig WIDE = new ModelConfig(64, 4, 1, 64, VOCAB_SIZE);

    private TestCheckpoints() {
    }

    /** A checkpoint whose every number comes from {@code new Random(seed)}. */
    static Checkpoint random(ModelConfig config, DType dtype, long seed) {
        Random random = new Random(seed);
        int size = new ParameterLayout(config).size();
        double[] params = new double[size];
        double[] m = new double[size];
        double[] v = new double[size];
        for (int i = 0; i < size; i++) {
            params[i] = random.nextGaussian() * 0.08;
            m[i] = random.nextGaussian() * 1e-3;
            v[i] = random.nextDouble() * 1e-6;
        }
        PyRandom generator = new PyRandom(random.nextLong());
        generator.random();
        generator.gauss(0, 1); // leaves the second Box-Muller value cached, which the state must carry
        AdamConfig adam = new AdamConfig(0.001 + random.nextDouble() * 0.01, 0.85, 0.99, 1e-8);
        int totalSteps = 1 + random.nextInt(5000);
        int batchSize = random.nextBoolean() ? 1 : 1 + random.nextInt(1024);
        int step = random.nextInt(totalSteps + 1);
        double loss = step == 0 ? Double.NaN : 1 + 3 * random.nextDouble(); // a step's loss is known once one ran
        return new Checkpoint(config, VOCABULARY, adam, step, loss, totalSteps, batchSize, random.nextLong(),
                sha256Hex("dataset " + seed), generator.state(), dtype, params, m, v);
    }

    /** The same checkpoint with another batch size. */
    static Checkpoint atBatchSize(Checkpoint c, int batchSize) {
        return new Checkpoint(c.config(), c.vocabulary(), c.adam(), c.step(), c.loss(), c.totalSteps(), batchSize,
                c.seed(), c.datasetSha256(), c.rng(), c.dtype(), c.params(), c.adamM(), c.adamV());
    }

    /** The same checkpoint at another step (its loss as it was, or 2.5 where it had none). */
    static Checkpoint atStep(Checkpoint c, int step) {
        double loss = step == 0 ? Double.NaN : Double.isNaN(c.loss()) ? 2.5 : c.loss();
        return new Checkpoint(c.config(), c.vocabulary(), c.adam(), step, loss, c.totalSteps(), c.batchSize(),
                c.seed(), c.datasetSha256(), c.rng(), c.dtype(), c.params(), c.adamM(), c.adamV());
    }

    /** The same checkpoint with another loss (NaN: none known). */
    static Checkpoint withLoss(Checkpoint c, double loss) {
        return new Checkpoint(c.config(), c.vocabulary(), c.adam(), c.step(), loss, c.totalSteps(), c.batchSize(),
                c.seed(), c.datasetSha256(), c.rng(), c.dtype(), c.params(), c.adamM(), c.adamV());
    }

    static String sha256Hex(String text) {
        return sha256Hex(text.getBytes(StandardCharsets.UTF_8));
    }

    static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
