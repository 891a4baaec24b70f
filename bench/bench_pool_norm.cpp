// Pooling, normalisation and dropout at HARNet sizes (batch 64, T = 60 frames, J = 25 joints),
// forward and forward + backward:
//   batch_norm2d  [64, 64, 60, 25] (after spatial conv 1/2) and [64, 128, 60, 13] (conv 3), training
//   max_pool2d    (1, 2) ceil_mode on [64, 64, 60, 25] (joints -> limbs)
//   layer_norm    over 128 on [64, 60, 128] (after attention)
//   dropout       p = 0.2 on [64, 60, 896] (per-frame features)
// These operators are memory-bound and the PyTorch reference (ops_torch.py) has no entry for them, so
// there is no FLOP count to share with it: the counter is GB/s of the tensors an ideal kernel
// must touch (read inputs, write outputs, once each; the bytes are listed at each benchmark),
// and ratios to PyTorch are ratios of the times, measured with the same calls in PyTorch
// (F.batch_norm, F.max_pool2d, F.layer_norm, F.dropout; forward + backward =
// out.backward(grad)). Rates are per wall-clock second (UseRealTime).
#include <benchmark/benchmark.h>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/dropout.h"
#include "ops/norm.h"
#include "ops/pool.h"

namespace {

using harnet::Shape;
using harnet::Tensor;

void set_counters(benchmark::State& state, double bytes) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

double float_bytes(int64_t elements) { return 4.0 * static_cast<double>(elements); }

// ---------------------------------------------------------------- batch_norm (training)

// Args: N, C, H, W.
Shape shape_of(const benchmark::State& state) {
  return {state.range(0), state.range(1), state.range(2), state.range(3)};
}

// Forward: read x, write y (the statistics are a by-product of the read): 2 tensors.
void BM_batch_norm2d_train_forward(benchmark::State& state) {
  harnet::Generator gen(0);
  const Shape shape = shape_of(state);
  const Tensor x = harnet::randn(shape, gen);
  const Tensor weight = harnet::rand({shape[1]}, gen), bias = harnet::randn({shape[1]}, gen);
  Tensor running_mean = harnet::zeros({shape[1]}), running_var = harnet::ones({shape[1]});
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::batch_norm(x, running_mean, running_var, weight, bias, true);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_counters(state, 2 * float_bytes(x.numel()));
}

// Forward + backward: forward as above, backward reads x and g and writes grad_x: 5 tensors.
void BM_batch_norm2d_train_forward_backward(benchmark::State& state) {
  harnet::Generator gen(0);
  const Shape shape = shape_of(state);
  Tensor x = harnet::randn(shape, gen).set_requires_grad(true);
  Tensor weight = harnet::rand({shape[1]}, gen).set_requires_grad(true);
  Tensor bias = harnet::randn({shape[1]}, gen).set_requires_grad(true);
  Tensor running_mean = harnet::zeros({shape[1]}), running_var = harnet::ones({shape[1]});
  const Tensor grad = harnet::randn(shape, gen);
  for (auto _ : state) {
    x.zero_grad();
    weight.zero_grad();
    bias.zero_grad();
    harnet::batch_norm(x, running_mean, running_var, weight, bias, true).backward(grad);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  set_counters(state, 5 * float_bytes(x.numel()));
}

// Evaluation forward: read x, write y.
void BM_batch_norm2d_eval_forward(benchmark::State& state) {
  harnet::Generator gen(0);
  const Shape shape = shape_of(state);
  const Tensor x = harnet::randn(shape, gen);
  const Tensor weight = harnet::rand({shape[1]}, gen), bias = harnet::randn({shape[1]}, gen);
  const Tensor running_mean = harnet::randn({shape[1]}, gen), running_var = harnet::rand({shape[1]}, gen, harnet::kFloat32, 0.5, 2.0);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::batch_norm(x, running_mean, running_var, weight, bias, false);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_counters(state, 2 * float_bytes(x.numel()));
}

BENCHMARK(BM_batch_norm2d_train_forward)
    ->Args({64, 64, 60, 25})
    ->Args({64, 128, 60, 13})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();
BENCHMARK(BM_batch_norm2d_train_forward_backward)
    ->Args({64, 64, 60, 25})
    ->Args({64, 128, 60, 13})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();
BENCHMARK(BM_batch_norm2d_eval_forward)
    ->Args({64, 64, 60, 25})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

// ---------------------------------------------------------------- max_pool2d (1, 2) ceil

// Forward: read x, write the half-width output: 1.5 input-sized tensors (indices not needed).
void BM_max_pool2d_forward(benchmark::State& state) {
  harnet::Generator gen(0);
  const Tensor x = harnet::randn(shape_of(state), gen);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::max_pool2d(x, {1, 2}, {.ceil_mode = true});
    benchmark::DoNotOptimize(y.raw_data());
  }
  const double out = static_cast<double>(x.numel()) / state.range(3) * ((state.range(3) + 1) / 2);
  set_counters(state, float_bytes(x.numel()) + 4.0 * out);
}

// Forward + backward: read x, write y; read g, write grad_x (the argmax positions in between
// are the implementation's business).
void BM_max_pool2d_forward_backward(benchmark::State& state) {
  harnet::Generator gen(0);
  Tensor x = harnet::randn(shape_of(state), gen).set_requires_grad(true);
  const Tensor probe = harnet::max_pool2d(x.detach(), {1, 2}, {.ceil_mode = true});
  const Tensor grad = harnet::randn(probe.shape(), gen);
  for (auto _ : state) {
    x.zero_grad();
    harnet::max_pool2d(x, {1, 2}, {.ceil_mode = true}).backward(grad);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  set_counters(state, 2 * float_bytes(x.numel()) + 2 * float_bytes(probe.numel()));
}

BENCHMARK(BM_max_pool2d_forward)->Args({64, 64, 60, 25})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_max_pool2d_forward_backward)
    ->Args({64, 64, 60, 25})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

// ---------------------------------------------------------------- layer_norm over 128

// Args: batch, T, features. Forward: read x, write y.
void BM_layer_norm_forward(benchmark::State& state) {
  harnet::Generator gen(0);
  const Tensor x = harnet::randn({state.range(0), state.range(1), state.range(2)}, gen);
  const Tensor weight = harnet::rand({state.range(2)}, gen), bias = harnet::randn({state.range(2)}, gen);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::layer_norm(x, {state.range(2)}, weight, bias);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_counters(state, 2 * float_bytes(x.numel()));
}

// Forward + backward: read x, write y; read x and g, write grad_x: 5 tensors.
void BM_layer_norm_forward_backward(benchmark::State& state) {
  harnet::Generator gen(0);
  Tensor x = harnet::randn({state.range(0), state.range(1), state.range(2)}, gen).set_requires_grad(true);
  Tensor weight = harnet::rand({state.range(2)}, gen).set_requires_grad(true);
  Tensor bias = harnet::randn({state.range(2)}, gen).set_requires_grad(true);
  const Tensor grad = harnet::randn(x.shape(), gen);
  for (auto _ : state) {
    x.zero_grad();
    weight.zero_grad();
    bias.zero_grad();
    harnet::layer_norm(x, {state.range(2)}, weight, bias).backward(grad);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  set_counters(state, 5 * float_bytes(x.numel()));
}

BENCHMARK(BM_layer_norm_forward)->Args({64, 60, 128})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_layer_norm_forward_backward)
    ->Args({64, 60, 128})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

// ---------------------------------------------------------------- dropout p = 0.2

// Forward: read x, write y (the one-byte mask is the implementation's business).
void BM_dropout_forward(benchmark::State& state) {
  harnet::Generator gen(0);
  const Tensor x = harnet::randn({state.range(0), state.range(1), state.range(2)}, gen);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::dropout(x, 0.2, true, gen);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_counters(state, 2 * float_bytes(x.numel()));
}

// Forward + backward: read x, write y; read g, write grad_x.
void BM_dropout_forward_backward(benchmark::State& state) {
  harnet::Generator gen(0);
  Tensor x = harnet::randn({state.range(0), state.range(1), state.range(2)}, gen).set_requires_grad(true);
  const Tensor grad = harnet::randn(x.shape(), gen);
  for (auto _ : state) {
    x.zero_grad();
    harnet::dropout(x, 0.2, true, gen).backward(grad);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  set_counters(state, 4 * float_bytes(x.numel()));
}

BENCHMARK(BM_dropout_forward)->Args({64, 60, 896})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_dropout_forward_backward)
    ->Args({64, 60, 896})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

}  // namespace
