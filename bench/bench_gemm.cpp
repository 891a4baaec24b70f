// GEMM throughput: the machine's ceiling that every other benchmark is read against.
#include <benchmark/benchmark.h>

#include <vector>

#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/blas.h"

namespace {

// The OpenBLAS kernel set in the JSON output's context, for bench/compare to run PyTorch (which
// uses the same OpenBLAS) with the same set.
const bool g_kernels_in_context = [] {
  benchmark::AddCustomContext("blas_kernels", harnet::blas_kernels());
  return true;
}();

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

// A weight gradient, grad_W = g^T x: small m and n, long k (a batch of 64 clips x 60 frames).
// Args: m (out_features), n (in_features), k (rows of x).
void BM_sgemm_grad_w(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::vector<float> g(k * m), x(k * n), c(m * n);
  harnet::Generator gen(0);
  for (auto& v : g) v = static_cast<float>(gen.normal());
  for (auto& v : x) v = static_cast<float>(gen.normal());
  for (auto _ : state) {
    harnet::gemm<float>(true, false, m, n, k, 1.0f, g.data(), m, x.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}
BENCHMARK(BM_sgemm_grad_w)
    ->Args({384, 128, 64 * 60})
    ->Args({256, 512, 64 * 60})
    ->Args({512, 896, 64 * 60})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

}  // namespace
