#include "autograd/storage.h"

#include <cstdlib>
#include <new>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace harnet {

namespace {
constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads want

// glibc serves blocks above its mmap threshold (128 KiB at first, raised dynamically up to
// 32 MiB) with a fresh mmap and returns them with munmap on free, and it trims the top of
// the heap back to the kernel above the trim threshold: either way the next large tensor
// gets new pages, which the kernel zero-fills on first touch (batch_norm forward + backward
// at [64, 64, 60, 25] spent about a third of its time in those page faults). Raising both
// thresholds keeps freed memory in the heap for reuse. The cost: memory freed by the
// process is kept by it (up to the trim threshold at the top of the heap, and fragments
// anywhere) instead of going back to the system, so the resident size stays near its peak.
// Set once, before the first tensor is allocated; an explicit mallopt call also turns off
// glibc's dynamic threshold adjustment.
constexpr int kMmapThreshold = 256 << 20;  // 256 MiB
constexpr int kTrimThreshold = 512 << 20;  // 512 MiB

void tune_allocator_once() {
#ifdef __GLIBC__
  static const bool tuned = [] {
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
    return true;
  }();
  (void)tuned;
#endif
}
}  // namespace

Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes == 0) return;
  tune_allocator_once();
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = std::aligned_alloc(kAlignment, rounded);
  if (!data_) throw std::bad_alloc();
}

Storage::~Storage() { std::free(data_); }

}  // namespace harnet
