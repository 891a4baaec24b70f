// conv2d at HARNet's sizes, the cases of the PyTorch reference (ops_torch.py): batch 64, T = 60 frames,
// kernel (1, 3) along the joint axis with padding (0, 1): 3->64 and 64->64 on J = 25 joints,
// 64->128 on J = 13. GFLOP/s counts 2 * B * T * J * C_in * C_out * 3 per forward and three times
// that for forward + backward (grad_input, grad_weight, grad_bias from a ones gradient, as
// sum().backward() gives), exactly as ops_torch.py does, so rates compare directly. Rates are per
// wall-clock second (UseRealTime).
#include <benchmark/benchmark.h>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/conv.h"

namespace {

using harnet::Tensor;

constexpr int64_t kBatch = 64, kFrames = 60, kKernel = 3;

// Args: C_in, C_out, joints.
struct ConvInputs {
  Tensor x, weight, bias, grad_out;
  explicit ConvInputs(const benchmark::State& state) {
    harnet::Generator gen(0);
    const int64_t in = state.range(0), out = state.range(1), joints = state.range(2);
    x = harnet::randn({kBatch, in, kFrames, joints}, gen);
    weight = harnet::randn({out, in, 1, kKernel}, gen, harnet::kFloat32, 0.0, 0.1);
    bias = harnet::randn({out}, gen);
    grad_out = harnet::ones({kBatch, out, kFrames, joints});
  }
};

const harnet::Conv2dOptions kJointKernel{.padding = {0, 1}};

double conv_flops(const benchmark::State& state) {
  return 2.0 * static_cast<double>(kBatch * kFrames * state.range(2) * state.range(0) * state.range(1) * kKernel);
}

void BM_conv2d_forward(benchmark::State& state) {
  ConvInputs in(state);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = harnet::conv2d(in.x, in.weight, in.bias, kJointKernel);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(conv_flops(state), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

void BM_conv2d_forward_backward(benchmark::State& state) {
  ConvInputs in(state);
  in.x.set_requires_grad(true);
  in.weight.set_requires_grad(true);
  in.bias.set_requires_grad(true);
  for (auto _ : state) {
    in.x.zero_grad();
    in.weight.zero_grad();
    in.bias.zero_grad();
    Tensor y = harnet::conv2d(in.x, in.weight, in.bias, kJointKernel);
    y.backward(in.grad_out);
    benchmark::DoNotOptimize(in.weight.grad().raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(3.0 * conv_flops(state),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

// The backward pass alone, one direction at a time (arg 3: 0 = the input gradient, 1 = the weight
// and bias gradients), from a graph recorded once: which of them dominates a layer's step.
void BM_conv2d_backward(benchmark::State& state) {
  ConvInputs in(state);
  const bool weight_side = state.range(3) == 1;
  in.x.set_requires_grad(!weight_side);
  in.weight.set_requires_grad(weight_side);
  in.bias.set_requires_grad(weight_side);
  for (auto _ : state) {
    state.PauseTiming();
    Tensor y = harnet::conv2d(in.x, in.weight, in.bias, kJointKernel);
    in.x.zero_grad();
    in.weight.zero_grad();
    in.bias.zero_grad();
    state.ResumeTiming();
    y.backward(in.grad_out);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(conv_flops(state), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

BENCHMARK(BM_conv2d_forward)
    ->ArgNames({"cin", "cout", "J"})
    ->Args({3, 64, 25})
    ->Args({64, 64, 25})
    ->Args({64, 128, 13})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.3)
    ->UseRealTime();
BENCHMARK(BM_conv2d_forward_backward)
    ->ArgNames({"cin", "cout", "J"})
    ->Args({3, 64, 25})
    ->Args({64, 64, 25})
    ->Args({64, 128, 13})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.3)
    ->UseRealTime();
BENCHMARK(BM_conv2d_backward)
    ->ArgNames({"cin", "cout", "J", "weight"})
    ->ArgsProduct({{64}, {64}, {25}, {0, 1}})
    ->Args({3, 64, 25, 1})
    ->ArgsProduct({{64}, {128}, {13}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.3)
    ->UseRealTime();

}  // namespace
