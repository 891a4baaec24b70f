// The GRU: a hand-computed example (with b_hn inside the reset product); the optimised forward
// against the naive loops (gru_reference) and the fused backward against the autograd gradients
// of the network composed of primitives (gru_reference_autograd) over layers, directions,
// layouts, initial states, bias and dropout; batch blocks; thread-count independence; errors and
// grad mode. (The machinery shared with the LSTM is tested in depth in test_lstm.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/elementwise.h"
#include "ops/recurrent.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;
using harnet::testing::expect_error;

::testing::AssertionResult close(const Tensor& actual, const Tensor& expected, double tol) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << (actual.defined() ? "expected" : "actual") << " is undefined";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " vs "
                                         << shape_str(expected.shape());
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - e[i]) <= tol * (1 + std::fabs(e[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << e[i];
  return ::testing::AssertionSuccess();
}

struct Config {
  int64_t T = 3, N = 2, I = 3, H = 2, layers = 1;
  bool bidirectional = false, batch_first = false, bias = true, state = false, batched = true;
  double dropout = 0.0;
  bool training = true;
  std::string name() const {
    return str_cat("T=", T, " N=", N, " I=", I, " H=", H, " layers=", layers, bidirectional ? " bidirectional" : "",
                   batch_first ? " batch_first" : "", bias ? "" : " no-bias", state ? " h0" : "",
                   batched ? "" : " unbatched", dropout > 0 ? str_cat(" dropout=", dropout) : "",
                   training ? "" : " eval");
  }
};

struct Arguments {
  Tensor input, h0;
  std::vector<Tensor> weights;
  std::vector<Tensor> leaves() const {
    std::vector<Tensor> all{input};
    all.insert(all.end(), weights.begin(), weights.end());
    if (h0.defined()) all.push_back(h0);
    return all;
  }
};

Arguments make_arguments(const Config& c, DType dtype, uint64_t seed, bool requires_grad) {
  Generator gen(seed);
  Arguments a;
  const int64_t D = c.bidirectional ? 2 : 1;
  Shape input_shape = c.batch_first ? Shape{c.N, c.T, c.I} : Shape{c.T, c.N, c.I};
  if (!c.batched) input_shape = {c.T, c.I};
  a.input = randn(input_shape, gen, dtype).set_requires_grad(requires_grad);
  const double k = 1.0 / std::sqrt(static_cast<double>(c.H));
  for (const Shape& s : gru_weight_shapes(c.I, c.H, c.layers, c.bidirectional, c.bias))
    a.weights.push_back(rand(s, gen, dtype, -k, k).set_requires_grad(requires_grad));
  if (c.state)
    a.h0 = randn(c.batched ? Shape{c.layers * D, c.N, c.H} : Shape{c.layers * D, c.H}, gen, dtype)
               .set_requires_grad(requires_grad);
  return a;
}

GruOptions options_of(const Config& c, Generator* gen) {
  GruOptions o;
  o.num_layers = c.layers;
  o.bias = c.bias;
  o.batch_first = c.batch_first;
  o.dropout = c.dropout;
  o.bidirectional = c.bidirectional;
  o.training = c.training;
  o.generator = gen;
  return o;
}

std::vector<Config> configs() {
  std::vector<Config> cs;
  auto add = [&](auto edit) {
    Config c;
    edit(c);
    cs.push_back(c);
  };
  add([](Config&) {});
  add([](Config& c) { c.state = true; });
  add([](Config& c) {
    c.layers = 2;
    c.state = true;
  });
  add([](Config& c) {
    c.bidirectional = true;
    c.state = true;
  });
  add([](Config& c) {
    c.layers = 3;
    c.bidirectional = true;
    c.T = 4;
    c.N = 3;
    c.I = 5;
    c.H = 3;
  });
  add([](Config& c) {
    c.batch_first = true;
    c.layers = 2;
    c.state = true;
    c.T = 5;
    c.N = 3;
  });
  add([](Config& c) {
    c.batch_first = true;
    c.bidirectional = true;
    c.T = 4;
    c.N = 5;
    c.H = 4;
  });
  add([](Config& c) {
    c.bias = false;
    c.layers = 2;
    c.state = true;
  });
  add([](Config& c) {
    c.batched = false;
    c.layers = 2;
    c.bidirectional = true;
    c.state = true;
  });
  add([](Config& c) {
    c.T = 1;
    c.N = 1;
    c.I = 1;
    c.H = 1;
  });
  add([](Config& c) {
    c.layers = 3;
    c.bidirectional = true;
    c.batch_first = true;
    c.dropout = 0.5;
    c.state = true;
  });
  add([](Config& c) {
    c.layers = 2;
    c.dropout = 0.4;
    c.training = false;
  });
  add([](Config& c) {
    c.T = 4;
    c.N = 70;
    c.I = 3;
    c.H = 3;
    c.layers = 2;
    c.bidirectional = true;
    c.state = true;
  });
  add([](Config& c) {
    c.T = 3;
    c.N = 33;
    c.I = 2;
    c.H = 5;
    c.batch_first = true;
    c.state = true;
  });
  return cs;
}

// sum(out * u) + sum(h_n * v) with fixed random u, v.
Tensor weighted_loss(const GruResult& r, Generator& gen) {
  const Tensor u = randn(r.output.shape(), gen, r.output.dtype());
  const Tensor v = randn(r.h_n.shape(), gen, r.h_n.dtype());
  return add(sum(mul(r.output, u)), sum(mul(r.h_n, v)));
}

TEST(Gru, HandComputedTwoSteps) {
  // I = H = 1: weight_ih = [a_r, a_z, a_n], weight_hh likewise; b_hn = bh[2] is scaled by r.
  const double wi[3] = {0.5, -0.25, 1.0}, wh[3] = {0.1, 0.2, -0.3};
  const double bi[3] = {0.0, 0.5, 0.25}, bh[3] = {0.25, 0.0, 0.75};
  const double xs[2] = {1.0, -2.0};
  const double h0 = 0.5;
  double h = h0, expected[2];
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int t = 0; t < 2; ++t) {
    const double r = sig(wi[0] * xs[t] + bi[0] + wh[0] * h + bh[0]);
    const double z = sig(wi[1] * xs[t] + bi[1] + wh[1] * h + bh[1]);
    const double n = std::tanh(wi[2] * xs[t] + bi[2] + r * (wh[2] * h + bh[2]));
    h = (1 - z) * n + z * h;
    expected[t] = h;
  }
  for (DType dtype : {kFloat64, kFloat32}) {
    std::vector<Tensor> w = {from_vector(std::vector<double>(wi, wi + 3), {3, 1}, dtype),
                             from_vector(std::vector<double>(wh, wh + 3), {3, 1}, dtype),
                             from_vector(std::vector<double>(bi, bi + 3), {3}, dtype),
                             from_vector(std::vector<double>(bh, bh + 3), {3}, dtype)};
    GruResult r =
        gru(from_vector(std::vector<double>(xs, xs + 2), {2, 1, 1}, dtype), w, {}, full({1, 1, 1}, h0, dtype));
    const double tol = dtype == kFloat64 ? 1e-15 : 1e-6;
    EXPECT_NEAR(r.output.to_vector<double>()[0], expected[0], tol);
    EXPECT_NEAR(r.output.to_vector<double>()[1], expected[1], tol);
    EXPECT_NEAR(r.h_n.item(), expected[1], tol);
  }
}

TEST(Gru, ForwardMatchesNaiveReference) {
  for (const Config& c : configs()) {
    for (DType dtype : {kFloat64, kFloat32}) {
      SCOPED_TRACE(c.name() + " " + dtype_name(dtype));
      const Arguments a = make_arguments(c, dtype, 3, false);
      Generator g1(11), g2(11);
      GruResult got = gru(a.input, a.weights, options_of(c, &g1), a.h0);
      GruResult want = gru_reference(a.input, a.weights, options_of(c, &g2), a.h0);
      const double tol = dtype == kFloat64 ? 1e-13 : 2e-6;
      EXPECT_TRUE(close(got.output, want.output, tol));
      EXPECT_TRUE(close(got.h_n, want.h_n, tol));
      EXPECT_EQ(g1.state(), g2.state());
    }
  }
}

TEST(Gru, ComposedReferenceMatchesNaiveReference) {
  for (const Config& c : configs()) {
    SCOPED_TRACE(c.name());
    const Arguments a = make_arguments(c, kFloat64, 4, false);
    Generator g1(5), g2(5);
    GruResult got = gru_reference_autograd(a.input, a.weights, options_of(c, &g1), a.h0);
    GruResult want = gru_reference(a.input, a.weights, options_of(c, &g2), a.h0);
    EXPECT_TRUE(close(got.output, want.output, 1e-13));
    EXPECT_TRUE(close(got.h_n, want.h_n, 1e-13));
  }
}

TEST(Gru, BackwardMatchesComposedReference) {
  for (const Config& c : configs()) {
    for (DType dtype : {kFloat64, kFloat32}) {
      SCOPED_TRACE(c.name() + " " + dtype_name(dtype));
      const Arguments fused = make_arguments(c, dtype, 7, true), composed = make_arguments(c, dtype, 7, true);
      Generator g1(13), g2(13), u1(17), u2(17);
      weighted_loss(gru(fused.input, fused.weights, options_of(c, &g1), fused.h0), u1).backward();
      weighted_loss(gru_reference_autograd(composed.input, composed.weights, options_of(c, &g2), composed.h0), u2)
          .backward();
      const std::vector<Tensor> a = fused.leaves(), b = composed.leaves();
      const double tol = dtype == kFloat64 ? 1e-10 : 2e-5;
      for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(close(a[k].grad(), b[k].grad(), tol)) << "leaf " << k;
    }
  }
}

TEST(Gru, WeightNamesAndShapes) {
  EXPECT_EQ(
      gru_weight_names(1, true, true),
      (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                                "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"}));
  EXPECT_EQ(gru_weight_shapes(7, 3, 2, false, true),
            (std::vector<Shape>{{9, 7}, {9, 3}, {9}, {9}, {9, 3}, {9, 3}, {9}, {9}}));
}

TEST(Gru, IdenticalForAnyThreadCount) {
  Config c;
  c.T = 6;
  c.N = 70;
  c.I = 40;
  c.H = 24;
  c.layers = 2;
  c.bidirectional = true;
  c.state = true;
  c.dropout = 0.2;
  for (bool batch_first : {false, true}) {
    c.batch_first = batch_first;
    auto run = [&](int threads) {
      ScopedThreads scoped(threads);
      const Arguments a = make_arguments(c, kFloat32, 12, true);
      Generator gen(3), u(4);
      GruResult r = gru(a.input, a.weights, options_of(c, &gen), a.h0);
      weighted_loss(r, u).backward();
      std::vector<std::vector<float>> values{r.output.to_vector<float>(), r.h_n.to_vector<float>()};
      for (const Tensor& leaf : a.leaves()) values.push_back(leaf.grad().to_vector<float>());
      return values;
    };
    EXPECT_TRUE(run(1) == run(2)) << "batch_first=" << batch_first;
  }
}

TEST(GruErrors, Arguments) {
  Config c;
  c.layers = 2;
  const Arguments a = make_arguments(c, kFloat32, 1, false);
  const GruOptions o = options_of(c, nullptr);
  std::vector<Tensor> lstm_sized = a.weights;
  lstm_sized[1] = zeros({8, 2});
  expect_error([&] { gru(a.input, lstm_sized, o); },
               "gru: weight_hh_l0 must have shape [3*hidden_size, hidden_size] with hidden_size >= 1, got [8, 2]");
  expect_error(
      [&] {
        gru(a.input, a.weights, o, zeros({2, 3, 2}));
      },
      "gru: h0 must have shape [2, 2, 2] ([num_layers*directions, N, hidden_size]) for input of shape "
      "[3, 2, 3], got [2, 3, 2]");
  std::vector<Tensor> fewer(a.weights.begin(), a.weights.end() - 2);
  expect_error([&] { gru(a.input, fewer, o); }, "gru: expected 8 weights for num_layers=2");
  GruOptions bad = o;
  bad.dropout = 0.5;
  expect_error([&] { gru(a.input, a.weights, bad); }, "gru: dropout=0.5 with num_layers=2 in training needs");
}

TEST(GruGradMode, OneNodeAndNoGraphUnderNoGradGuard) {
  Config c;
  c.layers = 2;
  c.state = true;
  const Arguments a = make_arguments(c, kFloat32, 1, true);
  {
    NoGradGuard guard;
    GruResult r = gru(a.input, a.weights, options_of(c, nullptr), a.h0);
    EXPECT_FALSE(r.output.requires_grad());
    EXPECT_EQ(r.h_n.grad_fn(), nullptr);
  }
  GruResult r = gru(a.input, a.weights, options_of(c, nullptr), a.h0);
  ASSERT_NE(r.output.grad_fn(), nullptr);
  EXPECT_EQ(r.output.grad_fn()->name(), "gru");
  EXPECT_EQ(r.output.grad_fn(), r.h_n.grad_fn());
  EXPECT_EQ(r.output.grad_fn()->next().size(), 1 + a.weights.size() + 1);
}

}  // namespace
}  // namespace harnet
