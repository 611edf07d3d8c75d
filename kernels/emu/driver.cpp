// The CUDA driver API of the emulated device (libcuda.so.1), as far as JCuda's natives and the engine use it. Every
// call checks what a real driver, or compute-sanitizer, would refuse, and refuses it with one line on stderr naming the
// call (and the kernel) and the matching CUresult; cuGetErrorString gives that line back, so a CudaException carries it.
//
// Streams are lazy: work queued on a stream runs, on the device thread, only when the host waits for it (a
// synchronisation, a synchronous copy, a free) - as if the GPU were infinitely slow. Whatever the host does between
// queuing work and waiting for it is therefore seen by that work: a pinned buffer rewritten before its copy ran is
// copied as rewritten, a result read before the wait is read stale. Deterministic, and the worst case of every race
// between host and device. A captured graph replays its copies from pinned memory as it is when the replay runs.
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "emulator.h"

using namespace emu;

#define EMU_API extern "C" __attribute__((visibility("default")))

typedef int CUdevice;

enum : CUresult {
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_ILLEGAL_STATE = 401,
};

namespace {

constexpr int kCaptureGlobal = 0;
constexpr int kCaptureThreadLocal = 1;
constexpr int kCaptureRelaxed = 2;
constexpr unsigned kStreamNonBlocking = 1;
constexpr unsigned kEventDisableTiming = 2;
constexpr int kPtxIsaMajor = 9;  // the newest PTX ISA a CUDA 13.0 driver loads: 9.0
constexpr int kPtxIsaMinor = 0;
constexpr int kNewestTarget = 90;  // sm_90

// ---------------------------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------------------------

// Never destroyed (as every table here): a host thread may still call in while the process exits.
std::mutex& g_report_mutex = *new std::mutex;
std::map<CUresult, std::string>& g_details = *new std::map<CUresult, std::string>;  // the latest report of each code

const char* standard_error_string(CUresult code) {
    switch (code) {
        case CUDA_SUCCESS: return "no error";
        case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
        case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
        case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
        case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
        case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
        case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
        case CUDA_ERROR_NO_BINARY_FOR_GPU: return "no kernel image is available for execution on the device";
        case CUDA_ERROR_INVALID_PTX: return "a PTX JIT compilation failed";
        case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return "the provided PTX was compiled with an unsupported toolchain.";
        case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
        case CUDA_ERROR_ILLEGAL_STATE: return "the operation cannot be performed in the present state";
        case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
        case CUDA_ERROR_NOT_READY: return "device not ready";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "too many resources requested for launch";
        case CUDA_ERROR_CONTEXT_IS_DESTROYED: return "context is destroyed";
        case CUDA_ERROR_HARDWARE_STACK_ERROR: return "hardware stack error";
        case CUDA_ERROR_ILLEGAL_INSTRUCTION: return "an illegal instruction was encountered";
        case CUDA_ERROR_LAUNCH_FAILED: return "unspecified launch failure";
        case CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE: return "too many blocks in cooperative launch";
        case CUDA_ERROR_NOT_SUPPORTED: return "operation not supported";
        case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "operation not permitted when stream is capturing";
        case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "operation failed due to a previous error during capture";
        case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: return "operation would make the legacy stream depend on a capturing blocking stream";
        case CUDA_ERROR_CAPTURED_EVENT: return "operation not permitted on an event last recorded in a capturing stream";
        case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: return "attempt to terminate a thread-local capture sequence from another thread";
        default: return nullptr;
    }
}

const char* error_name(CUresult code) {
    switch (code) {
        case CUDA_SUCCESS: return "CUDA_SUCCESS";
        case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
        case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
        case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
        case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
        case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
        case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
        case CUDA_ERROR_NO_BINARY_FOR_GPU: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
        case CUDA_ERROR_INVALID_PTX: return "CUDA_ERROR_INVALID_PTX";
        case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
        case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
        case CUDA_ERROR_ILLEGAL_STATE: return "CUDA_ERROR_ILLEGAL_STATE";
        case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
        case CUDA_ERROR_NOT_READY: return "CUDA_ERROR_NOT_READY";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "CUDA_ERROR_ILLEGAL_ADDRESS";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
        case CUDA_ERROR_CONTEXT_IS_DESTROYED: return "CUDA_ERROR_CONTEXT_IS_DESTROYED";
        case CUDA_ERROR_HARDWARE_STACK_ERROR: return "CUDA_ERROR_HARDWARE_STACK_ERROR";
        case CUDA_ERROR_ILLEGAL_INSTRUCTION: return "CUDA_ERROR_ILLEGAL_INSTRUCTION";
        case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
        case CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE: return "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE";
        case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
        case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
        case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
        case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: return "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT";
        case CUDA_ERROR_CAPTURED_EVENT: return "CUDA_ERROR_CAPTURED_EVENT";
        case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: return "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD";
        default: return nullptr;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels: registered by the kernel objects, with ptxas's resource counts from the build
// ---------------------------------------------------------------------------------------------------------------

struct KernelResources {
    const char* name;
    int registers;
    int static_shared;
};

const KernelResources kResources[] = {
#include "resources.inc"
};

std::map<std::string, KernelInfo>& registered_kernels() {
    static auto* kernels = new std::map<std::string, KernelInfo>;
    return *kernels;
}

// ---------------------------------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------------------------------

struct Context;
struct Function;
struct Event;

// A PTX .entry: its parameters as the PTX declares them, and its launch bounds.
struct Entry {
    std::string name;
    std::vector<std::string> param_types;  // ".u64", ".u32", ".f64", ".b8[16]" ...
    std::vector<size_t> param_sizes;
    int max_threads = kMaxThreadsPerBlock;  // .maxntid, or the hardware's limit
    int required_threads = 0;               // .reqntid, or 0
    const KernelInfo* kernel = nullptr;
};

struct Op;

struct Stream {
    Context* context;
    unsigned flags;
    bool legacy;
    bool destroyed = false;
    std::vector<Op> pending;
    bool capturing = false;
    int capture_mode = kCaptureGlobal;
    pthread_t capture_thread{};
    CUresult capture_error = CUDA_SUCCESS;
    std::vector<Op> captured;
};

struct Context {
    unsigned generation;
    bool destroyed = false;
    CUresult sticky = CUDA_SUCCESS;  // a fault in device work: every later call fails with it, as on a GPU
    Stream* legacy = nullptr;
};

struct Module {
    Context* context;
    bool unloaded = false;
    int ptx_version = 0;  // major * 10 + minor
    std::map<std::string, Entry> entries;
    std::map<std::string, Function*> functions;
};

struct Function {
    Module* module;
    const Entry* entry;
    int max_dynamic_shared;  // what a launch may ask for: 48 KiB less the static declarations, or what was set
};

struct Event {
    Context* context;
    unsigned flags;
    bool destroyed = false;
    bool recorded = false;
    bool completed = false;
    bool in_capture = false;
    double millis = 0;
    Stream* stream = nullptr;
};

// A kernel launch as queued: the arguments' bytes copied at the call, as the driver does.
struct LaunchRecord {
    const KernelInfo* kernel;
    LaunchShape shape;
    std::vector<unsigned char> arg_bytes;
    std::vector<size_t> arg_offsets;
    std::vector<unsigned> allocations;  // the allocations its pointer arguments point into
    std::vector<unsigned> written;      // of those, the ones a non-const pointer argument may write
};

// Work of a library (cuBLAS) queued on a stream.
struct LibraryCall {
    std::string name;
    CUresult (*run)(void* data);
    void* data;
    void (*release)(void* data);
    std::vector<unsigned> allocations;
    std::vector<unsigned> written;

    ~LibraryCall() {
        if (release != nullptr) {
            release(data);
        }
    }
};

struct Op {
    enum class Kind : uint8_t { kernel, copy, memset, library, event, wait_value };
    Kind kind;
    uint64_t sequence = 0;
    std::shared_ptr<const LaunchRecord> launch;
    std::shared_ptr<const LibraryCall> library;
    uintptr_t dst = 0;
    uintptr_t src = 0;
    size_t bytes = 0;  // copy: bytes; memset: elements
    uint32_t value = 0;
    unsigned element = 4;
    const char* call = "";
    Event* event = nullptr;
};

struct Graph {
    Context* context;
    std::vector<Op> nodes;
};

struct GraphExec {
    Context* context;
    std::vector<Op> nodes;
};

std::mutex& g_api = *new std::mutex;
bool g_initialized = false;
unsigned g_generation = 0;
int g_primary_refs = 0;
Context* g_primary = nullptr;
thread_local Context* t_current = nullptr;
uint64_t g_sequence = 0;
std::set<Context*>& g_contexts = *new std::set<Context*>;
std::set<Stream*>& g_streams = *new std::set<Stream*>;  // live streams of every context, the legacy ones included
std::set<Module*>& g_modules = *new std::set<Module*>;
std::set<Function*>& g_functions = *new std::set<Function*>;
std::set<Event*>& g_events = *new std::set<Event*>;
std::set<Graph*>& g_graphs = *new std::set<Graph*>;
std::set<GraphExec*>& g_execs = *new std::set<GraphExec*>;
const std::chrono::steady_clock::time_point g_epoch = std::chrono::steady_clock::now();
// A fault on purpose, for the tests of what a program does when its GPU fails midway: the kernel run after this many
// (in this process, counted on the device thread) faults as an illegal address would; unset or negative, none does.
const char* const kFaultVariable = "MICROGPT_EMULATED_FAULT_AFTER_KERNELS";
const long long g_fault_after = [] {
    const char* value = std::getenv(kFaultVariable);
    return value == nullptr || *value == '\0' ? -1LL : std::atoll(value);
}();
long long g_kernels_run = 0;

// ---------------------------------------------------------------------------------------------------------------
// Checks shared by the calls
// ---------------------------------------------------------------------------------------------------------------

// An output argument the caller passed as NULL.
CUresult null_output(const char* call) {
    return report(CUDA_ERROR_INVALID_VALUE, "%s: an output argument is NULL", call);
}

// A call's one answer, written to its output argument (refused where that is NULL).
template <typename T, typename V>
CUresult answer(const char* call, T* out, V value) {
    if (out == nullptr) {
        return null_output(call);
    }
    *out = static_cast<T>(value);
    return CUDA_SUCCESS;
}

CUresult require_initialized(const char* call) {
    return g_initialized ? CUDA_SUCCESS : report(CUDA_ERROR_NOT_INITIALIZED, "%s before cuInit", call);
}

// The calling thread's current context must exist, be alive and not have failed.
CUresult require_context(const char* call) {
    if (CUresult r = require_initialized(call)) {
        return r;
    }
    Context* c = t_current;
    if (c == nullptr) {
        return report(CUDA_ERROR_INVALID_CONTEXT, "%s: no context is current on this thread (cuCtxSetCurrent it after "
                      "cuDevicePrimaryCtxRetain; contexts are current per thread)", call);
    }
    if (c->destroyed) {
        return report(CUDA_ERROR_CONTEXT_IS_DESTROYED, "%s: the thread's current context was destroyed (every holder "
                      "released the primary context)", call);
    }
    return c->sticky;
}

CUresult resolve_stream(void* handle, const char* call, Stream** out) {
    Context* c = t_current;
    uintptr_t value = reinterpret_cast<uintptr_t>(handle);
    if (value == 2) {
        return report(CUDA_ERROR_NOT_SUPPORTED, "%s: the per-thread default stream (CU_STREAM_PER_THREAD) is not "
                      "emulated", call);
    }
    if (value <= 1) {  // 0: the NULL stream, CU_STREAM_LEGACY (1)
        *out = c->legacy;
        return CUDA_SUCCESS;
    }
    auto* s = static_cast<Stream*>(handle);
    if (g_streams.count(s) == 0) {
        return report(CUDA_ERROR_INVALID_HANDLE, "%s: %p is not a live stream (destroyed, or never created)", call,
                      handle);
    }
    if (s->context != c) {
        return report(CUDA_ERROR_INVALID_HANDLE, "%s: the stream belongs to a context that is not current", call);
    }
    *out = s;
    return CUDA_SUCCESS;
}

// The preamble of every call on a stream: a usable current context, and handle one of its streams.
CUresult stream_of(void* handle, const char* call, Stream** out) {
    if (CUresult r = require_context(call)) {
        return r;
    }
    return resolve_stream(handle, call, out);
}

bool capture_binds_this_thread(const Stream& s) {
    return s.capturing && (s.capture_mode == kCaptureGlobal ||
                           (s.capture_mode == kCaptureThreadLocal && pthread_equal(s.capture_thread, pthread_self())));
}

// A potentially unsafe call (one that may synchronise or allocate) is prohibited while a capture in global mode is
// under way anywhere, or one in thread-local mode on this thread: the capture is invalidated and the call refused.
CUresult refuse_during_capture(const char* call) {
    bool refused = false;
    for (Stream* s : g_streams) {
        if (capture_binds_this_thread(*s)) {
            s->capture_error = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
            refused = true;
        }
    }
    return refused ? report(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "%s during a stream capture: the call may "
                            "synchronise or allocate, which a capture in global or thread-local mode prohibits (the "
                            "capture is invalidated)", call)
                   : CUDA_SUCCESS;
}

std::string pointer_text(uintptr_t address) {
    return describe_address(address);
}

// [address, address + bytes) must lie in one live device allocation.
CUresult require_device_range(uintptr_t address, size_t bytes, const char* call, const char* what) {
    if (find_device(address, bytes == 0 ? 1 : bytes) != nullptr) {
        return CUDA_SUCCESS;
    }
    const Allocation* start = find_device(address, 1);
    if (start != nullptr) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s: %s [%#lx, +%zu) runs %zu bytes past the end of allocation #%u "
                      "(%zu bytes at %#lx)", call, what, static_cast<unsigned long>(address), bytes,
                      address + bytes - start->base - start->size, start->id, start->size,
                      static_cast<unsigned long>(start->base));
    }
    if (find_pinned(address, 1) != nullptr) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s: %s %#lx is pinned host memory, not device memory", call, what,
                      static_cast<unsigned long>(address));
    }
    return report(CUDA_ERROR_INVALID_VALUE, "%s: %s is not in device memory: %s", call, what,
                  pointer_text(address).c_str());
}

// ---------------------------------------------------------------------------------------------------------------
// Queues and their execution
// ---------------------------------------------------------------------------------------------------------------

bool blocking(const Stream& s) {
    return s.legacy || (s.flags & kStreamNonBlocking) == 0;
}

double now_millis() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g_epoch).count();
}

// A queued copy's ranges when it runs: a free since it was queued (or captured) leaves it pointing at nothing, or at
// memory the host has reused.
CUresult require_still_there(const Op& op) {
    for (auto [address, what] : {std::pair{op.dst, "destination"}, std::pair{op.src, "source"}}) {
        if (find_device(address, op.bytes) == nullptr && find_pinned(address, op.bytes) == nullptr) {
            return report(CUDA_ERROR_ILLEGAL_ADDRESS, "%s: its %s [%#lx, +%zu) was freed after the copy was queued or "
                          "captured", op.call, what, static_cast<unsigned long>(address), op.bytes);
        }
    }
    return CUDA_SUCCESS;
}

// On the device thread.
CUresult run_op(const Op& op) {
    switch (op.kind) {
        case Op::Kind::kernel: {
            const LaunchRecord& l = *op.launch;
            if (g_fault_after >= 0 && g_kernels_run++ == g_fault_after) {
                return report(CUDA_ERROR_ILLEGAL_ADDRESS, "kernel %s: the fault %s=%lld asked for",
                              l.kernel->name.c_str(), kFaultVariable, g_fault_after);
            }
            std::vector<void*> args(l.arg_offsets.size());
            auto* bytes = const_cast<unsigned char*>(l.arg_bytes.data());
            for (size_t i = 0; i < args.size(); i++) {
                args[i] = bytes + l.arg_offsets[i];
            }
            if (CUresult r = execute_launch(*l.kernel, l.shape, args.data())) {
                return r;
            }
            std::string what = "kernel " + l.kernel->name;
            return check_canaries(l.allocations, what.c_str());
        }
        case Op::Kind::copy:
            if (CUresult r = require_still_there(op)) {
                return r;
            }
            return run_guarded(op.call, [&op] {
                std::memmove(reinterpret_cast<void*>(op.dst), reinterpret_cast<const void*>(op.src), op.bytes);
                return CUDA_SUCCESS;
            });
        case Op::Kind::memset:
            return run_guarded(op.call, [&op] {
                if (op.element == 4) {
                    auto* p = reinterpret_cast<uint32_t*>(op.dst);
                    std::fill(p, p + op.bytes, op.value);
                } else {
                    std::memset(reinterpret_cast<void*>(op.dst), static_cast<int>(op.value & 0xFF), op.bytes);
                }
                return CUDA_SUCCESS;
            });
        case Op::Kind::library: {
            const LibraryCall& call = *op.library;
            if (CUresult r = run_guarded(call.name.c_str(), [&call] { return call.run(call.data); })) {
                return r;
            }
            return check_canaries(call.allocations, call.name.c_str());
        }
        case Op::Kind::event:
            op.event->completed = true;
            op.event->millis = now_millis();
            return CUDA_SUCCESS;
        case Op::Kind::wait_value: {
            // This runs when the host waits for the stream, after the work queued before it: a word that is not
            // equal now is one the host waits on before writing it, and a GPU would wait for it forever.
            uint32_t now = *reinterpret_cast<const volatile uint32_t*>(op.dst);
            if (now != op.value) {
                return report(CUDA_ERROR_ILLEGAL_STATE, "cuStreamWaitValue32: the stream waits for the word at %#lx to"
                              " equal %u, which it does not (%u) when the host waits for the stream: a GPU would wait"
                              " forever", static_cast<unsigned long>(op.dst), op.value, now);
            }
            return CUDA_SUCCESS;
        }
    }
    return CUDA_SUCCESS;
}

// Runs ops in order on the device thread; a failure is sticky: the rest is dropped and the context fails from then on.
CUresult execute(Context* context, std::vector<Op>& ops) {
    if (ops.empty() || context->sticky != CUDA_SUCCESS) {
        return context->sticky;
    }
    std::sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) { return a.sequence < b.sequence; });
    CUresult result = CUDA_SUCCESS;
    on_device_thread([&] {
        for (const Op& op : ops) {
            result = run_op(op);
            if (result != CUDA_SUCCESS) {
                break;
            }
        }
    });
    if (result != CUDA_SUCCESS) {
        context->sticky = result;
    }
    return result;
}

void take_pending(Stream* s, std::vector<Op>& into) {
    for (Op& op : s->pending) {
        into.push_back(std::move(op));
    }
    s->pending.clear();
}

// Waits for the work stream s's work depends on: its own, and, for the legacy stream or a blocking stream, what the
// legacy stream orders it after. Work on the legacy stream waits for the work queued before it on every blocking
// stream of its context, and a blocking stream's work waits for the legacy work queued before it; two blocking streams
// are ordered only through the legacy stream. So the ops to run are a closure, grown until it stops: each stream's
// ops up to a sequence number.
CUresult flush(Stream* s) {
    std::map<Stream*, uint64_t> upto;  // per stream of the context: run its ops with sequence <= this
    auto last_before = [](const Stream* stream, uint64_t limit) {
        uint64_t last = 0;
        for (const Op& op : stream->pending) {
            if (op.sequence < limit) {
                last = std::max(last, op.sequence);
            }
        }
        return last;
    };
    upto[s] = last_before(s, UINT64_MAX);
    if (blocking(*s)) {
        Stream* legacy = s->context->legacy;
        for (bool grew = true; grew;) {
            grew = false;
            for (auto [stream, limit] : std::map<Stream*, uint64_t>(upto)) {
                if (!stream->legacy) {  // a blocking stream's ops wait for the legacy ops queued before them
                    uint64_t l = last_before(legacy, limit);
                    if (l > upto[legacy]) {
                        upto[legacy] = l;
                        grew = true;
                    }
                }
            }
            for (Stream* other : g_streams) {  // legacy ops wait for every blocking stream's ops queued before them
                if (other->context == s->context && !other->legacy && blocking(*other) && upto.count(legacy) != 0) {
                    uint64_t l = last_before(other, upto[legacy]);
                    if (l > upto[other]) {
                        upto[other] = l;
                        grew = true;
                    }
                }
            }
        }
    }
    std::vector<Op> ops;
    for (auto [stream, limit] : upto) {
        auto& pending = stream->pending;
        auto cut = std::stable_partition(pending.begin(), pending.end(),
                                         [limit = limit](const Op& op) { return op.sequence <= limit; });
        std::move(pending.begin(), cut, std::back_inserter(ops));
        pending.erase(pending.begin(), cut);
    }
    return execute(s->context, ops);
}

CUresult flush_all(Context* context) {
    std::vector<Op> ops;
    for (Stream* s : g_streams) {
        if (s->context == context) {
            take_pending(s, ops);
        }
    }
    return execute(context, ops);
}

// A synchronous copy or memset (the legacy stream) must not touch memory that work queued on a non-blocking stream
// uses, unless both only read it: nothing orders the two, so on a GPU they race.
CUresult refuse_unordered(Context* context, const Allocation* allocation, bool writes, const char* call) {
    if (allocation == nullptr) {
        return CUDA_SUCCESS;
    }
    auto holds = [allocation](const std::vector<unsigned>& ids) {
        return std::find(ids.begin(), ids.end(), allocation->id) != ids.end();
    };
    for (Stream* s : g_streams) {
        if (s->context != context || blocking(*s)) {
            continue;
        }
        for (const Op& op : s->pending) {
            bool op_writes = (op.launch && holds(op.launch->written)) || (op.library && holds(op.library->written)) ||
                             find_device(op.dst, 1) == allocation;
            bool op_reads = (op.launch && holds(op.launch->allocations)) ||
                            (op.library && holds(op.library->allocations)) || find_device(op.src, 1) == allocation;
            if (op_writes || (writes && op_reads)) {
                return report(CUDA_ERROR_ILLEGAL_STATE, "%s %s allocation #%u (%zu bytes at %#lx), which work queued "
                              "on non-blocking stream %p still %s: nothing orders the two (synchronize that stream "
                              "first)", call, writes ? "writes" : "reads", allocation->id, allocation->size,
                              static_cast<unsigned long>(allocation->base), static_cast<void*>(s),
                              op_writes ? "writes" : "reads");
            }
        }
    }
    return CUDA_SUCCESS;
}

// Work on the legacy stream while a blocking stream of its context captures would make the legacy stream wait on the
// capture: refused, and the capture invalidated.
CUresult refuse_legacy_during_capture(Context* context, const char* call) {
    for (Stream* other : g_streams) {
        if (other->capturing && blocking(*other) && !other->legacy && other->context == context) {
            other->capture_error = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
            return report(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "%s on the legacy stream while blocking stream %p is "
                          "capturing", call, static_cast<void*>(other));
        }
    }
    return CUDA_SUCCESS;
}

CUresult enqueue(Stream* s, Op op) {
    if (s->capturing) {
        s->captured.push_back(std::move(op));
        return CUDA_SUCCESS;
    }
    if (s->legacy) {
        if (CUresult r = refuse_legacy_during_capture(s->context, op.call)) {
            return r;
        }
    }
    if (op.event != nullptr) {  // the event now stands for this point of this stream (a graph replay included)
        op.event->recorded = true;
        op.event->completed = false;
        op.event->stream = s;
    }
    op.sequence = ++g_sequence;
    s->pending.push_back(std::move(op));
    return CUDA_SUCCESS;
}

// Everything made on the context goes: memory, streams (work still queued on them is dropped), modules, events.
void clear_context(Context* c) {
    release_all_memory();
    for (auto it = g_streams.begin(); it != g_streams.end();) {
        if ((*it)->context == c) {
            (*it)->destroyed = true;
            it = g_streams.erase(it);
        } else {
            ++it;
        }
    }
    for (Module* m : g_modules) {
        if (m->context == c && !m->unloaded) {
            m->unloaded = true;
            for (auto& [name, f] : m->functions) {
                g_functions.erase(f);
            }
        }
    }
    for (auto it = g_events.begin(); it != g_events.end();) {
        it = (*it)->context == c ? g_events.erase(it) : std::next(it);
    }
}

void destroy_context(Context* c) {
    flush_all(c);
    clear_context(c);
    c->destroyed = true;
}

// ---------------------------------------------------------------------------------------------------------------
// PTX
// ---------------------------------------------------------------------------------------------------------------

size_t ptx_type_size(const std::string& type) {
    if (type == ".u64" || type == ".s64" || type == ".b64" || type == ".f64") return 8;
    if (type == ".u32" || type == ".s32" || type == ".b32" || type == ".f32") return 4;
    if (type == ".u16" || type == ".s16" || type == ".b16" || type == ".f16") return 2;
    if (type == ".u8" || type == ".s8" || type == ".b8") return 1;
    return 0;
}

bool kinds_agree(const std::string& ptx_type, char host_kind) {
    switch (static_cast<ParamKind>(host_kind)) {
        case ParamKind::pointer:
        case ParamKind::const_pointer:
        case ParamKind::i64: return ptx_type == ".u64" || ptx_type == ".s64" || ptx_type == ".b64";
        case ParamKind::i32: return ptx_type == ".u32" || ptx_type == ".s32" || ptx_type == ".b32";
        case ParamKind::f32: return ptx_type == ".f32";
        case ParamKind::f64: return ptx_type == ".f64";
    }
    return false;
}

const char* skip_space(const char* p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

// Parses the module's .version, .target and every .entry's parameters and launch bounds.
CUresult parse_ptx(const char* text, Module* module, const char* call) {
    const char* version = std::strstr(text, ".version");
    if (version == nullptr) {
        return report(CUDA_ERROR_INVALID_IMAGE, "%s: the image is not PTX text (no .version directive)", call);
    }
    int major = 0, minor = 0;
    std::sscanf(version + 8, " %d.%d", &major, &minor);
    module->ptx_version = major * 10 + minor;
    if (major > kPtxIsaMajor || (major == kPtxIsaMajor && minor > kPtxIsaMinor)) {
        return report(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "%s: PTX ISA %d.%d is newer than this driver (CUDA 13.0) "
                      "loads (up to %d.%d)", call, major, minor, kPtxIsaMajor, kPtxIsaMinor);
    }
    const char* target = std::strstr(text, ".target");
    int sm = 0;
    if (target == nullptr || std::sscanf(target + 7, " sm_%d", &sm) != 1) {
        return report(CUDA_ERROR_INVALID_PTX, "%s: no .target sm_XX directive", call);
    }
    if (sm > kNewestTarget) {
        return report(CUDA_ERROR_NO_BINARY_FOR_GPU, "%s: PTX for sm_%d does not run on a compute capability 9.0 device",
                      call, sm);
    }
    for (const char* p = std::strstr(text, ".entry"); p != nullptr; p = std::strstr(p + 1, ".entry")) {
        const char* name_start = skip_space(p + 6);
        const char* name_end = name_start;
        while (*name_end == '_' || std::isalnum(static_cast<unsigned char>(*name_end)) || *name_end == '$') {
            name_end++;
        }
        Entry entry;
        entry.name.assign(name_start, name_end);
        const char* open = skip_space(name_end);
        if (*open != '(') {
            continue;  // an .entry directive without parameters is written "name()" too; anything else is not one
        }
        const char* close = std::strchr(open, ')');
        if (close == nullptr) {
            return report(CUDA_ERROR_INVALID_PTX, "%s: .entry %s has no closing parenthesis", call, entry.name.c_str());
        }
        for (const char* q = std::strstr(open, ".param"); q != nullptr && q < close; q = std::strstr(q + 6, ".param")) {
            const char* t = skip_space(q + 6);
            size_t size = 0;
            std::string type;
            if (std::strncmp(t, ".align", 6) == 0) {  // .param .align A .b8 name[N]
                const char* bracket = std::strchr(t, '[');
                size = bracket != nullptr && bracket < close ? std::strtoul(bracket + 1, nullptr, 10) : 0;
                type = ".b8[" + std::to_string(size) + "]";
            } else {
                const char* e = t;
                while (*e != ' ' && *e != '\t' && *e != '\n' && e < close) {
                    e++;
                }
                type.assign(t, e);
                size = ptx_type_size(type);
            }
            if (size == 0) {
                return report(CUDA_ERROR_INVALID_PTX, "%s: .entry %s: parameter type %s is not understood", call,
                              entry.name.c_str(), type.c_str());
            }
            entry.param_types.push_back(type);
            entry.param_sizes.push_back(size);
        }
        const char* body = std::strchr(close, '{');
        const char* maxntid = std::strstr(close, ".maxntid");
        if (maxntid != nullptr && (body == nullptr || maxntid < body)) {
            int x = 1, y = 1, z = 1;
            std::sscanf(maxntid + 8, " %d , %d , %d", &x, &y, &z);
            entry.max_threads = x * y * z;
        }
        const char* reqntid = std::strstr(close, ".reqntid");
        if (reqntid != nullptr && (body == nullptr || reqntid < body)) {
            int x = 1, y = 1, z = 1;
            std::sscanf(reqntid + 8, " %d , %d , %d", &x, &y, &z);
            entry.required_threads = x * y * z;
        }
        entry.kernel = find_kernel(entry.name);
        if (entry.kernel == nullptr) {
            return report(CUDA_ERROR_INVALID_IMAGE, "%s: .entry %s has no host build in this emulated device: the PTX "
                          "and the emulator come from different sources (rebuild both: mvn compile)", call,
                          entry.name.c_str());
        }
        const std::string& kinds = entry.kernel->param_kinds;
        bool agree = kinds.size() == entry.param_types.size();
        for (size_t i = 0; agree && i < kinds.size(); i++) {
            agree = kinds_agree(entry.param_types[i], kinds[i]);
        }
        if (!agree) {
            std::string ptx;
            for (const std::string& t : entry.param_types) {
                ptx += t + " ";
            }
            return report(CUDA_ERROR_INVALID_IMAGE, "%s: .entry %s declares parameters (%s) that its host build (%s) "
                          "does not have: the PTX and the emulator come from different sources (rebuild both: mvn "
                          "compile)", call, entry.name.c_str(), ptx.c_str(), kinds.c_str());
        }
        module->entries[entry.name] = std::move(entry);
    }
    return CUDA_SUCCESS;
}

// Registers a warp of the kernel takes: its threads' registers, in units of 256.
int registers_per_warp(const KernelInfo& k) {
    return (k.registers * 32 + kRegisterAllocationUnit - 1) / kRegisterAllocationUnit * kRegisterAllocationUnit;
}

// Blocks of the function one multiprocessor holds at once, by Hopper's limits as CUDA's occupancy calculator applies
// them: threads, blocks, registers (each of the 4 sub-partitions holds 16384 and whole warps), shared memory (each
// block's rounded up to 128 bytes, plus the driver's 1 KiB).
int blocks_per_multiprocessor(const Function& f, int block_threads, size_t dynamic_shared) {
    const KernelInfo& k = *f.entry->kernel;
    if (block_threads <= 0 || block_threads > f.entry->max_threads ||
        dynamic_shared > static_cast<size_t>(f.max_dynamic_shared)) {
        return 0;
    }
    int warps = (block_threads + 31) / 32;
    int blocks = std::min(kMaxBlocksPerMultiprocessor, kMaxThreadsPerMultiprocessor / 32 / warps);
    if (k.registers > 0) {
        int warps_by_registers = kRegistersPerMultiprocessor / kSubPartitions / registers_per_warp(k) * kSubPartitions;
        blocks = std::min(blocks, warps_by_registers / warps);
    }
    size_t shared = k.static_shared + dynamic_shared + kReservedSharedPerBlock;
    shared = (shared + kSharedAllocationUnit - 1) / kSharedAllocationUnit * kSharedAllocationUnit;
    blocks = std::min<int>(blocks, static_cast<int>(kSharedPerMultiprocessor / shared));
    return blocks;
}

CUresult require_function(Function* f, const char* call) {
    if (g_functions.count(f) == 0) {
        return report(CUDA_ERROR_INVALID_HANDLE, "%s: %p is not a function of a loaded module", call,
                      static_cast<void*>(f));
    }
    if (f->module->unloaded || f->module->context != t_current) {
        return report(CUDA_ERROR_INVALID_HANDLE, "%s(%s): its module was unloaded, or belongs to another context", call,
                      f->entry->name.c_str());
    }
    return CUDA_SUCCESS;
}

CUresult launch(const char* call, Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                unsigned bz, unsigned shared, void* stream_handle, void** params, void** extra, bool cooperative) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context(call)) {
        return r;
    }
    if (CUresult r = require_function(f, call)) {
        return r;
    }
    const Entry& e = *f->entry;
    const char* name = e.name.c_str();
    Stream* s;
    if (CUresult r = resolve_stream(stream_handle, call, &s)) {
        return r;
    }
    unsigned long long threads = 1ULL * bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || threads == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): grid (%u,%u,%u) or block (%u,%u,%u) has a zero dimension",
                      call, name, gx, gy, gz, bx, by, bz);
    }
    if (gx > 2147483647u || gy > 65535 || gz > 65535) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): grid (%u,%u,%u) exceeds (2^31-1, 65535, 65535)", call, name,
                      gx, gy, gz);
    }
    if (bx > 1024 || by > 1024 || bz > 64 || threads > static_cast<unsigned long long>(kMaxThreadsPerBlock)) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): block (%u,%u,%u) exceeds the device's (1024,1024,64) and "
                      "1024 threads", call, name, bx, by, bz);
    }
    if (threads > static_cast<unsigned long long>(e.max_threads)) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): %llu threads per block, over the kernel's .maxntid %d "
                      "(__launch_bounds__)", call, name, threads, e.max_threads);
    }
    if (e.required_threads != 0 && threads != static_cast<unsigned long long>(e.required_threads)) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): %llu threads per block, not the kernel's .reqntid %d", call,
                      name, threads, e.required_threads);
    }
    // The launch check allocates whole groups of 4 warps, one per sub-partition.
    unsigned long long warp_groups = (threads + 32 * kSubPartitions - 1) / (32 * kSubPartitions);
    if (e.kernel->registers > 0 && warp_groups * kSubPartitions * registers_per_warp(*e.kernel) >
                                           static_cast<unsigned long long>(kRegistersPerMultiprocessor)) {
        return report(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "%s(%s): %llu threads of %d registers each need more than "
                      "the %d registers of a multiprocessor", call, name, threads, e.kernel->registers,
                      kRegistersPerMultiprocessor);
    }
    if (shared > static_cast<unsigned>(f->max_dynamic_shared)) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): %u bytes of dynamic shared memory, over the %d the function "
                      "allows%s", call, name, shared, f->max_dynamic_shared,
                      f->max_dynamic_shared < kMaxSharedPerBlockOptin - e.kernel->static_shared
                              ? " (beyond 48 KiB needs cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES))"
                              : "");
    }
    if (extra != nullptr) {
        return report(CUDA_ERROR_NOT_SUPPORTED, "%s(%s): arguments through 'extra' are not emulated; pass kernelParams",
                      call, name);
    }
    if (params == nullptr && !e.param_sizes.empty()) {
        return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): kernelParams is NULL for a kernel of %zu parameters", call,
                      name, e.param_sizes.size());
    }
    unsigned long long blocks = 1ULL * gx * gy * gz;
    if (cooperative) {
        unsigned long long resident = 1ULL * blocks_per_multiprocessor(*f, static_cast<int>(threads), shared) *
                                      kMultiprocessors;
        if (blocks > resident) {
            return report(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "%s(%s): %llu blocks of %llu threads with %u bytes "
                          "of shared memory, but only %llu can be resident at once (%d multiprocessors)", call, name,
                          blocks, threads, shared, resident, kMultiprocessors);
        }
    }
    auto record = std::make_shared<LaunchRecord>();
    record->kernel = e.kernel;
    record->shape = LaunchShape{dim3(gx, gy, gz), dim3(bx, by, bz), shared, cooperative};
    for (size_t i = 0; i < e.param_sizes.size(); i++) {
        if (params[i] == nullptr) {
            return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): kernelParams[%zu] is NULL", call, name, i);
        }
        size_t offset = (record->arg_bytes.size() + 7) & ~size_t(7);
        record->arg_bytes.resize(offset + e.param_sizes[i]);
        std::memcpy(record->arg_bytes.data() + offset, params[i], e.param_sizes[i]);
        record->arg_offsets.push_back(offset);
        auto kind = static_cast<ParamKind>(e.kernel->param_kinds[i]);
        if (kind == ParamKind::pointer || kind == ParamKind::const_pointer) {
            uintptr_t p;
            std::memcpy(&p, params[i], sizeof p);
            if (p == 0) {
                continue;
            }
            const Allocation* a = find_device(p, 1);
            if (a == nullptr) {
                return report(CUDA_ERROR_INVALID_VALUE, "%s(%s): pointer argument %zu is not in device memory: %s",
                              call, name, i, find_pinned(p, 1) != nullptr ? "it is pinned host memory"
                                                                          : pointer_text(p).c_str());
            }
            record->allocations.push_back(a->id);
            if (kind == ParamKind::pointer) {
                record->written.push_back(a->id);
            }
        }
    }
    Op op;
    op.kind = Op::Kind::kernel;
    op.launch = std::move(record);
    op.call = call;
    return enqueue(s, std::move(op));
}

CUresult copy_sync(const char* call, uintptr_t dst, uintptr_t src, size_t bytes, bool dst_device, bool src_device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context(call)) {
        return r;
    }
    if (CUresult r = refuse_during_capture(call)) {
        return r;
    }
    if (dst_device) {
        if (CUresult r = require_device_range(dst, bytes, call, "destination")) {
            return r;
        }
        if (CUresult r = refuse_unordered(t_current, find_device(dst, 1), true, call)) {
            return r;
        }
    }
    if (src_device) {
        if (CUresult r = require_device_range(src, bytes, call, "source")) {
            return r;
        }
        if (CUresult r = refuse_unordered(t_current, find_device(src, 1), false, call)) {
            return r;
        }
    }
    if (CUresult r = refuse_legacy_during_capture(t_current, call)) {
        return r;
    }
    if (CUresult r = flush(t_current->legacy)) {
        return r;
    }
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
    return CUDA_SUCCESS;
}

CUresult copy_async(const char* call, uintptr_t dst, uintptr_t src, size_t bytes, bool dst_device, bool src_device,
                    void* stream_handle) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(stream_handle, call, &s)) {
        return r;
    }
    for (auto [address, device, what] : {std::tuple{dst, dst_device, "destination"},
                                         std::tuple{src, src_device, "source"}}) {
        if (device) {
            if (CUresult r = require_device_range(address, bytes, call, what)) {
                return r;
            }
        } else if (find_pinned(address, bytes) == nullptr) {
            return report(CUDA_ERROR_INVALID_VALUE, "%s: the host %s %#lx (+%zu bytes) is not pinned memory: an "
                          "asynchronous copy needs page-locked memory (cuMemAllocHost), or it is not asynchronous",
                          call, what, static_cast<unsigned long>(address), bytes);
        }
    }
    Op op;
    op.kind = Op::Kind::copy;
    op.dst = dst;
    op.src = src;
    op.bytes = bytes;
    op.call = call;
    return enqueue(s, std::move(op));
}

CUresult memset_device(const char* call, uintptr_t dst, uint32_t value, size_t count, unsigned element,
                       void* stream_handle, bool async) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context(call)) {
        return r;
    }
    if (!async) {
        if (CUresult r = refuse_during_capture(call)) {
            return r;
        }
    }
    if (CUresult r = require_device_range(dst, count * element, call, "destination")) {
        return r;
    }
    Op op;
    op.kind = Op::Kind::memset;
    op.dst = dst;
    op.value = value;
    op.bytes = count;
    op.element = element;
    op.call = call;
    if (async) {
        Stream* s;
        if (CUresult r = resolve_stream(stream_handle, call, &s)) {
            return r;
        }
        return enqueue(s, std::move(op));
    }
    if (CUresult r = refuse_unordered(t_current, find_device(dst, 1), true, call)) {
        return r;
    }
    if (CUresult r = enqueue(t_current->legacy, std::move(op))) {
        return r;
    }
    return flush(t_current->legacy);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// emulator.h
// ---------------------------------------------------------------------------------------------------------------

namespace emu {

std::string vformat(const char* format, va_list args) {
    char text[1024];
    std::vsnprintf(text, sizeof text, format, args);
    return text;
}

CUresult report(CUresult code, const char* format, ...) {
    va_list args;
    va_start(args, format);
    vreport(code, format, args);
    va_end(args);
    return code;
}

CUresult vreport(CUresult code, const char* format, va_list args) {
    std::string text = vformat(format, args);
    std::fprintf(stderr, "emulated CUDA device: %s\n", text.c_str());
    std::fflush(stderr);
    std::lock_guard<std::mutex> lock(g_report_mutex);
    g_details[code] = text;
    return code;
}


KernelRegistration::KernelRegistration(const char* name, KernelInvoker invoke, const char* param_kinds) {
    KernelInfo& k = registered_kernels()[name];
    k.name = name;
    k.invoke = invoke;
    k.param_kinds = param_kinds;
    for (const KernelResources& r : kResources) {
        if (k.name == r.name) {
            k.registers = r.registers;
            k.static_shared = r.static_shared;
        }
    }
}

const KernelInfo* find_kernel(const std::string& name) {
    auto it = registered_kernels().find(name);
    return it == registered_kernels().end() ? nullptr : &it->second;
}

}  // namespace emu

// ---------------------------------------------------------------------------------------------------------------
// The driver API
// ---------------------------------------------------------------------------------------------------------------

// The driver's words for code, followed by the emulator's latest report of that code: every refusal and fault is
// reported as it is returned, so the report is the one the caller just received. The text stays valid on this thread
// until its next call.
EMU_API CUresult cuGetErrorString(CUresult code, const char** text) {
    if (text == nullptr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    const char* standard = standard_error_string(code);
    if (standard == nullptr) {
        *text = nullptr;
        return CUDA_ERROR_INVALID_VALUE;
    }
    thread_local std::string composed;
    std::lock_guard<std::mutex> lock(g_report_mutex);
    auto detail = g_details.find(code);
    composed = detail == g_details.end() ? standard
                                         : std::string(standard) + " (emulated CUDA device: " + detail->second + ")";
    *text = composed.c_str();
    return CUDA_SUCCESS;
}

EMU_API CUresult cuGetErrorName(CUresult code, const char** text) {
    if (text == nullptr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *text = error_name(code);
    return *text != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EMU_API CUresult cuInit(unsigned flags) {
    std::lock_guard<std::mutex> lock(g_api);
    if (flags != 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuInit(%u): flags must be 0", flags);
    }
    g_initialized = true;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDriverGetVersion(int* version) {
    return answer("cuDriverGetVersion", version, kDriverVersion);
}

EMU_API CUresult cuDeviceGetCount(int* count) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_initialized("cuDeviceGetCount")) {
        return r;
    }
    return answer("cuDeviceGetCount", count, 1);
}

EMU_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_initialized("cuDeviceGet")) {
        return r;
    }
    if (device == nullptr) {
        return null_output("cuDeviceGet");
    }
    if (ordinal != 0) {
        return report(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet(%d): there is one device, ordinal 0", ordinal);
    }
    *device = 0;
    return CUDA_SUCCESS;
}

static CUresult require_device(CUdevice device, const char* call) {
    if (CUresult r = require_initialized(call)) {
        return r;
    }
    return device == 0 ? CUDA_SUCCESS : report(CUDA_ERROR_INVALID_DEVICE, "%s: no device %d", call, device);
}

EMU_API CUresult cuDeviceGetName(char* name, int length, CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDeviceGetName")) {
        return r;
    }
    if (name == nullptr || length <= 0) {
        return null_output("cuDeviceGetName");
    }
    std::snprintf(name, static_cast<size_t>(length), "%s", kDeviceName);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDeviceTotalMem")) {
        return r;
    }
    return answer("cuDeviceTotalMem", bytes, kTotalMemory);
}

EMU_API CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDeviceComputeCapability")) {
        return r;
    }
    if (major == nullptr || minor == nullptr) {
        return null_output("cuDeviceComputeCapability");
    }
    *major = 9;
    *minor = 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDeviceGetAttribute")) {
        return r;
    }
    if (value == nullptr) {
        return null_output("cuDeviceGetAttribute");
    }
    switch (attribute) {  // an H100 SXM5's, by CUdevice_attribute number
        case 1: *value = kMaxThreadsPerBlock; break;             // MAX_THREADS_PER_BLOCK
        case 2: case 3: *value = 1024; break;                    // MAX_BLOCK_DIM_X, _Y
        case 4: *value = 64; break;                              // MAX_BLOCK_DIM_Z
        case 5: *value = 2147483647; break;                      // MAX_GRID_DIM_X
        case 6: case 7: *value = 65535; break;                   // MAX_GRID_DIM_Y, _Z
        case 8: *value = kDefaultSharedPerBlock; break;          // MAX_SHARED_MEMORY_PER_BLOCK
        case 9: *value = 65536; break;                           // TOTAL_CONSTANT_MEMORY
        case 10: *value = 32; break;                             // WARP_SIZE
        case 12: *value = kRegistersPerMultiprocessor; break;    // MAX_REGISTERS_PER_BLOCK
        case 13: *value = 1980000; break;                        // CLOCK_RATE (kHz)
        case 15: *value = 1; break;                              // GPU_OVERLAP
        case 16: *value = kMultiprocessors; break;               // MULTIPROCESSOR_COUNT
        case 17: *value = 0; break;                              // KERNEL_EXEC_TIMEOUT
        case 18: *value = 0; break;                              // INTEGRATED
        case 19: *value = 1; break;                              // CAN_MAP_HOST_MEMORY
        case 20: *value = 0; break;                              // COMPUTE_MODE (default)
        case 31: *value = 1; break;                              // CONCURRENT_KERNELS
        case 32: *value = 1; break;                              // ECC_ENABLED
        case 38: *value = 50 << 20; break;                       // L2_CACHE_SIZE
        case 39: *value = kMaxThreadsPerMultiprocessor; break;   // MAX_THREADS_PER_MULTIPROCESSOR
        case 41: *value = 1; break;                              // UNIFIED_ADDRESSING
        case 75: *value = 9; break;                              // COMPUTE_CAPABILITY_MAJOR
        case 76: *value = 0; break;                              // COMPUTE_CAPABILITY_MINOR
        case 81: *value = kSharedPerMultiprocessor; break;       // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
        case 82: *value = kRegistersPerMultiprocessor; break;    // MAX_REGISTERS_PER_MULTIPROCESSOR
        case 95: *value = 1; break;                              // COOPERATIVE_LAUNCH
        case 97: *value = kMaxSharedPerBlockOptin; break;        // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        case 106: *value = kMaxBlocksPerMultiprocessor; break;   // MAX_BLOCKS_PER_MULTIPROCESSOR
        default:
            return report(CUDA_ERROR_NOT_SUPPORTED, "cuDeviceGetAttribute(%d): this attribute is not emulated",
                          attribute);
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxRetain(Context** context, CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDevicePrimaryCtxRetain")) {
        return r;
    }
    if (context == nullptr) {
        return null_output("cuDevicePrimaryCtxRetain");
    }
    if (g_primary_refs == 0) {
        g_primary = new Context{++g_generation};
        g_primary->legacy = new Stream{g_primary, 0, true};
        g_contexts.insert(g_primary);
        g_streams.insert(g_primary->legacy);
    }
    g_primary_refs++;
    *context = g_primary;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDevicePrimaryCtxRelease")) {
        return r;
    }
    if (g_primary_refs == 0) {
        return report(CUDA_ERROR_INVALID_CONTEXT, "cuDevicePrimaryCtxRelease: the primary context is not retained "
                      "(released more often than retained)");
    }
    if (--g_primary_refs == 0) {
        destroy_context(g_primary);  // every allocation, module and stream of it goes with it, as on a GPU
        g_primary = nullptr;
    }
    return CUDA_SUCCESS;
}

// Destroys everything made on the primary context and clears a fault's error; the context stays retained, and its
// handle valid, with a fresh legacy stream.
EMU_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDevicePrimaryCtxReset")) {
        return r;
    }
    if (g_primary != nullptr) {
        clear_context(g_primary);
        g_primary->sticky = CUDA_SUCCESS;
        g_primary->legacy = new Stream{g_primary, 0, true};
        g_streams.insert(g_primary->legacy);
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxGetState(CUdevice device, unsigned* flags, int* active) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_device(device, "cuDevicePrimaryCtxGetState")) {
        return r;
    }
    if (flags == nullptr || active == nullptr) {
        return null_output("cuDevicePrimaryCtxGetState");
    }
    *flags = 0;
    *active = g_primary_refs > 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetCurrent(Context* context) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_initialized("cuCtxSetCurrent")) {
        return r;
    }
    if (context != nullptr && g_contexts.count(context) == 0) {
        return report(CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent(%p): not a context", static_cast<void*>(context));
    }
    if (context != nullptr && context->destroyed) {
        return report(CUDA_ERROR_CONTEXT_IS_DESTROYED, "cuCtxSetCurrent: the context was destroyed (its primary "
                      "context was released by every holder)");
    }
    t_current = context;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetCurrent(Context** context) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_initialized("cuCtxGetCurrent")) {
        return r;
    }
    return answer("cuCtxGetCurrent", context, t_current);
}

EMU_API CUresult cuCtxGetDevice(CUdevice* device) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuCtxGetDevice")) {
        return r;
    }
    return answer("cuCtxGetDevice", device, 0);
}

EMU_API CUresult cuCtxSynchronize() {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuCtxSynchronize")) {
        return r;
    }
    if (CUresult r = refuse_during_capture("cuCtxSynchronize")) {
        return r;
    }
    return flush_all(t_current);
}

// ---- Memory

EMU_API CUresult cuMemAlloc_v2(CUdeviceptr* address, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuMemAlloc")) {
        return r;
    }
    if (CUresult r = refuse_during_capture("cuMemAlloc")) {
        return r;
    }
    if (address == nullptr || bytes == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of %zu bytes%s", bytes,
                      address == nullptr ? " into a NULL pointer" : "");
    }
    uintptr_t base;
    if (CUresult r = allocate_device(bytes, &base)) {
        return r;
    }
    *address = base;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuMemFree_v2(CUdeviceptr address) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuMemFree")) {
        return r;
    }
    if (CUresult r = refuse_during_capture("cuMemFree")) {
        return r;
    }
    if (address == 0) {
        return CUDA_SUCCESS;
    }
    if (CUresult r = flush_all(t_current)) {  // freeing waits for the device, as cudaFree does
        return r;
    }
    return free_device(address);
}

EMU_API CUresult cuMemAllocHost_v2(void** address, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuMemAllocHost")) {
        return r;
    }
    if (CUresult r = refuse_during_capture("cuMemAllocHost")) {
        return r;
    }
    if (address == nullptr || bytes == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost of %zu bytes", bytes);
    }
    return allocate_pinned(bytes, address);
}

EMU_API CUresult cuMemHostAlloc(void** address, size_t bytes, unsigned flags) {
    (void)flags;
    return cuMemAllocHost_v2(address, bytes);
}

EMU_API CUresult cuMemFreeHost(void* address) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuMemFreeHost")) {
        return r;
    }
    if (CUresult r = refuse_during_capture("cuMemFreeHost")) {
        return r;
    }
    if (CUresult r = flush_all(t_current)) {
        return r;
    }
    return free_pinned(address);
}

EMU_API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuMemGetInfo")) {
        return r;
    }
    if (free_bytes == nullptr || total_bytes == nullptr) {
        return null_output("cuMemGetInfo");
    }
    *total_bytes = kTotalMemory;
    *free_bytes = kTotalMemory - device_memory_used();
    return CUDA_SUCCESS;
}

EMU_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
    return copy_sync("cuMemcpyHtoD", dst, reinterpret_cast<uintptr_t>(src), bytes, true, false);
}

EMU_API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
    return copy_sync("cuMemcpyDtoH", reinterpret_cast<uintptr_t>(dst), src, bytes, false, true);
}

EMU_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    return copy_sync("cuMemcpyDtoD", dst, src, bytes, true, true);
}

EMU_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, void* stream) {
    return copy_async("cuMemcpyHtoDAsync", dst, reinterpret_cast<uintptr_t>(src), bytes, true, false, stream);
}

EMU_API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, void* stream) {
    return copy_async("cuMemcpyDtoHAsync", reinterpret_cast<uintptr_t>(dst), src, bytes, false, true, stream);
}

EMU_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void* stream) {
    return copy_async("cuMemcpyDtoDAsync", dst, src, bytes, true, true, stream);
}

EMU_API CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned value, size_t count) {
    return memset_device("cuMemsetD32", dst, value, count, 4, nullptr, false);
}

EMU_API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count, void* stream) {
    return memset_device("cuMemsetD32Async", dst, value, count, 4, stream, true);
}

EMU_API CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
    return memset_device("cuMemsetD8", dst, value, count, 1, nullptr, false);
}

EMU_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count, void* stream) {
    return memset_device("cuMemsetD8Async", dst, value, count, 1, stream, true);
}

// Where the host's pinned memory is seen from the device: at the same address (unified addressing, as on a GPU).
EMU_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* device, void* host, unsigned flags) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuMemHostGetDevicePointer")) {
        return r;
    }
    auto address = reinterpret_cast<uintptr_t>(host);
    if (device == nullptr || flags != 0 || find_pinned(address, 1) == nullptr) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuMemHostGetDevicePointer: %p (flags %#x) is not in page-locked host"
                      " memory (cuMemAllocHost), or flags are not 0", host, flags);
    }
    *device = address;
    return CUDA_SUCCESS;
}

// ---- Streams

// The stream's later work waits until the 32-bit word at address equals value (CU_STREAM_WAIT_VALUE_EQ, the one
// comparison the engine uses), a word of device memory or of page-locked host memory the host writes.
EMU_API CUresult cuStreamWaitValue32_v2(void* handle, CUdeviceptr address, unsigned value, unsigned flags) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuStreamWaitValue32")) {
        return r;
    }
    constexpr unsigned kWaitValueEq = 1;
    if (flags != kWaitValueEq || address % 4 != 0
        || (find_device(address, 4) == nullptr && find_pinned(address, 4) == nullptr)) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuStreamWaitValue32: a 4-byte aligned word of device or page-locked"
                      " memory and CU_STREAM_WAIT_VALUE_EQ (1), got %#lx and flags %#x",
                      static_cast<unsigned long>(address), flags);
    }
    Stream* s;
    if (CUresult r = resolve_stream(handle, "cuStreamWaitValue32", &s)) {
        return r;
    }
    if (s->capturing) {
        return report(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamWaitValue32 on a capturing stream: a graph"
                      " replays no wait (the emulated device has none)");
    }
    Op op;
    op.kind = Op::Kind::wait_value;
    op.dst = address;
    op.value = value;
    op.call = "cuStreamWaitValue32";
    return enqueue(s, std::move(op));
}

EMU_API CUresult cuStreamCreate(Stream** stream, unsigned flags) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuStreamCreate")) {
        return r;
    }
    if (stream == nullptr || (flags & ~kStreamNonBlocking) != 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate: flags %#x (CU_STREAM_DEFAULT or "
                      "CU_STREAM_NON_BLOCKING)", flags);
    }
    auto* s = new Stream{t_current, flags, false};
    g_streams.insert(s);
    *stream = s;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamDestroy_v2(void* handle) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(handle, "cuStreamDestroy", &s)) {
        return r;
    }
    if (s->legacy) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy: the NULL stream cannot be destroyed");
    }
    if (s->capturing) {
        return report(CUDA_ERROR_ILLEGAL_STATE, "cuStreamDestroy of a stream that is capturing");
    }
    CUresult result = flush(s);  // its queued work completes, as on a GPU
    s->destroyed = true;
    g_streams.erase(s);
    return result;
}

EMU_API CUresult cuStreamSynchronize(void* handle) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(handle, "cuStreamSynchronize", &s)) {
        return r;
    }
    if (s->capturing) {
        s->capture_error = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        return report(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamSynchronize of a stream that is capturing (the "
                      "capture is invalidated)");
    }
    if (CUresult r = refuse_during_capture("cuStreamSynchronize")) {
        return r;
    }
    return flush(s);
}

EMU_API CUresult cuStreamQuery(void* handle) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(handle, "cuStreamQuery", &s)) {
        return r;
    }
    if (CUresult r = refuse_during_capture("cuStreamQuery")) {
        return r;
    }
    return flush(s);  // the work is done by the time anyone asks: a poll always sees progress
}

EMU_API CUresult cuStreamBeginCapture_v2(void* handle, int mode) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(handle, "cuStreamBeginCapture", &s)) {
        return r;
    }
    if (s->legacy) {
        return report(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamBeginCapture: the NULL (legacy) stream cannot "
                      "be captured");
    }
    if (s->capturing) {
        return report(CUDA_ERROR_ILLEGAL_STATE, "cuStreamBeginCapture: the stream is already capturing");
    }
    if (mode != kCaptureGlobal && mode != kCaptureThreadLocal && mode != kCaptureRelaxed) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuStreamBeginCapture: mode %d", mode);
    }
    s->capturing = true;
    s->capture_mode = mode;
    s->capture_thread = pthread_self();
    s->capture_error = CUDA_SUCCESS;
    s->captured.clear();
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamEndCapture(void* handle, Graph** graph) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(handle, "cuStreamEndCapture", &s)) {
        return r;
    }
    if (graph == nullptr) {
        return null_output("cuStreamEndCapture");
    }
    if (!s->capturing) {
        return report(CUDA_ERROR_ILLEGAL_STATE, "cuStreamEndCapture: the stream is not capturing");
    }
    if (s->capture_mode != kCaptureRelaxed && !pthread_equal(s->capture_thread, pthread_self())) {
        return report(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "cuStreamEndCapture from a thread other than the one "
                      "that began the capture");
    }
    s->capturing = false;
    for (Op& op : s->captured) {
        if (op.event != nullptr) {
            op.event->in_capture = false;
        }
    }
    if (s->capture_error != CUDA_SUCCESS) {
        s->captured.clear();
        *graph = nullptr;
        return report(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuStreamEndCapture: the capture was invalidated by an "
                      "earlier prohibited call");
    }
    auto* g = new Graph{t_current, std::move(s->captured)};
    s->captured.clear();
    g_graphs.insert(g);
    *graph = g;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamIsCapturing(void* handle, int* status) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    if (CUresult r = stream_of(handle, "cuStreamIsCapturing", &s)) {
        return r;
    }
    return answer("cuStreamIsCapturing", status, !s->capturing ? 0 : s->capture_error == CUDA_SUCCESS ? 1 : 2);
}

// ---- Graphs

EMU_API CUresult cuGraphInstantiateWithFlags(GraphExec** exec, Graph* graph, unsigned long long flags) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuGraphInstantiate")) {
        return r;
    }
    if (exec == nullptr || g_graphs.count(graph) == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: %p is not a graph", static_cast<void*>(graph));
    }
    if (flags != 0) {
        return report(CUDA_ERROR_NOT_SUPPORTED, "cuGraphInstantiate: flags %#llx are not emulated", flags);
    }
    auto* e = new GraphExec{graph->context, graph->nodes};
    g_execs.insert(e);
    *exec = e;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuGraphLaunch(GraphExec* exec, void* handle) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuGraphLaunch")) {
        return r;
    }
    if (g_execs.count(exec) == 0 || exec->context != t_current) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuGraphLaunch: %p is not an executable graph of this context",
                      static_cast<void*>(exec));
    }
    Stream* s;
    if (CUresult r = resolve_stream(handle, "cuGraphLaunch", &s)) {
        return r;
    }
    if (s->capturing) {
        return report(CUDA_ERROR_NOT_SUPPORTED, "cuGraphLaunch into a capturing stream is not emulated");
    }
    for (const Op& node : exec->nodes) {
        if (CUresult r = enqueue(s, node)) {
            return r;
        }
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuGraphExecDestroy(GraphExec* exec) {
    std::lock_guard<std::mutex> lock(g_api);
    if (g_execs.erase(exec) == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuGraphExecDestroy: %p is not an executable graph",
                      static_cast<void*>(exec));
    }
    delete exec;  // launches already queued keep their own copy of the nodes
    return CUDA_SUCCESS;
}

EMU_API CUresult cuGraphDestroy(Graph* graph) {
    std::lock_guard<std::mutex> lock(g_api);
    if (g_graphs.erase(graph) == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy: %p is not a graph", static_cast<void*>(graph));
    }
    delete graph;
    return CUDA_SUCCESS;
}

// ---- Modules and functions

EMU_API CUresult cuModuleLoadData(Module** module, const void* image) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuModuleLoadData")) {
        return r;
    }
    if (module == nullptr || image == nullptr) {
        return null_output("cuModuleLoadData");
    }
    if (std::memcmp(image, "\x7f" "ELF", 4) == 0) {
        // Machine code (a cubin): this device runs only the kernels of the PTX, compiled for the CPU. A driver answers
        // so, without a word, for machine code of another GPU, and the caller loads the PTX instead.
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    auto* m = new Module{t_current};
    if (CUresult r = parse_ptx(static_cast<const char*>(image), m, "cuModuleLoadData")) {
        delete m;
        return r;
    }
    g_modules.insert(m);
    *module = m;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuModuleLoadDataEx(Module** module, const void* image, unsigned options, void* option_keys,
                                    void** option_values) {
    (void)options;
    (void)option_keys;
    (void)option_values;
    return cuModuleLoadData(module, image);
}

EMU_API CUresult cuModuleUnload(Module* module) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuModuleUnload")) {
        return r;
    }
    if (g_modules.count(module) == 0 || module->unloaded) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload: %p is not a loaded module", static_cast<void*>(module));
    }
    if (module->context != t_current) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload: the module belongs to another context");
    }
    CUresult result = flush_all(t_current);
    module->unloaded = true;
    for (auto& [name, f] : module->functions) {
        g_functions.erase(f);
    }
    return result;
}

EMU_API CUresult cuModuleGetFunction(Function** function, Module* module, const char* name) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuModuleGetFunction")) {
        return r;
    }
    if (function == nullptr || name == nullptr || g_modules.count(module) == 0 || module->unloaded ||
        module->context != t_current) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction(%s): not a loaded module of this context",
                      name != nullptr ? name : "NULL");
    }
    auto entry = module->entries.find(name);
    if (entry == module->entries.end()) {
        return report(CUDA_ERROR_NOT_FOUND, "cuModuleGetFunction: the module has no kernel %s", name);
    }
    Function*& f = module->functions[name];
    if (f == nullptr) {
        f = new Function{module, &entry->second, kDefaultSharedPerBlock - entry->second.kernel->static_shared};
        g_functions.insert(f);
    }
    *function = f;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncSetAttribute(Function* f, int attribute, int value) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuFuncSetAttribute")) {
        return r;
    }
    if (CUresult r = require_function(f, "cuFuncSetAttribute")) {
        return r;
    }
    const int statics = f->entry->kernel->static_shared;
    switch (attribute) {
        case 8:  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            if (value < 0 || value + statics > kMaxSharedPerBlockOptin) {
                return report(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute(%s, max dynamic shared memory %d bytes): "
                              "with its %d static bytes that exceeds the %d a block may have", f->entry->name.c_str(),
                              value, statics, kMaxSharedPerBlockOptin);
            }
            f->max_dynamic_shared = value;
            return CUDA_SUCCESS;
        case 9:  // CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: a hint
            return value >= -1 && value <= 100 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
        default:
            return report(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute(%s): attribute %d cannot be set",
                          f->entry->name.c_str(), attribute);
    }
}

EMU_API CUresult cuFuncGetAttribute(int* value, int attribute, Function* f) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuFuncGetAttribute")) {
        return r;
    }
    if (CUresult r = require_function(f, "cuFuncGetAttribute")) {
        return r;
    }
    if (value == nullptr) {
        return null_output("cuFuncGetAttribute");
    }
    const KernelInfo& k = *f->entry->kernel;
    switch (attribute) {
        case 0: *value = f->entry->max_threads; break;                 // MAX_THREADS_PER_BLOCK
        case 1: *value = k.static_shared; break;                        // SHARED_SIZE_BYTES
        case 2: case 3: *value = 0; break;                              // CONST_SIZE_BYTES, LOCAL_SIZE_BYTES
        case 4: *value = k.registers; break;                            // NUM_REGS
        case 5: case 6: *value = f->module->ptx_version; break;         // PTX_VERSION, BINARY_VERSION
        case 8: *value = f->max_dynamic_shared; break;                  // MAX_DYNAMIC_SHARED_SIZE_BYTES
        case 9: *value = -1; break;                                     // PREFERRED_SHARED_MEMORY_CARVEOUT
        default:
            return report(CUDA_ERROR_NOT_SUPPORTED, "cuFuncGetAttribute(%d) is not emulated", attribute);
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, Function* f, int block_threads,
                                                             size_t dynamic_shared) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuOccupancyMaxActiveBlocksPerMultiprocessor")) {
        return r;
    }
    if (CUresult r = require_function(f, "cuOccupancyMaxActiveBlocksPerMultiprocessor")) {
        return r;
    }
    return answer("cuOccupancyMaxActiveBlocksPerMultiprocessor", blocks,
                  blocks_per_multiprocessor(*f, block_threads, dynamic_shared));
}

EMU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, Function* f, int block_threads,
                                                                      size_t dynamic_shared, unsigned flags) {
    (void)flags;
    return cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, f, block_threads, dynamic_shared);
}

EMU_API CUresult cuLaunchKernel(Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                unsigned bz, unsigned shared, void* stream, void** params, void** extra) {
    return launch("cuLaunchKernel", f, gx, gy, gz, bx, by, bz, shared, stream, params, extra, false);
}

EMU_API CUresult cuLaunchCooperativeKernel(Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                           unsigned by, unsigned bz, unsigned shared, void* stream, void** params) {
    return launch("cuLaunchCooperativeKernel", f, gx, gy, gz, bx, by, bz, shared, stream, params, nullptr, true);
}

// ---- Events

EMU_API CUresult cuEventCreate(Event** event, unsigned flags) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuEventCreate")) {
        return r;
    }
    if (event == nullptr || (flags & ~7u) != 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuEventCreate: flags %#x", flags);
    }
    auto* e = new Event{t_current, flags};
    g_events.insert(e);
    *event = e;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuEventDestroy_v2(Event* event) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuEventDestroy")) {
        return r;
    }
    if (g_events.erase(event) == 0) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy: %p is not an event", static_cast<void*>(event));
    }
    event->destroyed = true;  // kept: queued records of it may still run
    return CUDA_SUCCESS;
}

EMU_API CUresult cuEventRecord(Event* event, void* handle) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuEventRecord")) {
        return r;
    }
    if (g_events.count(event) == 0) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord: %p is not an event", static_cast<void*>(event));
    }
    Stream* s;
    if (CUresult r = resolve_stream(handle, "cuEventRecord", &s)) {
        return r;
    }
    event->recorded = true;
    event->completed = false;
    event->stream = s;
    event->in_capture = s->capturing;
    Op op;
    op.kind = Op::Kind::event;
    op.event = event;
    op.call = "cuEventRecord";
    return enqueue(s, std::move(op));
}

EMU_API CUresult cuEventSynchronize(Event* event) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuEventSynchronize")) {
        return r;
    }
    if (g_events.count(event) == 0) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize: %p is not an event", static_cast<void*>(event));
    }
    if (event->in_capture) {
        return report(CUDA_ERROR_CAPTURED_EVENT, "cuEventSynchronize of an event recorded in a capture under way");
    }
    if (CUresult r = refuse_during_capture("cuEventSynchronize")) {
        return r;
    }
    return event->recorded && !event->completed && !event->stream->destroyed ? flush(event->stream) : CUDA_SUCCESS;
}

EMU_API CUresult cuEventQuery(Event* event) {
    return cuEventSynchronize(event);  // as cuStreamQuery: by the time anyone asks, the work is done
}

EMU_API CUresult cuEventElapsedTime(float* millis, Event* start, Event* end) {
    std::lock_guard<std::mutex> lock(g_api);
    if (CUresult r = require_context("cuEventElapsedTime")) {
        return r;
    }
    if (g_events.count(start) == 0 || g_events.count(end) == 0) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: not an event");
    }
    if ((start->flags | end->flags) & kEventDisableTiming) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime of an event created with "
                      "CU_EVENT_DISABLE_TIMING");
    }
    if (!start->completed || !end->completed) {
        return report(CUDA_ERROR_NOT_READY, "cuEventElapsedTime: an event has not completed (synchronize on it first)");
    }
    return answer("cuEventElapsedTime", millis, end->millis - start->millis);
}

// ---------------------------------------------------------------------------------------------------------------
// For libcublas.so.12 (cublas.cpp) and the generated stubs
// ---------------------------------------------------------------------------------------------------------------

// The calls of the driver that the emulator does not implement answer this (stubs.c, generated by the Makefile).
EMU_EXPORT CUresult microgpt_emu_not_emulated(const char* call) {
    return report(CUDA_ERROR_NOT_SUPPORTED, "%s is not emulated", call);
}

EMU_EXPORT CUresult microgpt_emu_vreport(CUresult code, const char* format, va_list args) {
    return vreport(code, format, args);
}

// The calling thread has a usable current context.
EMU_EXPORT CUresult microgpt_emu_require_context(const char* call) {
    std::lock_guard<std::mutex> lock(g_api);
    return require_context(call);
}

// [address, address + bytes) is in one live device allocation.
EMU_EXPORT CUresult microgpt_emu_require_device_range(CUdeviceptr address, size_t bytes, const char* call,
                                                      const char* what) {
    std::lock_guard<std::mutex> lock(g_api);
    return require_device_range(address, bytes, call, what);
}

// Queues run(data) on stream as one operation named call, touching the given device addresses (and writing the
// allocation of written); data is released with release(data) once no queue or graph holds the operation.
EMU_EXPORT CUresult microgpt_emu_enqueue(void* stream, const char* call, CUresult (*run)(void*), void* data,
                                         void (*release)(void*), const CUdeviceptr* addresses, int count,
                                         CUdeviceptr written) {
    std::lock_guard<std::mutex> lock(g_api);
    auto library = std::make_shared<LibraryCall>();
    library->name = call;
    library->run = run;
    library->data = data;
    library->release = release;
    if (CUresult r = require_context(call)) {
        return r;
    }
    Stream* s;
    if (CUresult r = resolve_stream(stream, call, &s)) {
        return r;
    }
    for (int i = 0; i < count; i++) {
        if (const Allocation* a = find_device(addresses[i], 1)) {
            library->allocations.push_back(a->id);
        }
    }
    if (const Allocation* a = find_device(written, 1)) {
        library->written.push_back(a->id);
    }
    Op op;
    op.kind = Op::Kind::library;
    op.library = std::move(library);
    op.call = op.library->name.c_str();
    return enqueue(s, std::move(op));
}

// Whether address is in a live device allocation.
EMU_EXPORT int microgpt_emu_is_device_memory(CUdeviceptr address) {
    std::lock_guard<std::mutex> lock(g_api);
    return find_device(address, 1) != nullptr;
}

// A stream handle names a live stream of the current context (or the NULL stream).
EMU_EXPORT CUresult microgpt_emu_require_stream(void* stream, const char* call) {
    std::lock_guard<std::mutex> lock(g_api);
    Stream* s;
    return stream_of(stream, call, &s);
}
