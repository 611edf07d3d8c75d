package dev.microgpt.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.microgpt.engine.Adam;
import dev.microgpt.engine.AdamConfig;
import dev.microgpt.ops.Attention;
import dev.microgpt.ops.CrossEntropy;
import dev.microgpt.ops.Embedding;
import dev.microgpt.ops.Linear;
import dev.microgpt.ops.RmsNorm;
import java.util.Arrays;
import java.util.Objects;
import java.util.Random;
import java.util.stream.Stream;
import dev.microgpt.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kernel of {@code kernels/*.cu} that {@link KernelLibrary} has a builder for, launched through that builder
 * exactly as the engine launches it, against its float64 CPU twin ({@code dev.microgpt.ops.*}, {@link Adam}) on the
 * same float32-rounded inputs.
 *
 * <p>Every kernel takes a step's B documents (kernels/common.cuh, Batch): activations are [B x T, ...], row b T + t
 * position t of document b, and rows {@code t >= n_b} hold no position. The shapes include single documents and
 * batches of documents of different lengths; the twins run document by document, summing weight gradients over the
 * documents in order. Outputs start as NaN ("poisoned"), so an element the kernel should write but does not fails
 * the comparison, and an element it must not write (a row that holds no position, kernels/README.md "Conventions")
 * is checked to still be NaN. Accumulated ({@code +=}) outputs start from known random values instead, and their rows
 * the kernel must not touch are checked to hold exactly those values. Input rows that hold no position, which no
 * kernel may read, are NaN too, and the unused tail of every document's tokens holds an index far outside every
 * table: reading either shows up as a NaN or as a device fault.
 *
 * <h2>Tolerances</h2>
 * Per tensor, over the compared rows: {@code ||gpu - cpu|| / ||cpu||}, and for accumulated outputs the stricter
 * {@code ||gpu - cpu|| / ||cpu - before||} (the error relative to what the kernel added, not to the sum). float32's
 * unit roundoff is u = 2^-24 = 6e-8; both sides start from the same float inputs, so all the difference is the
 * kernel's own rounding (for Adam, of factors it forms in double and rounds to float once). A K-term float sum of random-signed terms
 * carries a typical relative error of about sqrt(K) u (worst case K u); the longest sums here are K = 4C = 512
 * (fc2's forward, fc1's dx at C = 128; a weight gradient sums a batch's B x T rows, at most 200 here), so sqrt(512) u =
 * 1.4e-6, seven times below {@link #TOLERANCE}. Attention's backward
 * subtracts w_t = dout_t . out_t from dp = dout_t . v_u, a cancellation that loses bits on individual elements, but
 * those are 4..16-term dot products and the norm-wise error stays well below 1e-6 too. (Adam's v carried a
 * systematic 1e-6 while the kernel formed 1 - beta2 in float; it now takes the hyper-parameters in double.)
 *
 * <p>Measured on the emulated device (kernels/emu: these kernels compiled for the CPU, float32, the same fmaf order;
 * only expf/logf/sqrtf may differ from the GPU's by an ulp or two) for microgpt's and 64/64's shapes: linear
 * and qkv at most 3.0e-7, attention 1.7e-7, rmsnorm and embedding 1e-7, dlogits 5e-8, the loss 1.2e-7, Adam's m
 * 1.7e-7 and v 9.7e-7, Adam's weights 1.5e-8 absolute. So one bound, 1e-5, holds for every tensor of every kernel
 * with a margin of ten or more, and none needs a looser one; the loss and Adam's weights get the tighter bounds
 * below.
 */
@RequiresGpu
class KernelParityTest {

    /** Every tensor of every kernel (see the class comment). */
    private static final double TOLERANCE = 1e-5;
    /**
     * The mean loss is a single value: each row's -log p is (max + log(sum of V = 27 exps)) - target, a few float
     * roundings of a value ~3 (~3e-7 absolute, ~1e-7 relative), then a sum over n <= 64 rows whose errors add
     * incoherently (and the mean over a batch's documents). 1e-6 relative is ten times that.
     */
    private static final double LOSS_TOLERANCE = 1e-6;
    /**
     * Adam's weights after one update, absolute: weights ~0.08 round at 0.08 u = 5e-9, the update (at most lr = 0.01)
     * differs by about 1e-7 relative (float beta1, beta2 and float per-parameter arithmetic against float64), ~1e-9.
     */
    private static final double ADAM_WEIGHT_TOLERANCE = 1e-6;
    /** Written into tokens[t] for t > n, which no kernel may read: a row index far past the end of every table. */
    private static final int UNREAD_TOKEN = Integer.MAX_VALUE;

    /** One model shape and the positions n_b of each of the step's documents (n_b < T: a ragged document). */
    record Shape(int c, int t, int h, int v, int... ns) {
        int f() {
            return 4 * c;
        }

        /** B, the documents of the step. */
        int b() {
            return ns.length;
        }

        int n(int b) {
            return ns[b];
        }

        /** B x T, the rows of every activation. */
        int rows() {
            return ns.length * t;
        }

        /** Whether activation row r holds a position of its document. */
        boolean holds(int r) {
            return r % t < ns[r / t];
        }

        /** The largest n_b: positions past it are no document's (wpe rows no kernel reads). */
        int maxN() {
            return Arrays.stream(ns).max().orElseThrow();
        }

        @Override
        public String toString() {
            return "C=" + c + " T=" + t + " H=" + h + " V=" + v + (ns.length == 1 ? " n=" + ns[0]
                    : " B=" + ns.length + " n=" + Arrays.toString(ns));
        }
    }

    /**
     * microgpt's shape and 64/64, whole and ragged; then shapes that reach the kernels' other paths: attention's head
     * width D = C / H under a warp (3: groups of lanes that do not tile it, t past 64; 12) and over it (32, 48, 128),
     * tiles cut by T, C and V that are not multiples of 32, and the largest model (T = C = 128); then batches whose
     * documents have lengths of their own, a one-position document among them, so that matmul tiles span documents.
     */
    static Stream<Shape> shapes() {
        return Stream.of(
                new Shape(16, 16, 4, 27, 16),
                new Shape(16, 16, 4, 27, 5),
                new Shape(64, 64, 4, 27, 64),
                new Shape(64, 64, 4, 27, 37),
                new Shape(24, 70, 8, 27, 70),
                new Shape(36, 40, 3, 40, 37),
                new Shape(96, 33, 2, 65, 33),
                new Shape(128, 128, 4, 65, 128),
                new Shape(128, 128, 1, 30, 77),
                new Shape(16, 16, 4, 27, 16, 5, 1),
                new Shape(64, 64, 4, 27, 37, 64),
                new Shape(36, 40, 3, 40, 37, 1, 40, 12, 2));
    }

    static Stream<Arguments> shapesAndFlag() {
        return shapes().flatMap(s -> Stream.of(Arguments.of(s, false), Arguments.of(s, true)));
    }

    static Stream<Arguments> shapesAndTwoFlags() {
        return shapes().flatMap(s -> Stream.of(
                Arguments.of(s, false, false), Arguments.of(s, false, true),
                Arguments.of(s, true, false), Arguments.of(s, true, true)));
    }

    /** Where linear_forward's residual comes from. */
    enum Residual { NONE, SEPARATE, IN_PLACE }

    static Stream<Arguments> linearForwardCases() {
        return shapes().flatMap(s -> Stream.of(false, true).flatMap(relu -> Arrays.stream(Residual.values())
                .map(residual -> Arguments.of(s, relu, residual))));
    }

    /** The engine's four linear layers' (in, out): lm_head (C, V), attn_wo (C, C), fc1 (C, 4C), fc2 (4C, C). */
    private static int[][] linearDims(Shape s) {
        return new int[][] {{s.c(), s.v()}, {s.c(), s.c()}, {s.c(), s.f()}, {s.f(), s.c()}};
    }

    // ------------------------------------------------------------------------------------------------ rmsnorm.cu

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void embeddingRmsnormForward(Shape s) {
        Random random = new Random(seed("embedding_rmsnorm_forward", s, 0));
        int c = s.c();
        int[][] tokens = tokens(random, s);
        double[] wte = gaussian(random, s.v() * c, 1.0);
        double[] wpe = gaussian(random, s.t() * c, 1.0);
        Arrays.fill(wpe, s.maxN() * c, wpe.length, Double.NaN); // positions no document has: never read

        double[] params = concat(wte, wpe);
        double[] emb = new double[s.rows() * c];
        double[] y = new double[s.rows() * c];
        double[] scale = new double[s.rows()];
        for (int b = 0; b < s.b(); b++) {
            double[] docEmb = new double[s.t() * c];
            double[] docY = new double[s.t() * c];
            double[] docScale = new double[s.t()];
            Embedding.forward(params, 0, wte.length, tokens[b], 0, s.n(b), c, docEmb);
            RmsNorm.forward(docEmb, 0, docY, 0, docScale, 0, s.n(b), c);
            place(emb, docEmb, b, c, s);
            place(y, docY, b, c, s);
            place(scale, docScale, b, 1, s);
        }

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dEmb = gpu.poisoned("emb", s.rows() * c);
            DeviceArray dY = gpu.poisoned("y", s.rows() * c);
            DeviceArray dScale = gpu.poisoned("scale", s.rows());
            gpu.run(gpu.kernels().embeddingRmsnormForward(dEmb.at(0), dY.at(0), dScale.at(0),
                    gpu.floats("wte", wte).at(0), gpu.floats("wpe", wpe).at(0), c, documents(gpu, s, tokens, 0, 1)));
            assertWrittenRows("emb", gpu.download(dEmb), emb, c, s);
            assertWrittenRows("y", gpu.download(dY), y, c, s);
            assertWrittenRows("scale", gpu.download(dScale), scale, 1, s);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void rmsnormForward(Shape s) {
        Random random = new Random(seed("rmsnorm_forward", s, 0));
        int c = s.c();
        double[] x = unreadRows(gaussian(random, s.rows() * c, 1.5), c, s);

        double[] y = new double[s.rows() * c];
        double[] scale = new double[s.rows()];
        for (int b = 0; b < s.b(); b++) {
            double[] docY = new double[s.t() * c];
            double[] docScale = new double[s.t()];
            RmsNorm.forward(doc(x, b, c, s), 0, docY, 0, docScale, 0, s.n(b), c);
            place(y, docY, b, c, s);
            place(scale, docScale, b, 1, s);
        }

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dY = gpu.poisoned("y", s.rows() * c);
            DeviceArray dScale = gpu.poisoned("scale", s.rows());
            gpu.run(gpu.kernels().rmsnormForward(dY.at(0), dScale.at(0), gpu.floats("x", x).at(0), c,
                    documents(gpu, s)));
            assertWrittenRows("y", gpu.download(dY), y, c, s);
            assertWrittenRows("scale", gpu.download(dScale), scale, 1, s);
        }
    }

    @ParameterizedTest(name = "{0}, accumulate={1}")
    @MethodSource("shapesAndFlag")
    void rmsnormBackward(Shape s, boolean accumulate) {
        Random random = new Random(seed("rmsnorm_backward", s, accumulate ? 1 : 0));
        int c = s.c();
        double[] x = unreadRows(gaussian(random, s.rows() * c, 1.5), c, s);
        double[] scale = unreadRows(forwardScale(x, s), 1, s);
        double[] dy = unreadRows(gaussian(random, s.rows() * c, 1.0), c, s);
        double[] dxBefore = accumulate ? gaussian(random, s.rows() * c, 1.0) : nans(s.rows() * c);

        double[] dx = accumulate ? dxBefore.clone() : new double[s.rows() * c];
        for (int b = 0; b < s.b(); b++) {
            double[] docDx = doc(dx, b, c, s);
            RmsNorm.backward(doc(x, b, c, s), 0, doc(scale, b, 1, s), doc(dy, b, c, s), 0, docDx, 0, s.n(b), c);
            place(dx, docDx, b, c, s);
        }

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dDx = accumulate ? gpu.floats("dx", dxBefore) : gpu.poisoned("dx", s.rows() * c);
            gpu.run(gpu.kernels().rmsnormBackward(dDx.at(0), gpu.floats("dy", dy).at(0), gpu.floats("x", x).at(0),
                    gpu.floats("scale", scale).at(0), c, accumulate, documents(gpu, s)));
            assertRows("dx", gpu.download(dDx), dx, dxBefore, accumulate, c, s);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void embeddingBackward(Shape s) {
        Random random = new Random(seed("embedding_backward", s, 0));
        int c = s.c();
        int[][] tokens = tokens(random, s);
        double[] dEmb = unreadRows(gaussian(random, s.rows() * c, 1.0), c, s);
        double[] dwteBefore = gaussian(random, s.v() * c, 1.0);
        double[] dwpeBefore = gaussian(random, s.t() * c, 1.0);

        // The twin: Embedding.backward of each document in turn into [dwte | dwpe].
        double[] grads = concat(dwteBefore, dwpeBefore);
        boolean[] used = new boolean[s.v()];
        for (int b = 0; b < s.b(); b++) {
            Embedding.backward(doc(dEmb, b, c, s), tokens[b], s.n(b), c, grads, 0, dwteBefore.length);
            for (int t = 0; t < s.n(b); t++) {
                used[tokens[b][t]] = true;
            }
        }
        double[] dwte = Arrays.copyOfRange(grads, 0, dwteBefore.length);
        double[] dwpe = Arrays.copyOfRange(grads, dwteBefore.length, grads.length);

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dDwte = gpu.floats("dwte", dwteBefore);
            DeviceArray dDwpe = gpu.floats("dwpe", dwpeBefore);
            gpu.run(gpu.kernels().embeddingBackward(dDwte.at(0), dDwpe.at(0), gpu.floats("d_emb", dEmb).at(0), c,
                    s.v(), documents(gpu, s, tokens, 0, 1)));
            double[] gotWte = gpu.download(dDwte);
            double[] gotWpe = gpu.download(dDwpe);
            assertClose("dwte", gotWte, dwte, dwteBefore, 0, gotWte.length, TOLERANCE);
            for (int token = 0; token < s.v(); token++) {
                if (!used[token]) {
                    assertUntouched("dwte row of unused token " + token, gotWte, dwteBefore, token * c, (token + 1) * c);
                }
            }
            assertClose("dwpe", gotWpe, dwpe, dwpeBefore, 0, s.maxN() * c, TOLERANCE);
            assertUntouched("dwpe", gotWpe, dwpeBefore, s.maxN() * c, s.t() * c);
        }
    }

    // ------------------------------------------------------------------------------------------------- linear.cu

    @ParameterizedTest(name = "{0}, relu={1}, residual={2}")
    @MethodSource("linearForwardCases")
    void linearForward(Shape s, boolean relu, Residual residual) {
        try (DeviceHarness gpu = new DeviceHarness()) {
            for (int[] dims : linearDims(s)) {
                int in = dims[0];
                int out = dims[1];
                String what = "y [BT," + out + "] from x [BT," + in + "]";
                Random random = new Random(seed("linear_forward", s, in * 100_000 + out * 10 + residual.ordinal()
                        + (relu ? 5 : 0)));
                double[] x = unreadRows(gaussian(random, s.rows() * in, 1.0), in, s);
                double[] w = gaussian(random, out * in, 1.0 / Math.sqrt(in));
                double[] residualValues = switch (residual) {
                    case NONE -> null;
                    case SEPARATE -> unreadRows(gaussian(random, s.rows() * out, 1.0), out, s);
                    case IN_PLACE -> gaussian(random, s.rows() * out, 1.0); // rows without positions keep these
                };
                double[] yBefore = residual == Residual.IN_PLACE ? residualValues : nans(s.rows() * out);

                double[] y = new double[s.rows() * out];
                double[] wT = transpose(w, out, in);
                for (int b = 0; b < s.b(); b++) {
                    double[] docY = new double[s.t() * out];
                    Linear.forward(doc(x, b, in, s), 0, wT, 0, docY, 0, 0, s.n(b), in, out);
                    place(y, docY, b, out, s);
                }
                for (int r = 0; r < s.rows(); r++) {
                    for (int o = 0; o < out && s.holds(r); o++) {
                        int i = r * out + o;
                        y[i] = (relu ? Math.max(y[i], 0.0) : y[i]) + (residualValues == null ? 0.0 : residualValues[i]);
                    }
                }

                DeviceArray dY = residual == Residual.IN_PLACE ? gpu.floats("y", residualValues)
                        : gpu.poisoned("y", s.rows() * out);
                DeviceArray dResidual = switch (residual) {
                    case NONE -> null;
                    case SEPARATE -> gpu.floats("residual", residualValues);
                    case IN_PLACE -> dY;
                };
                gpu.run(gpu.kernels().linearForward(dY.at(0), gpu.floats("x", x).at(0), gpu.floats("w", w).at(0),
                        dResidual == null ? null : dResidual.at(0), in, out, relu, documents(gpu, s)));
                assertRows(what, gpu.download(dY), y, yBefore, false, out, s);
            }
        }
    }

    @ParameterizedTest(name = "{0}, relu_out mask={1}, dx={2}")
    @MethodSource("shapesAndTwoFlags")
    void linearBackward(Shape s, boolean masked, boolean withDx) {
        try (DeviceHarness gpu = new DeviceHarness()) {
            for (int[] dims : linearDims(s)) {
                int in = dims[0];
                int out = dims[1];
                String what = " of y [BT," + out + "] = x [BT," + in + "] W^T";
                Random random = new Random(seed("linear_backward", s, in * 100_000 + out * 10 + (masked ? 2 : 0)
                        + (withDx ? 1 : 0)));
                double[] x = unreadRows(gaussian(random, s.rows() * in, 1.0), in, s);
                double[] w = gaussian(random, out * in, 1.0 / Math.sqrt(in));
                double[] dy = unreadRows(gaussian(random, s.rows() * out, 1.0), out, s);
                // A ReLU output: about half exact zeros, the rest positive.
                double[] reluOut = masked ? unreadRows(relu(gaussian(random, s.rows() * out, 1.0)), out, s) : null;
                double[] dwBefore = gaussian(random, out * in, 1.0);

                double[] dyMasked = dy.clone();
                if (masked) {
                    for (int i = 0; i < dy.length; i++) {
                        dyMasked[i] = reluOut[i] > 0 ? dy[i] : 0.0; // rows without positions: never read
                    }
                }
                double[] dx = new double[s.rows() * in];
                double[] dwT = transpose(dwBefore, out, in); // the documents' gradients summed in order
                double[] wT = transpose(w, out, in);
                for (int b = 0; b < s.b(); b++) {
                    double[] docDx = new double[s.t() * in];
                    Linear.backward(doc(x, b, in, s), 0, doc(dyMasked, b, out, s), 0, wT, 0, docDx, 0, dwT, 0, s.n(b),
                            in, out);
                    place(dx, docDx, b, in, s);
                }
                double[] dw = transpose(dwT, in, out);

                DeviceArray dDx = withDx ? gpu.poisoned("dx", s.rows() * in) : null;
                DeviceArray dDw = gpu.floats("dw", dwBefore);
                gpu.run(gpu.kernels().linearBackward(dDx == null ? null : dDx.at(0), dDw.at(0),
                        gpu.floats("dy", dy).at(0), gpu.floats("x", x).at(0), gpu.floats("w", w).at(0),
                        masked ? gpu.floats("relu_out", reluOut).at(0) : null, in, out, documents(gpu, s)));
                if (withDx) {
                    assertWrittenRows("dx" + what, gpu.download(dDx), dx, in, s);
                }
                assertClose("dW" + what, gpu.download(dDw), dw, dwBefore, 0, out * in, TOLERANCE);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------- qkv.cu

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void qkvForward(Shape s) {
        Random random = new Random(seed("qkv_forward", s, 0));
        int c = s.c();
        double[] x = unreadRows(gaussian(random, s.rows() * c, 1.0), c, s);
        double[] w = gaussian(random, 3 * c * c, 1.0 / Math.sqrt(c));

        double[] qkv = new double[s.rows() * 3 * c];
        double[] wT = transpose(w, 3 * c, c);
        for (int b = 0; b < s.b(); b++) {
            double[] docQkv = new double[s.t() * 3 * c];
            Linear.forward(doc(x, b, c, s), 0, wT, 0, docQkv, 0, 0, s.n(b), c, 3 * c);
            place(qkv, docQkv, b, 3 * c, s);
        }

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dQkv = gpu.poisoned("qkv", s.rows() * 3 * c);
            gpu.run(gpu.kernels().qkvForward(dQkv.at(0), gpu.floats("x", x).at(0), gpu.floats("w", w).at(0), c,
                    documents(gpu, s)));
            assertWrittenRows("qkv", gpu.download(dQkv), qkv, 3 * c, s);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void qkvBackward(Shape s) {
        Random random = new Random(seed("qkv_backward", s, 0));
        int c = s.c();
        double[] x = unreadRows(gaussian(random, s.rows() * c, 1.0), c, s);
        double[] w = gaussian(random, 3 * c * c, 1.0 / Math.sqrt(c));
        double[] dQkv = unreadRows(gaussian(random, s.rows() * 3 * c, 1.0), 3 * c, s);
        double[] dwBefore = gaussian(random, 3 * c * c, 1.0);

        double[] dx = new double[s.rows() * c];
        double[] dwT = transpose(dwBefore, 3 * c, c);
        double[] wT = transpose(w, 3 * c, c);
        for (int b = 0; b < s.b(); b++) {
            double[] docDx = new double[s.t() * c];
            Linear.backward(doc(x, b, c, s), 0, doc(dQkv, b, 3 * c, s), 0, wT, 0, docDx, 0, dwT, 0, s.n(b), c, 3 * c);
            place(dx, docDx, b, c, s);
        }
        double[] dw = transpose(dwT, c, 3 * c);

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dDx = gpu.poisoned("dx", s.rows() * c);
            DeviceArray dDw = gpu.floats("dw", dwBefore);
            gpu.run(gpu.kernels().qkvBackward(dDx.at(0), dDw.at(0), gpu.floats("dqkv", dQkv).at(0),
                    gpu.floats("x", x).at(0), gpu.floats("w", w).at(0), c, documents(gpu, s)));
            assertWrittenRows("dx", gpu.download(dDx), dx, c, s);
            assertClose("dW", gpu.download(dDw), dw, dwBefore, 0, dw.length, TOLERANCE);
        }
    }

    // ---------------------------------------------------------------------------------------------- attention.cu

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void attentionForward(Shape s) {
        Random random = new Random(seed("attention_forward", s, 0));
        int c = s.c();
        int t = s.t();
        int h = s.h();
        double[] qkv = unreadRows(gaussian(random, s.rows() * 3 * c, 1.0), 3 * c, s);

        double[] probs = new double[s.b() * h * t * t]; // the twin leaves the masked entries u > t at 0
        double[] out = new double[s.rows() * c];
        for (int b = 0; b < s.b(); b++) {
            double[] docProbs = new double[h * t * t];
            double[] docOut = new double[t * c];
            Attention.forward(doc(qkv, b, 3 * c, s), docProbs, docOut, 0, s.n(b), c, h, t);
            System.arraycopy(docProbs, 0, probs, b * h * t * t, docProbs.length);
            place(out, docOut, b, c, s);
        }

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dOut = gpu.poisoned("out", s.rows() * c);
            DeviceArray dProbs = gpu.poisoned("probs", s.b() * h * t * t);
            gpu.run(gpu.kernels().attentionForward(dOut.at(0), dProbs.at(0), gpu.floats("qkv", qkv).at(0), c, h,
                    documents(gpu, s)));
            assertWrittenRows("out", gpu.download(dOut), out, c, s);

            // probs [B, H, T, T]: rows t < n_b of every head written, the masked entries u > t as exact zeros (the
            // stated exception to "rows >= n are neither read nor written"); rows t >= n_b untouched.
            double[] gotProbs = gpu.download(dProbs);
            int written = Arrays.stream(s.ns()).sum() * h * t;
            double[] gotRows = new double[written];
            double[] wantRows = new double[written];
            int at = 0;
            for (int b = 0; b < s.b(); b++) {
                int n = s.n(b);
                for (int head = 0; head < h; head++) {
                    int base = (b * h + head) * t * t;
                    System.arraycopy(gotProbs, base, gotRows, at, n * t);
                    System.arraycopy(probs, base, wantRows, at, n * t);
                    at += n * t;
                    for (int row = 0; row < n; row++) {
                        for (int u = row + 1; u < t; u++) {
                            double p = gotProbs[base + row * t + u];
                            if (Double.compare(p, 0.0) != 0) {
                                fail("probs[" + b + ", " + head + ", " + row + ", " + u + "] = " + p
                                        + ": a masked entry must be written 0");
                            }
                        }
                    }
                    assertUntouched("probs of document " + b + ", head " + head, gotProbs, nans(gotProbs.length),
                            base + n * t, base + t * t);
                }
            }
            assertClose("probs", gotRows, wantRows, null, 0, written, TOLERANCE);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void attentionBackward(Shape s) {
        Random random = new Random(seed("attention_backward", s, 0));
        int c = s.c();
        int t = s.t();
        int h = s.h();
        double[] qkv = unreadRows(gaussian(random, s.rows() * 3 * c, 1.0), 3 * c, s);
        double[] dOut = unreadRows(gaussian(random, s.rows() * c, 1.0), c, s);
        // The forward's probs and out, as the backward receives them: float32, rows t >= n_b never written (NaN).
        double[] probs = nans(s.b() * h * t * t);
        double[] out = new double[s.rows() * c];
        double[] dQkv = new double[s.rows() * 3 * c];
        for (int b = 0; b < s.b(); b++) {
            int n = s.n(b);
            double[] docQkv = doc(qkv, b, 3 * c, s);
            double[] docProbs = new double[h * t * t];
            double[] docOut = new double[t * c];
            Attention.forward(docQkv, docProbs, docOut, 0, n, c, h, t);
            roundToFloat(docProbs);
            roundToFloat(docOut);
            for (int head = 0; head < h; head++) {
                Arrays.fill(docProbs, (head * t + n) * t, (head + 1) * t * t, Double.NaN);
            }
            double[] docDQkv = new double[t * 3 * c];
            Attention.backward(docQkv, docProbs, doc(dOut, b, c, s), docDQkv, new double[t], n, c, h, t);
            System.arraycopy(docProbs, 0, probs, b * h * t * t, docProbs.length);
            place(out, docOut, b, c, s);
            place(dQkv, docDQkv, b, 3 * c, s);
        }
        unreadRows(out, c, s);

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dDQkv = gpu.poisoned("dqkv", s.rows() * 3 * c);
            gpu.run(gpu.kernels().attentionBackward(dDQkv.at(0), gpu.floats("dout", dOut).at(0),
                    gpu.floats("qkv", qkv).at(0), gpu.floats("probs", probs).at(0), gpu.floats("out", out).at(0), c,
                    h, documents(gpu, s)));
            double[] got = gpu.download(dDQkv);
            // dq, dk and dv separately (each its own tensor), rows that hold positions.
            String[] names = {"dq", "dk", "dv"};
            for (int part = 0; part < 3; part++) {
                double[] gotPart = heldRows(columns(got, 3 * c, part * c, c, s.rows()), c, s);
                double[] wantPart = heldRows(columns(dQkv, 3 * c, part * c, c, s.rows()), c, s);
                assertClose(names[part], gotPart, wantPart, null, 0, gotPart.length, TOLERANCE);
            }
            assertUnheldRows("dqkv", got, nans(got.length), 3 * c, s);
        }
    }

    /**
     * The host takes the attention kernels' shared memory from attention_shared_bytes; the limit attention.cu states
     * (4 warps: D + 2T <= 3008 within the 48 KiB a launch has by default) holds at its edge. Shapes far beyond the
     * model's, so only the size is asked: nothing is launched.
     */
    @Test
    void attentionSharedMemoryIsTheKernelsAnswerWithinTheStatedLimit() {
        try (DeviceHarness gpu = new DeviceHarness()) {
            KernelLibrary kernels = gpu.kernels();
            int c = 128; // one head: D = 128
            Launch atLimit = kernels.attentionForward(null, null, null, c, 1, new DocumentSlots(null, 0, 1, 1440));
            assertEquals(48 * 1024, atLimit.sharedBytes(), "D + 2T = 3008");
            CudaException over = assertThrows(CudaException.class, () -> kernels.attentionBackward(null, null, null,
                    null, null, c, 1, new DocumentSlots(null, 0, 1, 1441)));
            assertTrue(over.getMessage().contains("49184 bytes of shared memory per block for block_size 1441"),
                    over.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------- crossentropy.cu

    @ParameterizedTest(name = "{0}, in place={1}")
    @MethodSource("shapesAndFlag")
    void crossEntropy(Shape s, boolean inPlace) {
        Random random = new Random(seed("crossentropy_forward_backward", s, inPlace ? 1 : 0));
        int v = s.v();
        int numSteps = 8;
        int step = 5;
        int[][] tokens = tokens(random, s);
        double[] logits = gaussian(random, s.rows() * v, 2.0);
        if (!inPlace) {
            unreadRows(logits, v, s); // in place, rows without positions keep their (finite) logits, checked below
        }

        double[] dLogits = new double[s.rows() * v];
        double loss = twinCrossEntropy(logits, tokens, dLogits, s);

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dLogitsIn = gpu.floats("logits", logits);
            DeviceArray dLogitsOut = inPlace ? dLogitsIn : gpu.poisoned("dlogits", s.rows() * v);
            DeviceArray losses = gpu.poisoned("losses", numSteps);
            gpu.run(gpu.kernels().crossEntropy(dLogitsOut.at(0), losses.at(0), dLogitsIn.at(0), v,
                    documents(gpu, s, tokens, step, numSteps)));
            assertRows("dlogits", gpu.download(dLogitsOut), dLogits, inPlace ? logits : nans(s.rows() * v), false, v,
                    s);
            double[] gotLosses = gpu.download(losses);
            assertClose("losses", gotLosses, lossSlots(numSteps, step, loss), null, step, step + 1,
                    LOSS_TOLERANCE);
            assertUntouched("losses other than [" + step + "]", gotLosses, nans(numSteps), 0, step);
            assertUntouched("losses other than [" + step + "]", gotLosses, nans(numSteps), step + 1, numSteps);
        }
    }

    /** losses[step] is written only while step < num_steps (kernels/README.md, StepScalars). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void crossEntropyWritesNoLossPastTheLastStep(Shape s) {
        Random random = new Random(seed("crossentropy_past_the_end", s, 0));
        int v = s.v();
        int numSteps = 4;
        int[][] tokens = tokens(random, s);
        double[] logits = unreadRows(gaussian(random, s.rows() * v, 2.0), v, s);
        double[] dLogits = new double[s.rows() * v];
        twinCrossEntropy(logits, tokens, dLogits, s);

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dLogitsOut = gpu.poisoned("dlogits", s.rows() * v);
            DeviceArray losses = gpu.poisoned("losses", numSteps + 1); // one slot past num_steps, to see a stray write
            gpu.run(gpu.kernels().crossEntropy(dLogitsOut.at(0), losses.at(0), gpu.floats("logits", logits).at(0), v,
                    documents(gpu, s, tokens, numSteps, numSteps)));
            assertWrittenRows("dlogits", gpu.download(dLogitsOut), dLogits, v, s);
            assertUntouched("losses (step = num_steps)", gpu.download(losses), nans(numSteps + 1), 0, numSteps + 1);
        }
    }

    /**
     * The step's mean loss over its documents, and dlogits [BT, V] with each document's weight 1 / B, document by
     * document as the fast engine computes them.
     */
    private static double twinCrossEntropy(double[] logits, int[][] tokens, double[] dLogits, Shape s) {
        int v = s.v();
        double sum = 0;
        for (int b = 0; b < s.b(); b++) {
            double[] probs = doc(logits, b, v, s);
            sum += CrossEntropy.forward(probs, tokens[b], s.n(b), v);
            double[] docDLogits = new double[s.t() * v];
            CrossEntropy.backward(probs, tokens[b], s.n(b), v, 1.0 / s.b(), docDLogits);
            place(dLogits, docDLogits, b, v, s);
        }
        return sum / s.b();
    }

    // --------------------------------------------------------------------------------------------------- adam.cu

    /** P parameters, the 0-based step and the run's length (the step comes from StepScalars). */
    record AdamCase(int p, int step, int numSteps) {
        @Override
        public String toString() {
            return "P=" + p + " step=" + step + " of " + numSteps;
        }
    }

    static Stream<AdamCase> adamCases() {
        return Stream.of(
                new AdamCase(1000, 0, 10),        // the first step: m = v = 0
                new AdamCase(4133, 17, 50),       // P not a multiple of the 256-thread block
                new AdamCase(70_001, 49, 50));    // the last step: lr_t = lr / 50
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("adamCases")
    void adamUpdate(AdamCase a) {
        Random random = new Random(Objects.hash("adam_update", a.p(), a.step(), a.numSteps()));
        AdamConfig cfg = AdamConfig.MICROGPT;
        double[] params = gaussian(random, a.p(), 0.08);
        double[] grads = new double[a.p()];
        double[] m = new double[a.p()];
        double[] v = new double[a.p()];
        for (int i = 0; i < a.p(); i++) {
            // Gradients of a scale over three decades per parameter; moments from a short history of such gradients
            // (m = v = 0 at step 0), so that m_hat / sqrt(v_hat) is of order one as in training; some gradients are
            // exactly zero (a token absent from the step).
            double sigma = Math.pow(10, -3 * random.nextDouble());
            for (int k = 0; k < Math.min(a.step(), 10); k++) {
                double g = random.nextGaussian() * sigma;
                m[i] = cfg.beta1() * m[i] + (1 - cfg.beta1()) * g;
                v[i] = cfg.beta2() * v[i] + (1 - cfg.beta2()) * g * g;
            }
            m[i] = (float) m[i];
            v[i] = (float) v[i];
            grads[i] = i % 17 == 0 ? 0.0 : (float) (random.nextGaussian() * sigma);
        }
        double[] paramsBefore = params.clone();
        double[] gradsBefore = grads.clone();
        double[] mBefore = m.clone();
        double[] vBefore = v.clone();
        Adam.update(cfg, a.step(), a.numSteps(), params, grads, m, v);

        try (DeviceHarness gpu = new DeviceHarness()) {
            DeviceArray dParams = gpu.floats("params", paramsBefore);
            DeviceArray dGrads = gpu.floats("grads", gradsBefore);
            DeviceArray dM = gpu.floats("m", mBefore);
            DeviceArray dV = gpu.floats("v", vBefore);
            // positions = 0, as GpuEngine.adamUpdate stages it: Adam must not depend on n.
            gpu.run(gpu.kernels().adam(dParams.at(0), dGrads.at(0), dM.at(0), dV.at(0), a.p(),
                    cfg.learningRate(), cfg.beta1(), cfg.beta2(), cfg.eps(),
                    gpu.stepScalars(a.step(), 0, a.numSteps()).at(0)));
            double[] gotParams = gpu.download(dParams);
            double worst = 0;
            int worstAt = 0;
            for (int i = 0; i < a.p(); i++) {
                double error = Math.abs(gotParams[i] - params[i]);
                if (!(error <= worst)) {
                    worst = error;
                    worstAt = i;
                }
            }
            assertTrue(worst <= ADAM_WEIGHT_TOLERANCE, "params[" + worstAt + "]: gpu " + gotParams[worstAt] + ", cpu "
                    + params[worstAt] + ", absolute error " + worst + " > " + ADAM_WEIGHT_TOLERANCE);
            assertClose("m", gpu.download(dM), m, null, 0, a.p(), TOLERANCE);
            assertClose("v", gpu.download(dV), v, null, 0, a.p(), TOLERANCE);
            double[] gotGrads = gpu.download(dGrads);
            for (int i = 0; i < a.p(); i++) {
                if (gotGrads[i] != 0.0) {
                    fail("grads[" + i + "] = " + gotGrads[i] + " after adam_update, which must zero every gradient");
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------- helpers

    private static int seed(String kernel, Shape s, int variant) {
        return Objects.hash(kernel, s.c(), s.t(), s.h(), s.v(), Arrays.hashCode(s.ns()), variant);
    }

    /** N(0, scale^2) values, rounded to float so that the twin sees exactly what the device sees. */
    private static double[] gaussian(Random random, int length, double scale) {
        double[] values = new double[length];
        for (int i = 0; i < length; i++) {
            values[i] = (float) (random.nextGaussian() * scale);
        }
        return values;
    }

    /**
     * Each document's tokens [T + 1]: inputs tokens[0, n) and targets tokens[1, n] random in [0, V), with a repeated
     * input token (two rows adding into one dwte row); tokens past n, which no kernel may read, far out of range.
     */
    private static int[][] tokens(Random random, Shape s) {
        int[][] tokens = new int[s.b()][s.t() + 1];
        for (int b = 0; b < s.b(); b++) {
            Arrays.fill(tokens[b], UNREAD_TOKEN);
            for (int i = 0; i <= s.n(b); i++) {
                tokens[b][i] = random.nextInt(s.v());
            }
            if (s.n(b) >= 2) {
                tokens[b][s.n(b) - 1] = tokens[b][0];
            }
        }
        return tokens;
    }

    private static DocumentSlots documents(DeviceHarness gpu, Shape s, int[][] tokens, int step, int numSteps) {
        return gpu.documents(s.t(), tokens, s.ns(), step, numSteps);
    }

    /** The documents of a kernel that reads no tokens: every token out of range. */
    private static DocumentSlots documents(DeviceHarness gpu, Shape s) {
        int[][] unread = new int[s.b()][s.t() + 1];
        for (int[] tokens : unread) {
            Arrays.fill(tokens, UNREAD_TOKEN);
        }
        return documents(gpu, s, unread, 0, 1);
    }

    /** Sets the rows of a [BT, width] array that hold no position to NaN (inputs there are never read); returns it. */
    private static double[] unreadRows(double[] values, int width, Shape s) {
        for (int r = 0; r < s.rows(); r++) {
            if (!s.holds(r)) {
                Arrays.fill(values, r * width, (r + 1) * width, Double.NaN);
            }
        }
        return values;
    }

    /** Document b's rows [T, width] of a [BT, width] array (a copy). */
    private static double[] doc(double[] values, int b, int width, Shape s) {
        return Arrays.copyOfRange(values, b * s.t() * width, (b + 1) * s.t() * width);
    }

    /** Writes document b's rows [T, width] into a [BT, width] array. */
    private static void place(double[] values, double[] document, int b, int width, Shape s) {
        System.arraycopy(document, 0, values, b * s.t() * width, s.t() * width);
    }

    /** The rows of a [BT, width] array that hold positions, one after another. */
    private static double[] heldRows(double[] values, int width, Shape s) {
        double[] held = new double[Arrays.stream(s.ns()).sum() * width];
        int at = 0;
        for (int r = 0; r < s.rows(); r++) {
            if (s.holds(r)) {
                System.arraycopy(values, r * width, held, at, width);
                at += width;
            }
        }
        return held;
    }

    private static double[] nans(int length) {
        double[] values = new double[length];
        Arrays.fill(values, Double.NaN);
        return values;
    }

    private static double[] relu(double[] values) {
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.max(values[i], 0.0);
        }
        return values;
    }

    private static void roundToFloat(double[] values) {
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) values[i];
        }
    }

    private static double[] concat(double[] a, double[] b) {
        double[] joined = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }

    /** The transpose [cols, rows] of a row-major [rows, cols] matrix (Linear takes its weights as wT [in, out]). */
    private static double[] transpose(double[] matrix, int rows, int cols) {
        double[] transposed = new double[rows * cols];
        Linear.transpose(matrix, 0, transposed, 0, rows, cols);
        return transposed;
    }

    /** The rmsnorm scale [BT] of the rows of x [BT, C] that hold positions, as the forward kernel hands it on. */
    private static double[] forwardScale(double[] x, Shape s) {
        double[] scale = new double[s.rows()];
        for (int b = 0; b < s.b(); b++) {
            double[] docScale = new double[s.t()];
            RmsNorm.forward(doc(x, b, s.c(), s), 0, new double[s.t() * s.c()], 0, docScale, 0, s.n(b), s.c());
            place(scale, docScale, b, 1, s);
        }
        roundToFloat(scale);
        return scale;
    }

    /** Columns [from, from + width) of rows [0, rows) of a row-major array with the given row length. */
    private static double[] columns(double[] values, int rowLength, int from, int width, int rows) {
        double[] part = new double[rows * width];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(values, r * rowLength + from, part, r * width, width);
        }
        return part;
    }

    private static double[] lossSlots(int numSteps, int step, double loss) {
        double[] slots = nans(numSteps);
        slots[step] = loss;
        return slots;
    }

    /** The rows of a [BT, width] output that hold positions within {@link #TOLERANCE} of the twin; the rest NaN. */
    private static void assertWrittenRows(String what, double[] gpu, double[] cpu, int width, Shape s) {
        assertRows(what, gpu, cpu, nans(gpu.length), false, width, s);
    }

    /**
     * The rows of a [BT, width] output that hold positions within {@link #TOLERANCE} of the twin (relative to what was
     * added, for an accumulated output); the other rows exactly as {@code before}.
     */
    private static void assertRows(String what, double[] gpu, double[] cpu, double[] before, boolean accumulated,
                                   int width, Shape s) {
        double[] held = heldRows(gpu, width, s);
        assertClose(what, held, heldRows(cpu, width, s), accumulated ? heldRows(before, width, s) : null, 0,
                held.length, TOLERANCE);
        assertUnheldRows(what, gpu, before, width, s);
    }

    /** The rows of a [BT, width] output that hold no position exactly as they were before the launch. */
    private static void assertUnheldRows(String what, double[] gpu, double[] before, int width, Shape s) {
        for (int r = 0; r < s.rows(); r++) {
            if (!s.holds(r)) {
                assertUntouched(what + " (row " + r + ", no position)", gpu, before, r * width, (r + 1) * width);
            }
        }
    }

    /**
     * ||gpu - cpu|| / ||cpu - before|| over elements [from, to) at most {@code tolerance}; {@code before} null means
     * zero (an overwritten output), otherwise the values an accumulated output started from.
     */
    private static void assertClose(String what, double[] gpu, double[] cpu, double[] before, int from, int to,
                                    double tolerance) {
        assertTrue(from < to, what + ": nothing to compare");
        double error = 0;
        double reference = 0;
        for (int i = from; i < to; i++) {
            if (!Double.isFinite(gpu[i])) {
                fail(what + "[" + i + "] is " + gpu[i] + " on the GPU (cpu " + cpu[i] + "): not written, or computed from"
                        + " an input it must not read");
            }
            assertTrue(Double.isFinite(cpu[i]), what + "[" + i + "]: the twin gave " + cpu[i] + " (test bug)");
            double difference = gpu[i] - cpu[i];
            double added = before == null ? cpu[i] : cpu[i] - before[i];
            error += difference * difference;
            reference += added * added;
        }
        assertTrue(reference > 0, what + ": the twin's values are all zero, so the comparison would say nothing");
        double relative = Math.sqrt(error / reference);
        assertTrue(relative <= tolerance, String.format("%s: relative error %.3g > %.1g (elements [%d, %d)%s)", what,
                relative, tolerance, from, to, before == null ? "" : ", relative to what was accumulated"));
    }

    /** Elements [from, to) exactly as they were before the launch (NaN stays NaN). */
    private static void assertUntouched(String what, double[] gpu, double[] before, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Double.compare(gpu[i], before[i]) != 0) {
                fail(what + "[" + i + "] changed from " + before[i] + " to " + gpu[i]
                        + ", but the kernel must not write it (a row that holds no position, or an unused row)");
            }
        }
    }
}
