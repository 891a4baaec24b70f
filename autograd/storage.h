// A reference-counted, 64-byte aligned, uninitialised block of memory from the caching
// allocator (autograd/allocator.h). Tensors that are views of one another share a Storage.
#pragma once

#include <cstddef>
#include <memory>

namespace harnet {

class Storage {
 public:
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
};

}  // namespace harnet
