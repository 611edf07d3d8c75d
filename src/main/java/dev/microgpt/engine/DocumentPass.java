package dev.microgpt.engine;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.ops.Attention;
import dev.microgpt.ops.CrossEntropy;
import dev.microgpt.ops.Embedding;
import dev.microgpt.ops.Linear;
import dev.microgpt.ops.RmsNorm;
import java.util.Arrays;

/**
 * microgpt's forward over one document at once and its hand-derived backward in matrix form, in float64, composed
 * from the ops in {@code dev.microgpt.ops}: the activations and scratch of one thread. The parameters are the
 * engine's, read only; every buffer here is allocated once, so a pass allocates nothing.
 *
 * <p>The forward runs over a range of positions [from, to) and keeps every row, so it is also the KV-cached forward
 * that sampling uses one position at a time.
 */
final class DocumentPass {

    /** Where the backward reports each tensor whose gradient is final: [offset, offset + length). */
    @FunctionalInterface
    interface GradientsReady {
        void ready(int offset, int length);
    }

    static final GradientsReady NOWHERE = (offset, length) -> { };

    /** Activations of one transformer block, every buffer [block, width] row-major. */
    private static final class BlockActivations {
        final double[] attnNorm;  // [T, C] rmsnorm of the block input
        final double[] attnScale; // [T]
        final double[] qkv;       // [T, 3C]
        final double[] probs;     // [H, T, T] attention weights
        final double[] attnOut;   // [T, C] heads concatenated
        final double[] mid;       // [T, C] block input + attention projection
        final double[] mlpNorm;   // [T, C]
        final double[] mlpScale;  // [T]
        final double[] hidden;    // [T, 4C] after ReLU

        BlockActivations(ModelConfig cfg) {
            int t = cfg.blockSize();
            int c = cfg.nEmbd();
            attnNorm = new double[t * c];
            attnScale = new double[t];
            qkv = new double[t * 3 * c];
            probs = new double[cfg.nHead() * t * t];
            attnOut = new double[t * c];
            mid = new double[t * c];
            mlpNorm = new double[t * c];
            mlpScale = new double[t];
            hidden = new double[t * cfg.mlpHidden()];
        }
    }

    private final ParameterLayout layout;
    private final ModelConfig cfg;
    private final double[] params; // [P] the engine's, linear weights transposed (StorageOrder.transposedLinears)
    private final int c;
    private final int hiddenWidth;
    private final int vocab;
    private final int block;

    private final double[] embedding;      // [T, C] wte + wpe
    private final double[] embeddingScale; // [T]
    private final double[][] stream;       // [L + 1][T, C] residual stream entering each block, then the output
    private final BlockActivations[] blocks;
    private final double[] logits;         // [T, V] logits, then probabilities after the loss

    private final double[] dLogits;  // [T, V]
    private final double[] dStream;  // [T, C] gradient of the residual stream, carried down through the blocks
    private final double[] dNorm;    // [T, C]
    private final double[] dHidden;  // [T, 4C]
    private final double[] dAttnOut; // [T, C]
    private final double[] dQkv;     // [T, 3C]
    private final double[] dScores;  // [T]

    DocumentPass(ParameterLayout layout, double[] params) {
        this.layout = layout;
        this.cfg = layout.config();
        this.params = params;
        this.c = cfg.nEmbd();
        this.hiddenWidth = cfg.mlpHidden();
        this.vocab = cfg.vocabSize();
        this.block = cfg.blockSize();
        this.embedding = new double[block * c];
        this.embeddingScale = new double[block];
        this.stream = new double[cfg.nLayer() + 1][block * c];
        this.blocks = new BlockActivations[cfg.nLayer()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new BlockActivations(cfg);
        }
        this.logits = new double[block * vocab];
        this.dLogits = new double[block * vocab];
        this.dStream = new double[block * c];
        this.dNorm = new double[block * c];
        this.dHidden = new double[block * hiddenWidth];
        this.dAttnOut = new double[block * c];
        this.dQkv = new double[block * 3 * c];
        this.dScores = new double[block];
    }

    /**
     * Forward and backward of one document, {@code tokens[0..n]}: adds its gradients, each weighted {@code weight},
     * to {@code grads} [P] (storage order), reporting each tensor to {@code ready} as its gradient becomes final.
     * Returns the document's mean loss; when that is not finite, returns it without the backward.
     */
    double train(int[] tokens, int n, double weight, double[] grads, GradientsReady ready) {
        forward(tokens, 0, n);
        double loss = CrossEntropy.forward(logits, tokens, n, vocab);
        if (Double.isFinite(loss)) {
            CrossEntropy.backward(logits, tokens, n, vocab, weight, dLogits);
            backward(tokens, n, grads, ready);
        }
        return loss;
    }

    /**
     * The forward pass for positions [from, to): their logits land in rows [from, to) of {@link #logits}.
     * Rows before {@code from} must hold this document's earlier positions.
     */
    void forward(int[] tokens, int from, int to) {
        Embedding.forward(params, layout.wte().offset(), layout.wpe().offset(), tokens, from, to, c, embedding);
        // microgpt.py normalises the embedding before the first block (not redundant: the residual starts here).
        RmsNorm.forward(embedding, 0, stream[0], 0, embeddingScale, from, to, c);
        for (int i = 0; i < blocks.length; i++) {
            ParameterLayout.Layer w = layout.layer(i);
            BlockActivations a = blocks[i];
            double[] in = stream[i];
            double[] out = stream[i + 1];
            RmsNorm.forward(in, 0, a.attnNorm, 0, a.attnScale, from, to, c);
            Linear.forward(a.attnNorm, 0, params, w.attnQkv().offset(), a.qkv, 0, from, to, c, 3 * c);
            Attention.forward(a.qkv, a.probs, a.attnOut, from, to, c, cfg.nHead(), block);
            Linear.forward(a.attnOut, 0, params, w.attnWo().offset(), a.mid, 0, from, to, c, c);
            addRows(a.mid, in, from, to, c);
            RmsNorm.forward(a.mid, 0, a.mlpNorm, 0, a.mlpScale, from, to, c);
            Linear.forward(a.mlpNorm, 0, params, w.mlpFc1().offset(), a.hidden, 0, from, to, c, hiddenWidth);
            relu(a.hidden, from * hiddenWidth, to * hiddenWidth);
            Linear.forward(a.hidden, 0, params, w.mlpFc2().offset(), out, 0, from, to, hiddenWidth, c);
            addRows(out, a.mid, from, to, c);
        }
        Linear.forward(stream[blocks.length], 0, params, layout.lmHead().offset(), logits, 0, from, to, c, vocab);
    }

    /** Copies the logits of position {@code row} (after {@link #forward}) into dst [V]. */
    void copyLogits(int row, double[] dst) {
        System.arraycopy(logits, row * vocab, dst, 0, vocab);
    }

    /** Adds one document's gradients, from dLogits, to {@code grads}. */
    private void backward(int[] tokens, int n, double[] grads, GradientsReady ready) {
        Arrays.fill(dStream, 0.0);
        ParameterLayout.Tensor lmHead = layout.lmHead();
        Linear.backward(stream[blocks.length], 0, dLogits, 0, params, lmHead.offset(),
                dStream, 0, grads, lmHead.offset(), n, c, vocab);
        ready.ready(lmHead.offset(), lmHead.size());
        for (int i = blocks.length - 1; i >= 0; i--) {
            backwardBlock(i, n, grads, ready);
        }
        Arrays.fill(dNorm, 0.0);
        RmsNorm.backward(embedding, 0, embeddingScale, dStream, 0, dNorm, 0, n, c);
        Embedding.backward(dNorm, tokens, n, c, grads, layout.wte().offset(), layout.wpe().offset());
        ready.ready(layout.wte().offset(), layout.wte().size());
        ready.ready(layout.wpe().offset(), layout.wpe().size());
    }

    /** On entry dStream holds the gradient of the block's output; on exit, of its input. */
    private void backwardBlock(int i, int n, double[] grads, GradientsReady ready) {
        ParameterLayout.Layer w = layout.layer(i);
        BlockActivations a = blocks[i];
        // MLP: out = mid + fc2(relu(fc1(rmsnorm(mid))))
        Arrays.fill(dHidden, 0, n * hiddenWidth, 0.0);
        Linear.backward(a.hidden, 0, dStream, 0, params, w.mlpFc2().offset(),
                dHidden, 0, grads, w.mlpFc2().offset(), n, hiddenWidth, c);
        ready.ready(w.mlpFc2().offset(), w.mlpFc2().size());
        for (int j = 0; j < n * hiddenWidth; j++) {
            if (a.hidden[j] <= 0) {
                dHidden[j] = 0;
            }
        }
        Arrays.fill(dNorm, 0, n * c, 0.0);
        Linear.backward(a.mlpNorm, 0, dHidden, 0, params, w.mlpFc1().offset(),
                dNorm, 0, grads, w.mlpFc1().offset(), n, c, hiddenWidth);
        ready.ready(w.mlpFc1().offset(), w.mlpFc1().size());
        RmsNorm.backward(a.mid, 0, a.mlpScale, dNorm, 0, dStream, 0, n, c);
        // Attention: mid = in + wo(attention(qkv(rmsnorm(in))))
        Arrays.fill(dAttnOut, 0, n * c, 0.0);
        Linear.backward(a.attnOut, 0, dStream, 0, params, w.attnWo().offset(),
                dAttnOut, 0, grads, w.attnWo().offset(), n, c, c);
        ready.ready(w.attnWo().offset(), w.attnWo().size());
        Attention.backward(a.qkv, a.probs, dAttnOut, dQkv, dScores, n, c, cfg.nHead(), block);
        Arrays.fill(dNorm, 0, n * c, 0.0);
        Linear.backward(a.attnNorm, 0, dQkv, 0, params, w.attnQkv().offset(),
                dNorm, 0, grads, w.attnQkv().offset(), n, c, 3 * c);
        ready.ready(w.attnQkv().offset(), w.attnQkv().size());
        RmsNorm.backward(stream[i], 0, a.attnScale, dNorm, 0, dStream, 0, n, c);
    }

    private static void addRows(double[] acc, double[] x, int from, int to, int width) {
        for (int j = from * width; j < to * width; j++) {
            acc[j] += x[j];
        }
    }

    private static void relu(double[] x, int from, int to) {
        for (int j = from; j < to; j++) {
            x[j] = Math.max(0.0, x[j]);
        }
    }
}
