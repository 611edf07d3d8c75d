package dev.microgpt.bench;

import dev.microgpt.gpu.CublasSupport;
import dev.microgpt.gpu.GpuSupport;

/**
 * Prints whether the GPU engine can run here, and why not: the first line of every GPU proof. Exit status 0 on a GPU, 1
 * without one, 3 on the emulated device (which runs the engine, but whose timings are no GPU's). With the argument
 * {@code cublas}, whether cuBLAS loads instead: exit status 0 or 1.
 */
public final class GpuProbe {

    /** The exit status that tells scripts the device is the emulated one. */
    public static final int EMULATED = 3;

    private GpuProbe() {
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("cublas")) {
            CublasSupport.Status cublas = CublasSupport.status();
            System.out.println(cublas.usable() ? cublas.version() : cublas.reason());
            System.exit(cublas.usable() ? 0 : 1);
        }
        GpuSupport.Status status = GpuSupport.status();
        if (!status.usable()) {
            System.out.println("GPU engine unusable: " + status.reason());
            System.exit(1);
        }
        System.out.println("GPU engine usable: " + status.device() + "; kernels loaded as " + GpuSupport.loadEveryKernel()
                + (status.emulated() ? " - the emulated device: no timing taken on it is a GPU's" : ""));
        System.exit(status.emulated() ? EMULATED : 0);
    }
}
