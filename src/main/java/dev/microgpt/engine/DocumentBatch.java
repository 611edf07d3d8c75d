package dev.microgpt.engine;

/**
 * The B documents one training step trains on, each as its tokens and the positions trained ({@code n = min(T, len -
 * 1)}): the step's loss is the mean of their losses, its gradient that mean's. Made once and refilled every step, so
 * the training loop allocates nothing; B = 1 is microgpt.py's step.
 */
public final class DocumentBatch {

    /** The most documents a step may train on (--batch-size): the GPU engine stages a batch's documents in one copy. */
    public static final int MAX_DOCUMENTS = 4096;

    private final int[][] tokens;  // [B] each document's token ids, [BOS] + characters + [BOS]
    private final int[] positions; // [B]

    public DocumentBatch(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("a batch holds at least one document, got " + size);
        }
        this.tokens = new int[size][];
        this.positions = new int[size];
    }

    /** A batch of one document. */
    public static DocumentBatch of(int[] tokens, int positions) {
        DocumentBatch batch = new DocumentBatch(1);
        batch.set(0, tokens, positions);
        return batch;
    }

    /** Document {@code b} of the step: {@code tokens[0..positions]} are read. */
    public void set(int b, int[] documentTokens, int documentPositions) {
        if (documentPositions < 1 || documentTokens.length < documentPositions + 1) {
            throw new IllegalArgumentException("a document trains 1 or more positions with one more token than"
                    + " positions, got " + documentPositions + " positions of " + documentTokens.length + " tokens");
        }
        tokens[b] = documentTokens;
        positions[b] = documentPositions;
    }

    /** B. */
    public int size() {
        return positions.length;
    }

    public int[] tokens(int b) {
        return tokens[b];
    }

    public int positions(int b) {
        return positions[b];
    }

    /** The positions the step trains, over all its documents (its tokens, in tokens/s). */
    public int totalPositions() {
        int sum = 0;
        for (int n : positions) {
            sum += n;
        }
        return sum;
    }

    /** What each document's loss weighs in the step's: 1 / B. */
    public double documentWeight() {
        return 1.0 / positions.length;
    }
}
