// GEMM throughput: the machine's ceiling that every other benchmark is read against.
#include <benchmark/benchmark.h>

#include <vector>

#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/blas.h"

namespace {

void BM_sgemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(n * n), b(n * n), c(n * n);
  harnet::Generator gen(0);
  for (auto& v : a) v = static_cast<float>(gen.normal());
  for (auto& v : b) v = static_cast<float>(gen.normal());
  for (auto _ : state) {
    harnet::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}
// Real time: with several threads the main thread's CPU time undercounts the work.
BENCHMARK(BM_sgemm)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
