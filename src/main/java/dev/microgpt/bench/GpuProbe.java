package dev.microgpt.bench;

import dev.microgpt.gpu.GpuSupport;

/** Prints whether the GPU engine can run here, and why not: the first line of every GPU proof. */
public final class GpuProbe {

    private GpuProbe() {
    }

    public static void main(String[] args) {
        GpuSupport.Status status = GpuSupport.status();
        System.out.println(status.usable() ? "GPU engine usable: " + status.device()
                : "GPU engine unusable: " + status.reason());
        System.exit(status.usable() ? 0 : 1);
    }
}
