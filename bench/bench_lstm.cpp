// The LSTM of the PyTorch reference (ops_torch.py) ("lstm2x128_fwdbwd"): 2 layers, hidden 128, input
// 896 (128 channels x 7 joint groups), batch 64, T = 60, batch_first; forward + backward of
// output.sum(), gradients accumulating into the leaves as in the PyTorch loop. The GFLOP/s
// counter is PyTorch's: 3 * 2*B*T*4*128*((896+128)+(128+128)) per forward + backward (the
// forward's GEMM work counted three times), 1x for the forward alone. Rates are per wall-clock
// second (UseRealTime); the CPU column is the whole process's CPU time (MeasureProcessCPUTime),
// which stays meaningful when other jobs share the machine.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/recurrent.h"
#include "ops/reduce.h"

namespace {

using harnet::Tensor;

constexpr int64_t kBatch = 64, kSteps = 60, kInput = 896, kHidden = 128, kLayers = 2;

// Args: bidirectional (0 / 1).
struct LstmInputs {
  Tensor x;
  std::vector<Tensor> weights;
  harnet::LstmOptions options;
  explicit LstmInputs(const benchmark::State& state, bool requires_grad) {
    harnet::Generator gen(0);
    options.num_layers = kLayers;
    options.batch_first = true;
    options.bidirectional = state.range(0) != 0;
    x = harnet::randn({kBatch, kSteps, kInput}, gen);
    const double k = 1.0 / std::sqrt(static_cast<double>(kHidden));
    for (const harnet::Shape& s :
         harnet::lstm_weight_shapes(kInput, kHidden, kLayers, options.bidirectional, options.bias))
      weights.push_back(harnet::rand(s, gen, harnet::kFloat32, -k, k));
    if (requires_grad) {
      x.set_requires_grad(true);
      for (Tensor& w : weights) w.set_requires_grad(true);
    }
  }
};

// PyTorch's count for the unidirectional network; a bidirectional one does twice the work of
// each layer, with a second layer of input 2H.
double lstm_flops(const benchmark::State& state) {
  const double per_gate = 2.0 * kBatch * kSteps * 4 * kHidden;
  if (state.range(0) == 0) return per_gate * ((kInput + kHidden) + (kHidden + kHidden));
  return 2.0 * per_gate * ((kInput + kHidden) + (2 * kHidden + kHidden));
}

void BM_lstm_forward(benchmark::State& state) {
  LstmInputs in(state, false);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    harnet::LstmResult r = harnet::lstm(in.x, in.weights, in.options);
    benchmark::DoNotOptimize(r.output.raw_data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(lstm_flops(state), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

void BM_lstm_forward_backward(benchmark::State& state) {
  LstmInputs in(state, true);
  for (auto _ : state) {
    harnet::LstmResult r = harnet::lstm(in.x, in.weights, in.options);
    harnet::sum(r.output).backward();
    benchmark::DoNotOptimize(in.weights[0].grad().raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(3.0 * lstm_flops(state), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

// The GRU at the same sizes (3 gates instead of 4; no PyTorch row in ops_torch.py: compare with
// torch.nn.GRU(896, 128, num_layers=2, batch_first=True) timed the same way).
double gru_flops(const benchmark::State& state) { return lstm_flops(state) * 3.0 / 4.0; }

void BM_gru_forward_backward(benchmark::State& state) {
  harnet::Generator gen(0);
  Tensor x = harnet::randn({kBatch, kSteps, kInput}, gen).set_requires_grad(true);
  harnet::GruOptions options;
  options.num_layers = kLayers;
  options.batch_first = true;
  options.bidirectional = state.range(0) != 0;
  std::vector<Tensor> weights;
  const double k = 1.0 / std::sqrt(static_cast<double>(kHidden));
  for (const harnet::Shape& s : harnet::gru_weight_shapes(kInput, kHidden, kLayers, options.bidirectional, true))
    weights.push_back(harnet::rand(s, gen, harnet::kFloat32, -k, k).set_requires_grad(true));
  for (auto _ : state) {
    harnet::GruResult r = harnet::gru(x, weights, options);
    harnet::sum(r.output).backward();
    benchmark::DoNotOptimize(weights[0].grad().raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(3.0 * gru_flops(state), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

BENCHMARK(BM_lstm_forward)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_lstm_forward_backward)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_gru_forward_backward)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
