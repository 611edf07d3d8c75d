package dev.microgpt.ops;

import java.util.Arrays;

/**
 * Causal multi-head self-attention over the fused q|k|v rows, {@code out_t = sum_u softmax_u(q_t . k_u / sqrt(D)) v_u}
 * for u <= t. CPU twin of kernels/attention.cu.
 *
 * <p>Buffers: qkv [block, 3C] with q in columns [0, C), k in [C, 2C), v in [2C, 3C), head h at h*D within each;
 * probs [H, block, block] the attention weights (row t holds t + 1 entries); out [block, C].
 */
public final class Attention {

    private Attention() {
    }

    /** Rows [from, to); rows before {@code from} of qkv must be filled (the KV cache). */
    public static void forward(double[] qkv, double[] probs, double[] out, int from, int to, int c, int nHead,
                               int blockSize) {
        int d = c / nHead;
        int stride = 3 * c;
        double scale = 1.0 / Math.sqrt(d); // Python: sum(...) / head_dim**0.5, i.e. sum * (head_dim**0.5)**-1
        for (int t = from; t < to; t++) {
            for (int h = 0; h < nHead; h++) {
                int p = (h * blockSize + t) * blockSize;
                int q = t * stride + h * d;
                for (int u = 0; u <= t; u++) {
                    probs[p + u] = Vec.dot(qkv, q, qkv, u * stride + c + h * d, d) * scale;
                }
                Softmax.inPlace(probs, p, t + 1);
                int o = t * c + h * d;
                Arrays.fill(out, o, o + d, 0.0);
                for (int u = 0; u <= t; u++) {
                    Vec.axpy(probs[p + u], qkv, u * stride + 2 * c + h * d, out, o, d);
                }
            }
        }
    }

    /**
     * Gradients of q, k and v from dout [rows, C] into dqkv [rows, 3C] (overwritten). With dp_u = dout_t . v_u,
     * the softmax backward is ds_u = p_u (dp_u - sum_w p_w dp_w).
     *
     * @param scratch [block] working space for dp
     */
    public static void backward(double[] qkv, double[] probs, double[] dout, double[] dqkv, double[] scratch,
                                int rows, int c, int nHead, int blockSize) {
        int d = c / nHead;
        int stride = 3 * c;
        double scale = 1.0 / Math.sqrt(d);
        Arrays.fill(dqkv, 0, rows * stride, 0.0);
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < nHead; h++) {
                int p = (h * blockSize + t) * blockSize;
                int q = t * stride + h * d;
                int dOut = t * c + h * d;
                double weighted = 0;
                for (int u = 0; u <= t; u++) {
                    int v = u * stride + 2 * c + h * d;
                    double dp = Vec.dot(dout, dOut, qkv, v, d);
                    scratch[u] = dp;
                    weighted += probs[p + u] * dp;
                    Vec.axpy(probs[p + u], dout, dOut, dqkv, v, d);
                }
                for (int u = 0; u <= t; u++) {
                    double dLogit = probs[p + u] * (scratch[u] - weighted) * scale;
                    int k = u * stride + c + h * d;
                    Vec.axpy(dLogit, qkv, k, dqkv, q, d);
                    Vec.axpy(dLogit, qkv, q, dqkv, k, d);
                }
            }
        }
    }
}
