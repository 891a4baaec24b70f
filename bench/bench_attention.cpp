// Multi-head self-attention at the HARNet size, exactly as the PyTorch reference (ops_torch.py) times
// PyTorch's: embed dim 128, 4 heads, batch 64, T = 60 frames, batch_first self-attention,
// need_weights=False, forward + backward of out.sum(). GFLOP/s counts
//   2 * B * (4 * T * E^2 + 2 * T^2 * E)   per forward (the four projections and the two
// attention products), three times that for forward + backward, so the rates compare directly
// with ops_torch.py's mha_d128h4_fwdbwd_gflops. The fused implementation is timed against the
// composed one (the framework's primitives) and with HARNet's attention dropout 0.1.
// Rates are per wall-clock second (UseRealTime).
#include <benchmark/benchmark.h>

#include <cmath>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/attention.h"
#include "ops/reduce.h"

namespace {

using harnet::Tensor;

constexpr int64_t kBatch = 64, kFrames = 60, kEmbed = 128, kHeads = 4;

struct MhaInputs {
  Tensor x, w_in, b_in, w_out, b_out;
  MhaInputs() {
    harnet::Generator gen(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(kEmbed));
    x = harnet::randn({kBatch, kFrames, kEmbed}, gen).set_requires_grad(true);
    w_in = harnet::rand({3 * kEmbed, kEmbed}, gen, harnet::kFloat32, -bound, bound).set_requires_grad(true);
    b_in = harnet::zeros({3 * kEmbed}).set_requires_grad(true);
    w_out = harnet::rand({kEmbed, kEmbed}, gen, harnet::kFloat32, -bound, bound).set_requires_grad(true);
    b_out = harnet::zeros({kEmbed}).set_requires_grad(true);
  }
  void zero_grad() {
    for (Tensor* t : {&x, &w_in, &b_in, &w_out, &b_out}) t->zero_grad();
  }
};

double forward_flops() {
  return 2.0 * kBatch * (4.0 * kFrames * kEmbed * kEmbed + 2.0 * kFrames * kFrames * kEmbed);
}

void set_counters(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = harnet::get_num_threads();
}

using Impl = harnet::MhaResult (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                   const Tensor&, const Tensor&, const harnet::MhaOptions&, const Tensor&,
                                   const Tensor&);

harnet::MhaOptions bench_options(double dropout, harnet::Generator* gen) {
  harnet::MhaOptions o;
  o.num_heads = kHeads;
  o.batch_first = true;
  o.need_weights = false;
  o.dropout = dropout;
  o.generator = gen;
  return o;
}

void run_forward(benchmark::State& state, Impl impl) {
  MhaInputs in;
  harnet::Generator gen(1);
  const harnet::MhaOptions o = bench_options(0.0, &gen);
  harnet::NoGradGuard no_grad;
  for (auto _ : state) {
    harnet::MhaResult r = impl(in.x, in.x, in.x, in.w_in, in.b_in, in.w_out, in.b_out, o, Tensor(), Tensor());
    benchmark::DoNotOptimize(r.output.raw_data());
  }
  set_counters(state, forward_flops());
}

void run_forward_backward(benchmark::State& state, Impl impl, double dropout) {
  MhaInputs in;
  harnet::Generator gen(1);
  const harnet::MhaOptions o = bench_options(dropout, &gen);
  for (auto _ : state) {
    in.zero_grad();
    harnet::MhaResult r = impl(in.x, in.x, in.x, in.w_in, in.b_in, in.w_out, in.b_out, o, Tensor(), Tensor());
    harnet::sum(r.output).backward();
    benchmark::DoNotOptimize(in.w_in.grad().raw_data());
  }
  set_counters(state, 3.0 * forward_flops());
}

void BM_mha_d128h4_forward(benchmark::State& state) { run_forward(state, harnet::multi_head_attention); }
void BM_mha_d128h4_fwdbwd(benchmark::State& state) {
  run_forward_backward(state, harnet::multi_head_attention, 0.0);
}
void BM_mha_d128h4_dropout01_fwdbwd(benchmark::State& state) {
  run_forward_backward(state, harnet::multi_head_attention, 0.1);
}
void BM_mha_d128h4_composed_forward(benchmark::State& state) {
  run_forward(state, harnet::multi_head_attention_composed);
}
void BM_mha_d128h4_composed_fwdbwd(benchmark::State& state) {
  run_forward_backward(state, harnet::multi_head_attention_composed, 0.0);
}

BENCHMARK(BM_mha_d128h4_forward)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
BENCHMARK(BM_mha_d128h4_fwdbwd)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
BENCHMARK(BM_mha_d128h4_dropout01_fwdbwd)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
BENCHMARK(BM_mha_d128h4_composed_forward)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
BENCHMARK(BM_mha_d128h4_composed_fwdbwd)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();

}  // namespace
