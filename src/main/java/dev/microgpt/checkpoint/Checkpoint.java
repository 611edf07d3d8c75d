package dev.microgpt.checkpoint;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import java.util.Arrays;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Everything needed to resume a training run exactly: the model's shape and vocabulary, Adam's settings, how far the
 * schedule got, the generator's state, and the weights with Adam's moments.
 *
 * <p>The three arrays are held, not copied: a checkpoint of a 64-wide model carries ~57k values per array, and the
 * trainer fills them from its engine just to hand them over. Callers must not change them afterwards.
 *
 * @param config        the model's shape
 * @param vocabulary    the tokenizer's characters in token order, without BOS ({@link Tokenizer#vocabulary()});
 *                      its code-point count is {@code config.vocabSize() - 1}
 * @param adam          the optimiser's hyper-parameters
 * @param step          training steps completed, in [0, totalSteps]; resuming runs 0-based step {@code step} next
 * @param loss          the loss of step {@code step} (the last one trained), as the run reported it; NaN where none is
 *                      known (step 0, or a file of format version 1 or 2). A resume checks its metrics file against it
 * @param totalSteps    the schedule's num_steps, over which the learning rate decays to zero
 * @param batchSize     the documents of every step (1 as microgpt.py)
 * @param seed          the run's seed
 * @param datasetSha256 SHA-256 of the dataset, 64 lowercase hex digits, to refuse resuming on other data
 * @param rng           the generator's state after step {@code step}, so that samples drawn after resuming equal
 *                      those of a run that never stopped
 * @param dtype         the precision of the engine that wrote it, and of the tensors in the file
 * @param params        the weights, [P] in {@link ParameterLayout} order
 * @param adamM         Adam's first moment, [P] in layout order
 * @param adamV         Adam's second moment, [P] in layout order
 */
public record Checkpoint(ModelConfig config, String vocabulary, AdamConfig adam, int step, double loss, int totalSteps,
                         int batchSize, long seed, String datasetSha256, PyRandom.State rng, DType dtype,
                         double[] params, double[] adamM, double[] adamV) {

    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    /** @throws IllegalArgumentException naming the first field that is inconsistent with the others */
    public Checkpoint {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(vocabulary, "vocabulary");
        Objects.requireNonNull(adam, "adam");
        Objects.requireNonNull(datasetSha256, "datasetSha256");
        Objects.requireNonNull(rng, "rng");
        Objects.requireNonNull(dtype, "dtype");
        int characters = vocabulary.codePointCount(0, vocabulary.length());
        if (characters + 1 != config.vocabSize()) {
            throw new IllegalArgumentException("vocabulary has " + characters + " characters but vocab_size "
                    + config.vocabSize() + " needs " + (config.vocabSize() - 1) + " (vocab_size counts BOS as well)");
        }
        Tokenizer.fromVocabulary(vocabulary); // refuses characters out of order or repeated
        if (totalSteps < 1) {
            throw new IllegalArgumentException("total steps must be positive, got " + totalSteps);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        if (step < 0 || step > totalSteps) {
            throw new IllegalArgumentException("step " + step + " is outside [0, total steps " + totalSteps + "]");
        }
        if (Double.isInfinite(loss)) {
            throw new IllegalArgumentException("the loss must be finite, or NaN for none, got " + loss);
        }
        if (!SHA256_HEX.matcher(datasetSha256).matches()) {
            throw new IllegalArgumentException("dataset SHA-256 must be 64 lowercase hex digits, got \""
                    + datasetSha256 + "\"");
        }
        int size = new ParameterLayout(config).size();
        requireLength("params", params, size);
        requireLength("Adam m", adamM, size);
        requireLength("Adam v", adamV, size);
    }

    private static void requireLength(String name, double[] values, int size) {
        Objects.requireNonNull(values, name);
        if (values.length != size) {
            throw new IllegalArgumentException(name + " has " + values.length + " values but the layout has " + size);
        }
    }

    /** Value equality: the arrays compare element by element, as {@link Arrays#equals(double[], double[])}. */
    @Override
    public boolean equals(Object other) {
        return other instanceof Checkpoint c
                && config.equals(c.config)
                && vocabulary.equals(c.vocabulary)
                && adam.equals(c.adam)
                && step == c.step
                && Double.compare(loss, c.loss) == 0
                && totalSteps == c.totalSteps
                && batchSize == c.batchSize
                && seed == c.seed
                && datasetSha256.equals(c.datasetSha256)
                && rng.equals(c.rng)
                && dtype == c.dtype
                && Arrays.equals(params, c.params)
                && Arrays.equals(adamM, c.adamM)
                && Arrays.equals(adamV, c.adamV);
    }

    @Override
    public int hashCode() {
        return Objects.hash(config, vocabulary, adam, step, loss, totalSteps, batchSize, seed, datasetSha256, rng, dtype,
                Arrays.hashCode(params), Arrays.hashCode(adamM), Arrays.hashCode(adamV));
    }

    /** The scalar fields; the arrays only by length, since they hold tens of thousands of values. */
    @Override
    public String toString() {
        return "Checkpoint[config=" + config + ", vocabulary=\"" + vocabulary + "\", adam=" + adam + ", step=" + step
                + ", loss=" + loss + ", totalSteps=" + totalSteps + ", batchSize=" + batchSize + ", seed=" + seed
                + ", datasetSha256=" + datasetSha256
                + ", dtype=" + dtype + ", params=[" + params.length + "], adamM=[" + adamM.length
                + "], adamV=[" + adamV.length + "]]";
    }
}
