package dev.microgpt.ops;

/**
 * A bias-free linear layer {@code y = x W^T} with W [out, in] as stored in the layout. CPU twin of
 * kernels/linear.cu (and of the fused QKV kernel, which is this over the [3C, C] wq|wk|wv block).
 */
public final class Linear {

    private Linear() {
    }

    /**
     * y[t] = W x[t] for t in [from, to). W comes transposed, wT [in, out], so that each output row is built as
     * a sum over i of x[t, i] * W[:, i] in increasing i: the order in which microgpt.py's
     * {@code sum(wi * xi for ...)} adds, and a form C2 vectorises.
     *
     * @param x  [rows, in]
     * @param wT [in, out]
     * @param y  [rows, out], rows [from, to) overwritten
     */
    public static void forward(double[] x, int xOff, double[] wT, int wTOff, double[] y, int yOff,
                               int from, int to, int in, int out) {
        java.util.Arrays.fill(y, yOff + from * out, yOff + to * out, 0.0);
        // i outer, positions inner: each row of wT is used for every position while it is in L1.
        for (int i = 0; i < in; i++) {
            int wRow = wTOff + i * out;
            for (int t = from; t < to; t++) {
                Vec.axpy(x[xOff + t * in + i], wT, wRow, y, yOff + t * out, out);
            }
        }
    }

    /**
     * dx[t] += dy[t] W and dW += dy[t]^T x[t] for t in [0, rows). Rows of dy that are zero (ReLU'd units)
     * are skipped: they add nothing.
     *
     * @param x  [rows, in] the forward input
     * @param dy [rows, out]
     * @param w  [out, in] layout order
     * @param dx [rows, in] accumulated into
     * @param dw [out, in] accumulated into
     */
    public static void backward(double[] x, int xOff, double[] dy, int dyOff, double[] w, int wOff,
                                double[] dx, int dxOff, double[] dw, int dwOff, int rows, int in, int out) {
        // o outer, positions inner: the weight row and its gradient row stay in L1 across positions.
        for (int o = 0; o < out; o++) {
            int wRow = wOff + o * in;
            int dwRow = dwOff + o * in;
            for (int t = 0; t < rows; t++) {
                double g = dy[dyOff + t * out + o];
                if (g != 0) {
                    Vec.axpy(g, w, wRow, dx, dxOff + t * in, in);
                    Vec.axpy(g, x, xOff + t * in, dw, dwRow, in);
                }
            }
        }
    }

    /** Writes the transpose of src [rows, cols] (at srcOff) into dst [cols, rows] (at dstOff). */
    public static void transpose(double[] src, int srcOff, double[] dst, int dstOff, int rows, int cols) {
        // In 8x8 tiles, so that both the reads and the strided writes stay within a few cache lines.
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int r1 = Math.min(rows, r0 + TILE);
            for (int c0 = 0; c0 < cols; c0 += TILE) {
                int c1 = Math.min(cols, c0 + TILE);
                for (int r = r0; r < r1; r++) {
                    for (int c = c0; c < c1; c++) {
                        dst[dstOff + c * rows + r] = src[srcOff + r * cols + c];
                    }
                }
            }
        }
    }

    private static final int TILE = 8;
}
