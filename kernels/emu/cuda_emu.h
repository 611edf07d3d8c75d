// A tiny host emulation of the CUDA features kernels/*.cu use, to check the kernels' arithmetic and
// indexing on machines without a GPU (compiled with g++ -std=c++20; see check_kernels.sh).
//
// Every CUDA thread of a block is a std::thread; blocks run one after another, so function-scope
// __shared__ arrays (mapped to static storage) are private to the running block. A cooperative launch
// (emu_launch_cooperative) runs every block at once instead, each with its own dynamic shared memory (kernels
// launched that way must not declare static __shared__ arrays), and cooperative_groups::this_grid().sync() is a
// barrier over all of the grid's threads. __syncthreads and
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

    // Fresh barriers for `threads` threads and garbage-filled shared memory (kernels must not rely on zeroed smem).
    void reset(unsigned threads, size_t smem_bytes) {
        bar = std::make_unique<std::barrier<>>(threads);
        warps.clear();
        for (unsigned w = 0; w < threads / 32; w++) warps.push_back(std::make_unique<Warp>());
        smem.assign(smem_bytes + 16, 0xff);
    }
};
inline thread_local Block* cur_block = nullptr;
inline thread_local Warp* cur_warp = nullptr;
inline std::barrier<>* grid_barrier = nullptr;  // set during a cooperative launch
inline std::mutex atomic_lock;
}  // namespace emu

namespace cooperative_groups {
struct grid_group {
    void sync() {
        if (emu::grid_barrier == nullptr) {
            std::fprintf(stderr, "grid_group::sync outside a cooperative launch\n");
            std::abort();
        }
        emu::grid_barrier->arrive_and_wait();
    }
};
inline grid_group this_grid() { return {}; }
}  // namespace cooperative_groups

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
inline unsigned emu_block_threads(dim3 block) {
    unsigned threads = block.x * block.y * block.z;
    if (threads % 32 != 0 || threads > 1024) {
        std::fprintf(stderr, "emu_launch: block of %u threads (need a multiple of 32, <= 1024)\n", threads);
        std::abort();
    }
    return threads;
}

template <class Kernel, class... Args>
void emu_launch(Kernel kernel, dim3 grid, dim3 block, size_t smem_bytes, Args... args) {
    unsigned threads = emu_block_threads(block);
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
                    b.reset(threads, smem_bytes);
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

// Runs a cooperative launch (cuLaunchCooperativeKernel) of a one-dimensional grid: every thread of every block
// at once, so that grid-wide syncs can complete.
template <class Kernel, class... Args>
void emu_launch_cooperative(Kernel kernel, unsigned blocks, dim3 block, size_t smem_bytes, Args... args) {
    unsigned threads = emu_block_threads(block);
    gridDim = dim3(blocks);
    blockDim = block;
    std::vector<emu::Block> per_block(blocks);
    for (auto& b : per_block) b.reset(threads, smem_bytes);
    std::barrier<> grid_bar(blocks * threads);
    emu::grid_barrier = &grid_bar;
    std::vector<std::thread> pool;
    pool.reserve(blocks * threads);
    for (unsigned bi = 0; bi < blocks; bi++) {
        for (unsigned t = 0; t < threads; t++) {
            pool.emplace_back([&, bi, t] {
                threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
                blockIdx = dim3(bi);
                emu::cur_block = &per_block[bi];
                emu::cur_warp = per_block[bi].warps[t / 32].get();
                kernel(args...);
                emu::cur_warp->bar.arrive_and_drop();
                emu::cur_block->bar->arrive_and_drop();
                grid_bar.arrive_and_drop();
            });
        }
    }
    for (auto& th : pool) th.join();
    emu::grid_barrier = nullptr;
}
