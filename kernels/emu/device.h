// What kernels/*.cu see when the emulated CUDA device compiles them for the host (g++ -include device.h; see
// Makefile). Every CUDA thread runs as a fiber on the emulator's one device thread (threads.cpp); the built-ins
// below read the running fiber's coordinates, and every synchronisation point switches fibers.
//
// Two constructs cannot be macros and are rewritten in the sources before compiling (Makefile, kernel-sources):
//   extern __shared__ T name[];   ->  T* name = (T*) emu::dynamic_smem();
//   __shared__ T name[dims];      ->  EMU_SHARED(T, name, [dims]);   (per-block storage, poisoned at block start)
#pragma once

#include <math.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace emu {

// Where a synchronisation call is in the kernel source: threads meeting at one barrier must be at the same one.
struct Site {
    const char* file;
    int line;
};

// The running CUDA thread's built-ins.
struct ThreadCoordinates {
    uint3 thread;
    uint3 block;
};

extern ThreadCoordinates* current;
extern dim3 grid_dim;
extern dim3 block_dim;

void syncthreads(Site site);
void syncwarp(Site site, unsigned mask);
uint32_t shfl_xor(Site site, unsigned mask, uint32_t bits, int lane_mask);
void grid_sync(Site site);
void* dynamic_smem();

// One __shared__ declaration; its address identifies the declaration's storage within each block.
struct SharedTag {};
void* static_smem(const SharedTag* tag, std::size_t bytes, std::size_t align);

template <class T>
inline T shfl_xor_typed(Site site, unsigned mask, T v, int lane_mask) {
    static_assert(sizeof(T) == 4, "the emulated warp shuffle moves 32-bit values");
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bits = shfl_xor(site, mask, bits, lane_mask);
    std::memcpy(&v, &bits, 4);
    return v;
}

}  // namespace emu

#define threadIdx (emu::current->thread)
#define blockIdx (emu::current->block)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

// The synchronisation built-ins take their call site as default arguments, evaluated where they are called.
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    emu::syncthreads({file, line});
}

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    emu::syncwarp({file, line}, mask);
}

template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, const char* file = __builtin_FILE(),
                         int line = __builtin_LINE()) {
    return emu::shfl_xor_typed({file, line}, mask, v, lane_mask);
}

#define EMU_SHARED(T, name, dims)                                                                                 \
    static emu::SharedTag name##_emu_tag;                                                                         \
    auto& name = *reinterpret_cast<T(*) dims>(emu::static_smem(&name##_emu_tag, sizeof(T dims), alignof(T)))

namespace cooperative_groups {
struct grid_group {
    void sync(const char* file = __builtin_FILE(), int line = __builtin_LINE()) { emu::grid_sync({file, line}); }
};
inline grid_group this_grid() {
    return {};
}
}  // namespace cooperative_groups

// Registers a kernel of this translation unit with the emulated driver under its PTX entry name (Makefile,
// kernel-registrations). The host function's parameter types are checked against the PTX .entry at module load.
namespace emu {

// A kernel parameter's type: a pointer to memory the kernel may write, or only read (const), or a number.
enum class ParamKind : char { pointer = 'p', const_pointer = 'c', i32 = 'i', i64 = 'l', f32 = 'f', f64 = 'd' };

template <class T>
constexpr ParamKind param_kind() {
    if constexpr (std::is_pointer_v<T>) {
        return std::is_const_v<std::remove_pointer_t<T>> ? ParamKind::const_pointer : ParamKind::pointer;
    } else if constexpr (std::is_same_v<T, double>) {
        return ParamKind::f64;
    } else if constexpr (std::is_same_v<T, float>) {
        return ParamKind::f32;
    } else if constexpr (std::is_integral_v<T> && sizeof(T) == 8) {
        return ParamKind::i64;
    } else {
        static_assert(std::is_integral_v<T> && sizeof(T) == 4, "kernel parameter of an unsupported type");
        return ParamKind::i32;
    }
}

using KernelInvoker = void (*)(void* const* args);

struct KernelRegistration {
    KernelRegistration(const char* name, KernelInvoker invoke, const char* param_kinds);
};

template <auto Kernel, class... A, std::size_t... I>
void invoke_with(void* const* args, void (*)(A...), std::index_sequence<I...>) {
    Kernel(*static_cast<A*>(args[I])...);
}

template <auto Kernel, class... A>
void invoke(void* const* args) {
    invoke_with<Kernel>(args, Kernel, std::index_sequence_for<A...>{});
}

template <class... A>
struct Signature {
    static constexpr char kinds[] = {static_cast<char>(param_kind<A>())..., '\0'};
};

template <auto Kernel, class... A>
KernelRegistration register_kernel(const char* name, void (*)(A...)) {
    return KernelRegistration(name, &invoke<Kernel, A...>, Signature<A...>::kinds);
}

}  // namespace emu

#define EMU_KERNEL(name) static const emu::KernelRegistration emu_registration_##name = emu::register_kernel<&name>(#name, &name);
