package dev.microgpt.ops;

/**
 * A bias-free linear layer {@code y = x W^T}, W [out, in] in the layout, here taken transposed (wT [in, out]),
 * as the fast engine stores it. CPU twin of
 * kernels/linear.cu (and of the fused QKV kernel, which is this over the [3C, C] wq|wk|wv block).
 */
public final class Linear {

    private Linear() {
    }

    /**
     * y[t] = W x[t] for t in [from, to). W comes transposed, wT [in, out], so that each output row is built as
     * a sum over i of x[t, i] * W[:, i] in increasing i: the order in which microgpt.py's
     * {@code sum(wi * xi for ...)} adds, and an axpy along the outputs ({@link Vec}), which vectorises.
     *
     * @param x  [rows, in]
     * @param wT [in, out]
     * @param y  [rows, out], rows [from, to) overwritten
     */
    public static void forward(double[] x, int xOff, double[] wT, int wTOff, double[] y, int yOff,
                               int from, int to, int in, int out) {
        java.util.Arrays.fill(y, yOff + from * out, yOff + to * out, 0.0);
        // i outer, positions inner: each row of wT is used for every position while it is in L1; inputs go two
        // at a time so that y is loaded and stored once per pair.
        int i = 0;
        for (; i + 1 < in; i += 2) {
            int w0 = wTOff + i * out;
            int w1 = w0 + out;
            for (int t = from; t < to; t++) {
                int xRow = xOff + t * in;
                Vec.axpy2(x[xRow + i], wT, w0, x[xRow + i + 1], wT, w1, y, yOff + t * out, out);
            }
        }
        if (i < in) {
            for (int t = from; t < to; t++) {
                Vec.axpy(x[xOff + t * in + i], wT, wTOff + i * out, y, yOff + t * out, out);
            }
        }
    }

    /**
     * dx[t] += dy[t] W and dW += dy[t]^T x[t] for t in [0, rows), with W and dW transposed as in
     * {@link #forward}: dx[t, i] is the dot product of row i of wT with dy[t], and row i of dwT gains
     * x[t, i] * dy[t].
     *
     * @param x   [rows, in] the forward input
     * @param dy  [rows, out]
     * @param wT  [in, out]
     * @param dx  [rows, in] accumulated into
     * @param dwT [in, out] accumulated into
     */
    public static void backward(double[] x, int xOff, double[] dy, int dyOff, double[] wT, int wTOff,
                                double[] dx, int dxOff, double[] dwT, int dwTOff, int rows, int in, int out) {
        // i outer, positions inner: row i of wT and of dwT stay in L1 across positions, which go two at a time.
        for (int i = 0; i < in; i++) {
            int wRow = wTOff + i * out;
            int dwRow = dwTOff + i * out;
            int t = 0;
            for (; t + 1 < rows; t += 2) {
                int dy0 = dyOff + t * out;
                int dy1 = dy0 + out;
                dx[dxOff + t * in + i] += Vec.dotAnyOrder(wT, wRow, dy, dy0, out);
                dx[dxOff + (t + 1) * in + i] += Vec.dotAnyOrder(wT, wRow, dy, dy1, out);
                Vec.axpy2(x[xOff + t * in + i], dy, dy0, x[xOff + (t + 1) * in + i], dy, dy1, dwT, dwRow, out);
            }
            if (t < rows) {
                int dyRow = dyOff + t * out;
                dx[dxOff + t * in + i] += Vec.dotAnyOrder(wT, wRow, dy, dyRow, out);
                Vec.axpy(x[xOff + t * in + i], dy, dyRow, dwT, dwRow, out);
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
