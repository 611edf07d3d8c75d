// The cuBLAS subset the engine calls (libcublas.so.12): a handle bound to a stream, its workspace and pointer mode, and
// cublasSgemm_v2 as a plain float32 GEMM (a fused multiply-add per term, over k in order, as GPU GEMMs accumulate;
// cuBLAS on hardware may split and order the sum differently) queued on the
// handle's stream of the emulated driver, so that it runs, and is captured into graphs, like the kernels around it.
// Arguments are checked as cuBLAS documents; the matrices a call reads and writes must lie in device allocations.
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>

#include "emulator.h"

#define CUBLAS_API extern "C" __attribute__((visibility("default")))

extern "C" {
CUresult microgpt_emu_vreport(CUresult code, const char* format, va_list args);
CUresult microgpt_emu_not_emulated(const char* call);
CUresult microgpt_emu_require_context(const char* call);
CUresult microgpt_emu_require_device_range(CUdeviceptr address, size_t bytes, const char* call, const char* what);
CUresult microgpt_emu_require_stream(void* stream, const char* call);
int microgpt_emu_is_device_memory(CUdeviceptr address);
CUresult microgpt_emu_enqueue(void* stream, const char* call, CUresult (*run)(void*), void* data,
                              void (*release)(void*), const CUdeviceptr* addresses, int count, CUdeviceptr written);
}

typedef int cublasStatus_t;

namespace {

enum : cublasStatus_t {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16,
};

constexpr int kOpN = 0;
constexpr int kOpT = 1;
constexpr int kOpC = 2;
constexpr int kPointerModeHost = 0;
constexpr int kPointerModeDevice = 1;
constexpr int kVersionMajor = 12;
constexpr int kVersionMinor = 0;
constexpr int kVersionPatch = 0;

struct Handle {
    void* stream = nullptr;
    CUdeviceptr workspace = 0;
    size_t workspace_bytes = 0;
    int pointer_mode = kPointerModeHost;
    int math_mode = 0;
};

std::mutex g_mutex;
std::set<Handle*> g_handles;

cublasStatus_t refuse(cublasStatus_t status, const char* format, ...) __attribute__((format(printf, 2, 3)));
cublasStatus_t refuse(cublasStatus_t status, const char* format, ...) {
    va_list args;
    va_start(args, format);
    microgpt_emu_vreport(CUDA_ERROR_INVALID_VALUE, format, args);
    va_end(args);
    return status;
}

cublasStatus_t from_driver(CUresult result) {
    switch (result) {
        case CUDA_SUCCESS: return CUBLAS_STATUS_SUCCESS;
        case CUDA_ERROR_NOT_INITIALIZED:
        case CUDA_ERROR_INVALID_CONTEXT:
        case CUDA_ERROR_CONTEXT_IS_DESTROYED: return CUBLAS_STATUS_NOT_INITIALIZED;
        case CUDA_ERROR_INVALID_VALUE:
        case CUDA_ERROR_INVALID_HANDLE: return CUBLAS_STATUS_INVALID_VALUE;
        default: return CUBLAS_STATUS_EXECUTION_FAILED;
    }
}

Handle* live(void* handle) {
    auto* h = static_cast<Handle*>(handle);
    return g_handles.count(h) != 0 ? h : nullptr;
}

// One queued GEMM: C [m, n] = alpha op(A) op(B) + beta C, column-major, with alpha and beta read at the call (host
// pointer mode) or when it runs (device pointer mode).
struct Sgemm {
    int transa, transb, m, n, k;
    float alpha, beta;
    const float* alpha_device;
    const float* beta_device;
    const float* a;
    int lda;
    const float* b;
    int ldb;
    float* c;
    int ldc;
};

CUresult run_sgemm(void* data) {
    const Sgemm& g = *static_cast<const Sgemm*>(data);
    const float alpha = g.alpha_device != nullptr ? *g.alpha_device : g.alpha;
    const float beta = g.beta_device != nullptr ? *g.beta_device : g.beta;
    const int k = alpha == 0.0f ? 0 : g.k;  // alpha 0: A and B are not read, as BLAS promises
    for (int j = 0; j < g.n; j++) {
        for (int i = 0; i < g.m; i++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++) {
                float a = g.transa == kOpN ? g.a[i + static_cast<long>(p) * g.lda] : g.a[p + static_cast<long>(i) * g.lda];
                float b = g.transb == kOpN ? g.b[p + static_cast<long>(j) * g.ldb] : g.b[j + static_cast<long>(p) * g.ldb];
                sum = fmaf(a, b, sum);
            }
            float& c = g.c[i + static_cast<long>(j) * g.ldc];
            c = beta == 0.0f ? alpha * sum : alpha * sum + beta * c;  // beta 0: C is not read, as BLAS promises
        }
    }
    return CUDA_SUCCESS;
}

void release_sgemm(void* data) {
    delete static_cast<Sgemm*>(data);
}

// Bytes from the first element of a column-major [rows, cols] matrix with leading dimension ld to past its last.
size_t matrix_bytes(int rows, int cols, int ld) {
    return rows == 0 || cols == 0 ? 0 : (static_cast<size_t>(cols - 1) * ld + rows) * sizeof(float);
}

}  // namespace

CUBLAS_API cublasStatus_t cublasCreate_v2(void** handle) {
    if (handle == nullptr) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (microgpt_emu_require_context("cublasCreate_v2") != CUDA_SUCCESS) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    std::lock_guard<std::mutex> lock(g_mutex);
    auto* h = new Handle();
    g_handles.insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasDestroy_v2(void* handle) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return refuse(CUBLAS_STATUS_NOT_INITIALIZED, "cublasDestroy_v2: %p is not a live handle", handle);
    }
    g_handles.erase(h);
    delete h;  // queued calls hold their own copies of what they need
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasSetStream_v2(void* handle, void* stream) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    if (cublasStatus_t s = from_driver(microgpt_emu_require_stream(stream, "cublasSetStream_v2"))) {
        return s;
    }
    h->stream = stream;
    h->workspace = 0;  // as cuBLAS does: setting the stream resets the workspace to the library's own
    h->workspace_bytes = 0;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasGetStream_v2(void* handle, void** stream) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    *stream = h->stream;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasSetWorkspace_v2(void* handle, void* workspace, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    auto address = reinterpret_cast<CUdeviceptr>(workspace);
    if (bytes > 0 && (address % 256) != 0) {
        return refuse(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace_v2: the workspace %p is not 256-byte aligned",
                      workspace);
    }
    if (bytes > 0) {
        if (cublasStatus_t s = from_driver(microgpt_emu_require_device_range(address, bytes, "cublasSetWorkspace_v2",
                                                                             "workspace"))) {
            return s;
        }
    }
    h->workspace = address;
    h->workspace_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasSetPointerMode_v2(void* handle, int mode) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    if (mode != kPointerModeHost && mode != kPointerModeDevice) {
        return refuse(CUBLAS_STATUS_INVALID_VALUE, "cublasSetPointerMode_v2(%d)", mode);
    }
    h->pointer_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasGetPointerMode_v2(void* handle, int* mode) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    *mode = h->pointer_mode;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasSetMathMode(void* handle, int mode) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    h->math_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasGetMathMode(void* handle, int* mode) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Handle* h = live(handle);
    if (h == nullptr) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    *mode = h->math_mode;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API cublasStatus_t cublasGetProperty(int type, int* value) {
    if (value == nullptr) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    switch (type) {  // libraryPropertyType: MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
        case 0: *value = kVersionMajor; return CUBLAS_STATUS_SUCCESS;
        case 1: *value = kVersionMinor; return CUBLAS_STATUS_SUCCESS;
        case 2: *value = kVersionPatch; return CUBLAS_STATUS_SUCCESS;
        default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

CUBLAS_API cublasStatus_t cublasGetVersion_v2(void* handle, int* version) {
    if (version == nullptr) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    *version = kVersionMajor * 10000 + kVersionMinor * 100 + kVersionPatch;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_API const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

CUBLAS_API const char* cublasGetStatusString(cublasStatus_t status) {
    return cublasGetStatusName(status);
}

CUBLAS_API cublasStatus_t cublasSgemm_v2(void* handle, int transa, int transb, int m, int n, int k, const float* alpha,
                                         const float* a, int lda, const float* b, int ldb, const float* beta, float* c,
                                         int ldc) {
    std::lock_guard<std::mutex> lock(g_mutex);
    const char* call = "cublasSgemm_v2";
    Handle* h = live(handle);
    if (h == nullptr) {
        return refuse(CUBLAS_STATUS_NOT_INITIALIZED, "%s: %p is not a live handle", call, handle);
    }
    for (int op : {transa, transb}) {
        if (op != kOpN && op != kOpT && op != kOpC) {
            return refuse(CUBLAS_STATUS_INVALID_VALUE, "%s: operation %d is not N, T or C", call, op);
        }
    }
    const int a_rows = transa == kOpN ? m : k;
    const int a_cols = transa == kOpN ? k : m;
    const int b_rows = transb == kOpN ? k : n;
    const int b_cols = transb == kOpN ? n : k;
    if (m < 0 || n < 0 || k < 0 || lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m)) {
        return refuse(CUBLAS_STATUS_INVALID_VALUE, "%s: m=%d n=%d k=%d with lda=%d ldb=%d ldc=%d (each leading dimension "
                      "must be at least its matrix's rows, and at least 1)", call, m, n, k, lda, ldb, ldc);
    }
    if (alpha == nullptr || beta == nullptr) {
        return refuse(CUBLAS_STATUS_INVALID_VALUE, "%s: alpha or beta is NULL", call);
    }
    if (m == 0 || n == 0) {
        return CUBLAS_STATUS_SUCCESS;
    }
    const bool host_scalars = h->pointer_mode == kPointerModeHost;
    if (host_scalars && (microgpt_emu_is_device_memory(reinterpret_cast<CUdeviceptr>(alpha)) ||
                         microgpt_emu_is_device_memory(reinterpret_cast<CUdeviceptr>(beta)))) {
        return refuse(CUBLAS_STATUS_INVALID_VALUE, "%s: alpha or beta points into device memory, but the handle's "
                      "pointer mode is CUBLAS_POINTER_MODE_HOST", call);
    }
    auto* g = new Sgemm{transa, transb, m, n, k, 0.0f, 0.0f, nullptr, nullptr, a, lda, b, ldb, c, ldc};
    if (host_scalars) {
        g->alpha = *alpha;
        g->beta = *beta;
    } else {
        g->alpha_device = alpha;
        g->beta_device = beta;
    }
    struct Operand {
        const void* address;
        size_t bytes;
        const char* what;
    };
    const bool reads_ab = k != 0 && !(host_scalars && g->alpha == 0.0f);
    const Operand operands[] = {
            {a, reads_ab ? matrix_bytes(a_rows, a_cols, lda) : 0, "matrix A"},
            {b, reads_ab ? matrix_bytes(b_rows, b_cols, ldb) : 0, "matrix B"},
            {c, matrix_bytes(m, n, ldc), "matrix C"},
            {alpha, h->pointer_mode == kPointerModeDevice ? sizeof(float) : 0, "alpha"},
            {beta, h->pointer_mode == kPointerModeDevice ? sizeof(float) : 0, "beta"},
    };
    CUdeviceptr addresses[5];
    int count = 0;
    for (const Operand& o : operands) {
        if (o.bytes == 0) {
            continue;
        }
        auto address = reinterpret_cast<CUdeviceptr>(o.address);
        if (CUresult r = microgpt_emu_require_device_range(address, o.bytes, call, o.what)) {
            delete g;
            return from_driver(r);
        }
        addresses[count++] = address;
    }
    return from_driver(microgpt_emu_enqueue(h->stream, call, run_sgemm, g, release_sgemm, addresses, count,
                                            reinterpret_cast<CUdeviceptr>(c)));
}

// The calls JCublas2 links that the emulator does not implement answer this (stubs.c, generated by the Makefile).
extern "C" __attribute__((visibility("default"))) int microgpt_cublas_not_emulated(const char* call) {
    microgpt_emu_not_emulated(call);
    return CUBLAS_STATUS_NOT_SUPPORTED;
}
