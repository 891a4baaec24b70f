// HARNet end to end at the default configuration (J = 25, T = 60, C = 10), the rows that the
// PyTorch reference (harnet_torch.py) measures, at 1 and 2 threads:
//
//   BM_harnet_train_step/threads:N   forward, cross-entropy, backward, clip_grad_norm_ 1.0,
//     Adam step on a batch of 64. items/s = training samples/s.
//   BM_harnet_infer/batch:B/threads:N   eval mode under NoGradGuard; batch 1 is the
//     single-sample latency (the time per iteration), batch 64 the throughput.
//
// Counters. GFLOP/s counts the specification's 82.6 M multiply-adds per sample forward
// (2 FLOP each) and three times that for a training step (forward + two GEMMs per product
// backward), so the rates read against sgemm's: sgemm1024_GFLOP/s is measured in the same
// process at the same thread count just before, and GEMM_fraction = GFLOP/s / that. For the
// training step: sys_allocs/step (tensor blocks taken from the system per step after two
// warm-up steps; the caching allocator makes it 0), peak_MB (the allocator's peak bytes in
// use by tensors during the timed steps), reserved_MB (the peak of in use + cached, what the
// allocator holds) and max_RSS_MB (the process's peak resident size
// so far: run the HARNet rows alone, `--benchmark_filter=BM_harnet`, to read it for them).
// For inference: graph_nodes/iter, which must be 0 (no autograd bookkeeping without grad).
// Rates are per wall-clock second (UseRealTime).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "autograd/allocator.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "harnet/lib/model.h"
#include "ops/blas.h"
#include "ops/loss.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"

namespace {

using harnet::Tensor;

constexpr int64_t kBatch = 64, kFrames = 60, kJoints = 25, kCoords = 3, kClasses = 10;
constexpr double kForwardMacsPerSample = 82.6e6;  // the specification's count at J = 25, T = 60

// Sets the thread count for a benchmark and restores the previous one.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : saved_(harnet::get_num_threads()) { harnet::set_num_threads(n); }
  ~ThreadScope() { harnet::set_num_threads(saved_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
};

// sgemm 1024 x 1024 x 1024 at the current thread count, best of a few runs, in GFLOP/s.
double sgemm1024_gflops() {
  constexpr int64_t n = 1024;
  std::vector<float> a(n * n), b(n * n), c(n * n);
  harnet::Generator gen(0);
  for (auto& v : a) v = static_cast<float>(gen.normal());
  for (auto& v : b) v = static_cast<float>(gen.normal());
  double best = 1e30;
  for (int rep = 0; rep < 6; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    harnet::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * n * n * n / best / 1e9;
}

double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

struct HarnetInputs {
  harnet::Generator gen{0};
  harnet::HARNet model{harnet::HARNetConfig{}, gen};
  Tensor x, y;
  explicit HarnetInputs(int64_t batch) {
    x = harnet::randn({batch, kFrames, kJoints, kCoords}, gen);
    y = harnet::randint(0, kClasses, {batch}, gen);
  }
};

void set_rate_counters(benchmark::State& state, double flops_per_iteration) {
  const double sgemm = sgemm1024_gflops();
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["sgemm1024_GFLOP/s"] = sgemm;
  state.counters["threads"] = harnet::get_num_threads();
  // GEMM_fraction needs the rate: the elapsed time is known only here, after the loop.
  state.counters["GEMM_fraction"] = benchmark::Counter(flops_per_iteration / 1e9 / sgemm,
                                                       benchmark::Counter::kIsIterationInvariantRate);
}

void BM_harnet_train_step(benchmark::State& state) {
  ThreadScope threads(static_cast<int>(state.range(0)));
  HarnetInputs in(kBatch);
  in.model.train();
  const std::vector<Tensor> params = in.model.parameters();
  harnet::Adam adam(params, harnet::AdamOptions{.lr = 1e-3});
  auto step = [&] {
    adam.zero_grad();
    Tensor loss = harnet::cross_entropy(in.model(in.x), in.y);
    loss.backward();
    harnet::clip_grad_norm_(params, 1.0);
    adam.step();
    return loss;
  };
  for (int warm = 0; warm < 2; ++warm) step();
  harnet::allocator_reset_peak_stats();
  const harnet::AllocatorStats before = harnet::allocator_stats();
  for (auto _ : state) {
    Tensor loss = step();
    benchmark::DoNotOptimize(loss.raw_data());
  }
  const harnet::AllocatorStats after = harnet::allocator_stats();
  state.SetItemsProcessed(state.iterations() * kBatch);
  set_rate_counters(state, 3.0 * 2.0 * kForwardMacsPerSample * kBatch);
  state.counters["sys_allocs/step"] = static_cast<double>(after.system_allocations - before.system_allocations) /
                                      static_cast<double>(state.iterations());
  state.counters["peak_MB"] = static_cast<double>(after.peak_in_use_bytes) / (1024.0 * 1024.0);
  state.counters["reserved_MB"] = static_cast<double>(after.peak_reserved_bytes) / (1024.0 * 1024.0);
  state.counters["max_RSS_MB"] = max_rss_mb();
}

void BM_harnet_infer(benchmark::State& state) {
  const int64_t batch = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  HarnetInputs in(batch);
  in.model.eval();
  harnet::NoGradGuard no_grad;
  for (int warm = 0; warm < 3; ++warm) in.model(in.x);
  const int64_t nodes_before = harnet::graph_nodes_created();
  for (auto _ : state) {
    Tensor logits = in.model(in.x);
    benchmark::DoNotOptimize(logits.raw_data());
  }
  const int64_t nodes = harnet::graph_nodes_created() - nodes_before;
  state.SetItemsProcessed(state.iterations() * batch);
  set_rate_counters(state, 2.0 * kForwardMacsPerSample * static_cast<double>(batch));
  state.counters["graph_nodes/iter"] = static_cast<double>(nodes) / static_cast<double>(state.iterations());
  state.counters["max_RSS_MB"] = max_rss_mb();
}

BENCHMARK(BM_harnet_train_step)
    ->ArgName("threads")
    ->Arg(2)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_harnet_infer)
    ->ArgNames({"batch", "threads"})
    ->Args({1, 2})
    ->Args({1, 1})
    ->Args({64, 2})
    ->Args({64, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

}  // namespace
