#include "autograd/allocator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <utility>

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
// Above this size a request is carved from a segment (see SegmentPool), rounded up to
// kLargeGranule; a segment taken from the system is at least kSegmentGranule.
constexpr size_t kLargeLimit = size_t{4} << 20;     // 4 MiB
constexpr size_t kLargeGranule = size_t{64} << 10;  // 64 KiB: at most 1.6% of a large block
constexpr size_t kSegmentGranule = size_t{2} << 20;

size_t round_up(size_t n, size_t granule) { return (n + granule - 1) / granule * granule; }

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

// Large blocks (above kLargeLimit: activations and their gradients) are carved from
// segments taken from the system: a request takes the smallest free block that fits (best
// fit), split when the rest is worth keeping; a freed block merges with its free
// neighbours in the segment. Freed memory thus serves later requests of any smaller size,
// where size classes would keep it for its own class only and take more from the system
// for the others. A training step frees everything it allocated, so every step starts
// from the same free segments and makes the same choices: once one step fits, all do.
// Not thread-safe: the allocator calls it under its mutex.
class SegmentPool {
 public:
  SegmentPool() = default;
  SegmentPool(const SegmentPool&) = delete;
  SegmentPool& operator=(const SegmentPool&) = delete;

  // A free block of at least `bytes` (a multiple of kLargeGranule), cut to size; nullptr
  // when none fits.
  char* take_free(size_t bytes) {
    const auto fit = free_.lower_bound({bytes, nullptr});
    return fit == free_.end() ? nullptr : take(fit->second, bytes);
  }

  // Adds a segment from the system and takes `bytes` of it.
  char* add_segment(char* segment, size_t segment_bytes, size_t bytes) {
    blocks_.emplace(segment, Block{segment_bytes, segment, true});
    free_.insert({segment_bytes, segment});
    reserved_ += segment_bytes;
    return take(segment, bytes);
  }

  // The size of the live block at `at` (what it holds, with any unsplit rest).
  size_t block_size(const char* at) const { return blocks_.at(const_cast<char*>(at)).size; }

  // Frees the live block at `at`, merging it with free neighbours. Returns the segment when
  // it is now free as a whole (its start), else nullptr.
  char* give_back(char* at) {
    auto it = blocks_.find(at);
    it->second.free = true;
    auto next = std::next(it);
    if (next != blocks_.end() && next->second.free && next->second.segment == it->second.segment) {
      free_.erase({next->second.size, next->first});
      it->second.size += next->second.size;
      blocks_.erase(next);
    }
    if (it != blocks_.begin()) {
      auto prev = std::prev(it);
      if (prev->second.free && prev->second.segment == it->second.segment) {
        free_.erase({prev->second.size, prev->first});
        prev->second.size += it->second.size;
        blocks_.erase(it);
        it = prev;
      }
    }
    free_.insert({it->second.size, it->first});
    return it->first == it->second.segment && is_whole_segment(it) ? it->first : nullptr;
  }

  // Removes the segments that are free as a whole and returns them with their sizes.
  std::vector<std::pair<char*, size_t>> take_free_segments() {
    std::vector<std::pair<char*, size_t>> segments;
    for (auto it = blocks_.begin(); it != blocks_.end();) {
      if (it->second.free && it->first == it->second.segment && is_whole_segment(it)) {
        segments.emplace_back(it->first, it->second.size);
        remove_whole_segment(it++);
      } else {
        ++it;
      }
    }
    return segments;
  }

  // Removes the free segment starting at `segment` (from give_back) and returns its size.
  size_t remove_segment(char* segment) {
    auto it = blocks_.find(segment);
    const size_t size = it->second.size;
    remove_whole_segment(it);
    return size;
  }

  size_t reserved() const { return reserved_; }

 private:
  struct Block {
    size_t size;
    char* segment;  // the start of the segment it belongs to
    bool free;
  };
  using BlockMap = std::map<char*, Block>;

  // Takes `bytes` of the free block at `at`; the rest, if any, stays free.
  char* take(char* at, size_t bytes) {
    Block& block = blocks_.at(at);
    free_.erase({block.size, at});
    block.free = false;
    if (block.size - bytes >= kLargeGranule) {
      const Block rest{block.size - bytes, block.segment, true};
      block.size = bytes;
      blocks_.emplace(at + bytes, rest);
      free_.insert({rest.size, at + bytes});
    }
    return at;
  }

  // A free block starting its segment is the whole segment when no block of the same
  // segment follows it.
  bool is_whole_segment(BlockMap::const_iterator it) const {
    const auto next = std::next(it);
    return next == blocks_.end() || next->second.segment != it->second.segment;
  }

  void remove_whole_segment(BlockMap::iterator it) {
    free_.erase({it->second.size, it->first});
    reserved_ -= it->second.size;
    blocks_.erase(it);
  }

  BlockMap blocks_;                               // every block, live or free, by address
  std::set<std::pair<size_t, char*>> free_;       // the free ones by (size, address)
  size_t reserved_ = 0;                           // bytes of all segments
};

class CachingAllocator {
 public:
  CachingAllocator() : caching_(caching_from_environment()) { tune_system_allocator(); }

  void* allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    if (nbytes > kLargeLimit) return allocate_large(round_up(nbytes, kLargeGranule));
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
    void* block = system_allocate(cls.bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.system_allocations;
    note_in_use(cls.bytes);
    return block;
  }

  void deallocate(void* block, size_t nbytes) {
    if (block == nullptr) return;
    if (nbytes > kLargeLimit) return deallocate_large(static_cast<char*>(block));
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
    std::vector<std::pair<char*, size_t>> segments;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lists = free_;
      free_.fill(nullptr);
      segments = segments_.take_free_segments();
      stats_.cached_bytes = static_cast<int64_t>(segments_.reserved()) - large_in_use_;
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
    for (const auto& segment : segments) std::free(segment.first);
    freed += static_cast<int64_t>(segments.size());
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
  // A block from the system, after emptying the cache once if the system has none: the
  // cache may hold what the system lacks.
  void* system_allocate(size_t bytes) {
    void* block = std::aligned_alloc(kAlignment, bytes);
    if (block == nullptr) {
      empty_cache();
      block = std::aligned_alloc(kAlignment, bytes);
      if (block == nullptr) throw std::bad_alloc();
    }
    return block;
  }

  // bytes: a multiple of kLargeGranule.
  void* allocate_large(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (char* block = segments_.take_free(bytes)) {
        ++stats_.cache_hits;
        note_large_in_use(segments_.block_size(block));
        return block;
      }
    }
    // With the cache off a segment is exactly one block and goes back when it is freed.
    const size_t segment_bytes = caching() ? round_up(bytes, kSegmentGranule) : bytes;
    char* segment = static_cast<char*>(system_allocate(segment_bytes));
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.system_allocations;
    char* block = segments_.add_segment(segment, segment_bytes, bytes);
    stats_.cached_bytes += static_cast<int64_t>(segment_bytes);
    note_large_in_use(segments_.block_size(block));
    return block;
  }

  void deallocate_large(char* block) {
    char* released = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const int64_t size = static_cast<int64_t>(segments_.block_size(block));
      stats_.in_use_bytes -= size;
      large_in_use_ -= size;
      stats_.cached_bytes += size;
      char* whole = segments_.give_back(block);
      if (whole == nullptr || caching_) return;
      stats_.cached_bytes -= static_cast<int64_t>(segments_.remove_segment(whole));
      ++stats_.system_frees;
      released = whole;
    }
    std::free(released);
  }

  // Under mutex_: a large block taken from the segments' free bytes.
  void note_large_in_use(size_t bytes) {
    stats_.cached_bytes -= static_cast<int64_t>(bytes);
    large_in_use_ += static_cast<int64_t>(bytes);
    note_in_use(bytes);
  }

  // Under mutex_.
  void note_in_use(size_t bytes) {
    stats_.in_use_bytes += static_cast<int64_t>(bytes);
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.in_use_bytes + stats_.cached_bytes);
  }

  std::mutex mutex_;
  bool caching_;
  std::array<FreeBlock*, kClassCount> free_{};
  SegmentPool segments_;
  int64_t large_in_use_ = 0;  // bytes of live blocks in segments
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
size_t allocator_block_size(size_t nbytes) {
  if (nbytes == 0) return 0;
  return nbytes > kLargeLimit ? round_up(nbytes, kLargeGranule) : size_class(nbytes).bytes;
}
void* allocator_allocate(size_t nbytes) { return the_allocator().allocate(nbytes); }
void allocator_deallocate(void* block, size_t nbytes) { the_allocator().deallocate(block, nbytes); }

}  // namespace harnet
