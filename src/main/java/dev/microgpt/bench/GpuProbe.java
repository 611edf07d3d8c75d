package dev.microgpt.bench;

import dev.microgpt.gpu.GpuSupport;

/**
 * Prints whether the GPU engine can run here, and why not: the first line of every GPU proof. Exit status 0 on a GPU, 1
 * without one, 3 on the emulated device (which runs the engine, but whose timings are no GPU's).
 */
public final class GpuProbe {

    /** The exit status that tells scripts the device is the emulated one. */
    public static final int EMULATED = 3;

    private GpuProbe() {
    }

    public static void main(String[] args) {
        GpuSupport.Status status = GpuSupport.status();
        if (!status.usable()) {
            System.out.println("GPU engine unusable: " + status.reason());
            System.exit(1);
        }
        System.out.println("GPU engine usable: " + status.device()
                + (status.emulated() ? " - the emulated device: no timing taken on it is a GPU's" : ""));
        System.exit(status.emulated() ? EMULATED : 0);
    }
}
