package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemHostGetDevicePointer;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitValue32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.engine.AdamConfig;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.testing.RequiresGpu;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUgraph;
import jcuda.driver.CUresult;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstreamWaitValue_flags;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The emulated CUDA device (kernels/emu) refuses what a real driver or compute-sanitizer's memcheck and synccheck would,
 * naming the call and the kernel: each test commits one such mistake through JCuda, as the engine makes its calls, and
 * checks the refusal's code and words (cuGetErrorString gives the emulator's line back, so CudaException carries it).
 * On hardware these mistakes crash, hang or corrupt instead of failing cleanly, so the tests run on the emulated device
 * only. A kernel fault breaks the context for good, as on a GPU: each test resets it.
 */
@RequiresGpu
class EmulatedDeviceTest {

    private static final int SIZE = 16; // n_embd = block_size of the buffers below
    private static final int ROW_FLOATS = SIZE;

    private DeviceHarness device;

    @BeforeAll
    static void onTheEmulatedDevice() {
        assumeTrue(GpuSupport.status().emulated(), "these check the emulated device; the GPU here is "
                + GpuSupport.status().device());
    }

    @BeforeEach
    void openDevice() {
        device = new DeviceHarness();
    }

    @AfterEach
    void closeDevice() {
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (Exception e) {
                // after a kernel fault every call fails with it
            }
        }
        try {
            device.close();
        } catch (CudaException e) {
            // likewise
        }
        PrimaryContext.resetAfterFault();
    }

    @Test
    void namesItselfAsEmulated() {
        assertTrue(GpuSupport.status().device().startsWith("microgpt emulated CUDA device (CPU)"),
                GpuSupport.status().device());
    }

    @Test
    void aThreadWithoutACurrentContextIsRefused() throws InterruptedException {
        AtomicInteger result = new AtomicInteger();
        Thread thread = new Thread(() -> result.set(cuMemAlloc(new CUdeviceptr(), 64)));
        thread.start();
        thread.join();
        assertRefused(result.get(), CUresult.CUDA_ERROR_INVALID_CONTEXT, "no context is current on this thread");
    }

    @Test
    void aKernelWritingPastTheEndOfItsAllocationFaultsNamingTheKernel() {
        // y four rows short, 768 bytes: a multiple of the driver's 256-byte rounding, so it ends where the inaccessible
        // page after it begins, and the first row too many faults there
        Launch launch = rmsnormForward(device.poisoned("y", (SIZE - 4) * ROW_FLOATS), SIZE);
        CudaException e = assertThrows(CudaException.class, () -> device.run(launch));
        assertMentions(e, "CUDA_ERROR_ILLEGAL_ADDRESS", "kernel rmsnorm_forward, thread", "an access to memory it may"
                + " not touch", "0 bytes past the end of allocation", "CUDA_LAUNCH_BLOCKING=1");
    }

    @Test
    void aKernelWritingIntoTheRoundingAfterItsAllocationIsCaughtAfterTheLaunch() {
        // one float short: the write lands in the bytes the 256-byte rounding adds, which hold a canary
        Launch launch = rmsnormForward(device.poisoned("y", SIZE * ROW_FLOATS - 1), SIZE);
        CudaException e = assertThrows(CudaException.class, () -> device.run(launch));
        assertMentions(e, "CUDA_ERROR_ILLEGAL_ADDRESS", "kernel rmsnorm_forward wrote", "0 bytes past the end");
    }

    @Test
    void aPointerArgumentOutsideEveryAllocationIsRefused() {
        DeviceArray freed = device.poisoned("y", SIZE * ROW_FLOATS);
        CUdeviceptr stale = freed.at(0);
        freed.close();
        Launch launch = rmsnormForward(stale, SIZE);
        CudaException e = assertThrows(CudaException.class, () -> device.run(launch));
        assertMentions(e, "cuLaunchKernel(rmsnorm_forward)", "CUDA_ERROR_INVALID_VALUE", "pointer argument 0",
                "freed");
    }

    @Test
    void anAsynchronousCopyFromPageableMemoryIsRefused() {
        DeviceArray dst = device.poisoned("dst", 4);
        int result = cuMemcpyHtoDAsync(dst.at(0), Pointer.to(new int[4]), 16, device.stream());
        assertRefused(result, CUresult.CUDA_ERROR_INVALID_VALUE, "cuMemcpyHtoDAsync", "not pinned memory");
    }

    /** A stream held on a word the host has not written when it waits for the stream: a GPU would wait forever. */
    @Test
    void aStreamHeldOnAWordNobodyWritesIsRefusedWhenTheHostWaitsForIt() {
        PinnedInts word = own(new PinnedInts("word", 1));
        word.ints().put(0, 0);
        CUdeviceptr onDevice = new CUdeviceptr();
        Cuda.check(cuMemHostGetDevicePointer(onDevice, word.at(0), 0), "cuMemHostGetDevicePointer");
        Cuda.check(cuStreamWaitValue32(device.stream(), onDevice, 1, CUstreamWaitValue_flags.CU_STREAM_WAIT_VALUE_EQ),
                "cuStreamWaitValue32");
        assertRefused(cuStreamSynchronize(device.stream()), CUresult.CUDA_ERROR_ILLEGAL_STATE, "cuStreamWaitValue32",
                "a GPU would wait forever");
    }

    @Test
    void anUnsafeCallDuringACaptureIsRefusedAndInvalidatesTheCapture() {
        Cuda.check(cuStreamBeginCapture(device.stream(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        assertRefused(cuMemAlloc(new CUdeviceptr(), 64), CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                "cuMemAlloc during a stream capture");
        assertRefused(cuStreamSynchronize(device.stream()), CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                "cuStreamSynchronize of a stream that is capturing");
        assertRefused(cuStreamEndCapture(device.stream(), new CUgraph()), CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,
                "invalidated");
    }

    @Test
    void moreThreadsThanTheKernelIsBuiltForAreRefused() {
        Launch tiles = device.kernels().linearForward(device.poisoned("y", 32 * 32).at(0),
                device.poisoned("x", 32 * 32).at(0), device.poisoned("w", 32 * 32).at(0), null, 32, 32, false,
                device.documents(32, new int[1][33], new int[] {32}, 0, 1));
        Launch doubled = new Launch(tiles.kernel(), tiles.function(), tiles.gridX(), tiles.gridY(), 1, 2 * tiles.block(),
                0, tiles.arguments());
        CudaException e = assertThrows(CudaException.class, () -> device.run(doubled));
        assertMentions(e, "cuLaunchKernel(linear_forward)", "512 threads per block", ".maxntid 256");
    }

    @Test
    void dynamicSharedMemoryOver48KiBNeedsTheAttributeAndAtMost227KiB() {
        Launch attention = attentionForward();
        Launch large = new Launch(attention.kernel(), attention.function(), attention.gridX(), attention.gridY(), 1,
                attention.block(), 64 * 1024, attention.arguments());
        CudaException e = assertThrows(CudaException.class, () -> device.run(large));
        assertMentions(e, "cuLaunchKernel(attention_forward)", "65536 bytes of dynamic shared memory",
                "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES");
        int attribute = CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
        Cuda.check(cuFuncSetAttribute(attention.function(), attribute, 64 * 1024), "cuFuncSetAttribute(64 KiB)");
        device.run(large);
        assertRefused(cuFuncSetAttribute(attention.function(), attribute, 228 * 1024), CUresult.CUDA_ERROR_INVALID_VALUE,
                "cuFuncSetAttribute(attention_forward", "exceeds the 232448");
    }

    @Test
    void aCooperativeGridLargerThanTheResidentBlocksIsRefused() {
        CUfunction fused = device.kernels().function("step", "train_step_fused");
        int[] perMultiprocessor = {0};
        Cuda.check(cuOccupancyMaxActiveBlocksPerMultiprocessor(perMultiprocessor, fused, 256, 0), "occupancy");
        assertEquals(1, perMultiprocessor[0], "train_step_fused needs about 200 registers a thread: one block an SM");
        Launch cooperative = fusedGradientsLaunch(2);
        Launch tooLarge = Launch.cooperative(cooperative.kernel(), fused, 133, cooperative.block(),
                cooperative.sharedBytes(), cooperative.arguments());
        CudaException e = assertThrows(CudaException.class, () -> device.run(tooLarge));
        assertMentions(e, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", "133 blocks", "only 132 can be resident");
    }

    @Test
    void aGridSyncOutsideACooperativeLaunchFailsTheLaunch() {
        Launch cooperative = fusedGradientsLaunch(2);
        Launch plain = new Launch(cooperative.kernel(), cooperative.function(), 2, 1, 1, cooperative.block(),
                cooperative.sharedBytes(), cooperative.arguments());
        CudaException e = assertThrows(CudaException.class, () -> device.run(plain));
        assertMentions(e, "CUDA_ERROR_LAUNCH_FAILED", "kernel train_step_fused", "grid sync", "not cooperative");
    }

    @Test
    void aSynchronousCopyRacesWithQueuedWorkOnlyWhereOneOfThemWrites() {
        DeviceArray x = device.floats("x", randomRows());
        DeviceArray y = device.poisoned("y", SIZE * ROW_FLOATS);
        Launch launch = device.kernels().rmsnormForward(y.at(0), device.poisoned("scale", SIZE).at(0), x.at(0),
                ROW_FLOATS, document(SIZE));
        Cuda.check(jcuda.driver.JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
        launch.enqueue(device.stream()); // queued on the non-blocking stream, not waited for
        float[] host = new float[SIZE * ROW_FLOATS];
        int readsY = jcuda.driver.JCudaDriver.cuMemcpyDtoH(Pointer.to(host), y.at(0), 4L * host.length);
        assertRefused(readsY, CUresult.CUDA_ERROR_ILLEGAL_STATE, "cuMemcpyDtoH reads allocation", "still writes",
                "synchronize that stream first");
        // the kernel only reads x (a const parameter): reading it too is no race
        Cuda.check(jcuda.driver.JCudaDriver.cuMemcpyDtoH(Pointer.to(host), x.at(0), 4L * host.length), "cuMemcpyDtoH");
    }

    @Test
    void twoBlockingStreamsAreOrderedOnlyThroughTheLegacyStream() {
        jcuda.driver.CUstream first = new jcuda.driver.CUstream();
        jcuda.driver.CUstream second = new jcuda.driver.CUstream();
        Cuda.check(jcuda.driver.JCudaDriver.cuStreamCreate(first, 0), "cuStreamCreate");
        Cuda.check(jcuda.driver.JCudaDriver.cuStreamCreate(second, 0), "cuStreamCreate");
        DeviceArray word = device.poisoned("word", 1);
        try (PinnedInts result = new PinnedInts("result", 1)) {
            result.ints().put(0, 0);
            Cuda.check(jcuda.driver.JCudaDriver.cuMemsetD32Async(word.at(0), 42, 1, first), "cuMemsetD32Async");
            Cuda.check(cuMemcpyDtoHAsyncChecked(result, word, first), "cuMemcpyDtoHAsync");
            Cuda.check(jcuda.driver.JCudaDriver.cuStreamSynchronize(second), "cuStreamSynchronize(second)");
            assertEquals(0, result.ints().get(0), "waiting for the second stream waits for none of the first's work");
            Cuda.check(jcuda.driver.JCudaDriver.cuStreamSynchronize(first), "cuStreamSynchronize(first)");
            assertEquals(42, result.ints().get(0));
        } finally {
            jcuda.driver.JCudaDriver.cuStreamDestroy(first);
            jcuda.driver.JCudaDriver.cuStreamDestroy(second);
        }
    }

    @Test
    void anEventCapturedInAGraphStandsForTheReplayOnAnotherStream() {
        jcuda.driver.CUstream other = new jcuda.driver.CUstream();
        Cuda.check(jcuda.driver.JCudaDriver.cuStreamCreate(other, jcuda.driver.CUstream_flags.CU_STREAM_NON_BLOCKING),
                "cuStreamCreate");
        jcuda.driver.CUevent done = new jcuda.driver.CUevent();
        Cuda.check(jcuda.driver.JCudaDriver.cuEventCreate(done, 0), "cuEventCreate");
        DeviceArray word = device.poisoned("word", 1);
        CUgraph graph = new CUgraph();
        jcuda.driver.CUgraphExec exec = new jcuda.driver.CUgraphExec();
        try (PinnedInts result = new PinnedInts("result", 1)) {
            result.ints().put(0, 0);
            Cuda.check(cuStreamBeginCapture(device.stream(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                    "cuStreamBeginCapture");
            Cuda.check(jcuda.driver.JCudaDriver.cuMemsetD32Async(word.at(0), 7, 1, device.stream()), "memset");
            Cuda.check(cuMemcpyDtoHAsyncChecked(result, word, device.stream()), "cuMemcpyDtoHAsync");
            Cuda.check(jcuda.driver.JCudaDriver.cuEventRecord(done, device.stream()), "cuEventRecord");
            Cuda.check(cuStreamEndCapture(device.stream(), graph), "cuStreamEndCapture");
            Cuda.check(jcuda.driver.JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
            Cuda.check(jcuda.driver.JCudaDriver.cuGraphLaunch(exec, other), "cuGraphLaunch");
            Cuda.check(jcuda.driver.JCudaDriver.cuEventSynchronize(done), "cuEventSynchronize");
            assertEquals(7, result.ints().get(0), "the replay ran up to the event before the wait for it returned");
        } finally {
            jcuda.driver.JCudaDriver.cuGraphExecDestroy(exec);
            jcuda.driver.JCudaDriver.cuGraphDestroy(graph);
            jcuda.driver.JCudaDriver.cuEventDestroy(done);
            jcuda.driver.JCudaDriver.cuStreamDestroy(other);
        }
    }

    private static int cuMemcpyDtoHAsyncChecked(PinnedInts into, DeviceArray from, jcuda.driver.CUstream stream) {
        return jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync(into.at(0), from.at(0), 4, stream);
    }

    /** rmsnorm_forward of n = SIZE rows of random x into y, scale into a fresh array. */
    private Launch rmsnormForward(DeviceArray y, int n) {
        return rmsnormForward(y.at(0), n);
    }

    private Launch rmsnormForward(CUdeviceptr y, int n) {
        return device.kernels().rmsnormForward(y, device.poisoned("scale", SIZE).at(0),
                device.floats("x", randomRows()).at(0), ROW_FLOATS, document(n));
    }

    /** One document of n positions in a context of SIZE, its tokens 0. */
    private DocumentSlots document(int n) {
        return device.documents(SIZE, new int[1][SIZE + 1], new int[] {n}, 0, 1);
    }

    private static double[] randomRows() {
        double[] x = new double[SIZE * ROW_FLOATS];
        Random random = new Random(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextGaussian();
        }
        return x;
    }

    private Launch attentionForward() {
        int c = SIZE;
        return device.kernels().attentionForward(device.poisoned("out", SIZE * c).at(0),
                device.poisoned("probs", 4 * SIZE * SIZE).at(0), device.floats("qkv", new double[SIZE * 3 * c]).at(0),
                c, 4, document(SIZE));
    }

    /**
     * The gradients-only launch of a 16/16 model's fused step on a grid of {@code blocks} (a cooperative launch), its
     * activations in global memory, its input a document of BOS tokens filling the context.
     */
    private Launch fusedGradientsLaunch(int blocks) {
        ParameterLayout layout = new ParameterLayout(new ModelConfig(SIZE, 4, 1, SIZE, 27));
        StepInput input = own(new StepInput(SIZE, 1, 1, 1, device.stream()));
        int[] doc = new int[SIZE + 1];
        java.util.Arrays.fill(doc, 26);
        input.stage(0, dev.microgpt.engine.DocumentBatch.of(doc, SIZE), 0, 1);
        input.copyUp(0, 1);
        int p = layout.size();
        TrainingState state = new TrainingState(device.floats("params", new double[p]),
                device.floats("grads", new double[p]), device.floats("adam_m", new double[p]),
                device.floats("adam_v", new double[p]));
        FusedStep step = own(new FusedStep(device.context(), layout, state, input, blocks, 1));
        step.bind(device.poisoned("losses", 1), AdamConfig.MICROGPT, null);
        return step.launch(false, 1);
    }

    /** Closed after the test, before the device (failures ignored: after a fault every call fails). */
    private final java.util.Deque<AutoCloseable> owned = new java.util.ArrayDeque<>();

    private <R extends AutoCloseable> R own(R resource) {
        owned.push(resource);
        return resource;
    }

    private static void assertRefused(int result, int expected, String... mentions) {
        assertEquals(CUresult.stringFor(expected), CUresult.stringFor(result));
        CudaException e = assertThrows(CudaException.class, () -> Cuda.check(result, "the call"));
        assertMentions(e, mentions);
    }

    private static void assertMentions(Throwable e, String... mentions) {
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), "the message should mention '" + m + "': " + e.getMessage());
        }
    }
}
