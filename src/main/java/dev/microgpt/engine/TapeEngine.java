package dev.microgpt.engine;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.ParameterLayout.Layer;
import dev.microgpt.model.ParameterLayout.Tensor;
import dev.microgpt.ops.RmsNorm;
import java.util.Arrays;

/**
 * The project's gradient oracle: microgpt.py's scalar autograd, operation by operation, on a Wengert tape in flat
 * arrays. Every scalar of the forward pass is a node, as in Python; faster engines are checked against this one.
 *
 * <p>Every step appends the forward graph of its documents after the weight nodes, walks the tape backwards, and
 * truncates it again. The graph is microgpt.py's Value graph node for node, with the same children in the same
 * order and the same float64 operations ({@code a / b} is {@code a * b**-1}, {@code -a} is {@code a * -1},
 * {@code sum()} starts from 0, ...), except that constant operands are not materialised and the probabilities of
 * non-target tokens, which the loss never reads, are not built.
 *
 * <p><b>Python's gradient accumulation order.</b> Python's backward walks a depth-first topological order of the
 * graph, not the order of creation, and the order in which a node's consumers add into its gradient decides the last
 * bits when it has three or more of them. Two groups of such nodes are reached by that walk in an order other than
 * creation: the rmsnorm output that feeds q, k and v, whose consumers are visited head by head (the head's q rows,
 * its k rows, its v rows; at position 0 the q and k rows alternate, because the position's own key is the only one),
 * and the last residual stream, whose lm_head rows are visited target first. This engine emits those rows in the
 * walk's order (their values do not depend on it), so that plain reverse tape order adds every contribution where
 * Python does. Values, gradients and loss then agree with microgpt.py's Value class to the last bit, except where
 * the JVM's exp, log and pow round differently from the C library's (a few calls in a thousand).
 */
public final class TapeEngine extends CpuEngine {

    /**
     * Graph nodes preallocated per weight. A position uses most weights once, in a mul and an add node, so this holds
     * documents of about 8 positions; a longer one grows the tape (by doubling) the first time it comes.
     */
    private static final int INITIAL_GRAPH_NODES_PER_WEIGHT = 16;

    /** Python's {@code sum()} starts from the int 0, which is no node; see {@link #plus}. */
    private static final int ZERO = -1;

    private final ModelConfig config;
    private final Tape tape;
    private final double attentionScale; // (head_dim**0.5)**-1, as Python evaluates "/ head_dim**0.5"

    // Scratch vectors of node ids, allocated once.
    private final int[][] keys;        // [n_layer][block_size * n_embd]: row t holds position t's key
    private final int[][] values;      // [n_layer][block_size * n_embd]: row t holds position t's value
    private final int[] x;             // [n_embd] the residual stream
    private final int[] residual;      // [n_embd] x_residual
    private final int[] normed;        // [n_embd] rmsnorm(x) inside a block
    private final int[] query;         // [n_embd]
    private final int[] attention;     // [n_embd] x_attn, the heads' outputs side by side
    private final int[] hidden;        // [4 n_embd] the MLP's hidden layer
    private final int[] logits;        // [vocab]
    private final int[] exps;          // [max(vocab, block_size)] softmax numerators
    private final int[] attentionLogits;  // [block_size]
    private final int[] attentionWeights; // [block_size]
    private final int[] losses;        // [block_size] one per position
    private int[] documentLosses = new int[1]; // [B] one per document, grown to the largest batch

    public TapeEngine(ParameterLayout layout, double[] initialParams) {
        this(layout, initialParams, INITIAL_GRAPH_NODES_PER_WEIGHT * layout.size());
    }

    /** With room for {@code initialGraphNodes} graph nodes before the tape first grows (tests make it tiny). */
    TapeEngine(ParameterLayout layout, double[] initialParams, int initialGraphNodes) {
        super(layout, initialParams, StorageOrder.LAYOUT);
        this.config = layout.config();
        this.tape = new Tape(layout.size(), initialGraphNodes);
        this.attentionScale = Math.pow(Math.pow(config.headDim(), 0.5), -1);
        int c = config.nEmbd();
        int block = config.blockSize();
        this.keys = new int[config.nLayer()][block * c];
        this.values = new int[config.nLayer()][block * c];
        this.x = new int[c];
        this.residual = new int[c];
        this.normed = new int[c];
        this.query = new int[c];
        this.attention = new int[c];
        this.hidden = new int[config.mlpHidden()];
        this.logits = new int[config.vocabSize()];
        this.exps = new int[Math.max(config.vocabSize(), block)];
        this.attentionLogits = new int[block];
        this.attentionWeights = new int[block];
        this.losses = new int[block];
    }

    @Override
    public String name() {
        return "cpu-tape";
    }

    /**
     * Every document's graph appended in turn, each with its loss {@code (1 / n) * sum(losses)}; for more than one
     * document the step's loss is {@code (1 / B) * sum(document losses)}, one graph walked backwards once.
     */
    @Override
    public double forwardBackward(DocumentBatch batch) {
        if (documentLosses.length < batch.size()) {
            documentLosses = new int[batch.size()];
        }
        tape.loadWeights(params);
        for (int b = 0; b < batch.size(); b++) {
            int[] tokens = batch.tokens(b);
            int positions = batch.positions(b);
            checkDocument(tokens, positions);
            for (int pos = 0; pos < positions; pos++) {
                losses[pos] = positionLoss(tokens[pos], pos, tokens[pos + 1]);
            }
            documentLosses[b] = tape.mulConst(sum(losses, positions), 1.0 / positions); // (1 / n) * sum(losses)
        }
        int loss = batch.size() == 1 ? documentLosses[0]
                : tape.mulConst(sum(documentLosses, batch.size()), batch.documentWeight());
        tape.backward(loss);
        tape.readWeightGradients(grads);
        double value = tape.value(loss);
        tape.truncate();
        return value;
    }

    /** gpt(token_id, pos_id, keys, values), then {@code -probs[target_id].log()}. Returns the loss node. */
    private int positionLoss(int token, int pos, int target) {
        Tensor wte = layout.wte();
        Tensor wpe = layout.wpe();
        for (int i = 0; i < x.length; i++) {
            x[i] = tape.add(wte.at(token, i), wpe.at(pos, i));
        }
        rmsnorm(x, x);
        for (int li = 0; li < config.nLayer(); li++) {
            Layer w = layout.layer(li);
            System.arraycopy(x, 0, residual, 0, x.length);
            rmsnorm(x, normed);
            attend(li, pos, normed, attention);
            linear(attention, w.attnWo(), x);
            addResidual();

            System.arraycopy(x, 0, residual, 0, x.length);
            rmsnorm(x, normed);
            linear(normed, w.mlpFc1(), hidden);
            for (int j = 0; j < hidden.length; j++) {
                hidden[j] = tape.relu(hidden[j]);
            }
            linear(hidden, w.mlpFc2(), x);
            addResidual();
        }
        // logits = linear(x, lm_head) with the target's row first, the order Python's backward visits them.
        Tensor lmHead = layout.lmHead();
        logits[target] = linearRow(lmHead, target, x);
        for (int o = 0; o < logits.length; o++) {
            if (o != target) {
                logits[o] = linearRow(lmHead, o, x);
            }
        }
        int total = softmaxExps(logits, logits.length);
        return tape.mulConst(tape.log(tape.div(exps[target], total)), -1);
    }

    /**
     * The attention half of a block at position {@code pos}: q, k, v from {@code xn}, this position's k and v into
     * the layer's caches, and every head's output into {@code out} [n_embd].
     */
    private void attend(int li, int pos, int[] xn, int[] out) {
        Layer w = layout.layer(li);
        int[] layerKeys = keys[li];
        int[] layerValues = values[li];
        int c = config.nEmbd();
        int headDim = config.headDim();
        int row = pos * c; // this position's row in the caches
        // q, k and v rows in the order Python's backward visits them (see the class comment).
        boolean ownKeyOnly = pos == 0;
        for (int hs = 0; hs < c; hs += headDim) {
            for (int j = hs; j < hs + headDim; j++) {
                query[j] = linearRow(w.attnWq(), j, xn);
                if (ownKeyOnly) {
                    layerKeys[row + j] = linearRow(w.attnWk(), j, xn);
                }
            }
            if (!ownKeyOnly) {
                for (int j = hs; j < hs + headDim; j++) {
                    layerKeys[row + j] = linearRow(w.attnWk(), j, xn);
                }
            }
            for (int j = hs; j < hs + headDim; j++) {
                layerValues[row + j] = linearRow(w.attnWv(), j, xn);
            }
        }
        int cached = pos + 1;
        for (int hs = 0; hs < c; hs += headDim) {
            for (int t = 0; t < cached; t++) {
                int dot = ZERO;
                for (int j = hs; j < hs + headDim; j++) {
                    dot = plus(dot, tape.mul(query[j], layerKeys[t * c + j]));
                }
                attentionLogits[t] = tape.mulConst(dot, attentionScale);
            }
            int total = softmaxExps(attentionLogits, cached);
            for (int t = 0; t < cached; t++) {
                attentionWeights[t] = tape.div(exps[t], total);
            }
            for (int j = hs; j < hs + headDim; j++) {
                int mixed = ZERO;
                for (int t = 0; t < cached; t++) {
                    mixed = plus(mixed, tape.mul(attentionWeights[t], layerValues[t * c + j]));
                }
                out[j] = mixed;
            }
        }
    }

    /** {@code x = [a + b for a, b in zip(x, x_residual)]}. */
    private void addResidual() {
        for (int i = 0; i < x.length; i++) {
            x[i] = tape.add(x[i], residual[i]);
        }
    }

    /** {@code rmsnorm(in)} into {@code out} (which may be {@code in}); both [n]. */
    private void rmsnorm(int[] in, int[] out) {
        int squares = ZERO;
        for (int xi : in) {
            squares = plus(squares, tape.mul(xi, xi));
        }
        int ms = tape.mulConst(squares, Math.pow(in.length, -1)); // sum(...) / len(x)
        int scale = tape.pow(tape.addConst(ms, RmsNorm.EPS), -0.5);
        for (int i = 0; i < in.length; i++) {
            out[i] = tape.mul(in[i], scale);
        }
    }

    /** {@code linear(in, w)} into {@code out} [w.rows], rows in order; {@code in} [w.cols] must not be {@code out}. */
    private void linear(int[] in, Tensor w, int[] out) {
        for (int o = 0; o < out.length; o++) {
            out[o] = linearRow(w, o, in);
        }
    }

    /** One output of linear(): {@code sum(wi * xi for wi, xi in zip(w[row], in))}. Weight nodes are layout indices. */
    private int linearRow(Tensor w, int row, int[] in) {
        int first = w.at(row, 0);
        int total = ZERO;
        for (int i = 0; i < in.length; i++) {
            total = plus(total, tape.mul(first + i, in[i]));
        }
        return total;
    }

    /**
     * The part of softmax(scores[0..n)) that all probabilities share: {@code exps[k] = (scores[k] - max).exp()} into
     * the exps scratch vector, returning the node {@code total = sum(exps)}. Probability k is {@code exps[k] / total}.
     */
    private int softmaxExps(int[] scores, int n) {
        double max = tape.value(scores[0]);
        for (int k = 1; k < n; k++) {
            if (tape.value(scores[k]) > max) { // Python's max(): the first of equal values wins
                max = tape.value(scores[k]);
            }
        }
        for (int k = 0; k < n; k++) {
            exps[k] = tape.exp(tape.addConst(scores[k], -max)); // val - max_val is val + (-max_val)
        }
        return sum(exps, n);
    }

    /** {@code sum(terms[0..n))}, adding left to right from 0 as Python does. */
    private int sum(int[] terms, int n) {
        int total = ZERO;
        for (int k = 0; k < n; k++) {
            total = plus(total, terms[k]);
        }
        return total;
    }

    /**
     * One addition of Python's {@code sum()}: {@code total + term}, where the first total is the int 0 and
     * {@code 0 + a} makes the node {@code Value(a.data + 0)} (which differs from {@code a} only for a = -0.0).
     */
    private int plus(int total, int term) {
        return total == ZERO ? tape.addConst(term, 0.0) : tape.add(total, term);
    }

    private void checkDocument(int[] tokens, int positions) {
        if (positions < 1 || positions > config.blockSize()) {
            throw new IllegalArgumentException("positions must be in 1.." + config.blockSize() + ", got " + positions);
        }
        if (tokens.length < positions + 1) {
            throw new IllegalArgumentException(positions + " positions need " + (positions + 1) + " tokens, got "
                    + tokens.length);
        }
        for (int i = 0; i <= positions; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + tokens[i] + " at index " + i
                        + " is outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
        }
    }

    /**
     * A Wengert tape. Node i has {@code value[i]}, {@code grad[i]}, and two child slots {@code 2i} and {@code 2i + 1}
     * in {@code children} (node ids) and {@code localGrads} (d node / d child). Nodes {@code [0, weights)} are the
     * parameters in layout order. Node {@code weights} is the sink: the slot of an operand that is no node (a
     * constant, or the missing second child of a unary operation) points there with local derivative 0, so backward
     * needs no branch, and nobody reads its gradient. The graph follows from {@code weights + 1}.
     */
    static final class Tape {

        private final int sink;
        private int size;
        private double[] value;      // [capacity]
        private double[] grad;       // [capacity]
        private int[] children;      // [2 capacity]
        private double[] localGrads; // [2 capacity]

        Tape(int weights, int initialGraphNodes) {
            this.sink = weights;
            this.size = weights + 1;
            int capacity = Math.addExact(size, Math.max(1, initialGraphNodes));
            this.value = new double[capacity];
            this.grad = new double[capacity];
            this.children = new int[2 * capacity];
            this.localGrads = new double[2 * capacity];
        }

        /** Sets the weight nodes' values [weights] for the next graph. */
        void loadWeights(double[] weights) {
            System.arraycopy(weights, 0, value, 0, sink);
        }

        double value(int node) {
            return value[node];
        }

        int add(int a, int b) {
            return push(value[a] + value[b], a, 1, b, 1);
        }

        /** {@code a + c} for a float c. */
        int addConst(int a, double c) {
            return push(value[a] + c, a, 1, sink, 0);
        }

        int mul(int a, int b) {
            return push(value[a] * value[b], a, value[b], b, value[a]);
        }

        /** {@code a * c} for a float c. */
        int mulConst(int a, double c) {
            return push(value[a] * c, a, c, sink, 0);
        }

        /** {@code a ** p}: Value(data**p), local derivative {@code p * data**(p-1)}. */
        int pow(int a, double p) {
            double data = value[a];
            return push(Math.pow(data, p), a, p * Math.pow(data, p - 1), sink, 0);
        }

        /** {@code a / b}, which Python evaluates as {@code a * b**-1}. */
        int div(int a, int b) {
            return mul(a, pow(b, -1));
        }

        int exp(int a) {
            double e = Math.exp(value[a]);
            return push(e, a, e, sink, 0);
        }

        int log(int a) {
            double data = value[a];
            return push(Math.log(data), a, 1 / data, sink, 0);
        }

        /** Python's {@code max(0, data)}: 0 unless data > 0 (so also for -0.0 and NaN). */
        int relu(int a) {
            double data = value[a];
            boolean active = data > 0;
            return push(active ? data : 0.0, a, active ? 1 : 0, sink, 0);
        }

        /**
         * Sets every node's grad to d root / d node by walking the tape backwards: appending order is topological,
         * and each node adds {@code local * grad} into its first child, then its second, as Value.backward() does.
         */
        void backward(int root) {
            Arrays.fill(grad, 0, root + 1, 0.0);
            grad[root] = 1;
            for (int i = root; i > sink; i--) {
                double g = grad[i];
                grad[children[2 * i]] += localGrads[2 * i] * g;
                grad[children[2 * i + 1]] += localGrads[2 * i + 1] * g;
            }
        }

        /** Copies the weight nodes' gradients into {@code dst} [weights]. */
        void readWeightGradients(double[] dst) {
            System.arraycopy(grad, 0, dst, 0, sink);
        }

        /** Drops the graph, keeping the weight nodes and the sink. */
        void truncate() {
            size = sink + 1;
        }

        private int push(double data, int a, double localA, int b, double localB) {
            if (size == value.length) {
                grow();
            }
            int node = size++;
            value[node] = data;
            children[2 * node] = a;
            children[2 * node + 1] = b;
            localGrads[2 * node] = localA;
            localGrads[2 * node + 1] = localB;
            return node;
        }

        /** Doubles the capacity; only a document longer than any before can get here. */
        private void grow() {
            int capacity = Math.multiplyExact(value.length, 2);
            value = Arrays.copyOf(value, capacity);
            grad = Arrays.copyOf(grad, capacity);
            children = Arrays.copyOf(children, 2 * capacity);
            localGrads = Arrays.copyOf(localGrads, 2 * capacity);
        }
    }
}
