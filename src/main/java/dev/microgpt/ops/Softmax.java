package dev.microgpt.ops;

/** microgpt.py's softmax, shared by attention, the loss and sampling. */
public final class Softmax {

    private Softmax() {
    }

    /**
     * In place over a[off, off + n): subtract the max, exponentiate, then multiply by the reciprocal of the
     * sum (Python's {@code e / total} is {@code e * total**-1}).
     */
    public static void inPlace(double[] a, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, a[off + j]);
        }
        double total = 0;
        for (int j = 0; j < n; j++) {
            double e = Math.exp(a[off + j] - max);
            a[off + j] = e;
            total += e;
        }
        double inv = 1.0 / total;
        for (int j = 0; j < n; j++) {
            a[off + j] *= inv;
        }
    }
}
