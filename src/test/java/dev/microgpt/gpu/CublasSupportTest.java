package dev.microgpt.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import jcuda.jcublas.JCublas2;
import org.junit.jupiter.api.Test;

/**
 * The cuBLAS probe where libcublas.so.12 cannot load (as on the development machines, which lack it), and how its
 * one-line reason is made from JCuda's many-line error.
 */
class CublasSupportTest {

    @Test
    void withoutLibcublasTheFirstFailureIsKeptAsOneLineNamingTheLibrary() {
        CublasSupport.Status status = CublasSupport.status();
        assumeFalse(status.usable(), "cuBLAS loads here (" + status.version() + "); CublasEngineParityTest uses it");
        assertTrue(status.reason().startsWith("cuBLAS is not available: libcublas.so.12 could not be loaded ("),
                status.reason());
        assertTrue(status.reason().endsWith("run without --gemm cublas, or install the CUDA 12 cuBLAS runtime"),
                status.reason());
        assertFalse(status.reason().contains("\n"), status.reason());
        assertEquals("", status.version());
        // JCublas2 stays broken after its failed initialisation, now with a class error that no longer names the
        // library: the cached answer is the first one.
        assertThrows(NoClassDefFoundError.class, JCublas2::initialize);
        assertSame(status, CublasSupport.status());
        assertFalse(status.reason().contains("Could not initialize class"), status.reason());
    }

    @Test
    void jcudaLoadFailureComesDownToTheDynamicLinkersLine() {
        String message = String.join("\n",
                "Error while loading native library \"JCublas2-12.6.0-linux-x86_64\"",
                "Operating system name: Linux",
                "---(start of nested stack traces)---",
                "Stack trace from the attempt to load the library as a file:",
                "java.lang.UnsatisfiedLinkError: no JCublas2-12.6.0-linux-x86_64 in java.library.path: /usr/lib",
                "\tat java.base/java.lang.ClassLoader.loadLibrary(ClassLoader.java:2434)",
                "Stack trace from the attempt to load the library as a resource:",
                "java.lang.UnsatisfiedLinkError: /tmp/libJCublas2-12.6.0-linux-x86_64.so: libcublas.so.12: cannot open"
                        + " shared object file: No such file or directory",
                "\tat java.base/jdk.internal.loader.NativeLibraries.load(Native Method)",
                "---(end of nested stack traces)---");
        assertEquals("/tmp/libJCublas2-12.6.0-linux-x86_64.so: libcublas.so.12: cannot open shared object file: No such"
                + " file or directory", CublasSupport.cause(new UnsatisfiedLinkError(message)));
        assertEquals("NoClassDefFoundError: Could not initialize class jcuda.jcublas.JCublas2",
                CublasSupport.cause(new NoClassDefFoundError("Could not initialize class jcuda.jcublas.JCublas2")));
        assertEquals("java.lang.UnsatisfiedLinkError", CublasSupport.cause(new UnsatisfiedLinkError()));
    }
}
