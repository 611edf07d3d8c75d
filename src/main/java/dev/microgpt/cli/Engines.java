package dev.microgpt.cli;

import dev.microgpt.checkpoint.DType;
import dev.microgpt.engine.FastEngine;
import dev.microgpt.engine.TapeEngine;
import dev.microgpt.engine.TrainingEngine;
import dev.microgpt.model.ParameterLayout;

/** Picks and builds the engine for --device and --engine. */
final class Engines {

    private Engines() {
    }

    /** Why no GPU engine can be used in this process; this build has none yet. */
    static String gpuUnavailableReason() {
        return "this build has no GPU engine yet";
    }

    static TrainingEngine create(Main.Device device, Main.Engine engine, ParameterLayout layout, double[] params) {
        if (device == Main.Device.gpu) {
            throw new RunFailure("--device gpu: no usable GPU (" + gpuUnavailableReason() + "); use --device cpu");
        }
        if (device == Main.Device.auto) {
            Main.LOG.info("device auto: training on the CPU ({})", gpuUnavailableReason());
        }
        return engine == Main.Engine.tape ? new TapeEngine(layout, params) : new FastEngine(layout, params);
    }

    /** The precision a checkpoint written by this engine holds. */
    static DType dtypeOf(TrainingEngine engine) {
        return DType.F64;
    }
}
