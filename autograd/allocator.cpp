#include "autograd/allocator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "autograd/error.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace harnet {

namespace {

constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads want
// Up to this size the classes are the multiples of kAlignment; above it, four per power of two.
constexpr size_t kSmallLimit = 1024;
constexpr size_t kSmallClasses = kSmallLimit / kAlignment;  // 16
constexpr int kFirstLargeExponent = 10;                      // 2^10 = kSmallLimit
constexpr size_t kClassesPerOctave = 4;
constexpr size_t kClassCount = kSmallClasses + (64 - kFirstLargeExponent) * kClassesPerOctave;

// glibc serves blocks above its mmap threshold (128 KiB at first, raised dynamically up to
// 32 MiB) with a fresh mmap and returns them with munmap on free, and it trims the top of
// the heap back to the kernel above the trim threshold: either way the next large block
// gets new pages, which the kernel zero-fills on first touch. The cache keeps tensor blocks
// anyway; raising both thresholds does the same for the other buffers (std::vector scratch
// in kernels, shapes, graph nodes). Set once, before the first block; an explicit mallopt
// call also turns off glibc's dynamic threshold adjustment.
constexpr int kMmapThreshold = 256 << 20;  // 256 MiB
constexpr int kTrimThreshold = 512 << 20;  // 512 MiB

void tune_system_allocator() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
#endif
}

struct SizeClass {
  size_t index, bytes;
};

SizeClass size_class(size_t nbytes) {
  const size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded <= kSmallLimit) return {rounded / kAlignment - 1, rounded};
  // nbytes in (2^e, 2^(e+1)]: classes 5/4, 6/4, 7/4 and 8/4 of 2^e.
  const int e = std::bit_width(rounded - 1) - 1;
  const size_t quantum = size_t{1} << (e - 2);
  const size_t steps = (rounded + quantum - 1) / quantum;  // 5..8
  return {kSmallClasses + static_cast<size_t>(e - kFirstLargeExponent) * kClassesPerOctave + (steps - 5),
          steps * quantum};
}

bool caching_from_environment() {
  const char* env = std::getenv("HARNET_ALLOCATOR_CACHE");
  if (env == nullptr) return true;
  const std::string value(env);
  HARNET_CHECK(value == "0" || value == "1", "HARNET_ALLOCATOR_CACHE must be 0 or 1, got '", value, "'");
  return value == "1";
}

// A free block's first bytes link it to the next free block of its class.
struct FreeBlock {
  FreeBlock* next;
};

class CachingAllocator {
 public:
  CachingAllocator() : caching_(caching_from_environment()) { tune_system_allocator(); }

  void* allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    const SizeClass cls = size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (FreeBlock* block = free_[cls.index]) {
        free_[cls.index] = block->next;
        stats_.cached_bytes -= static_cast<int64_t>(cls.bytes);
        ++stats_.cache_hits;
        note_in_use(cls.bytes);
        return block;
      }
    }
    void* block = std::aligned_alloc(kAlignment, cls.bytes);
    if (block == nullptr) {  // the cache may hold what the system lacks
      empty_cache();
      block = std::aligned_alloc(kAlignment, cls.bytes);
      if (block == nullptr) throw std::bad_alloc();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.system_allocations;
    note_in_use(cls.bytes);
    return block;
  }

  void deallocate(void* block, size_t nbytes) {
    if (block == nullptr) return;
    const SizeClass cls = size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.in_use_bytes -= static_cast<int64_t>(cls.bytes);
      if (caching_) {
        auto* free_block = static_cast<FreeBlock*>(block);
        free_block->next = free_[cls.index];
        free_[cls.index] = free_block;
        stats_.cached_bytes += static_cast<int64_t>(cls.bytes);
        return;
      }
      ++stats_.system_frees;
    }
    std::free(block);
  }

  void empty_cache() {
    std::array<FreeBlock*, kClassCount> lists;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lists = free_;
      free_.fill(nullptr);
      stats_.cached_bytes = 0;
    }
    int64_t freed = 0;
    for (FreeBlock* block : lists) {
      while (block != nullptr) {
        FreeBlock* next = block->next;
        std::free(block);
        block = next;
        ++freed;
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.system_frees += freed;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_in_use_bytes = stats_.in_use_bytes;
    stats_.peak_reserved_bytes = stats_.in_use_bytes + stats_.cached_bytes;
  }

  void set_caching(bool enabled) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      caching_ = enabled;
    }
    if (!enabled) empty_cache();
  }

  bool caching() {
    std::lock_guard<std::mutex> lock(mutex_);
    return caching_;
  }

 private:
  // Under mutex_.
  void note_in_use(size_t bytes) {
    stats_.in_use_bytes += static_cast<int64_t>(bytes);
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.in_use_bytes + stats_.cached_bytes);
  }

  std::mutex mutex_;
  bool caching_;
  std::array<FreeBlock*, kClassCount> free_{};
  AllocatorStats stats_;
};

// Never destroyed: tensors in static objects may be freed after any other static.
CachingAllocator& the_allocator() {
  static CachingAllocator* allocator = new CachingAllocator();
  return *allocator;
}

}  // namespace

AllocatorStats allocator_stats() { return the_allocator().stats(); }
void allocator_reset_peak_stats() { the_allocator().reset_peaks(); }
void allocator_empty_cache() { the_allocator().empty_cache(); }
void allocator_set_caching(bool enabled) { the_allocator().set_caching(enabled); }
bool allocator_caching() { return the_allocator().caching(); }
size_t allocator_block_size(size_t nbytes) { return nbytes == 0 ? 0 : size_class(nbytes).bytes; }
void* allocator_allocate(size_t nbytes) { return the_allocator().allocate(nbytes); }
void allocator_deallocate(void* block, size_t nbytes) { the_allocator().deallocate(block, nbytes); }

}  // namespace harnet
