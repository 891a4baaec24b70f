#include "autograd/storage.h"

#include <cstdlib>
#include <new>

namespace harnet {

namespace {
constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads want
}

Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes == 0) return;
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = std::aligned_alloc(kAlignment, rounded);
  if (!data_) throw std::bad_alloc();
}

Storage::~Storage() { std::free(data_); }

}  // namespace harnet
