package dev.microgpt.testing;

import java.util.Random;

/** Token sequences shaped as the tokenizer makes them, with random characters, for engine tests. */
public final class RandomDocuments {

    private RandomDocuments() {
    }

    /** [BOS] + (length - 2) random characters + [BOS], BOS being the last token id of a {@code vocab}-token vocabulary. */
    public static int[] of(Random random, int length, int vocab) {
        int[] tokens = new int[length];
        tokens[0] = vocab - 1;
        for (int i = 1; i < length - 1; i++) {
            tokens[i] = random.nextInt(vocab - 1);
        }
        tokens[length - 1] = vocab - 1;
        return tokens;
    }
}
