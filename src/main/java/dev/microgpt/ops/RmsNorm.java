package dev.microgpt.ops;

/**
 * RMSNorm without gain: {@code y = x * (mean(x^2) + 1e-5)^-0.5}, row by row. CPU twin of kernels/rmsnorm.cu.
 */
public final class RmsNorm {

    public static final double EPS = 1e-5;

    private RmsNorm() {
    }

    /**
     * @param x     [rows, C] input
     * @param y     [rows, C] output, rows [from, to) written
     * @param scale [rows] the per-row factor (mean(x^2) + eps)^-0.5, kept for the backward pass
     */
    public static void forward(double[] x, int xOff, double[] y, int yOff, double[] scale, int from, int to, int c) {
        double invC = 1.0 / c; // Python: ms = sum(...) / len(x), i.e. sum * len(x)**-1
        for (int t = from; t < to; t++) {
            int row = t * c;
            double s = Math.pow(Vec.dot(x, xOff + row, x, xOff + row, c) * invC + EPS, -0.5);
            scale[t] = s;
            for (int j = 0; j < c; j++) {
                y[yOff + row + j] = x[xOff + row + j] * s;
            }
        }
    }

    /**
     * dx += dy * d(y)/d(x): with s the row's scale, {@code dx_i += s dy_i - x_i s^3 / C * sum_j dy_j x_j}.
     *
     * @param x     [rows, C] the forward input
     * @param scale [rows] from the forward pass
     * @param dy    [rows, C]
     * @param dx    [rows, C] accumulated into (the residual stream's gradient)
     */
    public static void backward(double[] x, int xOff, double[] scale, double[] dy, int dyOff, double[] dx, int dxOff,
                                int rows, int c) {
        for (int t = 0; t < rows; t++) {
            int row = t * c;
            double s = scale[t];
            double coupling = -s * s * s / c * Vec.dot(dy, dyOff + row, x, xOff + row, c);
            for (int j = 0; j < c; j++) {
                dx[dxOff + row + j] += s * dy[dyOff + row + j] + coupling * x[xOff + row + j];
            }
        }
    }
}
