// The emulated CUDA device's internals, shared by its parts:
//   driver.cpp   the driver API (libcuda.so.1): contexts, memory, streams, modules, launches, graphs, events
//   memory.cpp   device memory (guarded pages in one reserved range) and pinned host memory
//   threads.cpp  the execution of one launch: every CUDA thread a fiber, switched at barriers and warp operations
//   cublas.cpp   the cuBLAS subset the engine calls (libcublas.so.12), issued on the driver's streams
// Nothing here is visible outside the library but the API functions and the microgpt_emu_* calls cublas.cpp uses.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "device.h"

typedef int CUresult;
typedef uint64_t CUdeviceptr;

enum : CUresult {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
    CUDA_ERROR_HARDWARE_STACK_ERROR = 714,
    CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE = 720,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
    CUDA_ERROR_CAPTURED_EVENT = 907,
    CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908,
};

namespace emu {

// ---- The device the emulator claims to be: an H100 SXM's limits, under a name no one can take for hardware.
inline constexpr const char* kDeviceName = "microgpt emulated CUDA device (CPU)";
inline constexpr int kDriverVersion = 13000;           // CUDA 13.0 (R580): PTX ISA up to 9.0 loads
inline constexpr int kMultiprocessors = 132;
inline constexpr int kMaxThreadsPerBlock = 1024;
inline constexpr int kMaxThreadsPerMultiprocessor = 2048;
inline constexpr int kMaxBlocksPerMultiprocessor = 32;
inline constexpr int kRegistersPerMultiprocessor = 65536;
inline constexpr int kRegisterAllocationUnit = 256;    // registers per warp are allocated in units of this
inline constexpr int kSubPartitions = 4;               // of a multiprocessor, each with a quarter of its registers
inline constexpr int kDefaultSharedPerBlock = 48 * 1024;
inline constexpr int kMaxSharedPerBlockOptin = 232448;  // 227 KiB
inline constexpr int kSharedPerMultiprocessor = 233472; // 228 KiB
inline constexpr int kReservedSharedPerBlock = 1024;    // the driver's own, per resident block
inline constexpr int kSharedAllocationUnit = 128;
inline constexpr unsigned long long kTotalMemory = 80ULL << 30;

// ---- Errors: every refusal and fault prints one line, "emulated CUDA device: <call>: <what>", on stderr.

// Prints the line, remembers it as the latest detail for its code (cuGetErrorString) and returns code.
CUresult report(CUresult code, const char* format, ...) __attribute__((format(printf, 2, 3)));
CUresult vreport(CUresult code, const char* format, va_list args);

// printf into a string (a refusal's text; at most 1023 characters).
std::string vformat(const char* format, va_list args);

// ---- Kernels compiled into the library (device.h's EMU_KERNEL), by PTX entry name.
struct KernelInfo {
    std::string name;
    KernelInvoker invoke;
    std::string param_kinds;  // one ParamKind per parameter
    int registers = 0;        // per thread, from ptxas -arch=sm_90 at build time (resources.inc)
    int static_shared = 0;    // bytes of __shared__ declarations, likewise
};
const KernelInfo* find_kernel(const std::string& name);

// ---- Device and pinned memory (memory.cpp). Device allocations sit in one reserved address range, each between
// inaccessible pages, its end flush with the next one: a kernel's access outside any allocation faults. The bytes
// of an allocation's pages that it does not use hold a canary, checked after every launch that could reach it.
struct Allocation {
    uintptr_t base;
    size_t size;
    unsigned id;       // 1, 2, ... in order of allocation
    bool pinned;       // page-locked host memory (cuMemAllocHost) rather than device memory
};

// The live device allocation holding [address, address + bytes), or nullptr.
const Allocation* find_device(uintptr_t address, size_t bytes);
// The live pinned host allocation holding [address, address + bytes), or nullptr.
const Allocation* find_pinned(uintptr_t address, size_t bytes);
CUresult allocate_device(size_t bytes, uintptr_t* address);
CUresult free_device(uintptr_t address);
CUresult allocate_pinned(size_t bytes, void** address);
CUresult free_pinned(void* address);
// Bytes of device memory in use, counted as the driver does (whole pages).
unsigned long long device_memory_used();
// Frees every allocation of a context being destroyed.
void release_all_memory();
// Where address lies, for a fault report: "N bytes past the end of allocation #id (S bytes at 0x...)", ...
std::string describe_address(uintptr_t address);
// Whether address is in the range device memory is carved from.
bool in_device_range(uintptr_t address);
// Checks the canaries around the given allocations; reports the first one written (as kernel's fault).
CUresult check_canaries(const std::vector<unsigned>& allocation_ids, const char* what);

// ---- Execution (threads.cpp): one launch of a kernel, on the device thread, to completion.
struct LaunchShape {
    dim3 grid;
    dim3 block;
    unsigned dynamic_shared;
    bool cooperative;
};
// Runs every thread of the launch; returns CUDA_SUCCESS or the code of the fault it reported.
CUresult execute_launch(const KernelInfo& kernel, const LaunchShape& shape, void* const* args);

// ---- The device thread: where every kernel and copy of a stream runs, so that the fibers' stacks and the fault
// handler never touch a thread of the host program. Runs fn there and waits for it.
void on_device_thread(const std::function<void()>& fn);
// Runs fn, whose memory accesses may fault (a kernel, a copy); returns the fault's code, reported, or CUDA_SUCCESS.
CUresult run_guarded(const char* what, const std::function<CUresult()>& fn);

}  // namespace emu

// Exported for cublas.cpp (libcublas.so.12 links against this library).
#define EMU_EXPORT extern "C" __attribute__((visibility("default")))
