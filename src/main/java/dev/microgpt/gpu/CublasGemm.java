package dev.microgpt.gpu;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.jcublas.JCublas2.cublasCreate;
import static jcuda.jcublas.JCublas2.cublasDestroy;
import static jcuda.jcublas.JCublas2.cublasSetPointerMode;
import static jcuda.jcublas.JCublas2.cublasSetStream;
import static jcuda.jcublas.JCublas2.cublasSetWorkspace;
import static jcuda.jcublas.JCublas2.cublasSgemm;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_N;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_T;

import java.util.List;
import java.util.Locale;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasPointerMode;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;

/**
 * The linear layers through cuBLAS ({@code cublasSgemm}, v2 API): a handle bound to the engine's stream, created only
 * when cuBLAS is asked for and where {@link CublasSupport} loaded it. The handle keeps cuBLAS's default math mode,
 * which for single precision never uses TF32 (that takes CUBLAS_TF32_TENSOR_OP_MATH), so results stay float32 GEMMs
 * like the hand kernels'. cuBLAS is told n, the step's positions, by the host; rows t >= n are neither read nor
 * written, as with the hand kernels.
 *
 * <p>cuBLAS is column-major: a row-major [r, c] matrix M handed over with leading dimension c is, to cuBLAS, the
 * [c, r] matrix M^T. So each product is issued transposed. With y [n,out], x [n,in], w [out,in] row-major:
 * <pre>
 *   y  = x w^T      as  y^T  = (w^T)^T x^T    sgemm(T, N, m=out, n,     k=in,  A=w lda=in, B=x  ldb=in,  beta,   C=y  ldc=out)
 *   dx = dy w       as  dx^T = w^T dy^T       sgemm(N, N, m=in,  n,     k=out, A=w lda=in, B=dy ldb=out, beta=0, C=dx ldc=in)
 *   dw += dy^T x    as  dw^T += x^T (dy^T)^T  sgemm(N, T, m=in,  n=out, k=n,   A=x lda=in, B=dy ldb=out, beta=1, C=dw ldc=in)
 * </pre>
 * where each A, B, C is the row-major buffer as it lies (cuBLAS sees its transpose) and alpha = 1; beta is 1 for a
 * forward with a residual (copied into y's rows first) and 0 without.
 */
final class CublasGemm implements LinearLayers, AutoCloseable {

    /**
     * cuBLAS's recommended workspace for Hopper (4 MiB suffices elsewhere). Owned rather than cuBLAS's default pool:
     * before CUDA 12.2 cuBLAS allocated a new default workspace for every graph capture, and graph mode captures one
     * graph per document length.
     */
    private static final long WORKSPACE_BYTES = 32L << 20;
    /** alpha and beta, read from host memory (the handle's pointer mode) when a call is issued or captured. */
    private static final Pointer ONE = Pointer.to(new float[] {1f});
    private static final Pointer ZERO = Pointer.to(new float[] {0f});

    private final cublasHandle handle = new cublasHandle();
    private final DeviceArray workspace; // [WORKSPACE_BYTES / 4]: cuBLAS's scratch, owned here

    /** A handle on the current context, issuing on {@code stream}; a CudaException with the reason without cuBLAS. */
    CublasGemm(CUstream stream) {
        // Touching JCublas2 where it cannot load would throw a LinkageError, past the engine's cleanup.
        CublasSupport.Status cublas = CublasSupport.status();
        if (!cublas.usable()) {
            throw new CudaException(cublas.reason());
        }
        check(cublasCreate(handle), "cublasCreate");
        DeviceArray space = null;
        try {
            space = new DeviceArray("cublas_workspace", WORKSPACE_BYTES / DeviceArray.ELEMENT_BYTES);
            check(cublasSetStream(handle, new cudaStream_t(stream)), "cublasSetStream");
            // cublasSetStream resets the workspace to cuBLAS's default pool, so ours is set after it.
            check(cublasSetWorkspace(handle, space.at(0), WORKSPACE_BYTES), "cublasSetWorkspace");
            check(cublasSetPointerMode(handle, cublasPointerMode.CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
        } catch (RuntimeException e) {
            if (space != null) {
                space.close();
            }
            cublasDestroy(handle);
            throw e;
        }
        this.workspace = space;
    }

    /** A residual is copied into y's first n rows first, then the product is added to it (beta = 1). */
    @Override
    public List<StepOp> forward(CUdeviceptr y, CUdeviceptr x, CUdeviceptr w, CUdeviceptr residual, int in, int out) {
        Sgemm product = new Sgemm(handle, Product.OUTPUT, y, w, x, in, out, residual == null ? ZERO : ONE);
        return residual == null ? List.of(product) : List.of(new RowCopy(y, residual, out), product);
    }

    @Override
    public List<StepOp> backward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dy, CUdeviceptr x, CUdeviceptr w, int in,
                                 int out) {
        return List.of(new Sgemm(handle, Product.INPUT_GRADIENT, dx, w, dy, in, out, ZERO),
                new Sgemm(handle, Product.WEIGHT_GRADIENT, dw, x, dy, in, out, ONE));
    }

    @Override
    public List<StepOp> qkvForward(CUdeviceptr qkv, CUdeviceptr x, CUdeviceptr w, int c) {
        return forward(qkv, x, w, null, c, 3 * c);
    }

    @Override
    public List<StepOp> qkvBackward(CUdeviceptr dx, CUdeviceptr dw, CUdeviceptr dqkv, CUdeviceptr x, CUdeviceptr w,
                                    int c) {
        return backward(dx, dw, dqkv, x, w, c, 3 * c);
    }

    @Override
    public void close() {
        try {
            check(cublasDestroy(handle), "cublasDestroy");
        } finally {
            workspace.close();
        }
    }

    private static void check(int status, String call) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(call + " failed: " + cublasStatus.stringFor(status));
        }
    }

    /** Which product of a linear layer [out, in] a call computes. */
    private enum Product {
        /** y [n,out] = x w^T + beta y */
        OUTPUT,
        /** dx [n,in] = dy w */
        INPUT_GRADIENT,
        /** dw [out,in] += dy^T x */
        WEIGHT_GRADIENT
    }

    /**
     * One cublasSgemm of a linear layer for the step's n rows, C = op(A) op(B) + beta C in cuBLAS's terms (the mapping
     * is in the class comment): for OUTPUT a = w, b = x; for INPUT_GRADIENT a = w, b = dy; for WEIGHT_GRADIENT a = x,
     * b = dy.
     */
    private record Sgemm(String name, cublasHandle handle, Product product, CUdeviceptr c, CUdeviceptr a, CUdeviceptr b,
                         int in, int out, Pointer beta) implements StepOp {

        Sgemm(cublasHandle handle, Product product, CUdeviceptr c, CUdeviceptr a, CUdeviceptr b, int in, int out,
              Pointer beta) {
            this("cublasSgemm(" + product.name().toLowerCase(Locale.ROOT) + ", w [" + out + "," + in + "])", handle,
                    product, c, a, b, in, out, beta);
        }

        @Override
        public void enqueue(CUstream stream, int n) {
            int status = switch (product) {
                case OUTPUT -> cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, ONE, a, in, b, in, beta, c, out);
                case INPUT_GRADIENT -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, ONE, a, in, b, out, beta,
                        c, in);
                case WEIGHT_GRADIENT -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, ONE, a, in, b, out, beta,
                        c, in);
            };
            check(status, name);
        }

        @Override
        public boolean dependsOnPositions() {
            return true;
        }
    }

    /** dst's first n rows of {@code rowFloats} floats = src's, on the stream: the residual a product is added to. */
    private record RowCopy(CUdeviceptr dst, CUdeviceptr src, int rowFloats) implements StepOp {

        @Override
        public void enqueue(CUstream stream, int n) {
            Cuda.check(cuMemcpyDtoDAsync(dst, src, (long) n * rowFloats * DeviceArray.ELEMENT_BYTES, stream),
                    "cuMemcpyDtoDAsync(residual)");
        }

        @Override
        public boolean dependsOnPositions() {
            return true;
        }
    }
}
