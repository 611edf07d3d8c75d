package dev.microgpt.ops;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** The Vector API half of {@link Vec}; loaded only when the module is present. */
final class SimdVec {

    private static final VectorSpecies<Double> SPECIES = DoubleVector.SPECIES_PREFERRED;

    private SimdVec() {
    }

    /** The whole-vector part of {@link Vec#axpy}; returns the index where the scalar tail starts. */
    static int axpy(double a, double[] x, int xOff, double[] y, int yOff, int n) {
        int bound = SPECIES.loopBound(n);
        for (int j = 0; j < bound; j += SPECIES.length()) {
            DoubleVector.fromArray(SPECIES, x, xOff + j).mul(a)
                    .add(DoubleVector.fromArray(SPECIES, y, yOff + j))
                    .intoArray(y, yOff + j);
        }
        return bound;
    }

    /** The whole-vector part of {@link Vec#axpy2}; returns the index where the scalar tail starts. */
    static int axpy2(double a0, double[] x0, int x0Off, double a1, double[] x1, int x1Off, double[] y, int yOff, int n) {
        int bound = SPECIES.loopBound(n);
        for (int j = 0; j < bound; j += SPECIES.length()) {
            DoubleVector.fromArray(SPECIES, y, yOff + j)
                    .add(DoubleVector.fromArray(SPECIES, x0, x0Off + j).mul(a0))
                    .add(DoubleVector.fromArray(SPECIES, x1, x1Off + j).mul(a1))
                    .intoArray(y, yOff + j);
        }
        return bound;
    }

    /** The largest multiple of the vector length not above n. */
    static int wholeVectors(int n) {
        return SPECIES.loopBound(n);
    }

    /** Dot product over [0, n), n a multiple of the vector length; lanes are summed at the end. */
    static double dot(double[] x, int xOff, double[] y, int yOff, int n) {
        DoubleVector acc = DoubleVector.zero(SPECIES);
        for (int j = 0; j < n; j += SPECIES.length()) {
            acc = DoubleVector.fromArray(SPECIES, x, xOff + j).mul(DoubleVector.fromArray(SPECIES, y, yOff + j)).add(acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
