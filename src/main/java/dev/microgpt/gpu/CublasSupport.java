package dev.microgpt.gpu;

import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasStatus;
import jcuda.libraryPropertyType;

/**
 * Whether cuBLAS can be loaded in this process, decided once and cached. JCublas2's natives link against
 * libcublas.so.12: where that library is missing, the first touch of JCublas2 throws UnsatisfiedLinkError and the class
 * stays unusable for the JVM's life (later touches throw NoClassDefFoundError), so the first failure's reason is the
 * one to keep. Loading needs no GPU; whether one is usable is {@link GpuSupport}'s question.
 */
public final class CublasSupport {

    /**
     * @param usable  whether JCublas2 and libcublas.so.12 loaded
     * @param reason  why not, in one line with the fix (empty when usable)
     * @param version the loaded cuBLAS, e.g. "cuBLAS 12.0.2" (empty when not usable)
     */
    public record Status(boolean usable, String reason, String version) {
    }

    private CublasSupport() {
    }

    /** The cached answer; the first call loads the library (milliseconds). */
    public static Status status() {
        return Holder.STATUS;
    }

    private static final class Holder {
        static final Status STATUS = probe();
    }

    private static Status probe() {
        try {
            JCublas2.initialize();
            return new Status(true, "", "cuBLAS " + property(libraryPropertyType.MAJOR_VERSION) + "."
                    + property(libraryPropertyType.MINOR_VERSION) + "." + property(libraryPropertyType.PATCH_LEVEL));
        } catch (Throwable e) { // UnsatisfiedLinkError, or NoClassDefFoundError after an earlier failed touch
            return new Status(false, "cuBLAS is not available: libcublas.so.12 could not be loaded (" + cause(e)
                    + "); run without --gemm cublas, or install the CUDA 12 cuBLAS runtime", "");
        }
    }

    private static int property(int type) {
        int[] value = {0};
        int status = JCublas2.cublasGetProperty(type, value);
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException("cublasGetProperty failed: " + cublasStatus.stringFor(status));
        }
        return value[0];
    }

    /**
     * The error in one line. JCuda's UnsatisfiedLinkError carries the stack traces of its load attempts in its message;
     * the last nested UnsatisfiedLinkError there is the dynamic linker's own word ("libcublas.so.12: cannot open shared
     * object file: No such file or directory").
     */
    static String cause(Throwable e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        String prefix = UnsatisfiedLinkError.class.getName() + ": ";
        String linker = null;
        for (String line : message.split("\\R")) {
            if (line.startsWith(prefix)) {
                linker = line.substring(prefix.length()).strip();
            }
        }
        if (linker != null) {
            return linker;
        }
        String first = message.lines().findFirst().orElse("").strip();
        return first.isEmpty() ? e.getClass().getName() : e.getClass().getSimpleName() + ": " + first;
    }
}
