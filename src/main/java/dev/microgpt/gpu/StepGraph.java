package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.util.List;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;

/**
 * A training step's operations captured once as a CUDA graph. Kernel launches' arguments never change (per-step values
 * are read from device memory), so a step of launches alone is one graph for every document length; a step with
 * operations that depend on the positions n (cuBLAS calls) is captured for one n ({@link StepGraphs}).
 */
final class StepGraph implements AutoCloseable {

    private final CUgraph graph = new CUgraph();
    private final CUgraphExec exec = new CUgraphExec();

    StepGraph(CUstream stream, List<? extends StepOp> ops, int positions) {
        Cuda.check(cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        try {
            for (StepOp op : ops) {
                op.enqueue(stream, positions);
            }
        } catch (RuntimeException e) {
            // End the capture so the stream is usable again, but report the operation that failed, not the capture.
            if (cuStreamEndCapture(stream, graph) == jcuda.driver.CUresult.CUDA_SUCCESS) {
                cuGraphDestroy(graph);
            }
            throw e;
        }
        Cuda.check(cuStreamEndCapture(stream, graph), "cuStreamEndCapture");
        int instantiated = cuGraphInstantiate(exec, graph, 0);
        if (instantiated != jcuda.driver.CUresult.CUDA_SUCCESS) {
            cuGraphDestroy(graph);
            Cuda.check(instantiated, "cuGraphInstantiate");
        }
    }

    void launch(CUstream stream) {
        Cuda.check(cuGraphLaunch(exec, stream), "cuGraphLaunch(training step)");
    }

    @Override
    public void close() {
        Cuda.check(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
        Cuda.check(cuGraphDestroy(graph), "cuGraphDestroy");
    }
}
