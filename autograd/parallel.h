// Who owns the cores: oneTBB. One setting (set_num_threads, or HARNET_NUM_THREADS in the
// environment; default all cores) bounds TBB's parallelism, and OpenBLAS is kept at one
// thread so that GEMMs called from TBB tasks never oversubscribe; large GEMMs are split
// across TBB tasks instead (ops/blas.h).
//
// parallel_for runs serially below a grain size, so small tensors pay nothing.
// parallel_reduce splits the range into chunks whose boundaries depend only on the range
// and the grain, never on the thread count, and combines the partials in chunk order: the
// result is bit-identical run to run and for any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace harnet {

// PyTorch's choice: below this many elements an elementwise loop stays serial.
constexpr int64_t kGrainSize = 32768;

void set_num_threads(int num_threads);  // >= 1
int get_num_threads();
// True when called from inside a parallel_for body on a worker.
bool in_parallel_region();

namespace detail {
void parallel_for_impl(int64_t begin, int64_t end, int64_t grain,
                       const std::function<void(int64_t, int64_t)>& body);
}

// body(chunk_begin, chunk_end) over [begin, end), in chunks of at least `grain` items.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& body) {
  if (end <= begin) return;
  if (end - begin <= grain || get_num_threads() == 1 || in_parallel_region()) {
    body(begin, end);
    return;
  }
  detail::parallel_for_impl(begin, end, grain, std::function<void(int64_t, int64_t)>(body));
}

// Deterministic reduction: chunk_fn(chunk_begin, chunk_end) -> T for chunks of `grain`
// items, combined left to right with combine(acc, partial) starting from identity.
template <class T, class ChunkFn, class Combine>
T parallel_reduce(int64_t begin, int64_t end, int64_t grain, T identity, ChunkFn&& chunk_fn,
                  Combine&& combine) {
  if (end <= begin) return identity;
  if (grain < 1) grain = 1;
  const int64_t chunks = (end - begin + grain - 1) / grain;
  if (chunks == 1) return combine(identity, chunk_fn(begin, end));
  // One slot per chunk, wrapped so that T = bool does not become the bit-packed
  // std::vector<bool>, whose neighbouring elements cannot be written from two threads.
  struct Slot {
    T value;
  };
  std::vector<Slot> partials(static_cast<size_t>(chunks), Slot{identity});
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t b = begin + c * grain;
      int64_t e = b + grain < end ? b + grain : end;
      partials[static_cast<size_t>(c)].value = chunk_fn(b, e);
    }
  });
  T acc = identity;
  for (const Slot& p : partials) acc = combine(acc, p.value);
  return acc;
}

}  // namespace harnet
