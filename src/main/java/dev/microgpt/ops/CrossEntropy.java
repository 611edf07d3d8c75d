package dev.microgpt.ops;

/**
 * Softmax cross-entropy averaged over positions, {@code loss = (1/n) * sum_t -log softmax(logits_t)[target_t]}.
 * CPU twin of kernels/crossentropy.cu.
 */
public final class CrossEntropy {

    private CrossEntropy() {
    }

    /**
     * @param logits [rows, V], turned into probabilities in place
     * @param tokens position t's target is tokens[t + 1]
     * @return the mean loss over the rows
     */
    public static double forward(double[] logits, int[] tokens, int rows, int v) {
        double sum = 0;
        for (int t = 0; t < rows; t++) {
            Softmax.inPlace(logits, t * v, v);
            sum += -Math.log(logits[t * v + tokens[t + 1]]);
        }
        return (1.0 / rows) * sum; // Python: (1 / n) * sum(losses)
    }

    /**
     * dlogits [rows, V] = weight * (probs - onehot(target)) / rows: the gradient of {@code weight} times the mean loss
     * (a document's share of a batch's loss; 1 for one document, whose scale is then exactly 1 / rows).
     */
    public static void backward(double[] probs, int[] tokens, int rows, int v, double weight, double[] dLogits) {
        double scale = weight / rows;
        for (int t = 0; t < rows; t++) {
            for (int j = 0; j < v; j++) {
                dLogits[t * v + j] = probs[t * v + j] * scale;
            }
            dLogits[t * v + tokens[t + 1]] -= scale;
        }
    }
}
