// The execution of a launch: every CUDA thread is a fiber with its own small stack, and the fibers of a block (of
// the whole grid, for a cooperative launch) take turns on the one device thread, switching only where CUDA threads
// synchronise: __syncthreads, __syncwarp, a warp shuffle, a grid sync, or the thread's end. Blocks of an ordinary
// launch run one after another, as a GPU may run them.
//
// The turns are deterministic and adversarial to a missing barrier: a thread runs until it must wait, and the threads
// a barrier releases run before any thread that has not started, so warp 0 races as far ahead of the others as the
// barriers let it. A stage that reads another warp's results without a barrier before it reads stale or poisoned
// values. Barriers are checked as compute-sanitizer's synccheck would: threads meeting at one __syncthreads must have
// called the same one, a full-mask warp operation needs all 32 lanes, a grid sync needs a cooperative launch; a launch
// whose threads all wait with none left to arrive has deadlocked. Each such fault is reported with the kernel, the
// thread and the source line, and fails the launch.
//
// A kernel's stray memory access faults on the guard pages around every allocation and every block's shared memory
// (memory.cpp); the fault handler, active only while the device thread runs device work, turns it into a report.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xmmintrin.h>

#include <algorithm>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>

#include "emulator.h"

namespace emu {
ThreadCoordinates* current = nullptr;
dim3 grid_dim;
dim3 block_dim;
}  // namespace emu

// Saves the callee-saved registers and the floating-point control words on the current stack, stores the stack
// pointer in *save, and resumes the context whose stack pointer is load (System V x86-64).
extern "C" __attribute__((visibility("hidden"))) void emu_switch_context(void** save, void* load);
asm(R"(
    .text
    .globl emu_switch_context
    .hidden emu_switch_context
    .type emu_switch_context, @function
    .p2align 4
emu_switch_context:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch_context, .-emu_switch_context
)");

namespace emu {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kStackBytes = 64 * 1024;
constexpr size_t kStacksPerChunk = 64;
constexpr size_t kCanaryWords = 16;
constexpr uint64_t kStackCanary = 0xC0DEDEADBEEF5EEDULL;
constexpr uint32_t kMxcsrDefault = 0x1F80;  // all exceptions masked, round to nearest, no flush to zero
constexpr uint16_t kFpuControlDefault = 0x037F;
constexpr unsigned char kSharedPoison = 0xFF;  // shared memory reads as NaN until written

// ---------------------------------------------------------------------------------------------------------------
// Stacks and shared memory, reused from launch to launch
// ---------------------------------------------------------------------------------------------------------------

// Fiber stacks, handed out last-freed first: a thread that ends without waiting leaves its stack to the next one. No
// kernel function may have a frame over 16 KiB (the Makefile builds them with -Werror=stack-usage), so 64 KiB is deep
// enough by far; should one still overflow, a canary at the bottom of each stack catches it when the stack comes back,
// and the lowest stack of each chunk ends at an inaccessible page (a page per stack would cost two memory mappings a
// fiber, and a cooperative grid can have tens of thousands).
class StackPool {
public:
    char* take() {
        if (free_.empty()) {
            grow();
        }
        char* stack = free_.back();
        free_.pop_back();
        auto* canary = reinterpret_cast<uint64_t*>(stack);
        for (size_t i = 0; i < kCanaryWords; i++) {
            canary[i] = kStackCanary;
        }
        return stack;
    }

    // Returns the stack; false when its canary was overwritten.
    bool give(char* stack) {
        free_.push_back(stack);
        auto* canary = reinterpret_cast<uint64_t*>(stack);
        for (size_t i = 0; i < kCanaryWords; i++) {
            if (canary[i] != kStackCanary) {
                return false;
            }
        }
        return true;
    }

private:
    void grow() {
        void* region = mmap(nullptr, kPage + kStackBytes * kStacksPerChunk, PROT_NONE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (region == MAP_FAILED) {
            std::fprintf(stderr, "emulated CUDA device: out of address space for fiber stacks\n");
            std::abort();
        }
        char* chunk = static_cast<char*>(region) + kPage;
        mprotect(chunk, kStackBytes * kStacksPerChunk, PROT_READ | PROT_WRITE);
        for (size_t i = kStacksPerChunk; i-- > 0;) {
            free_.push_back(chunk + i * kStackBytes);
        }
    }

    std::vector<char*> free_;
};

// One block's shared memory: the static declarations' area and the dynamic array, each ending at an inaccessible
// page, so that an access past either end faults.
struct SharedMemory {
    static constexpr size_t kStaticBytes = kDefaultSharedPerBlock;
    static constexpr size_t kDynamicBytes = (kMaxSharedPerBlockOptin + kPage - 1) / kPage * kPage;

    char* static_end;   // the static area is [static_end - kStaticBytes, static_end)
    char* dynamic_end;  // the dynamic array is [dynamic_end - its size, dynamic_end)

    static SharedMemory* make() {
        size_t total = kStaticBytes + kPage + kDynamicBytes + kPage;
        void* region = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (region == MAP_FAILED) {
            std::fprintf(stderr, "emulated CUDA device: out of address space for shared memory\n");
            std::abort();
        }
        char* base = static_cast<char*>(region);
        mprotect(base, kStaticBytes, PROT_READ | PROT_WRITE);
        mprotect(base + kStaticBytes + kPage, kDynamicBytes, PROT_READ | PROT_WRITE);
        return new SharedMemory{base + kStaticBytes, base + kStaticBytes + kPage + kDynamicBytes};
    }
};

// ---------------------------------------------------------------------------------------------------------------
// One launch's threads
// ---------------------------------------------------------------------------------------------------------------

enum class FiberState : uint8_t { unstarted, running, waiting, done };
enum class Wait : uint8_t { none, block, warp, grid };
enum class WarpOp : uint8_t { none, syncwarp, shuffle };

struct Fiber {
    ThreadCoordinates coords;
    void* sp = nullptr;
    char* stack = nullptr;
    uint32_t block = 0;  // index into Launch::blocks
    uint32_t warp = 0;   // index into Launch::warps
    uint32_t lane = 0;
    FiberState state = FiberState::unstarted;
    Wait wait = Wait::none;
};

struct BlockRun {
    uint3 index;
    uint32_t first_fiber;
    uint32_t threads;
    int live;
    int arrived;
    Site site;
    SharedMemory* shared;
    char* dynamic;
    struct Declaration {
        const SharedTag* tag;
        char* at;
    };
    Declaration statics[16];
    int static_count;
    size_t static_used;       // bytes of the static area taken, from its end down
    bool thread0_returned;    // a grid sync waits for every block's thread 0
};

struct WarpRun {
    uint32_t first_fiber;
    uint32_t lanes;
    int live;
    int arrived;
    unsigned generation;
    WarpOp op;
    Site site;
    uint32_t exchange[2][32];
};

struct GridRun {
    int live;
    int arrived;
    Site site;
};

bool same_site(const Site& a, const Site& b) {
    return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

const char* base_name(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash != nullptr ? slash + 1 : path;
}

struct Launch {
    const KernelInfo* kernel = nullptr;
    LaunchShape shape{};
    void* const* args = nullptr;

    std::vector<Fiber> fibers;
    std::vector<BlockRun> blocks;
    std::vector<WarpRun> warps;
    GridRun grid{};
    std::deque<uint32_t> ready;
    uint32_t next_start = 0;
    uint32_t running = 0;
    bool in_fiber = false;  // a fiber runs (else the scheduler: a fault there is the emulator's own)
    void* scheduler_sp = nullptr;
    CUresult failure = CUDA_SUCCESS;
};

StackPool g_stacks;
std::vector<SharedMemory*> g_shared;  // one per block that may run at once
Launch g_launch;

// Fault handling: the device thread's guarded work jumps back here when it faults.
sigjmp_buf g_fault_jump;
volatile sig_atomic_t g_guarded = 0;
volatile int g_fault_signal = 0;
void* volatile g_fault_address = nullptr;
volatile int g_fault_code = 0;
pthread_t g_device_thread;
struct sigaction g_previous[NSIG];
constexpr size_t kSignalStackBytes = 64 * 1024;  // where the fault handler runs, whatever state the fiber's stack is in

Fiber& running_fiber() {
    return g_launch.fibers[g_launch.running];
}

// "kernel K, thread (x,y,z) of block (x,y,z)" of the running fiber.
std::string where() {
    const Fiber& f = running_fiber();
    char text[256];
    std::snprintf(text, sizeof text, "kernel %s, thread (%u,%u,%u) of block (%u,%u,%u)",
                  g_launch.kernel->name.c_str(), f.coords.thread.x, f.coords.thread.y, f.coords.thread.z,
                  f.coords.block.x, f.coords.block.y, f.coords.block.z);
    return text;
}

// Switches from the running fiber back to the scheduler.
void yield() {
    emu_switch_context(&running_fiber().sp, g_launch.scheduler_sp);
}

// Fails the launch from inside a fiber: reports, then leaves the fiber suspended for good.
[[noreturn]] void fail_in_kernel(CUresult code, const char* format, ...) __attribute__((format(printf, 2, 3)));
void fail_in_kernel(CUresult code, const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::string what = vformat(format, args);
    va_end(args);
    if (g_launch.failure == CUDA_SUCCESS) {
        g_launch.failure = report(code, "%s: %s", where().c_str(), what.c_str());
    }
    running_fiber().state = FiberState::waiting;
    running_fiber().wait = Wait::none;
    yield();
    std::abort();  // never resumed
}

// The first function of every fiber: runs the kernel for this thread, then hands the stack back for good.
[[noreturn]] void fiber_main() {
    g_launch.kernel->invoke(g_launch.args);
    running_fiber().state = FiberState::done;
    yield();
    std::abort();
}

void start_fiber(uint32_t index) {
    Fiber& f = g_launch.fibers[index];
    f.stack = g_stacks.take();
    auto* top = reinterpret_cast<uint64_t*>(f.stack + kStackBytes);
    *--top = 0;                                           // keeps the entry's stack as a call would leave it
    *--top = reinterpret_cast<uint64_t>(&fiber_main);     // emu_switch_context returns into fiber_main
    for (int i = 0; i < 6; i++) {
        *--top = 0;                                       // rbp, rbx, r12-r15
    }
    *--top = kMxcsrDefault | (uint64_t(kFpuControlDefault) << 32);
    f.sp = top;
    f.state = FiberState::running;
}

// Makes the fibers waiting on a barrier runnable, ahead of every other, in thread order.
void release(uint32_t first, uint32_t count, Wait wait) {
    for (uint32_t i = first + count; i-- > first;) {
        Fiber& f = g_launch.fibers[i];
        if (f.state == FiberState::waiting && f.wait == wait) {
            f.state = FiberState::running;
            f.wait = Wait::none;
            g_launch.ready.push_front(i);
        }
    }
}

void release_block_if_complete(BlockRun& b) {
    if (b.arrived > 0 && b.arrived == b.live) {
        b.arrived = 0;
        release(b.first_fiber, b.threads, Wait::block);
    }
}

void release_grid_if_complete() {
    if (g_launch.grid.arrived > 0 && g_launch.grid.arrived == g_launch.grid.live) {
        g_launch.grid.arrived = 0;
        release(0, static_cast<uint32_t>(g_launch.fibers.size()), Wait::grid);
    }
}

void release_warp(WarpRun& w) {
    w.arrived = 0;
    w.generation++;
    w.op = WarpOp::none;
    release(w.first_fiber, w.lanes, Wait::warp);
}

// A thread has returned from the kernel: it no longer counts at any barrier.
CUresult finish_fiber(uint32_t index) {
    Fiber& f = g_launch.fibers[index];
    bool stack_intact = g_stacks.give(f.stack);
    f.stack = nullptr;
    if (!stack_intact) {
        return report(CUDA_ERROR_HARDWARE_STACK_ERROR,
                      "kernel %s, thread (%u,%u,%u) of block (%u,%u,%u): overflowed its %zu KiB emulator stack",
                      g_launch.kernel->name.c_str(), f.coords.thread.x, f.coords.thread.y, f.coords.thread.z,
                      f.coords.block.x, f.coords.block.y, f.coords.block.z, kStackBytes / 1024);
    }
    BlockRun& b = g_launch.blocks[f.block];
    WarpRun& w = g_launch.warps[f.warp];
    b.live--;
    w.live--;
    g_launch.grid.live--;
    if (index == b.first_fiber) {
        b.thread0_returned = true;
        if (g_launch.grid.arrived > 0) {
            return report(CUDA_ERROR_LAUNCH_FAILED,
                          "kernel %s: thread 0 of block (%u,%u,%u) returned while other threads wait in a grid sync at "
                          "%s:%d, which needs every block's thread 0 (a GPU hangs)", g_launch.kernel->name.c_str(),
                          b.index.x, b.index.y, b.index.z, base_name(g_launch.grid.site.file), g_launch.grid.site.line);
        }
    }
    if (w.arrived > 0) {
        Fiber& waiting = g_launch.fibers[w.first_fiber];
        return report(CUDA_ERROR_LAUNCH_FAILED,
                      "kernel %s, thread (%u,%u,%u) of block (%u,%u,%u): returned while other lanes of its warp wait "
                      "in a full-mask %s at %s:%d (lane %u of warp starting at thread %u)",
                      g_launch.kernel->name.c_str(), f.coords.thread.x, f.coords.thread.y, f.coords.thread.z,
                      f.coords.block.x, f.coords.block.y, f.coords.block.z,
                      w.op == WarpOp::shuffle ? "__shfl_xor_sync" : "__syncwarp", base_name(w.site.file), w.site.line,
                      f.lane, waiting.coords.thread.x);
    }
    release_block_if_complete(b);
    release_grid_if_complete();
    return CUDA_SUCCESS;
}

std::string describe_deadlock() {
    std::string text;
    int shown = 0;
    for (const Fiber& f : g_launch.fibers) {
        if (f.state != FiberState::waiting || shown == 4) {
            continue;
        }
        char line[256];
        const char* what = "?";
        Site site{"?", 0};
        if (f.wait == Wait::block) {
            what = "__syncthreads";
            site = g_launch.blocks[f.block].site;
        } else if (f.wait == Wait::warp) {
            what = g_launch.warps[f.warp].op == WarpOp::shuffle ? "__shfl_xor_sync" : "__syncwarp";
            site = g_launch.warps[f.warp].site;
        } else if (f.wait == Wait::grid) {
            what = "grid sync";
            site = g_launch.grid.site;
        }
        std::snprintf(line, sizeof line, "%sthread (%u,%u,%u) of block (%u,%u,%u) waits in %s at %s:%d",
                      shown == 0 ? "" : "; ", f.coords.thread.x, f.coords.thread.y, f.coords.thread.z,
                      f.coords.block.x, f.coords.block.y, f.coords.block.z, what, base_name(site.file), site.line);
        text += line;
        shown++;
    }
    return text;
}

// Runs the fibers set up in g_launch until all have returned, or the launch fails.
CUresult run_fibers() {
    Launch& L = g_launch;
    L.ready.clear();
    L.next_start = 0;
    const uint32_t total = static_cast<uint32_t>(L.fibers.size());
    while (L.failure == CUDA_SUCCESS) {
        uint32_t index;
        if (!L.ready.empty()) {
            index = L.ready.front();
            L.ready.pop_front();
        } else if (L.next_start < total) {
            index = L.next_start++;
            start_fiber(index);
        } else {
            break;
        }
        L.running = index;
        current = &L.fibers[index].coords;
        L.in_fiber = true;
        emu_switch_context(&L.scheduler_sp, L.fibers[index].sp);
        L.in_fiber = false;
        if (L.fibers[index].state == FiberState::done) {
            CUresult r = finish_fiber(index);
            if (r != CUDA_SUCCESS && L.failure == CUDA_SUCCESS) {
                L.failure = r;
            }
        }
    }
    if (L.failure == CUDA_SUCCESS && L.grid.live > 0) {
        L.failure = report(CUDA_ERROR_LAUNCH_FAILED, "kernel %s deadlocked: %d threads wait and none can arrive: %s",
                           L.kernel->name.c_str(), L.grid.live, describe_deadlock().c_str());
    }
    return L.failure;
}

// Gives back the stacks of fibers a failed launch left suspended.
void abandon_fibers() {
    for (Fiber& f : g_launch.fibers) {
        if (f.stack != nullptr) {
            g_stacks.give(f.stack);
            f.stack = nullptr;
        }
    }
    current = nullptr;
}

// Sets up the fibers, warps and shared memory of blocks [first, first + count) of the grid, in linear block order.
void prepare_blocks(uint64_t first, uint32_t count) {
    Launch& L = g_launch;
    const dim3 grid = L.shape.grid;
    const dim3 block = L.shape.block;
    const uint32_t threads = block.x * block.y * block.z;
    const uint32_t warps_per_block = (threads + 31) / 32;
    while (g_shared.size() < count) {
        g_shared.push_back(SharedMemory::make());
    }
    L.fibers.resize(size_t(count) * threads);
    L.blocks.resize(count);
    L.warps.resize(size_t(count) * warps_per_block);
    for (uint32_t b = 0; b < count; b++) {
        uint64_t linear = first + b;
        BlockRun& run = L.blocks[b];
        run.index = uint3{static_cast<unsigned>(linear % grid.x), static_cast<unsigned>(linear / grid.x % grid.y),
                          static_cast<unsigned>(linear / (uint64_t(grid.x) * grid.y))};
        run.first_fiber = b * threads;
        run.threads = threads;
        run.live = static_cast<int>(threads);
        run.arrived = 0;
        run.shared = g_shared[b];
        run.dynamic = run.shared->dynamic_end - ((L.shape.dynamic_shared + 15) & ~15u);
        std::memset(run.dynamic, kSharedPoison, L.shape.dynamic_shared);
        run.static_count = 0;
        run.static_used = 0;
        run.thread0_returned = false;
        for (uint32_t w = 0; w < warps_per_block; w++) {
            WarpRun& warp = L.warps[b * warps_per_block + w];
            warp.first_fiber = run.first_fiber + w * 32;
            warp.lanes = std::min<uint32_t>(32, threads - w * 32);
            warp.live = static_cast<int>(warp.lanes);
            warp.arrived = 0;
            warp.generation = 0;
            warp.op = WarpOp::none;
        }
        for (uint32_t t = 0; t < threads; t++) {
            Fiber& f = L.fibers[run.first_fiber + t];
            f.coords.thread = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            f.coords.block = run.index;
            f.sp = nullptr;
            f.stack = nullptr;
            f.block = b;
            f.warp = b * warps_per_block + t / 32;
            f.lane = t % 32;
            f.state = FiberState::unstarted;
            f.wait = Wait::none;
        }
    }
    L.grid = GridRun{static_cast<int>(count * threads), 0, Site{"", 0}};
}

const char* signal_name(int signal) {
    switch (signal) {
        case SIGSEGV: return "an access to memory it may not touch";
        case SIGBUS: return "a misaligned or unbacked memory access";
        case SIGFPE: return "an integer division by zero (or INT_MIN / -1), which a GPU would not trap";
        case SIGILL: return "an illegal instruction";
        default: return "a fault";
    }
}

CUresult fault_code(int signal) {
    switch (signal) {
        case SIGILL: return CUDA_ERROR_ILLEGAL_INSTRUCTION;
        case SIGFPE: return CUDA_ERROR_LAUNCH_FAILED;
        default: return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
}

// What a faulting address was, for a kernel: device memory or one of the running blocks' shared memory.
std::string describe_kernel_address(uintptr_t address) {
    for (const BlockRun& b : g_launch.blocks) {
        auto dynamic_end = reinterpret_cast<uintptr_t>(b.shared->dynamic_end);
        auto dynamic_begin = reinterpret_cast<uintptr_t>(b.dynamic);
        if (address >= dynamic_begin - kPage && address < dynamic_end + kPage) {
            char text[160];
            std::snprintf(text, sizeof text, "%s the block's %u bytes of dynamic shared memory",
                          address >= dynamic_end ? "past the end of" : "before the start of",
                          g_launch.shape.dynamic_shared);
            return text;
        }
        auto static_end = reinterpret_cast<uintptr_t>(b.shared->static_end);
        if (address >= static_end - SharedMemory::kStaticBytes - kPage && address < static_end + kPage) {
            return "outside the block's static shared memory";
        }
    }
    return describe_address(address);
}

// Runs on the device thread's alternate signal stack when the fault is the device's (a fiber's stack may be the
// faulting memory); on whatever stack the previous handler expects otherwise.
// What the last fault was: the signal, and for a memory fault where it was. A non-canonical address faults with no
// address at all (si_code SI_KERNEL).
std::string fault_description() {
    std::string what = signal_name(g_fault_signal);
    if (g_fault_signal != SIGSEGV && g_fault_signal != SIGBUS) {
        return what;
    }
    if (g_fault_code == SI_KERNEL) {
        return what + " at a non-canonical address (a pointer far outside any memory)";
    }
    uintptr_t address = reinterpret_cast<uintptr_t>(g_fault_address);
    return what + " at " + (g_launch.in_fiber ? describe_kernel_address(address) : describe_address(address));
}

void on_fault(int signal, siginfo_t* info, void* context) {
    if (g_guarded && pthread_equal(pthread_self(), g_device_thread)) {
        g_guarded = 0;
        g_fault_signal = signal;
        g_fault_address = info->si_addr;
        g_fault_code = info->si_code;
        siglongjmp(g_fault_jump, 1);
    }
    // Not the device's: the signal belongs to whoever handled it before (the JVM uses SIGSEGV itself).
    const struct sigaction& previous = g_previous[signal];
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(signal, info, context);
    } else if (previous.sa_handler == SIG_DFL) {
        ::signal(signal, SIG_DFL);  // the faulting instruction runs again and the process ends as it would have
    } else if (previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signal);
    }
}

// Takes the fault signals over, keeping the previous handler's mask and flags for the signals it passes on. The previous
// action is saved before the new one is installed: a thread of the host that faults in between finds it there.
// SA_ONSTACK runs the handler on the device thread's alternate stack (threads without one are unaffected).
void install_fault_handler() {
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
        struct sigaction action {};
        sigaction(signal, nullptr, &action);
        g_previous[signal] = action;
        action.sa_flags = (action.sa_flags & (SA_RESTART | SA_NODEFER)) | SA_SIGINFO | SA_ONSTACK;
        action.sa_sigaction = on_fault;
        sigaction(signal, &action, nullptr);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The device thread
// ---------------------------------------------------------------------------------------------------------------

// The hand-over between the host's calls and the device thread. Never destroyed: the device thread waits on it until
// the process ends, and a condition variable destroyed at exit under a waiting thread would hang the exit.
struct DeviceQueue {
    std::mutex mutex;
    std::condition_variable wake;
    const std::function<void()>* task = nullptr;
    bool task_done = false;
    bool started = false;
};
DeviceQueue& g_device = *new DeviceQueue;

void* device_thread_main(void*) {
    stack_t alternate{};
    alternate.ss_sp = std::malloc(kSignalStackBytes);
    alternate.ss_size = kSignalStackBytes;
    sigaltstack(&alternate, nullptr);
    _mm_setcsr(kMxcsrDefault);  // device work runs in the default floating-point environment, whoever started it
    std::unique_lock<std::mutex> lock(g_device.mutex);
    for (;;) {
        g_device.wake.wait(lock, [] { return g_device.task != nullptr; });
        const std::function<void()>* task = g_device.task;
        lock.unlock();
        (*task)();
        lock.lock();
        g_device.task = nullptr;
        g_device.task_done = true;
        g_device.wake.notify_all();
    }
}

void start_device_thread() {
    // The device thread takes none of the process's asynchronous signals (they are the host program's), only the
    // faults of its own work.
    sigset_t all, previous;
    sigfillset(&all);
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
        sigdelset(&all, signal);
    }
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int created = pthread_create(&g_device_thread, &attributes, device_thread_main, nullptr);
    pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (created != 0) {
        std::fprintf(stderr, "emulated CUDA device: cannot start the device thread\n");
        std::abort();
    }
    install_fault_handler();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The built-ins of device.h, called from fibers
// ---------------------------------------------------------------------------------------------------------------

void syncthreads(Site site) {
    Fiber& f = running_fiber();
    BlockRun& b = g_launch.blocks[f.block];
    if (b.arrived == 0) {
        b.site = site;
    } else if (!same_site(b.site, site)) {
        fail_in_kernel(CUDA_ERROR_LAUNCH_FAILED,
                       "divergent __syncthreads: reached the one at %s:%d while %d threads of its block wait at %s:%d",
                       base_name(site.file), site.line, b.arrived, base_name(b.site.file), b.site.line);
    }
    f.state = FiberState::waiting;
    f.wait = Wait::block;
    b.arrived++;
    release_block_if_complete(b);
    yield();
}

namespace {

// The running lane joins its warp's operation op at site and waits for all 32 lanes; returns the generation whose
// exchange slots its lanes wrote.
unsigned warp_rendezvous(Site site, unsigned mask, WarpOp op, const char* name) {
    Fiber& f = running_fiber();
    WarpRun& w = g_launch.warps[f.warp];
    if (mask != 0xffffffffu) {
        fail_in_kernel(CUDA_ERROR_NOT_SUPPORTED, "%s at %s:%d with mask %#x: the emulator implements full-warp masks only",
                       name, base_name(site.file), site.line, mask);
    }
    if (w.lanes != 32 || w.live != 32) {
        fail_in_kernel(CUDA_ERROR_LAUNCH_FAILED, "full-mask %s at %s:%d with %d of its warp's 32 lanes still running",
                       name, base_name(site.file), site.line, w.lanes != 32 ? int(w.lanes) : w.live);
    }
    if (w.arrived == 0) {
        w.op = op;
        w.site = site;
    } else if (w.op != op) {
        fail_in_kernel(CUDA_ERROR_LAUNCH_FAILED, "divergent warp: %s at %s:%d while other lanes wait in %s at %s:%d",
                       name, base_name(site.file), site.line,
                       w.op == WarpOp::shuffle ? "__shfl_xor_sync" : "__syncwarp", base_name(w.site.file), w.site.line);
    }
    unsigned generation = w.generation;
    f.state = FiberState::waiting;
    f.wait = Wait::warp;
    w.arrived++;
    if (w.arrived == w.live) {
        release_warp(w);
    }
    return generation;
}

}  // namespace

void syncwarp(Site site, unsigned mask) {
    warp_rendezvous(site, mask, WarpOp::syncwarp, "__syncwarp");
    yield();
}

uint32_t shfl_xor(Site site, unsigned mask, uint32_t bits, int lane_mask) {
    Fiber& f = running_fiber();
    WarpRun& w = g_launch.warps[f.warp];
    // Slots alternate between consecutive shuffles, so a lane that races ahead cannot overwrite a value not yet read.
    w.exchange[w.generation & 1][f.lane] = bits;
    unsigned generation = warp_rendezvous(site, mask, WarpOp::shuffle, "__shfl_xor_sync");
    uint32_t lane = f.lane;
    yield();
    uint32_t source = lane ^ static_cast<uint32_t>(lane_mask);
    return g_launch.warps[running_fiber().warp].exchange[generation & 1][source < 32 ? source : lane];
}

void grid_sync(Site site) {
    if (!g_launch.shape.cooperative) {
        fail_in_kernel(CUDA_ERROR_LAUNCH_FAILED,
                       "grid sync at %s:%d in a launch that is not cooperative: a GPU may never run all its blocks "
                       "at once (launch it with cuLaunchCooperativeKernel)", base_name(site.file), site.line);
    }
    Fiber& f = running_fiber();
    GridRun& g = g_launch.grid;
    for (const BlockRun& b : g_launch.blocks) {
        if (b.thread0_returned) {
            fail_in_kernel(CUDA_ERROR_LAUNCH_FAILED, "grid sync at %s:%d after thread 0 of block (%u,%u,%u) returned: "
                           "the sync needs every block's thread 0 (a GPU hangs)", base_name(site.file), site.line,
                           b.index.x, b.index.y, b.index.z);
        }
    }
    if (g.arrived == 0) {
        g.site = site;
    }
    f.state = FiberState::waiting;
    f.wait = Wait::grid;
    g.arrived++;
    release_grid_if_complete();
    yield();
}

void* dynamic_smem() {
    return g_launch.blocks[running_fiber().block].dynamic;
}

void* static_smem(const SharedTag* tag, size_t bytes, size_t align) {
    BlockRun& b = g_launch.blocks[running_fiber().block];
    for (int i = 0; i < b.static_count; i++) {
        if (b.statics[i].tag == tag) {
            return b.statics[i].at;
        }
    }
    // The first declaration ends at the inaccessible page after the area, each next one below the one before.
    size_t used = (b.static_used + bytes + align - 1) / align * align;
    if (b.static_count == 16 || used > SharedMemory::kStaticBytes) {
        fail_in_kernel(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "its __shared__ declarations exceed %zu bytes",
                       SharedMemory::kStaticBytes);
    }
    char* at = b.shared->static_end - used;
    std::memset(at, kSharedPoison, bytes);
    b.statics[b.static_count++] = BlockRun::Declaration{tag, at};
    b.static_used = used;
    return at;
}

// ---------------------------------------------------------------------------------------------------------------
// Launches, guarded work and the device thread
// ---------------------------------------------------------------------------------------------------------------

CUresult execute_launch(const KernelInfo& kernel, const LaunchShape& shape, void* const* args) {
    Launch& L = g_launch;
    L.kernel = &kernel;
    L.shape = shape;
    L.args = args;
    L.failure = CUDA_SUCCESS;
    grid_dim = shape.grid;
    block_dim = shape.block;
    const uint64_t blocks = uint64_t(shape.grid.x) * shape.grid.y * shape.grid.z;
    if (sigsetjmp(g_fault_jump, 1) != 0) {
        std::string what = fault_description();
        CUresult code = L.in_fiber ? report(fault_code(g_fault_signal), "%s: %s", where().c_str(), what.c_str())
                                   : report(CUDA_ERROR_LAUNCH_FAILED, "kernel %s: the emulator itself faulted (a bug "
                                            "of kernels/emu, not of the kernel): %s", kernel.name.c_str(), what.c_str());
        L.in_fiber = false;
        abandon_fibers();
        return code;
    }
    g_guarded = 1;
    CUresult result = CUDA_SUCCESS;
    if (shape.cooperative) {
        prepare_blocks(0, static_cast<uint32_t>(blocks));
        result = run_fibers();
    } else {
        for (uint64_t b = 0; b < blocks && result == CUDA_SUCCESS; b++) {
            prepare_blocks(b, 1);
            result = run_fibers();
        }
    }
    g_guarded = 0;
    if (result != CUDA_SUCCESS) {
        abandon_fibers();
    }
    current = nullptr;
    return result;
}

CUresult run_guarded(const char* what, const std::function<CUresult()>& fn) {
    if (sigsetjmp(g_fault_jump, 1) != 0) {
        return report(fault_code(g_fault_signal), "%s: %s", what, fault_description().c_str());
    }
    g_guarded = 1;
    CUresult result = fn();
    g_guarded = 0;
    return result;
}

void on_device_thread(const std::function<void()>& fn) {
    std::unique_lock<std::mutex> lock(g_device.mutex);
    if (!g_device.started) {
        start_device_thread();
        g_device.started = true;
    }
    g_device.task = &fn;
    g_device.task_done = false;
    g_device.wake.notify_all();
    g_device.wake.wait(lock, [] { return g_device.task_done; });
}

}  // namespace emu
