package dev.microgpt.ops;

/**
 * The inner loops everything else is built from: the axpy (one or two at a time) and the dot product. C2 does not
 * vectorise the axpy by itself (measured here at about 3 cycles per element on JDK 17 and 25), so where the JVM was
 * started with {@code --add-modules jdk.incubator.vector} (the launchers and the tests do) axpy runs on the Vector
 * API, which is 2.4x faster at width 16 and 3.6x at width 64; without the module it falls back to the plain loop.
 * Both round identically: a separate multiply and add per element, no fused multiply-add.
 */
final class Vec {

    /** Whether the incubating Vector API module was resolved at start-up; decided once. */
    static final boolean SIMD = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private Vec() {
    }

    /** y[yOff + j] += a * x[xOff + j] for j in [0, n). */
    static void axpy(double a, double[] x, int xOff, double[] y, int yOff, int n) {
        int j = SIMD ? SimdVec.axpy(a, x, xOff, y, yOff, n) : 0;
        for (; j < n; j++) {
            y[yOff + j] += a * x[xOff + j];
        }
    }

    /**
     * Two axpys in one pass, y += a0 * x0 then y += a1 * x1, rounded exactly as the two would be one after the
     * other (so the forward keeps microgpt.py's summation order) but loading and storing y once.
     */
    static void axpy2(double a0, double[] x0, int x0Off, double a1, double[] x1, int x1Off, double[] y, int yOff, int n) {
        int j = SIMD ? SimdVec.axpy2(a0, x0, x0Off, a1, x1, x1Off, y, yOff, n) : 0;
        for (; j < n; j++) {
            y[yOff + j] = (y[yOff + j] + a0 * x0[x0Off + j]) + a1 * x1[x1Off + j];
        }
    }

    /**
     * Sum of x[xOff + j] * y[yOff + j] in whatever order is fastest: for the backward pass, whose order
     * microgpt.py's autograd does not pin down anyway.
     */
    static double dotAnyOrder(double[] x, int xOff, double[] y, int yOff, int n) {
        int j = 0;
        double s = 0;
        if (SIMD) {
            j = SimdVec.wholeVectors(n);
            s = SimdVec.dot(x, xOff, y, yOff, j);
        }
        for (; j < n; j++) {
            s += x[xOff + j] * y[yOff + j];
        }
        return s;
    }

    /** Sum of x[xOff + j] * y[yOff + j], added left to right as Python's sum() does (so never vectorised). */
    static double dot(double[] x, int xOff, double[] y, int yOff, int n) {
        double s = 0;
        for (int j = 0; j < n; j++) {
            s += x[xOff + j] * y[yOff + j];
        }
        return s;
    }
}
