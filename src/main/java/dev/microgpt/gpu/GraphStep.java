package dev.microgpt.gpu;

import dev.microgpt.engine.AdamConfig;

/**
 * {@link GpuMode#graph}: eager mode's launches and Adam's captured once as a CUDA graph and replayed with one launch: a
 * step is the copy of its input and the graph's launch. The graphs hold the launches as they were bound, so they are
 * dropped when a launch is bound anew (a longer losses array, other Adam settings) and captured again when next
 * needed. The gradients alone ({@link #gradients}) run eagerly.
 */
final class GraphStep extends EagerStep {

    private final GpuContext gpu;
    private final StepGraphs graphs;

    GraphStep(StepLaunches launches, StepInput input, GpuContext gpu, int blockSize) {
        super(launches, input, gpu.stream());
        this.gpu = gpu;
        this.graphs = new StepGraphs(blockSize, launches.dependOnPositions());
    }

    @Override
    public void bind(DeviceArray losses, AdamConfig adamConfig, Launch adamLaunch) {
        if (!graphs.isEmpty()) {
            gpu.synchronize("the steps of the graphs being replaced");
            graphs.clear();
        }
        super.bind(losses, adamConfig, adamLaunch);
    }

    @Override
    public void submit(int slot, int positions) {
        input.copyUp(slot, 1);
        StepGraph graph = graphs.get(positions);
        if (graph == null) {
            graph = graphs.capture(stream, positions, operations(positions));
        }
        graph.launch(stream);
    }

    @Override
    public double launchesPerStep() {
        return 2;
    }

    @Override
    public void close() {
        try {
            graphs.close();
        } finally {
            super.close();
        }
    }
}
