package dev.microgpt.gpu;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import jcuda.driver.CUstream;

/**
 * Graph mode's captured steps, each captured when first needed. A step whose operations all read n on the device is
 * one graph for every length; a step with operations that take n from the host (cuBLAS calls) needs a graph per
 * positions value, at most block_size of them.
 */
final class StepGraphs implements AutoCloseable {

    private final StepGraph[] graphs; // by positions, or the one graph at [0]
    private final boolean perPositions;

    StepGraphs(int blockSize, boolean perPositions) {
        this.graphs = new StepGraph[perPositions ? blockSize + 1 : 1];
        this.perPositions = perPositions;
    }

    /** The graph of a step of {@code positions}, or null where it has not been captured yet. */
    StepGraph get(int positions) {
        return graphs[key(positions)];
    }

    /** Captures {@code step}, the whole step's operations, for {@code positions} and keeps the graph. */
    StepGraph capture(CUstream stream, int positions, List<StepOp> step) {
        StepGraph graph = new StepGraph(stream, step, positions);
        graphs[key(positions)] = graph;
        return graph;
    }

    private int key(int positions) {
        return perPositions ? positions : 0;
    }

    boolean isEmpty() {
        return Arrays.stream(graphs).allMatch(Objects::isNull);
    }

    /**
     * Destroys every graph (the device must be done with them), leaving the cache empty for new captures; the first
     * failure is thrown after trying all.
     */
    void clear() {
        RuntimeException failure = null;
        for (int i = 0; i < graphs.length; i++) {
            if (graphs[i] == null) {
                continue;
            }
            try {
                graphs[i].close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
            graphs[i] = null;
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void close() {
        clear();
    }
}
