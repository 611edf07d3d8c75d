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

    /**
     * The device a run trains on, decided before any data is read: --device gpu without a usable GPU is an error,
     * --device auto falls back to the CPU and says why.
     */
    static Main.Device resolve(Main.Device requested) {
        return switch (requested) {
            case cpu -> Main.Device.cpu;
            case gpu -> throw new RunFailure("--device gpu: no usable GPU (" + gpuUnavailableReason()
                    + "); use --device cpu");
            case auto -> {
                Main.LOG.info("device auto: training on the CPU ({})", gpuUnavailableReason());
                yield Main.Device.cpu;
            }
        };
    }

    /** The engine for a resolved device. */
    static TrainingEngine create(Main.Device device, Main.Engine engine, ParameterLayout layout, double[] params) {
        return engine == Main.Engine.tape ? new TapeEngine(layout, params) : new FastEngine(layout, params);
    }

    /** The precision a checkpoint written by this engine holds. */
    static DType dtypeOf(TrainingEngine engine) {
        return DType.F64;
    }
}
