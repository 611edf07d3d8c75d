package dev.microgpt.model;

/**
 * The shape of a microgpt model. Defaults follow microgpt.py: one layer, 16-wide embeddings, four heads, a
 * 16-token context. The vocabulary size comes from the dataset.
 *
 * @param nEmbd     width of the residual stream
 * @param nHead     attention heads; must divide {@code nEmbd}
 * @param nLayer    transformer blocks
 * @param blockSize longest context the model attends over (rows of wpe)
 * @param vocabSize distinct characters of the dataset plus BOS
 */
public record ModelConfig(int nEmbd, int nHead, int nLayer, int blockSize, int vocabSize) {

    public static final int DEFAULT_N_EMBD = 16;
    public static final int DEFAULT_N_HEAD = 4;
    public static final int DEFAULT_N_LAYER = 1;
    public static final int DEFAULT_BLOCK_SIZE = 16;

    public ModelConfig {
        checkShape(nEmbd, nHead, nLayer, blockSize);
        if (vocabSize < 2) {
            throw new IllegalArgumentException("vocabulary has " + vocabSize
                    + " tokens; the dataset needs at least one character besides BOS");
        }
    }

    /** Validates the shape apart from the vocabulary; messages name the command-line option to change. */
    public static void checkShape(int nEmbd, int nHead, int nLayer, int blockSize) {
        requirePositive("--n-embd", nEmbd);
        requirePositive("--n-head", nHead);
        requirePositive("--n-layer", nLayer);
        requirePositive("--block-size", blockSize);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is not divisible by n_head " + nHead
                    + "; choose --n-head among the divisors of --n-embd");
        }
    }

    public int headDim() {
        return nEmbd / nHead;
    }

    /** Width of the MLP's hidden layer (4 n_embd, as GPT-2). */
    public int mlpHidden() {
        return 4 * nEmbd;
    }

    private static void requirePositive(String option, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(option + " must be a positive integer, got " + value);
        }
    }
}
