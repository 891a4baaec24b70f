#include "autograd/storage.h"

#include "autograd/allocator.h"

namespace harnet {

// The caching allocator (autograd/allocator.h): 64-byte aligned blocks, reused across steps.
Storage::Storage(size_t nbytes) : data_(allocator_allocate(nbytes)), nbytes_(nbytes) {}

Storage::~Storage() { allocator_deallocate(data_, nbytes_); }

}  // namespace harnet
