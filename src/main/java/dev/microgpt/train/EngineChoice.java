package dev.microgpt.train;

import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TapeEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.gpu.GpuEngine;
import dev.microgpt.gpu.GpuOptions;
import dev.microgpt.model.ParameterLayout;

/**
 * Which engine trains, with its own settings: the one place an engine is made, for the trainer's command line (once
 * it has resolved the device) and the step benchmark (from a row's name).
 */
public sealed interface EngineChoice {

    /** The engine, its weights {@code params} [P] in layout order, for steps of {@code batchSize} documents. */
    TrainingEngine open(ParameterLayout layout, double[] params, int batchSize);

    /** The float64 CPU reference engine on {@code threads} threads. */
    record Fast(int threads) implements EngineChoice {
        @Override
        public TrainingEngine open(ParameterLayout layout, double[] params, int batchSize) {
            return new FastEngine(layout, params, threads);
        }
    }

    /** The scalar autograd engine, op by op as microgpt.py: the gradient oracle. */
    record Tape() implements EngineChoice {
        @Override
        public TrainingEngine open(ParameterLayout layout, double[] params, int batchSize) {
            return new TapeEngine(layout, params);
        }
    }

    /** The float32 GPU engine with these options. */
    record Gpu(GpuOptions options) implements EngineChoice {
        @Override
        public TrainingEngine open(ParameterLayout layout, double[] params, int batchSize) {
            return new GpuEngine(layout, params, options, batchSize);
        }
    }
}
