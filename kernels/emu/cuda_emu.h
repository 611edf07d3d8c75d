// A tiny host emulation of the CUDA features kernels/*.cu use, to check the kernels' arithmetic and
// indexing on machines without a GPU (compiled with g++ -std=c++20; see check_kernels.sh).
//
// Every CUDA thread of a block is a std::thread; blocks run one after another, so function-scope
// __shared__ arrays (mapped to static storage) are private to the running block. __syncthreads and
// __syncwarp are std::barriers over the block / warp; a thread that returns drops out of both (as exited
// threads do on the GPU). Warp shuffles exchange through a per-warp buffer between two warp barriers.
// atomicAdd takes a global lock. This says nothing about performance, coalescing or races that real
// hardware scheduling could expose; it checks what each thread computes.
#pragma once

#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

namespace emu {
struct Warp {
    std::barrier<> bar{32};
    float xchg[32];
};
struct Block {
    std::unique_ptr<std::barrier<>> bar;
    std::vector<std::unique_ptr<Warp>> warps;
    std::vector<unsigned char> smem;
};
inline thread_local Block* cur_block = nullptr;
inline thread_local Warp* cur_warp = nullptr;
inline std::mutex atomic_lock;
}  // namespace emu

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline void* emu_dynamic_smem() { return emu::cur_block->smem.data(); }

inline void __syncthreads() { emu::cur_block->bar->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::cur_warp->bar.arrive_and_wait(); }

inline float __shfl_xor_sync(unsigned, float v, int offset) {
    int lane = threadIdx.x & 31;
    emu::Warp* w = emu::cur_warp;
    w->xchg[lane] = v;
    w->bar.arrive_and_wait();
    float r = w->xchg[lane ^ offset];
    w->bar.arrive_and_wait();
    return r;
}

inline float atomicAdd(float* p, float v) {
    std::lock_guard<std::mutex> g(emu::atomic_lock);
    float old = *p;
    *p = old + v;
    return old;
}

// Runs kernel<<<grid, block, smem_bytes>>>(args...) to completion: one std::thread per CUDA thread of a
// block, reused for every block of the grid in turn.
template <class Kernel, class... Args>
void emu_launch(Kernel kernel, dim3 grid, dim3 block, size_t smem_bytes, Args... args) {
    unsigned threads = block.x * block.y * block.z;
    if (threads % 32 != 0 || threads > 1024) {
        std::fprintf(stderr, "emu_launch: block of %u threads (need a multiple of 32, <= 1024)\n", threads);
        std::abort();
    }
    gridDim = grid;
    blockDim = block;
    unsigned blocks = grid.x * grid.y * grid.z;
    std::barrier<> gate(threads);
    emu::Block b;
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; t++) {
        pool.emplace_back([&, t] {
            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            for (unsigned bi = 0; bi < blocks; bi++) {
                gate.arrive_and_wait();  // everyone is done with the previous block
                if (t == 0) {
                    b.bar = std::make_unique<std::barrier<>>(threads);
                    b.warps.clear();
                    for (unsigned w = 0; w < threads / 32; w++) b.warps.push_back(std::make_unique<emu::Warp>());
                    b.smem.assign(smem_bytes + 16, 0xff);  // garbage-filled: kernels must not rely on zeroed smem
                }
                gate.arrive_and_wait();
                blockIdx = dim3(bi % grid.x, (bi / grid.x) % grid.y, bi / (grid.x * grid.y));
                emu::cur_block = &b;
                emu::cur_warp = b.warps[t / 32].get();
                kernel(args...);
                emu::cur_warp->bar.arrive_and_drop();
                b.bar->arrive_and_drop();
            }
        });
    }
    for (auto& th : pool) th.join();
}
