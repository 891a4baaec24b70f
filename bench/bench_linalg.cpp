// linear at HARNet-like sizes (a batch of 64 clips x 60 frames through a [out, in] layer),
// read against BM_sgemm: forward is one GEMM plus the bias, forward + backward three GEMMs
// plus the bias column sums. Rates are per wall-clock second (UseRealTime): the main
// thread's CPU time would count only its share of the work.
#include <benchmark/benchmark.h>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/linalg.h"

namespace {

using harnet::Tensor;

// Args: rows of x, in_features, out_features.
struct LinearInputs {
  Tensor x, weight, bias, grad_out;
  explicit LinearInputs(const benchmark::State& state) {
    harnet::Generator gen(0);
    const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
    x = harnet::randn({rows, in}, gen);
    weight = harnet::randn({out, in}, gen);
    bias = harnet::randn({out}, gen);
    grad_out = harnet::randn({rows, out}, gen);
  }
};

double gemm_flops(const benchmark::State& state) {
  return 2.0 * static_cast<double>(state.range(0)) * static_cast<double>(state.range(1)) *
         static_cast<double>(state.range(2));
}

void BM_linear_forward(benchmark::State& state) {
  LinearInputs in(state);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::linear(in.x, in.weight, in.bias);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(gemm_flops(state), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

void BM_linear_forward_backward(benchmark::State& state) {
  LinearInputs in(state);
  in.x.set_requires_grad(true);
  in.weight.set_requires_grad(true);
  in.bias.set_requires_grad(true);
  for (auto _ : state) {
    in.x.zero_grad();
    in.weight.zero_grad();
    in.bias.zero_grad();
    Tensor y = harnet::linear(in.x, in.weight, in.bias);
    y.backward(in.grad_out);
    benchmark::DoNotOptimize(in.weight.grad().raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(3.0 * gemm_flops(state),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

// x [64*60, 896] x W [512, 896], and a narrower layer [64*60, 512] x W [256, 512].
BENCHMARK(BM_linear_forward)
    ->Args({64 * 60, 896, 512})
    ->Args({64 * 60, 512, 256})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();
BENCHMARK(BM_linear_forward_backward)
    ->Args({64 * 60, 896, 512})
    ->Args({64 * 60, 512, 256})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

}  // namespace
