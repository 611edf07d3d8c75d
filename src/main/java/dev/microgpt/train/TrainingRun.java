package dev.microgpt.train;

import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything microgpt.py sets up before its first step, in its order, from one seeded generator: shuffle the
 * documents, build the vocabulary, then draw every weight from gauss(0, 0.08) in layout order. The same
 * generator then draws the samples, so it is kept here.
 *
 * @param documents the shuffled documents, taken in turn by the training steps ({@link #fill})
 * @param tokens    each document encoded as [BOS] + characters + [BOS]
 */
public record TrainingRun(List<String> documents, int[][] tokens, Tokenizer tokenizer, ParameterLayout layout,
                          double[] initialParams, PyRandom rng) {

    /** microgpt.py's seed, the trainer's default. */
    public static final long DEFAULT_SEED = 42;

    /** microgpt.py's weight init: {@code random.gauss(0, 0.08)}. */
    public static final double INIT_STD = 0.08;

    /** Shape of the model apart from the vocabulary, which the dataset decides. */
    public record Shape(int nEmbd, int nHead, int nLayer, int blockSize) {
        public static final Shape MICROGPT = new Shape(ModelConfig.DEFAULT_N_EMBD, ModelConfig.DEFAULT_N_HEAD,
                ModelConfig.DEFAULT_N_LAYER, ModelConfig.DEFAULT_BLOCK_SIZE);

        public ModelConfig withVocabulary(int vocabSize) {
            return new ModelConfig(nEmbd, nHead, nLayer, blockSize, vocabSize);
        }
    }

    public static TrainingRun prepare(List<String> documents, Shape shape, long seed) {
        PyRandom rng = new PyRandom(seed);
        List<String> docs = new ArrayList<>(documents);
        rng.shuffle(docs);
        Tokenizer tokenizer = Tokenizer.fromDocuments(docs);
        ParameterLayout layout = new ParameterLayout(shape.withVocabulary(tokenizer.vocabSize()));
        double[] params = new double[layout.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = rng.gauss(0, INIT_STD);
        }
        int[][] tokens = new int[docs.size()][];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = tokenizer.encodeDocument(docs.get(i));
        }
        return new TrainingRun(List.copyOf(docs), tokens, tokenizer, layout, params, rng);
    }

    /**
     * Fills {@code batch} with the documents of 0-based {@code step} at B = batch.size() documents a step:
     * {@code docs[(step * B + b) % len(docs)]}, b < B, walking the shuffled order as microgpt.py does one at a time.
     */
    public void fill(DocumentBatch batch, int step) {
        long first = (long) step * batch.size();
        for (int b = 0; b < batch.size(); b++) {
            int[] doc = tokens[(int) ((first + b) % tokens.length)];
            batch.set(b, doc, positionsOf(doc));
        }
    }

    /** How many documents the context cuts: those with more positions than block_size train on its first ones only. */
    public int documentsCutByTheContext() {
        int cut = 0;
        for (int[] doc : tokens) {
            cut += positionsOf(doc) < doc.length - 1 ? 1 : 0;
        }
        return cut;
    }

    /** Positions a document trains on: {@code n = min(block_size, len(tokens) - 1)}. */
    private int positionsOf(int[] documentTokens) {
        return Math.min(layout.config().blockSize(), documentTokens.length - 1);
    }
}
