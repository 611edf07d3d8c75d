package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.model.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

/**
 * The kernels of {@code kernels/*.cu}, loaded from what the build put on the classpath: the machine code for this GPU
 * where the build made it (pom.xml's cuda.sass, the H100's and H200's sm_90), else the PTX, which the driver compiles
 * for the GPU when it loads it (for seconds, unless its cache holds it). One typed builder per entry point. Shapes and
 * launch configurations follow kernels/README.md: B x T rows in every activation buffer (T = block_size), each
 * document's n_b read on the device from its step scalars. One library per process, loaded into the {@link PrimaryContext} and kept there.
 */
final class KernelLibrary {

    /** The kernel families, one module each. */
    static final List<String> FAMILIES = List.of("rmsnorm", "linear", "qkv", "attention", "crossentropy", "adam",
            "step");
    /**
     * Loaded when first used rather than up front: the fused step's module is large (the driver's JIT of it takes
     * seconds where its cache is cold), and only the fused mode needs it.
     */
    private static final String FUSED_FAMILY = "step";

    private static final int ROW_BLOCK = 128;   // row-per-warp kernels: 4 rows per block
    private static final int ROW_WARPS = ROW_BLOCK / 32;
    private static final int ITEM_BLOCK = 256;   // a thread per item (the embedding's gradients, Adam's parameters)
    private static final int CROSS_ENTROPY_BLOCK = 1024; // its one block: a warp per row, as many warps as can be
    /** Threads of a tiled-matmul block, which the tiles need exactly, and so the fused step: matmul.cuh's MM_THREADS. */
    static final int MATMUL_BLOCK = 256;
    /** Rows and columns of one matmul output tile: matmul.cuh's MM_TILE. */
    static final int TILE = 32;
    /** Dynamic shared memory a launch may use without cuFuncSetAttribute. */
    private static final int DEFAULT_SHARED_LIMIT = 48 * 1024;

    private final String architecture;        // the GPU's, as nvcc names it: sm_90
    private final Map<String, CUmodule> modules = new LinkedHashMap<>();
    private final Set<String> fromPtx = new TreeSet<>(); // the families loaded from PTX
    private String machineCodeRefused = "";              // the driver's answer to the first machine code it refused
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<List<Integer>, Integer> attentionSharedBytes = new HashMap<>(); // (C, H, T) -> bytes

    /**
     * Loads every family's module but the fused step's, so that a module the driver cannot load fails here; the
     * current context must be the primary one ({@link PrimaryContext#kernels}).
     */
    KernelLibrary(String architecture) {
        this.architecture = architecture;
        try {
            for (String family : FAMILIES) {
                if (!family.equals(FUSED_FAMILY)) {
                    module(family);
                }
            }
        } catch (RuntimeException e) {
            for (CUmodule module : modules.values()) {
                cuModuleUnload(module);
            }
            throw e;
        }
    }

    /**
     * A family's module: its machine code for this GPU where the build made it and the driver takes it, else its PTX.
     * Whatever the driver says to the machine code (NO_BINARY_FOR_GPU, as the emulated device says to all; a driver
     * older than the nvcc that made it), the PTX is tried next: where it fails too, its error says more (a driver too
     * old for its ISA), and where it loads, {@link #loading} says what became of the machine code.
     */
    private synchronized CUmodule module(String family) {
        return modules.computeIfAbsent(family, f -> {
            CUmodule module = new CUmodule();
            byte[] image = resource(f + "." + architecture + ".cubin", false);
            if (image != null) {
                int loaded = cuModuleLoadData(module, image);
                if (loaded == CUresult.CUDA_SUCCESS) {
                    return module;
                }
                if (machineCodeRefused.isEmpty()) {
                    machineCodeRefused = CUresult.stringFor(loaded);
                }
            }
            Cuda.check(cuModuleLoadData(module, ptx(f)), "cuModuleLoadData(" + f + ".ptx)");
            fromPtx.add(f);
            return module;
        });
    }

    /** Loads the modules not loaded yet, the fused step's among them. */
    void loadAll() {
        for (String family : FAMILIES) {
            module(family);
        }
    }

    /** How the modules loaded so far came: as machine code for this GPU, or as PTX the driver compiled, and why. */
    synchronized String loading() {
        String refused = machineCodeRefused.isEmpty() ? "" : " (the machine code refused: " + machineCodeRefused + ")";
        if (fromPtx.isEmpty()) {
            return "machine code for " + architecture;
        }
        return (fromPtx.size() == modules.size() ? "PTX, compiled by the driver for " + architecture
                : "machine code for " + architecture + ", but " + String.join(", ", fromPtx) + " from PTX") + refused;
    }

    /** The PTX text of a family, as the build wrote it. */
    static String ptx(String family) {
        return new String(resource(family + ".ptx", true), StandardCharsets.UTF_8);
    }

    /** A file the build put under /kernels on the class path; null where it is not there and not {@code required}. */
    private static byte[] resource(String name, boolean required) {
        String resource = "/kernels/" + name;
        try (InputStream in = KernelLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                if (!required) {
                    return null;
                }
                throw new CudaException("kernel module " + resource + " is not on the class path: the kernels were"
                        + " not built (build with nvcc on PATH, or -Dkernels.required=true to make that an error)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("cannot read " + resource + ": " + e.getMessage());
        }
    }

    synchronized CUfunction function(String family, String kernel) {
        return functions.computeIfAbsent(kernel, k -> {
            CUfunction f = new CUfunction();
            Cuda.check(cuModuleGetFunction(f, module(family), k), "cuModuleGetFunction(" + k + ")");
            return f;
        });
    }

    /** A row kernel over the step's B x T rows, a warp per row. */
    private Launch rows(String family, String kernel, DocumentSlots docs, Args args) {
        return new Launch(kernel, function(family, kernel), ceilDiv(docs.rows(), ROW_WARPS), 1, 1, ROW_BLOCK, 0,
                documents(args, docs).pointer());
    }

    /** The arguments every batched kernel ends with: T, then the documents' slots (kernels/common.cuh, Batch). */
    private static Args documents(Args args, DocumentSlots docs) {
        return args.i(docs.blockSize()).ptr(docs.slots()).i(docs.slotInts()).i(docs.documents());
    }

    /** emb [BT,C] = wte[tokens] + wpe; y [BT,C] = rmsnorm(emb); scale [BT]. */
    Launch embeddingRmsnormForward(CUdeviceptr emb, CUdeviceptr y, CUdeviceptr scale, CUdeviceptr wte,
                                   CUdeviceptr wpe, int c, DocumentSlots docs) {
        return rows("rmsnorm", "embedding_rmsnorm_forward", docs,
                new Args().ptr(emb).ptr(y).ptr(scale).ptr(wte).ptr(wpe).i(c));
    }

    /** y [BT,C] = rmsnorm(x [BT,C]); scale [BT]. */
    Launch rmsnormForward(CUdeviceptr y, CUdeviceptr scale, CUdeviceptr x, int c, DocumentSlots docs) {
        return rows("rmsnorm", "rmsnorm_forward", docs, new Args().ptr(y).ptr(scale).ptr(x).i(c));
    }

    /** dx [BT,C] (+)= rmsnorm backward of dy [BT,C] at x [BT,C] with scale [BT]. */
    Launch rmsnormBackward(CUdeviceptr dx, CUdeviceptr dy, CUdeviceptr x, CUdeviceptr scale, int c, boolean accumulate,
                           DocumentSlots docs) {
        return rows("rmsnorm", "rmsnorm_backward", docs,
                new Args().ptr(dx).ptr(dy).ptr(x).ptr(scale).i(c).i(accumulate ? 1 : 0));
    }

    /** dwte [V,C] += and dwpe [T,C] += the embedding's backward of dEmb [BT,C], summed over the batch in row order. */
    Launch embeddingBackward(CUdeviceptr dwte, CUdeviceptr dwpe, CUdeviceptr dEmb, int c, int v, DocumentSlots docs) {
        return new Launch("embedding_backward", function("rmsnorm", "embedding_backward"),
                ceilDiv((v + docs.blockSize()) * c, ITEM_BLOCK), 1, 1, ITEM_BLOCK, 0,
                documents(new Args().ptr(dwte).ptr(dwpe).ptr(dEmb).i(c).i(v), docs).pointer());
    }

    /** y [BT,out] = relu?(x [BT,in] w[out,in]^T) + residual [BT,out] (residual may be null, or y itself). */
    Launch linearForward(CUdeviceptr y, CUdeviceptr x, CUdeviceptr w, CUdeviceptr residual, int in, int out,
                         boolean relu, DocumentSlots docs) {
        return new Launch("linear_forward", function("linear", "linear_forward"), ceilDiv(out, TILE),
                ceilDiv(docs.rows(), TILE), 1, MATMUL_BLOCK, 0,
                documents(new Args().ptr(y).ptr(x).ptr(w).ptr(residual).i(in).i(out).i(relu ? 1 : 0), docs).pointer());
    }

    /** dx [BT,in] = dy w (dx may be null); dw [out,in] += dy^T x; dy masked by relu_out [BT,out] when given. */
    Launch linearBackward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dy, CUdeviceptr x, CUdeviceptr w,
                          CUdeviceptr reluOut, int in, int out, DocumentSlots docs) {
        return new Launch("linear_backward", function("linear", "linear_backward"), ceilDiv(in, TILE),
                ceilDiv(docs.rows(), TILE) + ceilDiv(out, TILE), 1, MATMUL_BLOCK, 0,
                documents(new Args().ptr(dx).ptr(dw).ptr(dy).ptr(x).ptr(w).ptr(reluOut).i(in).i(out), docs).pointer());
    }

    /** qkv [BT,3C] = x [BT,C] w[3C,C]^T, the fused wq|wk|wv block. */
    Launch qkvForward(CUdeviceptr qkv, CUdeviceptr x, CUdeviceptr w, int c, DocumentSlots docs) {
        return new Launch("qkv_forward", function("qkv", "qkv_forward"), ceilDiv(3 * c, TILE),
                ceilDiv(docs.rows(), TILE), 1, MATMUL_BLOCK, 0,
                documents(new Args().ptr(qkv).ptr(x).ptr(w).i(c), docs).pointer());
    }

    /** dx [BT,C] = dqkv w; dw [3C,C] += dqkv^T x. */
    Launch qkvBackward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dqkv, CUdeviceptr x, CUdeviceptr w, int c,
                       DocumentSlots docs) {
        return new Launch("qkv_backward", function("qkv", "qkv_backward"), ceilDiv(c, TILE),
                ceilDiv(docs.rows(), TILE) + ceilDiv(3 * c, TILE), 1, MATMUL_BLOCK, 0,
                documents(new Args().ptr(dx).ptr(dw).ptr(dqkv).ptr(x).ptr(w).i(c), docs).pointer());
    }

    /** out [BT,C] and probs [B,H,T,T] of causal attention within each document over qkv [BT,3C]. */
    Launch attentionForward(CUdeviceptr out, CUdeviceptr probs, CUdeviceptr qkv, int c, int h, DocumentSlots docs) {
        return new Launch("attention_forward", function("attention", "attention_forward"),
                ceilDiv(docs.rows(), ROW_WARPS), h, 1, ROW_BLOCK, attentionShared(c, h, docs.blockSize()),
                documents(new Args().ptr(out).ptr(probs).ptr(qkv).i(c).i(h), docs).pointer());
    }

    /** dqkv [BT,3C] = attention backward of dout [BT,C]. */
    Launch attentionBackward(CUdeviceptr dqkv, CUdeviceptr dout, CUdeviceptr qkv, CUdeviceptr probs, CUdeviceptr out,
                             int c, int h, DocumentSlots docs) {
        return new Launch("attention_backward", function("attention", "attention_backward"),
                ceilDiv(docs.rows(), ROW_WARPS), h, 2, ROW_BLOCK, attentionShared(c, h, docs.blockSize()),
                documents(new Args().ptr(dqkv).ptr(dout).ptr(qkv).ptr(probs).ptr(out).i(c).i(h), docs).pointer());
    }

    /**
     * dlogits [BT,V] (may be logits) and losses[step], the mean of the documents' mean losses, from logits [BT,V];
     * each document's dlogits weighted 1 / B.
     */
    Launch crossEntropy(CUdeviceptr dLogits, CUdeviceptr losses, CUdeviceptr logits, int v, DocumentSlots docs) {
        return new Launch("crossentropy_forward_backward", function("crossentropy", "crossentropy_forward_backward"),
                1, 1, 1, CROSS_ENTROPY_BLOCK, 0,
                documents(new Args().ptr(dLogits).ptr(losses).ptr(logits).i(v), docs).pointer());
    }

    /** Adam over params/grads/m/v [P], the step read from ss; zeroes grads. */
    Launch adam(CUdeviceptr params, CUdeviceptr grads, CUdeviceptr m, CUdeviceptr v, int count, double lr, double beta1,
                double beta2, double eps, CUdeviceptr ss) {
        return new Launch("adam_update", function("adam", "adam_update"), ceilDiv(count, ITEM_BLOCK), 1, 1,
                ITEM_BLOCK, 0,
                new Args().ptr(params).ptr(grads).ptr(m).ptr(v).i(count).d(lr).d(beta1).d(beta2).d(eps).ptr(ss).pointer());
    }

    /**
     * The fused step's two sizes in floats, [0] its workspace and [1] its shared scratch per block, as the kernels
     * compute them (train_step_fused_sizes, kernels/step.cu), so the carving of the workspace has one owner.
     */
    long[] fusedStepSizes(GpuContext gpu, ModelConfig cfg) {
        try (DeviceArray sizes = new DeviceArray("fused_sizes", 4)) {
            new Launch("train_step_fused_sizes", function(FUSED_FAMILY, "train_step_fused_sizes"), 1, 1, 1, 1, 0,
                    shape(new Args().ptr(sizes.at(0)), cfg).pointer()).enqueue(gpu.stream());
            gpu.synchronize("train_step_fused_sizes");
            long[] result = new long[2];
            sizes.download(result);
            return result;
        }
    }

    /** The model's shape as the fused kernels take it: C, F, H, L, T, V. */
    private static Args shape(Args args, ModelConfig cfg) {
        return args.i(cfg.nEmbd()).i(cfg.mlpHidden()).i(cfg.nHead()).i(cfg.nLayer()).i(cfg.blockSize())
                .i(cfg.vocabSize());
    }

    /**
     * Lets the fused step use {@code bytes} of dynamic shared memory (beyond the default 48 KiB only after
     * cuFuncSetAttribute), and returns how many of its blocks one multiprocessor then holds at once.
     */
    int fusedStepBlocksPerMultiprocessor(int sharedBytes) {
        CUfunction f = function(FUSED_FAMILY, "train_step_fused");
        if (sharedBytes > DEFAULT_SHARED_LIMIT) {
            Cuda.check(cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    sharedBytes), "cuFuncSetAttribute(train_step_fused, max dynamic shared memory " + sharedBytes
                    + " bytes)");
        }
        int[] blocks = {0};
        Cuda.check(cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, f, MATMUL_BLOCK, sharedBytes),
                "cuOccupancyMaxActiveBlocksPerMultiprocessor(train_step_fused)");
        return blocks[0];
    }

    /**
     * {@code steps} training steps in one launch (kernels/step.cu): each forward, loss into losses[step], backward,
     * then Adam when {@code update}, else the gradients stay in grads. Step k's documents are the B slots from slot
     * k x B of {@code docs}. workspace null: the activations live in shared memory. blockGrads [blocks, P] and
     * blockLosses [blocks], zeroed, for documents side by side (B > 1); null for one document, the grid together.
     */
    Launch fusedStep(int blocks, int sharedBytes, TrainingState state, CUdeviceptr losses, CUdeviceptr tensorOffsets,
                     CUdeviceptr workspace, CUdeviceptr blockGrads, CUdeviceptr blockLosses, ModelConfig cfg,
                     int numParams, AdamConfig adam, boolean update, int steps, DocumentSlots docs) {
        Pointer args = shape(new Args().ptr(state.params().at(0)).ptr(state.grads().at(0)).ptr(state.adamM().at(0))
                .ptr(state.adamV().at(0)).ptr(losses).ptr(tensorOffsets).ptr(workspace).ptr(blockGrads)
                .ptr(blockLosses), cfg).i(numParams).d(adam.learningRate()).d(adam.beta1()).d(adam.beta2())
                .d(adam.eps()).i(update ? 1 : 0).i(steps).ptr(docs.slots()).i(docs.slotInts()).i(docs.documents())
                .pointer();
        CUfunction f = function(FUSED_FAMILY, "train_step_fused");
        return blocks == 1 ? new Launch("train_step_fused", f, 1, 1, 1, MATMUL_BLOCK, sharedBytes, args)
                : Launch.cooperative("train_step_fused", f, blocks, MATMUL_BLOCK, sharedBytes, args);
    }

    /**
     * The attention kernels' dynamic shared memory for this shape, in bytes, as attention.cu computes it
     * (attention_shared_bytes): asked once per shape, on the legacy stream, when the step's launches are built.
     */
    private synchronized int attentionShared(int c, int h, int t) {
        return attentionSharedBytes.computeIfAbsent(List.of(c, h, t), shape -> {
            long[] bytes = new long[1];
            try (DeviceArray answer = new DeviceArray("attention_shared_bytes", 2)) {
                new Launch("attention_shared_bytes", function("attention", "attention_shared_bytes"), 1, 1, 1, 1, 0,
                        new Args().ptr(answer.at(0)).i(c).i(h).i(t).i(ROW_WARPS).pointer()).enqueue(new CUstream());
                answer.download(bytes); // synchronous: after the legacy stream's launch
            }
            if (bytes[0] > DEFAULT_SHARED_LIMIT) {
                throw new CudaException("attention needs " + bytes[0] + " bytes of shared memory per block for"
                        + " block_size " + t + ", over the 48 KiB limit; use a smaller --block-size");
            }
            return (int) bytes[0];
        });
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** A kernel's argument list, in order; a null device pointer passes NULL. */
    private static final class Args {
        private final List<Pointer> values = new ArrayList<>();

        Args ptr(CUdeviceptr p) {
            values.add(Pointer.to(p == null ? new CUdeviceptr() : p));
            return this;
        }

        Args i(int value) {
            values.add(Pointer.to(new int[] {value}));
            return this;
        }

        Args d(double value) {
            values.add(Pointer.to(new double[] {value}));
            return this;
        }

        Pointer pointer() {
            return Pointer.to(values.toArray(new Pointer[0]));
        }
    }
}
