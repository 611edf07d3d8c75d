package dev.microgpt.ops;

/** The two inner loops everything else is built from. Plain loops: C2 vectorises axpy without help. */
final class Vec {

    private Vec() {
    }

    /** y[yOff + j] += a * x[xOff + j] for j in [0, n). */
    static void axpy(double a, double[] x, int xOff, double[] y, int yOff, int n) {
        for (int j = 0; j < n; j++) {
            y[yOff + j] += a * x[xOff + j];
        }
    }

    /** Sum of x[xOff + j] * y[yOff + j], added left to right as Python's sum() does. */
    static double dot(double[] x, int xOff, double[] y, int yOff, int n) {
        double s = 0;
        for (int j = 0; j < n; j++) {
            s += x[xOff + j] * y[yOff + j];
        }
        return s;
    }
}
