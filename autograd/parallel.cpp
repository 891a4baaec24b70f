#include "autograd/parallel.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include "autograd/error.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace harnet {

namespace {

std::mutex g_mutex;
std::unique_ptr<tbb::global_control> g_control;
int g_num_threads = 0;  // 0: not yet initialised
thread_local int t_parallel_depth = 0;

int default_num_threads() {
  if (const char* env = std::getenv("HARNET_NUM_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    HARNET_CHECK(end != env && *end == '\0' && n >= 1 && n <= 4096,
                 "HARNET_NUM_THREADS must be a positive integer, got '", env, "'");
    return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void apply_locked(int n) {
  g_control.reset();  // only one global_control of a kind should be alive
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(n));
  openblas_set_num_threads(1);
  g_num_threads = n;
}

}  // namespace

void set_num_threads(int num_threads) {
  HARNET_CHECK(num_threads >= 1, "set_num_threads: need at least 1 thread, got ", num_threads);
  std::lock_guard<std::mutex> lock(g_mutex);
  apply_locked(num_threads);
}

int get_num_threads() {
  // Fast path once initialised; the first call applies the default.
  int n = __atomic_load_n(&g_num_threads, __ATOMIC_ACQUIRE);
  if (n > 0) return n;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_num_threads == 0) apply_locked(default_num_threads());
  return g_num_threads;
}

bool in_parallel_region() { return t_parallel_depth > 0; }

namespace detail {

void parallel_for_impl(int64_t begin, int64_t end, int64_t grain,
                       const std::function<void(int64_t, int64_t)>& body) {
  // At most one chunk per thread beyond the grain: fewer, larger tasks.
  const int64_t threads = get_num_threads();
  int64_t chunk = (end - begin + threads - 1) / threads;
  if (chunk < grain) chunk = grain;
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(begin, end, chunk),
      [&](const tbb::blocked_range<int64_t>& r) {
        ++t_parallel_depth;
        try {
          body(r.begin(), r.end());
        } catch (...) {
          --t_parallel_depth;
          throw;
        }
        --t_parallel_depth;
      },
      tbb::simple_partitioner());
}

}  // namespace detail

}  // namespace harnet
