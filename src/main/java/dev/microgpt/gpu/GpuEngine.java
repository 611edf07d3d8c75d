package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * Trains on an NVIDIA GPU with the hand-written kernels of {@code kernels/}, in float32, in one of three
 * {@link GpuMode}s: one launch per kernel (6 + 14 n_layer launches a step, with cuBLAS for the linear layers without a
 * fused ReLU if asked, {@link GemmBackend}), the same launches replayed as a CUDA graph, or one fused kernel per step
 * or per K steps ({@link FusedStep}).
 * Parameters, gradients and Adam's moments live on the device in exactly the {@link ParameterLayout}; the initial
 * weights come from the host, so a GPU run starts from the same weights as a CPU run of the same seed.
 *
 * <p>Nothing on the hot path waits for the device: a step's tokens and its scalars (step, positions, num_steps) go
 * up by one asynchronous copy from a pinned staging slot into a fixed device buffer, so every kernel launch keeps the
 * arguments it was built with (cuBLAS calls alone take the positions from the host, so with cuBLAS graph mode keeps a
 * graph per document length); each step's loss stays in a device array and comes back with the others of its batch
 * when {@link #collectLosses} is called.
 */
public final class GpuEngine implements TrainingEngine {

    /** Steps submitted between loss collections (the trainer's batch). */
    public static final int LOSS_BATCH = 256;
    private static final int SCALARS = 4; // StepScalars: step, positions, num_steps, reserved

    private final ParameterLayout layout;
    private final GpuOptions options;
    private final int t;             // rows of every activation buffer (block_size)
    private final int tokenSlot;     // ints per staging slot: T + 1 tokens, then the scalars
    private final NativeResources resources = new NativeResources();
    private final GpuContext gpu;
    private final KernelLibrary kernels;
    private final FusedStep fused;     // fused: the one-launch step (null in the other modes)

    private final DeviceArray params; // [P] float
    private final DeviceArray grads;  // [P] float, zero between steps (Adam clears it)
    private final DeviceArray adamM;  // [P]
    private final DeviceArray adamV;  // [P]
    private final DeviceArray stepInput; // [steps per launch][T + 1 + 4] int: a step's tokens, then its StepScalars
    private final CUdeviceptr tokens;  // [T + 1] int, stepInput's first slot
    private final CUdeviceptr scalars; // [4] int, StepScalars, stepInput's first slot
    private final PinnedInts staging;  // [LOSS_BATCH][T + 1 + 4], slots as stepInput's
    private final jcuda.Pointer[] stagingSlots; // [LOSS_BATCH]: each slot's host address, made once (a step allocates nothing)
    private final PinnedInts lossesHost; // [LOSS_BATCH] float
    private final jcuda.Pointer lossesHostAddress; // lossesHost's element 0, made once
    private final float[] hostScratch; // [P], for moving state to and from the host

    private final List<StepOp> forwardAndBackward = new ArrayList<>();
    private final StepGraphs stepGraphs; // graph mode: the captured steps, dropped when a launch they hold is rebuilt
    private DeviceArray losses;       // [capacity] float: losses[step]
    private DeviceArray logits;       // [T, V], dlogits in place
    private Launch adamLaunch;
    private AdamConfig adamFor;
    private Launch[] trainingLaunches; // fused: [k] runs k staged steps with Adam, bound to losses and adamFor; lazily
    private Launch gradientsLaunch;    // fused: one step without Adam, for forwardBackward
    private int crossEntropyIndex;    // where the cross-entropy launch sits in forwardAndBackward
    private int pending;              // steps submitted since the last collection
    private int launched;             // fused: of those, the ones issued (steps wait to fill a launch)
    private int firstPendingStep;
    private boolean gradientsZero = true;
    private boolean closed;

    public GpuEngine(ParameterLayout layout, double[] initialParams) {
        this(layout, initialParams, GpuMode.eager);
    }

    public GpuEngine(ParameterLayout layout, double[] initialParams, GpuMode mode) {
        this(layout, initialParams, new GpuOptions(mode, GemmBackend.hand));
    }

    /** Where cuBLAS is asked for but cannot load ({@link CublasSupport}), a CudaException gives the reason. */
    public GpuEngine(ParameterLayout layout, double[] initialParams, GpuOptions options) {
        this.layout = layout;
        this.options = options;
        ModelConfig cfg = layout.config();
        this.t = cfg.blockSize();
        this.tokenSlot = t + 1 + SCALARS;
        this.gpu = own(new GpuContext());
        try {
            this.kernels = gpu.kernels();
            int p = layout.size();
            params = array("params", p);
            grads = array("grads", p);
            adamM = array("adam_m", p);
            adamV = array("adam_v", p);
            stepInput = array("step_input", (long) options.stepsPerLaunch() * tokenSlot);
            tokens = stepInput.at(0);
            scalars = stepInput.at(t + 1);
            staging = own(new PinnedInts("staging", LOSS_BATCH * tokenSlot));
            stagingSlots = new jcuda.Pointer[LOSS_BATCH];
            for (int slot = 0; slot < LOSS_BATCH; slot++) {
                stagingSlots[slot] = staging.at(slot * tokenSlot);
            }
            lossesHost = own(new PinnedInts("losses_host", LOSS_BATCH));
            lossesHostAddress = lossesHost.at(0);
            losses = array("losses", LOSS_BATCH); // grown by ensureLossCapacity for longer runs
            hostScratch = new float[p];
            zero(grads);
            zero(adamM);
            zero(adamV);
            writeParameters(initialParams);
            if (options.mode() == GpuMode.fused) {
                fused = own(new FusedStep(gpu, kernels, layout, options.fusedBlocks(),
                        new FusedStep.Buffers(params, grads, adamM, adamV, tokens, scalars, tokenSlot)));
                bindFused();
            } else {
                fused = null;
                // hand kernels, or cuBLAS through a handle owned here
                buildStep(cfg, options.gemm() == GemmBackend.cublas ? own(new CublasGemm(gpu.stream()))
                        : new HandLinearLayers(kernels, t, scalars));
            }
            stepGraphs = own(new StepGraphs(t, forwardAndBackward.stream().anyMatch(StepOp::dependsOnPositions)));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private <R extends AutoCloseable> R own(R resource) {
        return resources.own(resource);
    }

    private DeviceArray array(String name, long length) {
        return own(new DeviceArray(name, length));
    }

    private CUdeviceptr weight(ParameterLayout.Tensor tensor) {
        return params.at(tensor.offset());
    }

    private CUdeviceptr gradient(ParameterLayout.Tensor tensor) {
        return grads.at(tensor.offset());
    }

    /**
     * Allocates the activations and binds every operation of forward and backward (kernels/README.md, "One training
     * step"); the linear layers without a fused ReLU come from {@code linear}, mlp_fc1 is always the hand kernel.
     */
    private void buildStep(ModelConfig cfg, LinearLayers linear) {
        int c = cfg.nEmbd();
        int f = cfg.mlpHidden();
        int v = cfg.vocabSize();
        int h = cfg.nHead();
        int layers = cfg.nLayer();
        CUdeviceptr ss = scalars;
        CUdeviceptr tok = tokens;
        DeviceArray emb = array("emb", (long) t * c);
        DeviceArray embScale = array("emb_scale", t);
        DeviceArray[] stream = new DeviceArray[layers + 1];
        for (int i = 0; i <= layers; i++) {
            stream[i] = array("stream" + i, (long) t * c);
        }
        logits = array("logits", (long) t * v);
        DeviceArray dStream = array("d_stream", (long) t * c);
        DeviceArray dNorm = array("d_norm", (long) t * c);
        DeviceArray dHidden = array("d_hidden", (long) t * f);
        DeviceArray dAttnOut = array("d_attn_out", (long) t * c);
        DeviceArray dQkv = array("d_qkv", (long) t * 3 * c);

        List<StepOp> backward = new ArrayList<>();
        forwardAndBackward.add(kernels.embeddingRmsnormForward(emb.at(0), stream[0].at(0), embScale.at(0), tok,
                weight(layout.wte()), weight(layout.wpe()), c, t, ss));
        for (int i = 0; i < layers; i++) {
            ParameterLayout.Layer w = layout.layer(i);
            String p = "layer" + i + ".";
            DeviceArray attnNorm = array(p + "attn_norm", (long) t * c);
            DeviceArray attnScale = array(p + "attn_scale", t);
            DeviceArray qkv = array(p + "qkv", (long) t * 3 * c);
            DeviceArray probs = array(p + "probs", (long) h * t * t);
            DeviceArray attnOut = array(p + "attn_out", (long) t * c);
            DeviceArray mid = array(p + "mid", (long) t * c);
            DeviceArray mlpNorm = array(p + "mlp_norm", (long) t * c);
            DeviceArray mlpScale = array(p + "mlp_scale", t);
            DeviceArray hidden = array(p + "hidden", (long) t * f);
            CUdeviceptr wQkv = params.at(w.qkvOffset());
            CUdeviceptr dwQkv = grads.at(w.qkvOffset());

            forwardAndBackward.add(kernels.rmsnormForward(attnNorm.at(0), attnScale.at(0), stream[i].at(0), c, t, ss));
            forwardAndBackward.addAll(linear.qkvForward(qkv.at(0), attnNorm.at(0), wQkv, c));
            forwardAndBackward.add(kernels.attentionForward(attnOut.at(0), probs.at(0), qkv.at(0), c, h, t, ss));
            forwardAndBackward.addAll(linear.forward(mid.at(0), attnOut.at(0), weight(w.attnWo()), stream[i].at(0), c,
                    c));
            forwardAndBackward.add(kernels.rmsnormForward(mlpNorm.at(0), mlpScale.at(0), mid.at(0), c, t, ss));
            // mlp_fc1 stays the hand kernel with any backend: its ReLU is fused into the kernel's epilogue.
            forwardAndBackward.add(kernels.linearForward(hidden.at(0), mlpNorm.at(0), weight(w.mlpFc1()), null, c, f,
                    true, t, ss));
            forwardAndBackward.addAll(linear.forward(stream[i + 1].at(0), hidden.at(0), weight(w.mlpFc2()), mid.at(0),
                    f, c));

            // This block's backward, to run in reverse block order after the loss.
            List<StepOp> block = new ArrayList<>(linear.backward(dHidden.at(0), gradient(w.mlpFc2()), dStream.at(0),
                    hidden.at(0), weight(w.mlpFc2()), f, c));
            block.add(kernels.linearBackward(dNorm.at(0), gradient(w.mlpFc1()), dHidden.at(0), mlpNorm.at(0),
                    weight(w.mlpFc1()), hidden.at(0), c, f, t, ss));
            block.add(kernels.rmsnormBackward(dStream.at(0), dNorm.at(0), mid.at(0), mlpScale.at(0), c, true, t, ss));
            block.addAll(linear.backward(dAttnOut.at(0), gradient(w.attnWo()), dStream.at(0), attnOut.at(0),
                    weight(w.attnWo()), c, c));
            block.add(kernels.attentionBackward(dQkv.at(0), dAttnOut.at(0), qkv.at(0), probs.at(0), attnOut.at(0), c, h,
                    t, ss));
            block.addAll(linear.qkvBackward(dNorm.at(0), dwQkv, dQkv.at(0), attnNorm.at(0), wQkv, c));
            block.add(kernels.rmsnormBackward(dStream.at(0), dNorm.at(0), stream[i].at(0), attnScale.at(0), c, true, t,
                    ss));
            backward.addAll(0, block);
        }
        forwardAndBackward.addAll(linear.forward(logits.at(0), stream[layers].at(0), weight(layout.lmHead()), null, c,
                v));
        crossEntropyIndex = forwardAndBackward.size(); // replaced when the losses array grows
        forwardAndBackward.add(crossEntropy());
        forwardAndBackward.addAll(linear.backward(dStream.at(0), gradient(layout.lmHead()), logits.at(0),
                stream[layers].at(0), weight(layout.lmHead()), c, v));
        forwardAndBackward.addAll(backward);
        forwardAndBackward.add(kernels.rmsnormEmbeddingBackward(gradient(layout.wte()), gradient(layout.wpe()),
                dStream.at(0), emb.at(0), embScale.at(0), tok, c, t, ss));
    }

    /** The loss and dlogits (in place of the logits), each step's loss into losses[step]. */
    private Launch crossEntropy() {
        return kernels.crossEntropy(logits.at(0), losses.at(0), logits.at(0), tokens, layout.config().vocabSize(), t,
                scalars);
    }

    /** The device loss array holds losses[step] for every step of the schedule. */
    private void ensureLossCapacity(int numSteps) {
        if (losses.length() >= numSteps) {
            return;
        }
        if (pending > 0) {
            throw new IllegalStateException("num_steps grew to " + numSteps + " with " + pending
                    + " steps' losses not yet collected; collect them first");
        }
        gpu.synchronize("the steps that wrote the previous loss array");
        resources.release(losses);
        losses = array("losses", numSteps);
        dropGraph();
        if (fused != null) {
            bindFused();
        } else {
            forwardAndBackward.set(crossEntropyIndex, crossEntropy());
        }
    }

    private void ensureAdam(AdamConfig adam) {
        if (!adam.equals(adamFor)) {
            if (fused != null) {
                launchStaged(); // steps already submitted keep the Adam settings they were submitted with
            }
            adamLaunch = kernels.adam(params.at(0), grads.at(0), adamM.at(0), adamV.at(0), layout.size(),
                    adam.learningRate(), adam.beta1(), adam.beta2(), adam.eps(), scalars);
            adamFor = adam;
            dropGraph();
            if (fused != null) {
                bindFused();
            }
        }
    }

    /** The fused launches carry the losses array and Adam's hyper-parameters, so they follow both. */
    private void bindFused() {
        // Before the first training step there is no Adam yet; the gradients-only launch ignores its arguments.
        AdamConfig adam = adamFor != null ? adamFor : AdamConfig.MICROGPT;
        trainingLaunches = new Launch[options.stepsPerLaunch() + 1];
        gradientsLaunch = fused.bind(losses, adam, false, 1);
    }

    /** The fused launch of {@code steps} staged steps (built when first needed: the arguments are allocated once). */
    private Launch trainingLaunch(int steps) {
        if (trainingLaunches[steps] == null) {
            trainingLaunches[steps] = fused.bind(losses, adamFor, true, steps);
        }
        return trainingLaunches[steps];
    }

    /** Issues the submitted steps not yet issued as one fused launch, after one copy of their staged slots. */
    private void launchStaged() {
        int steps = pending - launched;
        if (steps > 0) {
            copyUp(launched, steps);
            trainingLaunch(steps).enqueue(gpu.stream());
            launched = pending;
        }
    }

    private void dropGraph() {
        if (!stepGraphs.isEmpty()) {
            gpu.synchronize("the steps of the graphs being replaced");
            stepGraphs.clear();
        }
    }

    /** The whole step's operations in order: forward, loss, backward, Adam. */
    private List<StepOp> stepOps() {
        List<StepOp> step = new ArrayList<>(forwardAndBackward);
        step.add(adamLaunch);
        return step;
    }

    /**
     * Driver calls the engine issues per training step: the staging copy, then its operations (kernel launches, and
     * with cuBLAS the residual copies and one call per GEMM, however many kernels cuBLAS runs for it), or one graph
     * launch; or, fused, one copy and one launch for every {@code --steps-per-launch} steps (at least: a batch whose
     * steps K does not divide ends in a shorter launch when its losses are collected).
     */
    public double launchesPerStep() {
        return switch (options.mode()) {
            case eager -> 1 + forwardAndBackward.size() + 1;
            case graph -> 2;
            case fused -> 2.0 / options.stepsPerLaunch();
        };
    }

    /** How the mode runs here, for reports: the fused step's grid and where its activations live; else empty. */
    public String modeDetail() {
        if (fused == null) {
            return "";
        }
        return fused.blocks() + (fused.blocks() == 1 ? " block" : " blocks (cooperative)") + ", activations in "
                + (fused.onChip() ? "shared" : "global") + " memory";
    }

    /**
     * Runs one training step with an event pair around every operation (kernel launch, cuBLAS call, copy) and returns
     * each one's GPU time in milliseconds, in issue order: what the GPU is busy with in a step, apart from the
     * overhead of issuing it.
     */
    public float[] profileStep(int[] doc, int positions, AdamConfig adam, int step, int numSteps) {
        gpu.makeCurrent();
        requireNothingPending();
        ensureLossCapacity(numSteps);
        ensureAdam(adam);
        clearGradientsIfNeeded();
        stageHost(0, doc, positions, step, numSteps);
        copyUp(0, 1);
        List<StepOp> ops = fused != null ? List.of(trainingLaunch(1)) : stepOps();
        jcuda.driver.CUevent[] events = new jcuda.driver.CUevent[2 * ops.size()];
        try {
            for (int i = 0; i < events.length; i++) {
                events[i] = new jcuda.driver.CUevent();
                Cuda.check(jcuda.driver.JCudaDriver.cuEventCreate(events[i], 0), "cuEventCreate");
            }
            for (int i = 0; i < ops.size(); i++) {
                Cuda.check(jcuda.driver.JCudaDriver.cuEventRecord(events[2 * i], gpu.stream()), "cuEventRecord");
                ops.get(i).enqueue(gpu.stream(), positions);
                Cuda.check(jcuda.driver.JCudaDriver.cuEventRecord(events[2 * i + 1], gpu.stream()), "cuEventRecord");
            }
            gpu.synchronize("a profiled step");
            float[] millis = new float[ops.size()];
            float[] elapsed = new float[1];
            for (int i = 0; i < millis.length; i++) {
                Cuda.check(jcuda.driver.JCudaDriver.cuEventElapsedTime(elapsed, events[2 * i], events[2 * i + 1]),
                        "cuEventElapsedTime");
                millis[i] = elapsed[0];
            }
            return millis;
        } finally {
            for (jcuda.driver.CUevent e : events) {
                if (e != null) {
                    jcuda.driver.JCudaDriver.cuEventDestroy(e);
                }
            }
        }
    }

    @Override
    public String name() {
        return "gpu-" + options.label();
    }

    @Override
    public ParameterLayout layout() {
        return layout;
    }

    @Override
    public int lossBatch() {
        return LOSS_BATCH;
    }

    /** Writes a step's tokens [0, positions] and its scalars into the pinned staging slot {@code slot}. */
    private void stageHost(int slot, int[] doc, int positions, int step, int numSteps) {
        if (positions < 1 || positions > t || doc.length < positions + 1) {
            throw new IllegalArgumentException("positions must be in [1, " + t + "] with positions + 1 tokens, got "
                    + positions + " of " + doc.length);
        }
        int base = slot * tokenSlot;
        java.nio.IntBuffer pinned = staging.ints();
        for (int i = 0; i <= positions; i++) {
            pinned.put(base + i, doc[i]);
        }
        int s = base + t + 1;
        pinned.put(s, step).put(s + 1, positions).put(s + 2, numSteps).put(s + 3, 0);
    }

    /**
     * Copies staging slots [first, first + count) into the device's slots [0, count), asynchronously in one copy. On
     * the engine's one stream it waits for the steps before it, which may still read those device slots.
     */
    private void copyUp(int first, int count) {
        Cuda.check(cuMemcpyHtoDAsync(stepInput.at(0), stagingSlots[first],
                (long) count * tokenSlot * DeviceArray.ELEMENT_BYTES, gpu.stream()),
                "cuMemcpyHtoDAsync(tokens and step scalars)");
    }

    @Override
    public void submitStep(int[] doc, int positions, AdamConfig adam, int step, int numSteps) {
        gpu.makeCurrent();
        if (pending == LOSS_BATCH) {
            throw new IllegalStateException("collect losses at least every " + LOSS_BATCH + " steps");
        }
        if (pending > 0 && step != firstPendingStep + pending) {
            throw new IllegalArgumentException("steps must be submitted in order: expected " + (firstPendingStep + pending)
                    + ", got " + step);
        }
        ensureLossCapacity(numSteps);
        ensureAdam(adam);
        clearGradientsIfNeeded();
        if (pending == 0) {
            firstPendingStep = step;
        }
        stageHost(pending, doc, positions, step, numSteps);
        switch (options.mode()) {
            case eager -> {
                copyUp(pending, 1);
                enqueueForwardAndBackward(positions);
                adamLaunch.enqueue(gpu.stream());
            }
            case graph -> {
                copyUp(pending, 1);
                StepGraph graph = stepGraphs.get(positions);
                if (graph == null) {
                    graph = stepGraphs.capture(gpu.stream(), positions, stepOps());
                }
                graph.launch(gpu.stream());
            }
            case fused -> { } // issued below once a launch's worth of steps is staged, or when losses are collected
        }
        pending++;
        if (fused != null && pending - launched == options.stepsPerLaunch()) {
            launchStaged();
        }
    }

    private void enqueueForwardAndBackward(int positions) {
        for (int i = 0; i < forwardAndBackward.size(); i++) { // indexed: no iterator allocated per step
            forwardAndBackward.get(i).enqueue(gpu.stream(), positions);
        }
    }

    @Override
    public int collectLosses(double[] into) {
        gpu.makeCurrent();
        int n = pending;
        if (n == 0) {
            return 0;
        }
        if (fused != null) {
            launchStaged();
        }
        // losses.at makes one small pointer object per batch of up to LOSS_BATCH steps; nothing else here allocates
        Cuda.check(cuMemcpyDtoHAsync(lossesHostAddress, losses.at(firstPendingStep), n * 4L, gpu.stream()),
                "cuMemcpyDtoHAsync(losses)");
        gpu.synchronizeSteps(firstPendingStep, n);
        for (int i = 0; i < n; i++) {
            into[i] = lossesHost.floats().get(i);
        }
        pending = 0;
        launched = 0;
        return n;
    }

    @Override
    public double forwardBackward(int[] doc, int positions) {
        gpu.makeCurrent();
        requireNothingPending();
        clearGradientsIfNeeded();
        stageHost(0, doc, positions, 0, (int) losses.length());
        copyUp(0, 1);
        if (fused != null) {
            gradientsLaunch.enqueue(gpu.stream());
        } else {
            enqueueForwardAndBackward(positions);
        }
        gradientsZero = false;
        Cuda.check(cuMemcpyDtoHAsync(lossesHostAddress, losses.at(0), 4, gpu.stream()), "cuMemcpyDtoHAsync(loss)");
        gpu.synchronize("forward and backward");
        return lossesHost.floats().get(0);
    }

    @Override
    public void adamUpdate(AdamConfig adam, int step, int numSteps) {
        gpu.makeCurrent();
        requireNothingPending();
        ensureAdam(adam);
        int s = t + 1;
        staging.ints().put(s, step).put(s + 1, 0).put(s + 2, numSteps).put(s + 3, 0);
        Cuda.check(cuMemcpyHtoDAsync(scalars, staging.at(s), SCALARS * 4L, gpu.stream()),
                "cuMemcpyHtoDAsync(step scalars)");
        adamLaunch.enqueue(gpu.stream());
        gpu.synchronize("adam_update"); // the staging slot is reused by the next call
        gradientsZero = true;
    }

    /** Adam zeroes the gradients; only a forward-backward not followed by Adam leaves them to clear. */
    private void clearGradientsIfNeeded() {
        if (!gradientsZero) {
            zero(grads);
            gradientsZero = true;
        }
    }

    private void zero(DeviceArray array) {
        Cuda.check(cuMemsetD32Async(array.at(0), 0, array.length(), gpu.stream()), "cuMemsetD32Async");
    }

    private void requireNothingPending() {
        if (pending > 0) {
            throw new IllegalStateException("collect the submitted steps' losses first");
        }
    }

    private void download(DeviceArray array, double[] dst) {
        gpu.makeCurrent();
        requireNothingPending();
        gpu.synchronize("the steps before a read of device state");
        array.download(hostScratch);
        for (int i = 0; i < dst.length; i++) {
            dst[i] = hostScratch[i];
        }
    }

    private void upload(double[] src, DeviceArray array) {
        gpu.makeCurrent();
        requireNothingPending();
        for (int i = 0; i < src.length; i++) {
            hostScratch[i] = (float) src[i];
        }
        gpu.synchronize("writing device state");
        array.upload(hostScratch);
    }

    /** Replaces the gradients (tests use it to run Adam on the CPU engine's gradients). */
    void writeGradients(double[] src) {
        upload(src, grads);
        gradientsZero = false;
    }

    @Override
    public void readGradients(double[] dst) {
        download(grads, dst);
    }

    @Override
    public void readParameters(double[] dst) {
        download(params, dst);
    }

    @Override
    public void writeParameters(double[] src) {
        upload(src, params);
    }

    @Override
    public void readMoments(double[] m, double[] v) {
        download(adamM, m);
        download(adamV, v);
    }

    @Override
    public void writeMoments(double[] m, double[] v) {
        upload(m, adamM);
        upload(v, adamV);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        try {
            gpu.makeCurrent();
            gpu.synchronize("the last step");
        } catch (RuntimeException e) {
            failure = e; // a fault of the last steps: still free everything, then report it
        }
        try {
            resources.close();
        } catch (RuntimeException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
