package dev.microgpt.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one owner of where every weight lives. All parameters sit in one flat array, tensor after tensor in
 * microgpt.py's state_dict order, each tensor row-major [rows, cols]:
 *
 * <pre>
 *   wte     [vocab, n_embd]
 *   wpe     [block_size, n_embd]
 *   lm_head [vocab, n_embd]
 *   for each layer i:
 *     layer{i}.attn_wq, attn_wk, attn_wv, attn_wo  [n_embd, n_embd]   (wq, wk, wv adjacent: one [3 n_embd, n_embd] block)
 *     layer{i}.mlp_fc1                              [4 n_embd, n_embd]
 *     layer{i}.mlp_fc2                              [n_embd, 4 n_embd]
 * </pre>
 *
 * The CPU engines, the GPU engine, weight initialisation and the checkpoint format all read offsets from here.
 */
public final class ParameterLayout {

    /** One named matrix inside the flat parameter array. */
    public record Tensor(String name, int rows, int cols, int offset) {
        public int size() {
            return rows * cols;
        }

        public int end() {
            return offset + size();
        }

        /** Flat index of element [row, col]. */
        public int at(int row, int col) {
            return offset + row * cols + col;
        }
    }

    /**
     * The weights of one transformer block; {@code attnQkv} is wq, wk and wv (adjacent) read as one
     * [3 n_embd, n_embd] block, {@code layer{i}.attn_qkv}, which the fused query-key-value projection uses.
     */
    public record Layer(Tensor attnWq, Tensor attnWk, Tensor attnWv, Tensor attnWo, Tensor mlpFc1, Tensor mlpFc2,
                        Tensor attnQkv) {

        Layer(Tensor attnWq, Tensor attnWk, Tensor attnWv, Tensor attnWo, Tensor mlpFc1, Tensor mlpFc2) {
            this(attnWq, attnWk, attnWv, attnWo, mlpFc1, mlpFc2, new Tensor(
                    attnWq.name().substring(0, attnWq.name().length() - "wq".length()) + "qkv",
                    3 * attnWq.rows(), attnWq.cols(), attnWq.offset()));
        }
    }

    private final ModelConfig config;
    private final Tensor wte;
    private final Tensor wpe;
    private final Tensor lmHead;
    private final List<Layer> layers;
    private final Map<String, Tensor> byName;
    private final List<Tensor> weightBlocks;
    private final int size;

    public ParameterLayout(ModelConfig config) {
        this.config = config;
        int c = config.nEmbd();
        Allocator alloc = new Allocator();
        this.wte = alloc.tensor("wte", config.vocabSize(), c);
        this.wpe = alloc.tensor("wpe", config.blockSize(), c);
        this.lmHead = alloc.tensor("lm_head", config.vocabSize(), c);
        List<Layer> blocks = new ArrayList<>();
        for (int i = 0; i < config.nLayer(); i++) {
            String p = "layer" + i + ".";
            blocks.add(new Layer(
                    alloc.tensor(p + "attn_wq", c, c),
                    alloc.tensor(p + "attn_wk", c, c),
                    alloc.tensor(p + "attn_wv", c, c),
                    alloc.tensor(p + "attn_wo", c, c),
                    alloc.tensor(p + "mlp_fc1", config.mlpHidden(), c),
                    alloc.tensor(p + "mlp_fc2", c, config.mlpHidden())));
        }
        this.layers = Collections.unmodifiableList(blocks);
        this.byName = Collections.unmodifiableMap(alloc.byName);
        List<Tensor> units = new ArrayList<>(List.of(wte, wpe, lmHead));
        for (Layer layer : layers) {
            units.addAll(List.of(layer.attnQkv(), layer.attnWo(), layer.mlpFc1(), layer.mlpFc2()));
        }
        this.weightBlocks = List.copyOf(units);
        this.size = alloc.next;
    }

    /** Hands out consecutive slices of the flat array, in the order asked for. */
    private static final class Allocator {
        final Map<String, Tensor> byName = new LinkedHashMap<>();
        int next;

        Tensor tensor(String name, int rows, int cols) {
            Tensor t = new Tensor(name, rows, cols, next);
            next = Math.addExact(next, Math.multiplyExact(rows, cols));
            byName.put(name, t);
            return t;
        }
    }

    public ModelConfig config() {
        return config;
    }

    public Tensor wte() {
        return wte;
    }

    public Tensor wpe() {
        return wpe;
    }

    public Tensor lmHead() {
        return lmHead;
    }

    public Layer layer(int i) {
        return layers.get(i);
    }

    public List<Layer> layers() {
        return layers;
    }

    /** Every tensor in layout (= initialisation = checkpoint) order. */
    public List<Tensor> tensors() {
        return List.copyOf(byName.values());
    }

    /**
     * The weight matrices as the engines update and address them: wte, wpe, lm_head, then per layer the fused
     * [3 n_embd, n_embd] query-key-value block ({@link Layer#attnQkv}), attn_wo, mlp_fc1, mlp_fc2; 3 + 4 n_layer of them.
     * The GPU's fused step indexes its weights in this order (kernels/step.cu), and the CPU's overlapped Adam updates
     * one block at a time as the backward finishes it.
     */
    public List<Tensor> weightBlocks() {
        return weightBlocks;
    }

    /** The tensor with this state_dict name, e.g. {@code layer0.attn_wq}. */
    public Tensor tensor(String name) {
        Tensor t = byName.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor named '" + name + "' in this layout; known: " + byName.keySet());
        }
        return t;
    }

    /** Total number of parameters (microgpt.py prints it as "num params"). */
    public int size() {
        return size;
    }
}
