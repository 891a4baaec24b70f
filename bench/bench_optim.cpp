// One optimizer step over HARNet-sized parameters (about 770k float32 values in a few tensors,
// as a CNN + LSTM + attention model has them), and gradient clipping over the same gradients.
// Every step is memory-bound: Adam reads parameter, gradient and both moments and writes three
// of them back (28 bytes per float32 parameter). Rates are per wall-clock second.
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>

#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "optim/optim.h"

namespace {

using harnet::Tensor;

// 770,190 parameters: large matrices, an LSTM-like block, biases.
std::vector<Tensor> harnet_like_params() {
  harnet::Generator gen(0);
  std::vector<Tensor> params;
  for (const harnet::Shape& shape : std::vector<harnet::Shape>{
           {512, 512}, {1024, 128}, {1024, 256}, {256, 400}, {512}, {1024}, {1024}, {128, 62}, {128}, {14, 128}, {14}}) {
    params.push_back(harnet::randn(shape, gen).set_requires_grad(true));
    params.back().set_grad(harnet::randn(shape, gen, harnet::kFloat32, 0.0, 0.01));
  }
  return params;
}

int64_t count(const std::vector<Tensor>& params) {
  int64_t n = 0;
  for (const Tensor& p : params) n += p.numel();
  return n;
}

void run_steps(benchmark::State& state, const std::function<std::unique_ptr<harnet::Optimizer>(std::vector<Tensor>)>& make) {
  std::vector<Tensor> params = harnet_like_params();
  std::unique_ptr<harnet::Optimizer> opt = make(params);
  opt->step();  // state allocated outside the timing
  for (auto _ : state) {
    opt->step();
    benchmark::DoNotOptimize(params[0].raw_data());
  }
  state.counters["params"] = static_cast<double>(count(params));
  state.counters["Mparams/s"] = benchmark::Counter(static_cast<double>(count(params)) / 1e6,
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = harnet::get_num_threads();
}

void BM_adam_step(benchmark::State& state) {
  run_steps(state, [](std::vector<Tensor> p) { return std::make_unique<harnet::Adam>(std::move(p)); });
}

void BM_adam_amsgrad_step(benchmark::State& state) {
  run_steps(state, [](std::vector<Tensor> p) {
    return std::make_unique<harnet::Adam>(std::move(p), harnet::AdamOptions{.weight_decay = 1e-4, .amsgrad = true});
  });
}

void BM_adamw_step(benchmark::State& state) {
  run_steps(state, [](std::vector<Tensor> p) { return std::make_unique<harnet::AdamW>(std::move(p)); });
}

void BM_sgd_momentum_step(benchmark::State& state) {
  run_steps(state, [](std::vector<Tensor> p) {
    return std::make_unique<harnet::SGD>(std::move(p), harnet::SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
  });
}

void BM_rmsprop_centered_step(benchmark::State& state) {
  run_steps(state, [](std::vector<Tensor> p) {
    return std::make_unique<harnet::RMSprop>(std::move(p), harnet::RMSpropOptions{.momentum = 0.9, .centered = true});
  });
}

// Arg 0: max_norm large enough that nothing is scaled (the norm alone); 1: every call scales.
void BM_clip_grad_norm(benchmark::State& state) {
  std::vector<Tensor> params = harnet_like_params();
  const double max_norm = state.range(0) == 0 ? 1e9 : 1.0;
  for (auto _ : state) benchmark::DoNotOptimize(harnet::clip_grad_norm_(params, max_norm));
  state.counters["Mparams/s"] = benchmark::Counter(static_cast<double>(count(params)) / 1e6,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_adam_step)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_adam_amsgrad_step)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_adamw_step)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sgd_momentum_step)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_rmsprop_centered_step)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_clip_grad_norm)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
