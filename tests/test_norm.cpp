// Normalisation (ops/norm.h) and dropout (ops/dropout.h).
//
// batch_norm / layer_norm: hand-computed values and running-statistics updates, the fused
// kernels against the naive references (forward, running statistics and every gradient,
// float64 tight and float32 loose) over [N, C], [N, C, L], [N, C, H, W] with short and long
// rows, precision with a large mean, strided arguments, backward after the running
// statistics changed, argument errors, only the needed gradients, no graph under
// NoGradGuard, bit-identical results for 1 and 2 threads.
// dropout: identity regimes, p = 1, the mask against the serial reference, the generator's
// advance, keep rate and pair independence, layout and thread-count independence, backward
// through the saved mask, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/norm.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing: " << *fragments.begin();
  } catch (const Error& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "'" << f << "' not in: " << e.what();
  }
}

Tensor values(const std::vector<double>& v, const Shape& shape, DType dtype = kFloat64) {
  return from_vector(v, shape, dtype);
}

// Elementwise |a - b| <= tol * (1 + |b|), same shape and dtype.
::testing::AssertionResult close(const Tensor& a, const Tensor& b, double tol) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(a.dtype()) << " vs " << dtype_name(b.dtype());
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i)
    if (!(std::fabs(av[i] - bv[i]) <= tol * (1.0 + std::fabs(bv[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << av[i] << " vs " << bv[i];
  return ::testing::AssertionSuccess();
}

double tol_of(DType dtype) { return dtype == kFloat32 ? 2e-5 : 1e-11; }

// ---------------------------------------------------------------- batch_norm by hand

TEST(BatchNorm, TrainingNormalisesWithBatchStatisticsAndUpdatesRunningOnes) {
  for (DType dt : {kFloat32, kFloat64}) {
    // One channel, values 1..4: mean 2.5, biased variance 1.25, unbiased 5/3.
    const Tensor x = values({1, 2, 3, 4}, {4, 1}, dt);
    Tensor running_mean = zeros({1}, dt), running_var = ones({1}, dt);
    const Tensor y = batch_norm(x, running_mean, running_var, values({2}, {1}, dt), values({1}, {1}, dt), true);
    const double sd = std::sqrt(1.25 + 1e-5);
    const std::vector<double> got = y.to_vector<double>();
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[static_cast<size_t>(i)], 2.0 * (i + 1 - 2.5) / sd + 1.0, 1e-6);
    EXPECT_NEAR(running_mean.item(), 0.1 * 2.5, 1e-7);
    EXPECT_NEAR(running_var.item(), 0.9 + 0.1 * 5.0 / 3.0, 1e-7);
    // momentum 1 replaces the running statistics by the batch's.
    batch_norm(x, running_mean, running_var, Tensor(), Tensor(), true, 1.0);
    EXPECT_NEAR(running_mean.item(), 2.5, 1e-7);
    EXPECT_NEAR(running_var.item(), 5.0 / 3.0, 1e-6);
  }
}

TEST(BatchNorm, EvaluationUsesRunningStatisticsAndLeavesThemAlone) {
  // Two channels over [2, 2, 1]: y = (x - rm) / sqrt(rv + eps) * w + b.
  const Tensor x = values({1, 2, 3, 4}, {2, 2, 1});
  Tensor running_mean = values({1, -1}, {2}), running_var = values({4, 0.25}, {2});
  const Tensor y = batch_norm(x, running_mean, running_var, values({1, 2}, {2}), values({0, 10}, {2}), false, 0.1, 0.0);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 10 + 2 * 3 / 0.5, 1, 10 + 2 * 5 / 0.5}));
  EXPECT_EQ(running_mean.to_vector<double>(), (std::vector<double>{1, -1}));
  EXPECT_EQ(running_var.to_vector<double>(), (std::vector<double>{4, 0.25}));
}

TEST(BatchNorm, BackwardThroughBatchStatisticsByHand) {
  // Without affine, each channel's output has zero mean: for x = [0, 2] (mean 1, variance 1,
  // y = [-1, 1] / sqrt(1 + eps)) the upstream g = [1, 1] gives sum(y) = 0 and no gradient.
  const double eps = 1e-5;
  const Tensor x = values({0, 2}, {2, 1}).set_requires_grad(true);
  batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, eps).backward(values({1, 1}, {2, 1}));
  EXPECT_NEAR(x.grad().to_vector<double>()[0], 0.0, 1e-13);
  EXPECT_NEAR(x.grad().to_vector<double>()[1], 0.0, 1e-13);
  // g = [1, -1]: y0 - y1 = (x0 - x1) / sqrt(((x0 - x1) / 2)^2 + eps); its derivative in x0 at
  // x0 - x1 = -2 is eps / (1 + eps)^1.5, and the opposite in x1.
  const Tensor x2 = values({0, 2}, {2, 1}).set_requires_grad(true);
  batch_norm(x2, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, eps).backward(values({1, -1}, {2, 1}));
  const double expected = eps / std::pow(1.0 + eps, 1.5);
  EXPECT_NEAR(x2.grad().to_vector<double>()[0], expected, 1e-13);
  EXPECT_NEAR(x2.grad().to_vector<double>()[1], -expected, 1e-13);
}

// ---------------------------------------------------------------- batch_norm against the reference

struct NormConfig {
  Shape shape;
  bool training, has_weight, has_bias, has_running;
};

const std::vector<NormConfig> kBatchNormConfigs = {
    {{6, 4}, true, true, true, true},           {{6, 4}, false, true, true, true},
    {{3, 5, 7}, true, true, true, true},        {{3, 5, 7}, true, false, false, true},
    {{3, 5, 7}, false, false, true, true},      {{2, 3, 4, 5}, true, true, false, false},
    {{2, 3, 4, 5}, false, true, true, true},    {{2, 3, 40}, true, true, true, true},   // rows of 40: lanes
    {{4, 3, 6, 25}, true, true, true, true},    {{4, 3, 6, 25}, false, true, false, true},
    {{1, 2, 17}, true, false, true, true},      {{2, 64, 3, 5}, true, true, true, true},  // many channels
};

TEST(BatchNorm, MatchesReferenceForwardRunningStatisticsAndGradients) {
  for (DType dt : {kFloat64, kFloat32}) {
    uint64_t seed = 0;
    for (const NormConfig& c : kBatchNormConfigs) {
      Generator gen(++seed);
      const int64_t C = c.shape[1];
      SCOPED_TRACE(shape_str(c.shape) + (c.training ? " train " : " eval ") + dtype_name(dt));
      const Tensor x = randn(c.shape, gen, dt, 0.7, 2.0).set_requires_grad(true);
      const Tensor w = c.has_weight ? rand({C}, gen, dt, 0.5, 1.5).set_requires_grad(true) : Tensor();
      const Tensor b = c.has_bias ? randn({C}, gen, dt).set_requires_grad(true) : Tensor();
      Tensor rm, rv, ref_rm, ref_rv;
      if (c.has_running) {
        rm = randn({C}, gen, dt);
        rv = rand({C}, gen, dt, 0.5, 2.0);
        ref_rm = rm.contiguous_copy();
        ref_rv = rv.contiguous_copy();
      }
      if (!c.training && !c.has_running) continue;
      const Tensor stats_mean = c.has_running ? rm.contiguous_copy() : Tensor();
      const Tensor stats_var = c.has_running ? rv.contiguous_copy() : Tensor();
      const Tensor y = batch_norm(x, rm, rv, w, b, c.training, 0.2, 1e-4);
      const Tensor ref_y = batch_norm_reference(x.detach(), ref_rm, ref_rv, w.defined() ? w.detach() : Tensor(),
                                                b.defined() ? b.detach() : Tensor(), c.training, 0.2, 1e-4);
      EXPECT_TRUE(close(y, ref_y, tol_of(dt)));
      if (c.has_running) {
        EXPECT_TRUE(close(rm, ref_rm, tol_of(dt)));
        EXPECT_TRUE(close(rv, ref_rv, tol_of(dt)));
      }
      const Tensor g = randn(c.shape, gen, dt);
      y.backward(g);
      const NormGradients ref = batch_norm_backward_reference(g, x.detach(), stats_mean, stats_var,
                                                              w.defined() ? w.detach() : Tensor(), c.training, 1e-4);
      EXPECT_TRUE(close(x.grad(), ref.input, tol_of(dt) * 10));
      if (c.has_weight) {
        EXPECT_TRUE(close(w.grad(), ref.weight, tol_of(dt) * 10));
      }
      if (c.has_bias) {
        EXPECT_TRUE(close(b.grad(), ref.bias, tol_of(dt) * 10));
      }
    }
  }
}

// batch_norm_relu is relu(batch_norm(...)) fused: over the configurations above (training
// and evaluation, with and without weight and bias), with zeros, NaN and -inf among the
// inputs, the output, the running statistics and every gradient are bit-identical to the
// composition's.
TEST(BatchNormRelu, BitIdenticalToReluOfBatchNorm) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN(), kInf = std::numeric_limits<double>::infinity();
  for (DType dt : {kFloat64, kFloat32}) {
    uint64_t seed = 100;
    for (const NormConfig& c : kBatchNormConfigs) {
      if (!c.training && !c.has_running) continue;
      Generator gen(++seed);
      const int64_t C = c.shape[1];
      SCOPED_TRACE(shape_str(c.shape) + (c.training ? " train " : " eval ") + dtype_name(dt));
      std::vector<double> xv = randn(c.shape, gen, kFloat64, 0.3, 1.0).to_vector<double>();
      // Zeros give pre-activations at the relu's boundary when the mean is ~0 (evaluation);
      // NaN and -inf only in evaluation, where they cannot spill into the batch statistics.
      for (size_t i = 0; i < xv.size(); i += 7) xv[i] = 0.0;
      if (!c.training && xv.size() > 20) {
        xv[3] = kNaN;
        xv[10] = -kInf;
      }
      const Tensor w = c.has_weight ? rand({C}, gen, dt, 0.5, 1.5) : Tensor();
      const Tensor b = c.has_bias ? randn({C}, gen, dt) : Tensor();
      const Tensor rm = c.has_running ? randn({C}, gen, dt, 0.0, 0.1) : Tensor();
      const Tensor rv = c.has_running ? rand({C}, gen, dt, 0.5, 2.0) : Tensor();
      const Tensor g = randn(c.shape, gen, dt);
      struct Run {
        std::vector<double> y, running, grad_x, grad_w, grad_b;
      };
      auto run = [&](bool fused) {
        const Tensor x = values(xv, c.shape, dt).set_requires_grad(true);
        const Tensor wl = w.defined() ? w.contiguous_copy().set_requires_grad(true) : Tensor();
        const Tensor bl = b.defined() ? b.contiguous_copy().set_requires_grad(true) : Tensor();
        const Tensor rml = rm.defined() ? rm.contiguous_copy() : Tensor();
        const Tensor rvl = rv.defined() ? rv.contiguous_copy() : Tensor();
        const Tensor y = fused ? batch_norm_relu(x, rml, rvl, wl, bl, c.training, 0.2, 1e-4)
                               : relu(batch_norm(x, rml, rvl, wl, bl, c.training, 0.2, 1e-4));
        y.backward(g);
        Run r{y.to_vector<double>(), {}, x.grad().to_vector<double>(), {}, {}};
        if (rml.defined()) {
          r.running = rml.to_vector<double>();
          for (double v : rvl.to_vector<double>()) r.running.push_back(v);
        }
        if (wl.defined()) r.grad_w = wl.grad().to_vector<double>();
        if (bl.defined()) r.grad_b = bl.grad().to_vector<double>();
        return r;
      };
      const Run fused = run(true), composed = run(false);
      auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i)
          if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
        return true;
      };
      EXPECT_TRUE(same(fused.y, composed.y));
      EXPECT_TRUE(same(fused.running, composed.running));
      EXPECT_TRUE(same(fused.grad_x, composed.grad_x));
      EXPECT_TRUE(same(fused.grad_w, composed.grad_w));
      EXPECT_TRUE(same(fused.grad_b, composed.grad_b));
      EXPECT_GT(std::count(fused.y.begin(), fused.y.end(), 0.0), 0);  // the relu did cut
    }
  }
}

// A strided input, weight and running statistics (views into larger buffers) give the same
// output and gradients, and the running statistics are written through the view.
TEST(BatchNorm, StridedArguments) {
  Generator gen(4);
  const Tensor base = randn({3, 6, 5}, gen);
  const Tensor x = base.as_strided({3, 5, 6}, {30, 1, 5}, 0);  // [N, C, L] with C and L swapped in memory
  const Tensor w_buffer = rand({10}, gen, kFloat32, 0.5, 1.5);
  const Tensor w = w_buffer.as_strided({5}, {2}, 1);
  Tensor stats_buffer = zeros({15});  // rm, rv and an unused slot interleaved
  Tensor rm = stats_buffer.as_strided({5}, {3}, 0), rv = stats_buffer.as_strided({5}, {3}, 1);
  rv.fill_(1.0);
  Tensor rm2 = zeros({5}), rv2 = ones({5});
  const Tensor g = randn({3, 5, 6}, gen);
  auto run = [&](const Tensor& input, const Tensor& weight, Tensor& mean, Tensor& var) {
    Tensor in = input;  // a leaf of its own: input is a raw view or a copy
    in.set_requires_grad(true);
    Tensor y = batch_norm(in, mean, var, weight, Tensor(), true);
    y.backward(g);
    return std::vector<std::vector<float>>{y.to_vector<float>(), in.grad().to_vector<float>()};
  };
  const auto strided = run(x, w, rm, rv);
  const auto contiguous = run(x.contiguous_copy(), w.contiguous_copy(), rm2, rv2);
  EXPECT_TRUE(strided == contiguous);
  EXPECT_EQ(rm.to_vector<float>(), rm2.to_vector<float>());
  EXPECT_EQ(rv.to_vector<float>(), rv2.to_vector<float>());
  // The statistics were updated and the unused slots of the buffer are untouched.
  const std::vector<float> buffer = stats_buffer.to_vector<float>();
  EXPECT_NE(buffer[0], 0.0f);
  EXPECT_NE(buffer[1], 1.0f);
  for (size_t i = 2; i < buffer.size(); i += 3) EXPECT_EQ(buffer[i], 0.0f) << i;
}

// A large mean with a small spread: the one-pass shifted moments keep the variance.
TEST(BatchNorm, LargeMeanKeepsItsVariance) {
  Generator gen(5);
  for (DType dt : {kFloat64, kFloat32}) {
    const Tensor x = randn({8, 2, 50}, gen, dt, 1000.0, 0.01);
    const Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-12);
    const Tensor ref = batch_norm_reference(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-12);
    EXPECT_TRUE(close(y, ref, dt == kFloat32 ? 1e-5 : 1e-9)) << dtype_name(dt);
  }
}

// In evaluation the backward uses the running statistics of the forward, not later values.
TEST(BatchNorm, BackwardUsesTheStatisticsOfItsForward) {
  Generator gen(6);
  const Tensor x = randn({4, 3, 5}, gen, kFloat64).set_requires_grad(true);
  Tensor rm = randn({3}, gen, kFloat64), rv = rand({3}, gen, kFloat64, 0.5, 2.0);
  const Tensor rm_then = rm.contiguous_copy(), rv_then = rv.contiguous_copy();
  const Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), false);
  batch_norm(randn({4, 3, 5}, gen, kFloat64, 5.0), rm, rv, Tensor(), Tensor(), true, 0.9);  // moves rm, rv
  const Tensor g = randn({4, 3, 5}, gen, kFloat64);
  y.backward(g);
  const NormGradients ref = batch_norm_backward_reference(g, x.detach(), rm_then, rv_then, Tensor(), false, 1e-5);
  EXPECT_TRUE(close(x.grad(), ref.input, 1e-12));
}

TEST(BatchNorm, OnlyTheNeededGradients) {
  Generator gen(7);
  const Tensor x = randn({4, 3, 5}, gen);
  const Tensor w = rand({3}, gen, kFloat32, 0.5, 1.5).set_requires_grad(true);
  const Tensor b = randn({3}, gen);
  const Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true);
  ASSERT_TRUE(y.requires_grad());
  const Tensor g = randn({4, 3, 5}, gen);
  y.backward(g);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  const NormGradients ref = batch_norm_backward_reference(g, x, Tensor(), Tensor(), w.detach(), true, 1e-5);
  EXPECT_TRUE(close(w.grad(), ref.weight, 2e-5));
}

TEST(BatchNormErrors, ArgumentsAreChecked) {
  Generator gen(0);
  const Tensor x = randn({4, 3, 5}, gen);
  Tensor rm = zeros({3}), rv = ones({3});
  expect_error([&] { batch_norm(randn({5}, gen), rm, rv); },
               {"batch_norm: expected an input of shape [N, C, *] (2 or more dimensions), got [5]"});
  expect_error([&] { batch_norm(x, rm, rv, ones({4})); },
               {"batch_norm: weight must have shape [3] (the channels of input shape [4, 3, 5]), got [4]"});
  expect_error([&] { batch_norm(x, zeros({2}), rv); }, {"batch_norm: running_mean must have shape [3]"});
  expect_error([&] { batch_norm(x, rm, rv, Tensor(), ones({3}, kFloat64)); },
               {"batch_norm: bias is float64 but input is float32"});
  expect_error([&] { batch_norm(randn({1, 3}, gen), rm, rv, Tensor(), Tensor(), true); },
               {"batch_norm: expected more than 1 value per channel when training, got input shape [1, 3]"});
  expect_error([&] { batch_norm(x, Tensor(), Tensor()); },
               {"batch_norm: running_mean and running_var must be given in evaluation mode"});
  expect_error([&] { batch_norm(x, rm, Tensor(), Tensor(), Tensor(), true); },
               {"batch_norm: running_mean and running_var must be given together"});
  Tensor rm_grad = zeros({3}).set_requires_grad(true);
  expect_error([&] { batch_norm(x, rm_grad, rv, Tensor(), Tensor(), true); }, {"must not require grad"});
  expect_error([&] { batch_norm(zeros({2, 3}, kInt64), rm, rv); }, {"batch_norm: expected a floating input"});
  // Nothing was written by the failed calls.
  EXPECT_EQ(rm.to_vector<float>(), std::vector<float>(3, 0.0f));
  EXPECT_EQ(rv.to_vector<float>(), std::vector<float>(3, 1.0f));
}

// ---------------------------------------------------------------- layer_norm

TEST(LayerNorm, ByHand) {
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = values({1, 2, 3, 4, 10, 10, 10, 10}, {2, 4}, dt);
    const Tensor y = layer_norm(x, {4}, values({1, 1, 2, 2}, {4}, dt), values({0, 0, 0, 1}, {4}, dt));
    const double sd = std::sqrt(1.25 + 1e-5);
    const std::vector<double> got = y.to_vector<double>();
    const std::vector<double> expected = {-1.5 / sd, -0.5 / sd, 1.0 / sd, 3.0 / sd + 1, 0, 0, 0, 1};
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
  }
}

struct LayerNormConfig {
  Shape shape, normalized_shape;
  bool has_weight, has_bias;
};

TEST(LayerNorm, MatchesReferenceForwardAndGradients) {
  const std::vector<LayerNormConfig> configs = {
      {{5, 8}, {8}, true, true},          {{3, 4, 6}, {4, 6}, true, true}, {{3, 4, 6}, {6}, false, false},
      {{2, 3, 5}, {3, 5}, true, false},   {{7}, {7}, false, true},         {{4, 60, 128}, {128}, true, true},
      {{3, 2, 17}, {17}, true, true},     {{600, 5}, {5}, true, true},  // many chunks of short rows
  };
  for (DType dt : {kFloat64, kFloat32}) {
    uint64_t seed = 50;
    for (const LayerNormConfig& c : configs) {
      Generator gen(++seed);
      SCOPED_TRACE(shape_str(c.shape) + " over " + shape_str(c.normalized_shape) + " " + dtype_name(dt));
      const Tensor x = randn(c.shape, gen, dt, 0.3, 1.7).set_requires_grad(true);
      const Tensor w = c.has_weight ? rand(c.normalized_shape, gen, dt, 0.5, 1.5).set_requires_grad(true) : Tensor();
      const Tensor b = c.has_bias ? randn(c.normalized_shape, gen, dt).set_requires_grad(true) : Tensor();
      const Tensor y = layer_norm(x, c.normalized_shape, w, b, 1e-4);
      EXPECT_TRUE(close(y, layer_norm_reference(x.detach(), c.normalized_shape, w.defined() ? w.detach() : Tensor(),
                                                b.defined() ? b.detach() : Tensor(), 1e-4),
                        tol_of(dt)));
      const Tensor g = randn(c.shape, gen, dt);
      y.backward(g);
      const NormGradients ref = layer_norm_backward_reference(g, x.detach(), c.normalized_shape,
                                                              w.defined() ? w.detach() : Tensor(), 1e-4);
      EXPECT_TRUE(close(x.grad(), ref.input, tol_of(dt) * 10));
      if (c.has_weight) {
        EXPECT_TRUE(close(w.grad(), ref.weight, tol_of(dt) * 10));
      }
      if (c.has_bias) {
        EXPECT_TRUE(close(b.grad(), ref.bias, tol_of(dt) * 10));
      }
    }
  }
}

TEST(LayerNorm, StridedInputGivesTheSameValuesAndGradients) {
  Generator gen(8);
  const Tensor base = randn({6, 4}, gen);
  const Tensor w = rand({6}, gen, kFloat32, 0.5, 1.5), g = randn({4, 6}, gen);
  auto run = [&](const Tensor& input) {
    Tensor in = input;
    in.set_requires_grad(true);
    Tensor y = layer_norm(in, {6}, w);
    y.backward(g);
    return std::vector<std::vector<float>>{y.to_vector<float>(), in.grad().to_vector<float>()};
  };
  const Tensor strided = base.as_strided({4, 6}, {1, 4}, 0);
  EXPECT_TRUE(run(strided) == run(strided.contiguous_copy()));
}

TEST(LayerNormErrors, ArgumentsAreChecked) {
  Generator gen(0);
  const Tensor x = randn({2, 3, 4}, gen);
  expect_error([&] { layer_norm(x, {3}); },
               {"layer_norm: normalized_shape [3] must match the last dimensions of input shape [2, 3, 4]"});
  expect_error([&] { layer_norm(x, {2, 3, 4, 1}); }, {"must match the last dimensions"});
  expect_error([&] { layer_norm(x, {}); }, {"layer_norm: normalized_shape must have at least one dimension"});
  expect_error([&] { layer_norm(x, {3, 4}, ones({4})); },
               {"layer_norm: weight must have shape normalized_shape [3, 4], got [4]"});
  expect_error([&] { layer_norm(x, {4}, Tensor(), ones({4}, kFloat64)); },
               {"layer_norm: bias is float64 but input is float32"});
}

// ---------------------------------------------------------------- grad mode and threads

TEST(NormGradMode, NoGraphUnderNoGradGuard) {
  Generator gen(0);
  const Tensor x = randn({4, 3, 5}, gen).set_requires_grad(true);
  Tensor rm = zeros({3}), rv = ones({3});
  {
    NoGradGuard guard;
    for (const Tensor& t : {batch_norm(x, rm, rv, Tensor(), Tensor(), true), batch_norm(x, rm, rv),
                            layer_norm(x, {5})}) {
      EXPECT_FALSE(t.requires_grad());
      EXPECT_EQ(t.grad_fn(), nullptr);
    }
  }
  EXPECT_EQ(batch_norm(x, rm, rv).grad_fn()->name(), "batch_norm");
  EXPECT_EQ(layer_norm(x, {3, 5}).grad_fn()->name(), "layer_norm");
  EXPECT_EQ(layer_norm(x.detach(), {5}).grad_fn(), nullptr);
}

// HARNet sizes (scaled down in batch): outputs, running statistics and gradients
// bit-identical for 1 and 2 threads.
TEST(Norm, IdenticalForAnyThreadCount) {
  auto run = [](int threads) {
    ScopedThreads scoped(threads);
    Generator gen(9);
    const Tensor x = randn({8, 64, 20, 25}, gen).set_requires_grad(true);
    const Tensor w = rand({64}, gen).set_requires_grad(true), b = randn({64}, gen).set_requires_grad(true);
    Tensor rm = zeros({64}), rv = ones({64});
    const Tensor y = batch_norm(x, rm, rv, w, b, true);
    y.backward(randn(y.shape(), gen));
    const Tensor z = randn({16, 60, 128}, gen).set_requires_grad(true);
    const Tensor lw = rand({128}, gen).set_requires_grad(true), lb = randn({128}, gen).set_requires_grad(true);
    const Tensor ln = layer_norm(z, {128}, lw, lb);
    ln.backward(randn(ln.shape(), gen));
    return std::vector<std::vector<float>>{y.to_vector<float>(),  rm.to_vector<float>(),   rv.to_vector<float>(),
                                           x.grad().to_vector<float>(), w.grad().to_vector<float>(),
                                           b.grad().to_vector<float>(), ln.to_vector<float>(),
                                           z.grad().to_vector<float>(), lw.grad().to_vector<float>(),
                                           lb.grad().to_vector<float>()};
  };
  EXPECT_TRUE(run(1) == run(2));
}

// ---------------------------------------------------------------- dropout

TEST(Dropout, IdentityInEvaluationAndForPZeroWithoutDrawing) {
  Generator gen(1);
  const std::string state = gen.state();
  const Tensor x = randn({3, 4}, gen).set_requires_grad(true);
  const std::string after_randn = gen.state();
  EXPECT_EQ(dropout(x, 0.5, false, gen).impl(), x.impl());
  EXPECT_EQ(dropout(x, 0.0, true, gen).impl(), x.impl());
  EXPECT_EQ(dropout(zeros({0, 3}), 0.5, true, gen).numel(), 0);
  EXPECT_EQ(gen.state(), after_randn);
  EXPECT_NE(state, after_randn);
}

TEST(Dropout, POneZeroesEverythingAndKeepsNaN) {
  Generator gen(2);
  const std::string state = gen.state();
  const Tensor x = values({1, -2, std::nan(""), 4}, {4}).set_requires_grad(true);
  const Tensor y = dropout(x, 1.0, true, gen);
  const std::vector<double> v = y.to_vector<double>();
  EXPECT_EQ(v[0], 0.0);
  EXPECT_EQ(v[1], 0.0);
  EXPECT_TRUE(std::isnan(v[2]));  // input * 0, as PyTorch
  EXPECT_EQ(v[3], 0.0);
  y.backward(ones({4}, kFloat64));
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(4, 0.0));
  EXPECT_EQ(gen.state(), state);
}

TEST(Dropout, MaskIsTheSerialReferenceAndScalesTheKeptElements) {
  for (DType dt : {kFloat32, kFloat64}) {
    for (double p : {0.1, 0.5, 0.77}) {
      for (int64_t n : {1, 2, 7, 1000, 100001}) {
        Generator gen(42), ref_gen(42);
        const Tensor x = randn({n}, gen, dt, 1.0, 1.0);
        randn({n}, ref_gen, dt);  // the same draws as x
        const Tensor y = dropout(x, p, true, gen);
        const Tensor mask = dropout_mask_reference({n}, p, ref_gen);
        EXPECT_EQ(gen.state(), ref_gen.state()) << "dropout must draw exactly one key";
        const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
        const std::vector<bool> keep = mask.to_vector<bool>();
        const double scale = static_cast<double>(static_cast<float>(1.0 / (1.0 - p)));
        int64_t bad = 0;
        for (size_t i = 0; i < xv.size(); ++i) {
          const double expected = keep[i] ? xv[i] * (dt == kFloat32 ? scale : 1.0 / (1.0 - p)) : 0.0;
          if (std::fabs(yv[i] - expected) > 1e-6 * (1 + std::fabs(expected))) ++bad;
        }
        EXPECT_EQ(bad, 0) << dtype_name(dt) << " p " << p << " n " << n;
      }
    }
  }
}

TEST(Dropout, KeepRateAndIndependentPairs) {
  const int64_t n = 1 << 20;
  for (double p : {0.1, 0.2, 0.5, 0.9}) {
    Generator gen(7);
    const std::vector<bool> keep = dropout_mask_reference({n}, p, gen).to_vector<bool>();
    int64_t kept = 0, both = 0;
    for (int64_t i = 0; i < n; ++i) kept += keep[static_cast<size_t>(i)];
    for (int64_t i = 0; i + 1 < n; i += 2) both += keep[static_cast<size_t>(i)] && keep[static_cast<size_t>(i + 1)];
    const double q = 1.0 - p;
    // Within 5 standard deviations of the binomial expectations.
    EXPECT_NEAR(static_cast<double>(kept) / n, q, 5 * std::sqrt(q * p / n)) << "p " << p;
    const double pairs = n / 2.0;
    EXPECT_NEAR(static_cast<double>(both) / pairs, q * q, 5 * std::sqrt(q * q * (1 - q * q) / pairs)) << "p " << p;
  }
  // The output's mean stays the input's (inverted scaling).
  Generator gen(8);
  const Tensor y = dropout(ones({n}), 0.3, true, gen);
  double total = 0;
  for (float v : y.to_vector<float>()) total += v;
  EXPECT_NEAR(total / n, 1.0, 5 * std::sqrt(0.3 / 0.7 / n));
}

TEST(Dropout, SameSeedSameMaskAnotherSeedAnother) {
  const Tensor x = ones({4096});
  Generator a(3), b(3), c(4);
  const std::vector<float> ya = dropout(x, 0.5, true, a).to_vector<float>();
  EXPECT_EQ(ya, dropout(x, 0.5, true, b).to_vector<float>());
  EXPECT_NE(ya, dropout(x, 0.5, true, c).to_vector<float>());
  // Consecutive calls draw new masks.
  EXPECT_NE(ya, dropout(x, 0.5, true, a).to_vector<float>());
}

TEST(Dropout, MaskDependsOnTheLogicalIndexNotOnLayoutOrThreads) {
  Generator values_gen(5);
  const Tensor base = randn({300, 500}, values_gen);
  const Tensor transposed = base.as_strided({500, 300}, {1, 500}, 0);
  auto run = [&](const Tensor& x, int threads) {
    ScopedThreads scoped(threads);
    Generator gen(11);
    Tensor leaf = x;
    leaf.set_requires_grad(true);
    const Tensor y = dropout(leaf, 0.3, true, gen);
    y.backward(ones(y.shape()));
    return std::vector<std::vector<float>>{y.to_vector<float>(), leaf.grad().to_vector<float>()};
  };
  const auto reference = run(transposed.contiguous_copy(), 1);
  EXPECT_TRUE(reference == run(transposed.contiguous_copy(), 2));
  EXPECT_TRUE(reference == run(transposed, 2));
}

TEST(Dropout, BackwardMultipliesByTheSavedMask) {
  Generator gen(12), ref_gen(12);
  const Tensor x = randn({1000}, gen, kFloat64).set_requires_grad(true);
  randn({1000}, ref_gen, kFloat64);
  const Tensor y = dropout(x, 0.25, true, gen);
  const std::vector<bool> keep = dropout_mask_reference({1000}, 0.25, ref_gen).to_vector<bool>();
  Generator g_gen(13);
  const Tensor g = randn({1000}, g_gen, kFloat64);
  y.backward(g);
  const std::vector<double> gv = g.to_vector<double>(), gx = x.grad().to_vector<double>();
  for (size_t i = 0; i < gv.size(); ++i) EXPECT_EQ(gx[i], keep[i] ? gv[i] * (1.0 / 0.75) : 0.0) << i;
}

TEST(DropoutErrors, ProbabilityAndDtype) {
  Generator gen(0);
  const Tensor x = ones({3});
  expect_error([&] { dropout(x, 1.5, true, gen); }, {"dropout: probability p has to be between 0 and 1, but got 1.5"});
  expect_error([&] { dropout(x, -0.1, false, gen); }, {"dropout: probability p has to be between 0 and 1"});
  expect_error([&] { dropout(x, std::nan(""), true, gen); }, {"dropout: probability p"});
  expect_error([&] { dropout(zeros({3}, kInt64), 0.5, true, gen); }, {"dropout: expected a floating input"});
  NoGradGuard guard;
  EXPECT_EQ(dropout(x.detach().set_requires_grad(true), 0.5, true, gen).grad_fn(), nullptr);
}

}  // namespace
}  // namespace harnet
