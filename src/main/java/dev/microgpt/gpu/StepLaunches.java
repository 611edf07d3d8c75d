package dev.microgpt.gpu;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * A training step's forward and backward as one operation per kernel launch (or cuBLAS call), in the launch order of
 * kernels/README.md ("One training step"), with the activations they work on. Every operation is built once, bound
 * to its buffers and to the step's input on the device, and issued again at every step; the eager and graph modes
 * issue this list, each in its way.
 */
final class StepLaunches implements AutoCloseable {

    private final NativeResources resources = new NativeResources();
    private final KernelLibrary kernels;
    private final DocumentSlots docs;
    private final long rows; // B x T, the rows of every activation
    private final int vocab;
    private final List<StepOp> operations = new ArrayList<>();
    private final DeviceArray logits; // [BT, V], dlogits in place
    private final int crossEntropyIndex; // where the cross-entropy launch, bound to the losses array, sits

    /**
     * Allocates the activations for the step's B documents and binds every operation; the linear layers without a
     * fused ReLU go through {@code gemm} (cuBLAS through a handle on {@code stream}, owned here; one document a step
     * only, as the engine checks), mlp_fc1 is always the hand kernel.
     */
    StepLaunches(KernelLibrary kernels, ParameterLayout layout, TrainingState state, StepInput input, GemmBackend gemm,
                 CUstream stream, DeviceArray losses) {
        this.kernels = kernels;
        this.docs = input.documents();
        this.rows = docs.rows();
        ModelConfig cfg = layout.config();
        this.vocab = cfg.vocabSize();
        try {
            LinearLayers linear = gemm == GemmBackend.cublas ? resources.own(new CublasGemm(stream))
                    : new HandLinearLayers(kernels, docs);
            this.logits = array("logits", rows * vocab);
            this.crossEntropyIndex = build(cfg, layout, state, linear, losses);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private DeviceArray array(String name, long length) {
        return resources.own(new DeviceArray(name, length));
    }

    /** Builds the operations and returns where the cross-entropy launch is among them. */
    private int build(ModelConfig cfg, ParameterLayout layout, TrainingState s, LinearLayers linear,
                      DeviceArray losses) {
        int c = cfg.nEmbd();
        int f = cfg.mlpHidden();
        int h = cfg.nHead();
        int layers = cfg.nLayer();
        int t = cfg.blockSize();
        DeviceArray emb = array("emb", rows * c);
        DeviceArray embScale = array("emb_scale", rows);
        DeviceArray[] stream = new DeviceArray[layers + 1];
        for (int i = 0; i <= layers; i++) {
            stream[i] = array("stream" + i, rows * c);
        }
        DeviceArray dStream = array("d_stream", rows * c);
        DeviceArray dNorm = array("d_norm", rows * c);
        DeviceArray dHidden = array("d_hidden", rows * f);
        DeviceArray dAttnOut = array("d_attn_out", rows * c);
        DeviceArray dQkv = array("d_qkv", rows * 3 * c);

        List<StepOp> backward = new ArrayList<>();
        operations.add(kernels.embeddingRmsnormForward(emb.at(0), stream[0].at(0), embScale.at(0),
                s.weight(layout.wte()), s.weight(layout.wpe()), c, docs));
        for (int i = 0; i < layers; i++) {
            ParameterLayout.Layer w = layout.layer(i);
            String p = "layer" + i + ".";
            DeviceArray attnNorm = array(p + "attn_norm", rows * c);
            DeviceArray attnScale = array(p + "attn_scale", rows);
            DeviceArray qkv = array(p + "qkv", rows * 3 * c);
            DeviceArray probs = array(p + "probs", rows * h * t); // [B, H, T, T]
            DeviceArray attnOut = array(p + "attn_out", rows * c);
            DeviceArray mid = array(p + "mid", rows * c);
            DeviceArray mlpNorm = array(p + "mlp_norm", rows * c);
            DeviceArray mlpScale = array(p + "mlp_scale", rows);
            DeviceArray hidden = array(p + "hidden", rows * f);
            CUdeviceptr wQkv = s.params().at(w.attnQkv().offset());
            CUdeviceptr dwQkv = s.grads().at(w.attnQkv().offset());

            operations.add(kernels.rmsnormForward(attnNorm.at(0), attnScale.at(0), stream[i].at(0), c, docs));
            operations.addAll(linear.qkvForward(qkv.at(0), attnNorm.at(0), wQkv, c));
            operations.add(kernels.attentionForward(attnOut.at(0), probs.at(0), qkv.at(0), c, h, docs));
            operations.addAll(linear.forward(mid.at(0), attnOut.at(0), s.weight(w.attnWo()), stream[i].at(0), c, c));
            operations.add(kernels.rmsnormForward(mlpNorm.at(0), mlpScale.at(0), mid.at(0), c, docs));
            // mlp_fc1 stays the hand kernel with any backend: its ReLU is fused into the kernel's epilogue.
            operations.add(kernels.linearForward(hidden.at(0), mlpNorm.at(0), s.weight(w.mlpFc1()), null, c, f, true,
                    docs));
            operations.addAll(linear.forward(stream[i + 1].at(0), hidden.at(0), s.weight(w.mlpFc2()), mid.at(0), f,
                    c));

            // This block's backward, to run in reverse block order after the loss.
            List<StepOp> block = new ArrayList<>(linear.backward(dHidden.at(0), s.gradient(w.mlpFc2()), dStream.at(0),
                    hidden.at(0), s.weight(w.mlpFc2()), f, c));
            block.add(kernels.linearBackward(dNorm.at(0), s.gradient(w.mlpFc1()), dHidden.at(0), mlpNorm.at(0),
                    s.weight(w.mlpFc1()), hidden.at(0), c, f, docs));
            block.add(kernels.rmsnormBackward(dStream.at(0), dNorm.at(0), mid.at(0), mlpScale.at(0), c, true, docs));
            block.addAll(linear.backward(dAttnOut.at(0), s.gradient(w.attnWo()), dStream.at(0), attnOut.at(0),
                    s.weight(w.attnWo()), c, c));
            block.add(kernels.attentionBackward(dQkv.at(0), dAttnOut.at(0), qkv.at(0), probs.at(0), attnOut.at(0), c, h,
                    docs));
            block.addAll(linear.qkvBackward(dNorm.at(0), dwQkv, dQkv.at(0), attnNorm.at(0), wQkv, c));
            block.add(kernels.rmsnormBackward(dStream.at(0), dNorm.at(0), stream[i].at(0), attnScale.at(0), c, true,
                    docs));
            backward.addAll(0, block);
        }
        operations.addAll(linear.forward(logits.at(0), stream[layers].at(0), s.weight(layout.lmHead()), null, c,
                vocab));
        int lossIndex = operations.size();
        operations.add(crossEntropy(losses));
        operations.addAll(linear.backward(dStream.at(0), s.gradient(layout.lmHead()), logits.at(0),
                stream[layers].at(0), s.weight(layout.lmHead()), c, vocab));
        operations.addAll(backward);
        // The embedding: d(emb) through the first norm, then summed into dwte and dwpe in a fixed order.
        operations.add(kernels.rmsnormBackward(dNorm.at(0), dStream.at(0), emb.at(0), embScale.at(0), c, false, docs));
        operations.add(kernels.embeddingBackward(s.gradient(layout.wte()), s.gradient(layout.wpe()), dNorm.at(0), c,
                vocab, docs));
        return lossIndex;
    }

    /** The loss and dlogits (in place of the logits), each step's loss into losses[step]. */
    private Launch crossEntropy(DeviceArray losses) {
        return kernels.crossEntropy(logits.at(0), losses.at(0), logits.at(0), vocab, docs);
    }

    /** Binds the cross-entropy launch to a new losses array. */
    void bindLosses(DeviceArray losses) {
        operations.set(crossEntropyIndex, crossEntropy(losses));
    }

    /** Issues every operation for a step of {@code positions}. */
    void enqueue(CUstream stream, int positions) {
        for (int i = 0; i < operations.size(); i++) { // indexed: no iterator allocated per step
            operations.get(i).enqueue(stream, positions);
        }
    }

    /** The operations, in order (a copy). */
    List<StepOp> operations() {
        return new ArrayList<>(operations);
    }

    int size() {
        return operations.size();
    }

    /** Whether what some operation issues depends on the step's positions (cuBLAS calls take n from the host). */
    boolean dependOnPositions() {
        return operations.stream().anyMatch(StepOp::dependsOnPositions);
    }

    @Override
    public void close() {
        resources.close();
    }
}
