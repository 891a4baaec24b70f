// The caching allocator behind every tensor's Storage (and the kernels' large scratch
// buffers): 64-byte aligned blocks that are kept on free and handed out again, so that a
// training step, which asks for the same sizes every time, takes nothing from the system
// after a warm-up step: no malloc/free of large blocks, no fresh pages for the kernel to
// zero-fill on first touch.
//
// Two kinds of blocks:
//   - up to 4 MiB: rounded up to a size class (four classes per power of two, so at most
//     25% is wasted), freed to a per-class cache, reused by the next request of the class;
//   - above (activations, their gradients): rounded up to 64 KiB and carved from segments
//     taken from the system, best fit, split and merged with free neighbours, so memory
//     freed by one size serves requests of every smaller size too. What the allocator holds
//     stays close to the peak in use instead of the sum of per-size peaks.
//
// Thread-safe (one mutex; a step makes a few hundred requests). Blocks come back
// uninitialised: whoever needs zeros fills them (zeros(), full()). The cache only grows to
// the peak a workload needs; allocator_empty_cache() gives back what is free (the free
// class blocks and the segments free as a whole), and a failed system allocation empties it
// and retries once. Caching can be turned off with allocator_set_caching(false) or
// HARNET_ALLOCATOR_CACHE=0 in the environment (every free then goes straight back to the
// system); the counters work either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace harnet {

struct AllocatorStats {
  int64_t system_allocations = 0;  // blocks taken from the system (aligned_alloc)
  int64_t system_frees = 0;        // blocks given back to the system
  int64_t cache_hits = 0;          // requests served from the cache
  int64_t in_use_bytes = 0;        // bytes of blocks held by live storage (block sizes)
  int64_t peak_in_use_bytes = 0;   // the maximum of in_use_bytes since start or the last reset
  int64_t cached_bytes = 0;        // bytes of free blocks kept for reuse
  int64_t peak_reserved_bytes = 0;  // the maximum of in_use + cached: what the process holds
};

AllocatorStats allocator_stats();
// Starts the peaks again from the current in-use / reserved bytes.
void allocator_reset_peak_stats();
// Returns every cached block to the system.
void allocator_empty_cache();
// On: freed blocks are cached (the default unless HARNET_ALLOCATOR_CACHE=0). Off: freed
// blocks go back to the system, and turning it off empties the cache.
void allocator_set_caching(bool enabled);
bool allocator_caching();

// The size of the block a request of nbytes gets (its class, or its 64 KiB multiple above
// 4 MiB; 0 for 0).
size_t allocator_block_size(size_t nbytes);

// A block of at least nbytes, 64-byte aligned, uninitialised; nullptr for 0 bytes. Throws
// std::bad_alloc when the system has no memory left even after the cache is emptied.
void* allocator_allocate(size_t nbytes);
// Gives back a block from allocator_allocate(nbytes) (nullptr is ignored).
void allocator_deallocate(void* block, size_t nbytes);

// Uninitialised scratch memory of n elements of T from the allocator, freed with the
// handle; empty when n == 0 or not needed.
template <class T>
struct AllocatorDeleter {
  size_t nbytes = 0;
  void operator()(T* p) const { allocator_deallocate(p, nbytes); }
};
template <class T>
using ScratchBuffer = std::unique_ptr<T[], AllocatorDeleter<T>>;

template <class T>
ScratchBuffer<T> scratch_buffer(int64_t n, bool needed = true) {
  if (!needed || n <= 0) return ScratchBuffer<T>(nullptr, AllocatorDeleter<T>{0});
  const size_t nbytes = static_cast<size_t>(n) * sizeof(T);
  return ScratchBuffer<T>(static_cast<T*>(allocator_allocate(nbytes)), AllocatorDeleter<T>{nbytes});
}

}  // namespace harnet
