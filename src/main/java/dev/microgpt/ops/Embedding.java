package dev.microgpt.ops;

/**
 * Token plus position embedding, {@code x = wte[token] + wpe[pos]}. CPU twin of the embedding half of
 * embedding_rmsnorm_forward (the GPU fuses it with the norm) and of embedding_backward in kernels/rmsnorm.cu.
 */
public final class Embedding {

    private Embedding() {
    }

    /**
     * @param params flat parameters; wte [V, C] at wteOff, wpe [block, C] at wpeOff
     * @param tokens token ids, one per position
     * @param out    [block, C]; rows [from, to) written
     */
    public static void forward(double[] params, int wteOff, int wpeOff, int[] tokens, int from, int to, int c,
                               double[] out) {
        for (int t = from; t < to; t++) {
            int tok = wteOff + tokens[t] * c;
            int pos = wpeOff + t * c;
            int row = t * c;
            for (int j = 0; j < c; j++) {
                out[row + j] = params[tok + j] + params[pos + j];
            }
        }
    }

    /** dwte[token] += dx[t], dwpe[t] += dx[t] for t in [0, rows). dx [rows, C]. */
    public static void backward(double[] dx, int[] tokens, int rows, int c, double[] grads, int wteOff, int wpeOff) {
        for (int t = 0; t < rows; t++) {
            Vec.axpy(1.0, dx, t * c, grads, wteOff + tokens[t] * c, c);
            Vec.axpy(1.0, dx, t * c, grads, wpeOff + t * c, c);
        }
    }
}
