package dev.microgpt.engine;

import dev.microgpt.model.ParameterLayout;

/**
 * What trains the model: forward and backward over a step's documents, and Adam. Every engine keeps parameters,
 * gradients and Adam moments in {@link ParameterLayout} order, so their contents can be compared and moved
 * between engines (and into checkpoints) as flat arrays.
 */
public interface TrainingEngine extends AutoCloseable {

    /** A short name for logs and metrics, e.g. {@code cpu-fast}. */
    String name();

    ParameterLayout layout();

    /**
     * Runs the model over every document of {@code batch} and back: in a document, position t predicts tokens[t + 1]
     * and its loss is the mean over its positions; the batch's loss is the mean of its documents' losses. Afterwards
     * the engine's gradients are exactly the gradients of that loss (earlier ones are discarded).
     *
     * @return the batch's mean cross-entropy loss
     */
    double forwardBackward(DocumentBatch batch);

    /** {@link #forwardBackward(DocumentBatch)} of one document: {@code tokens[0..positions]}, 1..block_size positions. */
    default double forwardBackward(int[] tokens, int positions) {
        return forwardBackward(DocumentBatch.of(tokens, positions));
    }

    /**
     * Queues one whole training step over {@code batch} for 0-based {@code step} of {@code numSteps}: forward,
     * backward and Adam. Engines that compute on the host run it at once and skip Adam when the loss is not finite, so
     * that a diverging run keeps its last good weights; asynchronous engines may return before the step has run, having
     * copied what they need of the batch, which the caller may then refill. Losses are reported, in order, by
     * {@link #collectLosses}.
     */
    void submitStep(DocumentBatch batch, AdamConfig adam, int step, int numSteps);

    /**
     * Waits for every submitted step, writes their losses into {@code into} oldest first and returns how many there
     * were (at most {@link #lossBatch()}).
     */
    int collectLosses(double[] into);

    /** Steps to submit before collecting their losses: 1 for host engines; more keeps a GPU busy between syncs. */
    default int lossBatch() {
        return 1;
    }

    /** Adam update from the current gradients for 0-based {@code step} of {@code numSteps}; clears the gradients. */
    void adamUpdate(AdamConfig adam, int step, int numSteps);

    /** Copies the current gradients into {@code dst} [P]. */
    void readGradients(double[] dst);

    /** Copies the parameters into {@code dst} [P]. */
    void readParameters(double[] dst);

    /** Replaces the parameters with {@code src} [P]. */
    void writeParameters(double[] src);

    /** Copies Adam's first and second moments into {@code m} and {@code v} [P each]. */
    void readMoments(double[] m, double[] v);

    /** Replaces Adam's moments (for resuming from a checkpoint). */
    void writeMoments(double[] m, double[] v);

    @Override
    default void close() {
    }
}
