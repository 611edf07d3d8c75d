package dev.microgpt.train;

import dev.microgpt.engine.FastEngine;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.ops.Softmax;
import dev.microgpt.rng.PyRandom;

/**
 * microgpt.py's inference: start from BOS, feed each drawn token back in with a KV cache, draw the next from
 * softmax(logits / temperature) with {@code random.choices}, stop at BOS or at the end of the context. It runs
 * on the CPU from any engine's weights (20 names cost microseconds), on a one-thread {@link FastEngine} that
 * {@link #close} releases.
 */
public final class Sampler implements AutoCloseable {

    private final FastEngine model;
    private final Tokenizer tokenizer;
    private final int blockSize;
    private final int[] tokens;    // [block] the context so far
    private final double[] logits; // [V]

    public Sampler(ParameterLayout layout, double[] params, Tokenizer tokenizer) {
        this.model = new FastEngine(layout, params);
        this.tokenizer = tokenizer;
        this.blockSize = layout.config().blockSize();
        this.tokens = new int[blockSize];
        this.logits = new double[layout.config().vocabSize()];
    }

    /**
     * Refuses a prefix that cannot be sampled from: characters outside the vocabulary, or too long to leave room in
     * the context after BOS. The message reads after the word "prefix".
     */
    public static void checkPrefix(Tokenizer tokenizer, int blockSize, String prefix) {
        String unknown = tokenizer.unknownCharacters(prefix);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("has characters that are not in the vocabulary: '" + unknown
                    + "'; use only characters that occur in the dataset");
        }
        int length = prefix.codePointCount(0, prefix.length());
        if (length >= blockSize) {
            throw new IllegalArgumentException("is " + length + " characters but the context holds " + blockSize
                    + " tokens including BOS; shorten it or raise --block-size");
        }
    }

    /**
     * One sample that continues {@code prefix} (empty for microgpt.py's behaviour); the result includes the prefix.
     *
     * @throws IllegalArgumentException for a prefix with characters outside the vocabulary or that fills the context
     */
    public String sample(PyRandom rng, double temperature, String prefix) {
        checkPrefix(tokenizer, blockSize, prefix);
        int[] prefixTokens = prefix.codePoints().map(tokenizer::tokenOf).toArray();
        StringBuilder text = new StringBuilder(prefix);
        tokens[0] = tokenizer.bos();
        System.arraycopy(prefixTokens, 0, tokens, 1, prefixTokens.length);
        int known = prefixTokens.length + 1;
        model.forward(tokens, 0, known - 1);
        double invTemperature = 1.0 / temperature; // Python: l / temperature is l * temperature**-1
        for (int pos = known - 1; pos < blockSize; pos++) {
            model.forward(tokens, pos, pos + 1);
            model.copyLogits(pos, logits);
            int likeliest = 0;
            double highest = logits[0];
            boolean finite = true;
            for (int j = 0; j < logits.length; j++) {
                if (logits[j] > highest) {
                    likeliest = j;
                    highest = logits[j];
                }
                logits[j] *= invTemperature;
                finite &= Double.isFinite(logits[j]);
            }
            // A temperature so close to 0 that logits / temperature overflows: its limit, the likeliest token.
            int next = finite ? choose(rng) : likeliest;
            if (next == tokenizer.bos()) {
                break;
            }
            text.append(tokenizer.decode(next));
            if (pos + 1 < blockSize) {
                tokens[pos + 1] = next;
            }
        }
        return text.toString();
    }

    private int choose(PyRandom rng) {
        Softmax.inPlace(logits, 0, logits.length);
        return rng.choices(logits, logits.length);
    }

    @Override
    public void close() {
        model.close();
    }
}
