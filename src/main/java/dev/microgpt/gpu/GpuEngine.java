package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.engine.DocumentBatch;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.model.ParameterLayout;
import java.util.List;
import jcuda.Pointer;

/**
 * Trains on an NVIDIA GPU with the hand-written kernels of {@code kernels/}, in float32. The engine keeps what every
 * {@link GpuMode} shares: the model on the device ({@link TrainingState}, exactly the {@link ParameterLayout}), the
 * steps' input ({@link StepInput}), the losses, and the moves of state to and from the host; a {@link StepProgram}
 * issues the steps: one launch per kernel ({@link EagerStep}, with cuBLAS for the linear layers without a fused ReLU if
 * asked, {@link GemmBackend}), those launches as a CUDA graph ({@link GraphStep}), or one kernel per step or per K steps
 * ({@link FusedStep}). The initial weights come from the host, so a GPU run starts from the same weights as a CPU run
 * of the same seed.
 *
 * <p>An engine is built for steps of B documents ({@code --batch-size}): its activations have B x T rows, and every
 * kernel runs over all of them. Nothing on the hot path waits for the device: a step's documents go up by one
 * asynchronous copy, so every kernel launch keeps the arguments it was built with; each step's loss stays in a device
 * array and comes back with the others of its group when {@link #collectLosses} is called.
 */
public final class GpuEngine implements TrainingEngine {

    /** Steps submitted between loss collections (the trainer's group) at one document a step. */
    public static final int LOSS_BATCH = 256;

    private final ParameterLayout layout;
    private final GpuOptions options;
    private final NativeResources resources = new NativeResources();
    private final GpuContext gpu;
    private final KernelLibrary kernels;
    private final TrainingState state;
    private final StepInput input;
    private final StepProgram program;
    private final int lossBatch;                   // steps between loss collections: LOSS_BATCH / B, at least 1
    private final PinnedInts lossesHost;           // [lossBatch] float
    private final Pointer lossesHostAddress;       // lossesHost's element 0, made once
    private final float[] hostScratch;             // [P], for moving state to and from the host
    private DeviceArray losses;                    // [capacity] float: losses[step]
    private AdamConfig adam;
    private Launch adamLaunch;                     // Adam over every parameter, for adam's settings
    private int pending;                           // steps submitted since the last collection
    private int firstPendingStep;
    private boolean gradientsZero = true;
    private boolean closed;

    public GpuEngine(ParameterLayout layout, double[] initialParams) {
        this(layout, initialParams, GpuMode.eager);
    }

    public GpuEngine(ParameterLayout layout, double[] initialParams, GpuMode mode) {
        this(layout, initialParams, new GpuOptions(mode, GemmBackend.hand));
    }

    public GpuEngine(ParameterLayout layout, double[] initialParams, GpuOptions options) {
        this(layout, initialParams, options, 1);
    }

    /**
     * An engine for steps of {@code batchSize} documents; options that cannot train them are refused
     * ({@link GpuOptions#checkBatchSize}). Where cuBLAS is asked for but cannot load ({@link CublasSupport}), a
     * CudaException gives the reason.
     */
    public GpuEngine(ParameterLayout layout, double[] initialParams, GpuOptions options, int batchSize) {
        options.checkBatchSize(batchSize);
        this.layout = layout;
        this.options = options;
        this.lossBatch = GpuOptions.maxStepsPerLaunch(batchSize);
        this.gpu = own(new GpuContext());
        try {
            this.kernels = gpu.kernels();
            int p = layout.size();
            this.state = new TrainingState(array("params", p), array("grads", p), array("adam_m", p),
                    array("adam_v", p));
            int t = layout.config().blockSize();
            // A fused launch runs at most the steps of one loss group (checkBatchSize): the engine launches what is
            // held when it collects the group's losses.
            this.input = own(new StepInput(t, batchSize, options.stepsPerLaunch(), lossBatch, gpu.stream()));
            this.lossesHost = own(new PinnedInts("losses_host", lossBatch));
            this.lossesHostAddress = lossesHost.at(0);
            this.losses = array("losses", lossBatch); // grown by ensureLossCapacity for longer runs
            this.hostScratch = new float[p];
            zero(state.grads());
            zero(state.adamM());
            zero(state.adamV());
            writeParameters(initialParams);
            this.program = own(switch (options.mode()) {
                case eager -> new EagerStep(launches(), input, gpu.stream());
                case graph -> new GraphStep(launches(), input, gpu, t);
                case fused -> new FusedStep(gpu, layout, state, input, options.fusedBlocks(), options.stepsPerLaunch());
            });
            bindAdam(AdamConfig.MICROGPT);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private StepLaunches launches() {
        return new StepLaunches(kernels, layout, state, input, options.gemm(), gpu.stream(), losses);
    }

    private <R extends AutoCloseable> R own(R resource) {
        return resources.own(resource);
    }

    private DeviceArray array(String name, long length) {
        return own(new DeviceArray(name, length));
    }

    /** The device's loss array holds losses[step] for every step of the schedule. */
    private void ensureLossCapacity(int numSteps) {
        if (losses.length() >= numSteps) {
            return;
        }
        if (pending > 0) {
            throw new IllegalStateException("num_steps grew to " + numSteps + " with " + pending
                    + " steps' losses not yet collected; collect them first");
        }
        gpu.synchronize("the steps that wrote the previous loss array");
        DeviceArray previous = losses;
        losses = array("losses", numSteps); // before the previous goes: a failed allocation leaves it bound and whole
        program.bind(losses, adam, adamLaunch);
        resources.release(previous);
    }

    private void ensureAdam(AdamConfig wanted) {
        if (!wanted.equals(adam)) {
            bindAdam(wanted);
        }
    }

    private void bindAdam(AdamConfig wanted) {
        adam = wanted;
        adamLaunch = kernels.adam(state.params().at(0), state.grads().at(0), state.adamM().at(0), state.adamV().at(0),
                layout.size(), wanted.learningRate(), wanted.beta1(), wanted.beta2(), wanted.eps(), input.scalars());
        program.bind(losses, adam, adamLaunch);
    }

    /**
     * Driver calls the engine issues per training step: the copy of its input, then its operations (kernel launches,
     * and with cuBLAS the residual copies and one call per GEMM, however many kernels cuBLAS runs for it), or one graph
     * launch; or, fused, one copy and one launch for every {@code --steps-per-launch} steps.
     */
    public double launchesPerStep() {
        return program.launchesPerStep();
    }

    /** How the mode runs here, for reports: the fused step's grid and where its activations live; else empty. */
    public String modeDetail() {
        return program.detail();
    }

    /**
     * Stages a training step as {@link #submitStep} would, copies its input up and returns the operations that would
     * then run it, without issuing them: for {@link StepProfiler}.
     */
    List<StepOp> stageForProfile(DocumentBatch batch, AdamConfig adamConfig, int step, int numSteps) {
        gpu.makeCurrent();
        requireNothingPending();
        ensureLossCapacity(numSteps);
        ensureAdam(adamConfig);
        clearGradientsIfNeeded();
        input.stage(0, batch, step, numSteps);
        input.copyUp(0, 1);
        return program.operations(batch.positions(0));
    }

    GpuContext context() {
        return gpu;
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
        return lossBatch;
    }

    @Override
    public void submitStep(DocumentBatch batch, AdamConfig adamConfig, int step, int numSteps) {
        gpu.makeCurrent();
        if (pending == lossBatch) {
            throw new IllegalStateException("collect losses at least every " + lossBatch + " steps");
        }
        if (pending > 0 && step != firstPendingStep + pending) {
            throw new IllegalArgumentException("steps must be submitted in order: expected " + (firstPendingStep + pending)
                    + ", got " + step);
        }
        ensureLossCapacity(numSteps);
        ensureAdam(adamConfig);
        clearGradientsIfNeeded();
        if (pending == 0) {
            firstPendingStep = step;
        }
        input.stage(pending, batch, step, numSteps);
        program.submit(pending, batch.positions(0));
        pending++;
    }

    @Override
    public int collectLosses(double[] into) {
        gpu.makeCurrent();
        int n = pending;
        if (n == 0) {
            return 0;
        }
        program.flush();
        // losses.at makes one small pointer object per group of up to lossBatch steps; nothing else here allocates
        Cuda.check(cuMemcpyDtoHAsync(lossesHostAddress, losses.at(firstPendingStep), n * 4L, gpu.stream()),
                "cuMemcpyDtoHAsync(losses)");
        gpu.synchronizeSteps(firstPendingStep, n);
        for (int i = 0; i < n; i++) {
            into[i] = lossesHost.floats().get(i);
        }
        pending = 0;
        return n;
    }

    @Override
    public double forwardBackward(DocumentBatch batch) {
        gpu.makeCurrent();
        requireNothingPending();
        clearGradientsIfNeeded();
        input.stage(0, batch, 0, (int) losses.length());
        input.copyUp(0, 1);
        program.gradients(batch.positions(0));
        gradientsZero = false;
        Cuda.check(cuMemcpyDtoHAsync(lossesHostAddress, losses.at(0), 4, gpu.stream()), "cuMemcpyDtoHAsync(loss)");
        gpu.synchronize("forward and backward");
        return lossesHost.floats().get(0);
    }

    @Override
    public void adamUpdate(AdamConfig adamConfig, int step, int numSteps) {
        gpu.makeCurrent();
        requireNothingPending();
        ensureAdam(adamConfig);
        input.stageScalars(0, step, numSteps);
        input.copyUp(0, 1);
        adamLaunch.enqueue(gpu.stream());
        gpu.synchronize("adam_update"); // the staging slot is reused by the next call
        gradientsZero = true;
    }

    /** Adam zeroes the gradients; only a forward-backward not followed by Adam leaves them to clear. */
    private void clearGradientsIfNeeded() {
        if (!gradientsZero) {
            zero(state.grads());
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
        upload(src, state.grads());
        gradientsZero = false;
    }

    @Override
    public void readGradients(double[] dst) {
        download(state.grads(), dst);
    }

    @Override
    public void readParameters(double[] dst) {
        download(state.params(), dst);
    }

    @Override
    public void writeParameters(double[] src) {
        upload(src, state.params());
    }

    @Override
    public void readMoments(double[] m, double[] v) {
        download(state.adamM(), m);
        download(state.adamV(), v);
    }

    @Override
    public void writeMoments(double[] m, double[] v) {
        upload(m, state.adamM());
        upload(v, state.adamV());
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
