// Device memory: one reserved range of addresses, inaccessible until allocated. Each allocation gets whole pages of
// its own after an inaccessible page, laid out so that its end (rounded up to the 256 bytes the driver aligns to) is
// the end of its last page: a kernel that reads or writes past the end, or anywhere no allocation is, faults. What its
// pages hold besides the allocation (under 256 bytes after its end, under a page before its start) is a canary that
// the driver checks after each launch: writes there are caught after the fact, reads there go unseen (they read NaN).
// Addresses are never reused, so a freed allocation stays inaccessible and an access to it is reported as such. Fresh
// memory reads as NaN (0xFF bytes), never as a convenient zero.
//
// Pinned host memory is page-locked in name only: plain pages, tracked so that asynchronous copies can insist on it.
#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <unordered_map>

#include "emulator.h"

namespace emu {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kAlignment = 256;
constexpr unsigned char kFill = 0xFF;  // fresh memory: NaN as float, -1 as int
// The canary: 0x7FBADBAD in every aligned word, a NaN as float and no value a kernel writes by accident as int.
constexpr uint32_t kCanary = 0x7FBADBADu;

unsigned char canary_byte(uintptr_t address) {
    return static_cast<unsigned char>(kCanary >> (8 * (address % 4)));
}
constexpr size_t kRangeBytes = size_t(1) << 38;  // 256 GiB of addresses

struct DeviceRecord {
    Allocation allocation;
    uintptr_t pages_begin;
    uintptr_t pages_end;
    bool freed;
};

uintptr_t g_range_begin = 0;
uintptr_t g_range_next = 0;
uintptr_t g_range_end = 0;
unsigned g_next_id = 1;
// Never destroyed: a host thread may still call in while the process exits.
std::map<uintptr_t, DeviceRecord>& g_device = *new std::map<uintptr_t, DeviceRecord>;        // every allocation ever
std::unordered_map<unsigned, DeviceRecord*>& g_live = *new std::unordered_map<unsigned, DeviceRecord*>;  // live, by id
std::map<uintptr_t, Allocation>& g_pinned = *new std::map<uintptr_t, Allocation>;            // live pinned, by base
unsigned long long g_used = 0;

size_t round_up(size_t value, size_t unit) {
    return (value + unit - 1) / unit * unit;
}

bool reserve_range() {
    if (g_range_begin != 0) {
        return true;
    }
    for (size_t bytes = kRangeBytes; bytes >= (size_t(1) << 32); bytes /= 2) {
        void* range = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (range != MAP_FAILED) {
            g_range_begin = reinterpret_cast<uintptr_t>(range);
            g_range_next = g_range_begin;
            g_range_end = g_range_begin + bytes;
            return true;
        }
    }
    return false;
}

// The record whose pages, or the inaccessible page after or before them, hold address, or nullptr. An address in the
// page between two allocations is taken to be past the end of the first: overruns are the common mistake.
const DeviceRecord* record_near(uintptr_t address) {
    auto after = g_device.upper_bound(address);
    if (after != g_device.begin()) {
        const DeviceRecord& before = std::prev(after)->second;
        if (address < before.pages_end + kPage) {
            return &before;
        }
    }
    if (after != g_device.end() && address + kPage >= after->second.pages_begin) {
        return &after->second;
    }
    return nullptr;
}

void lay_canary(unsigned char* from, unsigned char* to) {
    for (unsigned char* p = from; p < to; p++) {
        *p = canary_byte(reinterpret_cast<uintptr_t>(p));
    }
}

// The first byte of [from, to) that is not the canary, or to.
const unsigned char* first_written(const unsigned char* from, const unsigned char* to) {
    const unsigned char* p = from;
    while (p < to && *p == canary_byte(reinterpret_cast<uintptr_t>(p))) {
        p++;
    }
    return p;
}

// The last byte of [from, to) that is not the canary, or nullptr.
const unsigned char* last_written(const unsigned char* from, const unsigned char* to) {
    for (const unsigned char* p = to; p-- > from;) {
        if (*p != canary_byte(reinterpret_cast<uintptr_t>(p))) {
            return p;
        }
    }
    return nullptr;
}

}  // namespace

const Allocation* find_device(uintptr_t address, size_t bytes) {
    auto after = g_device.upper_bound(address);
    if (after == g_device.begin()) {
        return nullptr;
    }
    const DeviceRecord& r = std::prev(after)->second;
    if (r.freed || address + bytes > r.allocation.base + r.allocation.size || address + bytes < address) {
        return nullptr;
    }
    return &r.allocation;
}

const Allocation* find_pinned(uintptr_t address, size_t bytes) {
    auto after = g_pinned.upper_bound(address);
    if (after == g_pinned.begin()) {
        return nullptr;
    }
    const Allocation& a = std::prev(after)->second;
    return address + bytes <= a.base + a.size && address + bytes >= address ? &a : nullptr;
}

bool in_device_range(uintptr_t address) {
    return address >= g_range_begin && address < g_range_end;
}

CUresult allocate_device(size_t bytes, uintptr_t* address) {
    if (!reserve_range()) {
        return report(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc: cannot reserve address space for device memory");
    }
    size_t padded = round_up(bytes, kAlignment);
    size_t pages = round_up(padded, kPage);
    if (g_used + pages > kTotalMemory || g_range_next + kPage + pages > g_range_end) {
        return report(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of %zu bytes: out of the device's %llu bytes", bytes,
                      kTotalMemory);
    }
    uintptr_t pages_begin = g_range_next + kPage;  // the page before stays inaccessible
    if (mprotect(reinterpret_cast<void*>(pages_begin), pages, PROT_READ | PROT_WRITE) != 0) {
        return report(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of %zu bytes: the host cannot back it", bytes);
    }
    g_range_next = pages_begin + pages;
    uintptr_t base = pages_begin + pages - padded;
    auto* head = reinterpret_cast<unsigned char*>(pages_begin);
    auto* begin = reinterpret_cast<unsigned char*>(base);
    lay_canary(head, begin);
    std::memset(begin, kFill, bytes);
    lay_canary(begin + bytes, reinterpret_cast<unsigned char*>(pages_begin + pages));
    DeviceRecord& r = g_device[base];
    r = DeviceRecord{Allocation{base, bytes, g_next_id++, false}, pages_begin, pages_begin + pages, false};
    g_live[r.allocation.id] = &r;
    g_used += pages;
    *address = base;
    return CUDA_SUCCESS;
}

CUresult free_device(uintptr_t address) {
    auto it = g_device.find(address);
    if (it == g_device.end() || it->second.freed) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuMemFree(%#lx): %s", static_cast<unsigned long>(address),
                      it == g_device.end() ? "not the address of an allocation" : "already freed");
    }
    DeviceRecord& r = it->second;
    void* pages = reinterpret_cast<void*>(r.pages_begin);
    size_t length = r.pages_end - r.pages_begin;
    madvise(pages, length, MADV_DONTNEED);
    mprotect(pages, length, PROT_NONE);
    r.freed = true;
    g_live.erase(r.allocation.id);
    g_used -= length;
    return CUDA_SUCCESS;
}

CUresult allocate_pinned(size_t bytes, void** address) {
    void* pages = mmap(nullptr, round_up(bytes, kPage), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) {
        return report(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAllocHost of %zu bytes: the host cannot back it", bytes);
    }
    auto base = reinterpret_cast<uintptr_t>(pages);
    g_pinned[base] = Allocation{base, bytes, g_next_id++, true};
    *address = pages;
    return CUDA_SUCCESS;
}

CUresult free_pinned(void* address) {
    auto it = g_pinned.find(reinterpret_cast<uintptr_t>(address));
    if (it == g_pinned.end()) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost(%p): not the address of a pinned allocation", address);
    }
    munmap(address, round_up(it->second.size, kPage));
    g_pinned.erase(it);
    return CUDA_SUCCESS;
}

unsigned long long device_memory_used() {
    return g_used;
}

void release_all_memory() {
    for (auto& [base, record] : g_device) {
        if (!record.freed) {
            free_device(base);
        }
    }
    while (!g_pinned.empty()) {
        free_pinned(reinterpret_cast<void*>(g_pinned.begin()->first));
    }
}

std::string describe_address(uintptr_t address) {
    char text[256];
    if (address < kPage) {
        std::snprintf(text, sizeof text, "address %#lx (a null pointer)", static_cast<unsigned long>(address));
        return text;
    }
    if (!in_device_range(address)) {
        std::snprintf(text, sizeof text, "address %#lx, which is not device memory", static_cast<unsigned long>(address));
        return text;
    }
    const DeviceRecord* r = record_near(address);
    if (r == nullptr) {
        std::snprintf(text, sizeof text, "address %#lx, in no allocation", static_cast<unsigned long>(address));
        return text;
    }
    const Allocation& a = r->allocation;
    const char* state = r->freed ? ", freed" : "";
    if (address >= a.base + a.size) {
        std::snprintf(text, sizeof text, "address %#lx, %lu bytes past the end of allocation #%u (%zu bytes at %#lx%s)",
                      static_cast<unsigned long>(address), static_cast<unsigned long>(address - a.base - a.size), a.id,
                      a.size, static_cast<unsigned long>(a.base), state);
    } else if (address < a.base) {
        std::snprintf(text, sizeof text, "address %#lx, %lu bytes before allocation #%u (%zu bytes at %#lx%s)",
                      static_cast<unsigned long>(address), static_cast<unsigned long>(a.base - address), a.id, a.size,
                      static_cast<unsigned long>(a.base), state);
    } else {
        std::snprintf(text, sizeof text, "address %#lx, byte %lu of allocation #%u (%zu bytes at %#lx%s)",
                      static_cast<unsigned long>(address), static_cast<unsigned long>(address - a.base), a.id, a.size,
                      static_cast<unsigned long>(a.base), state);
    }
    return text;
}

CUresult check_canaries(const std::vector<unsigned>& allocation_ids, const char* what) {
    for (unsigned id : allocation_ids) {
        auto it = g_live.find(id);
        if (it == g_live.end()) {
            continue;
        }
        const DeviceRecord& r = *it->second;
        const Allocation& a = r.allocation;
        auto* head = reinterpret_cast<const unsigned char*>(r.pages_begin);
        auto* begin = reinterpret_cast<const unsigned char*>(a.base);
        auto* end = begin + a.size;
        auto* tail = reinterpret_cast<const unsigned char*>(r.pages_end);
        const unsigned char* past = first_written(end, tail);
        if (past != tail) {
            return report(CUDA_ERROR_ILLEGAL_ADDRESS, "%s wrote %s", what,
                          describe_address(reinterpret_cast<uintptr_t>(past)).c_str());
        }
        if (const unsigned char* before = last_written(head, begin)) {
            return report(CUDA_ERROR_ILLEGAL_ADDRESS, "%s wrote %s", what,
                          describe_address(reinterpret_cast<uintptr_t>(before)).c_str());
        }
    }
    return CUDA_SUCCESS;
}

}  // namespace emu
