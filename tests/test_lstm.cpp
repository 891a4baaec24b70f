// The LSTM: a hand-computed example; the optimised forward against the naive loops
// (lstm_reference) and the fused backward against the autograd gradients of the same network
// composed of primitives (lstm_reference_autograd) over layers, directions, layouts, initial
// states, bias and dropout; batch blocks; thread-count independence; strided arguments; errors
// and grad mode.
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

// |actual - expected| <= tol * (1 + |expected|) everywhere.
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

// One configuration of the network and its argument values.
struct Config {
  int64_t T = 3, N = 2, I = 3, H = 2, layers = 1;
  bool bidirectional = false, batch_first = false, bias = true, states = false, batched = true;
  double dropout = 0.0;
  bool training = true;
  std::string name() const {
    return str_cat("T=", T, " N=", N, " I=", I, " H=", H, " layers=", layers, bidirectional ? " bidirectional" : "",
                   batch_first ? " batch_first" : "", bias ? "" : " no-bias", states ? " h0/c0" : "",
                   batched ? "" : " unbatched", dropout > 0 ? str_cat(" dropout=", dropout) : "",
                   training ? "" : " eval");
  }
};

struct Arguments {
  Tensor input, h0, c0;
  std::vector<Tensor> weights;
};

Arguments make_arguments(const Config& c, DType dtype, uint64_t seed, bool requires_grad) {
  Generator gen(seed);
  Arguments a;
  const int64_t D = c.bidirectional ? 2 : 1;
  Shape input_shape = c.batch_first ? Shape{c.N, c.T, c.I} : Shape{c.T, c.N, c.I};
  if (!c.batched) input_shape = {c.T, c.I};
  a.input = randn(input_shape, gen, dtype);
  const double k = 1.0 / std::sqrt(static_cast<double>(c.H));  // PyTorch's initialisation range
  for (const Shape& s : lstm_weight_shapes(c.I, c.H, c.layers, c.bidirectional, c.bias))
    a.weights.push_back(rand(s, gen, dtype, -k, k));
  if (c.states) {
    const Shape state = c.batched ? Shape{c.layers * D, c.N, c.H} : Shape{c.layers * D, c.H};
    a.h0 = randn(state, gen, dtype);
    a.c0 = randn(state, gen, dtype);
  }
  if (requires_grad) {
    a.input.set_requires_grad(true);
    for (Tensor& w : a.weights) w.set_requires_grad(true);
    if (a.h0.defined()) a.h0.set_requires_grad(true);
    if (a.c0.defined()) a.c0.set_requires_grad(true);
  }
  return a;
}

LstmOptions options_of(const Config& c, Generator* gen) {
  LstmOptions o;
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
  add([](Config& c) { c.states = true; });
  add([](Config& c) { c.layers = 2; });
  add([](Config& c) {
    c.bidirectional = true;
    c.states = true;
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
    c.states = true;
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
    c.states = true;
  });
  add([](Config& c) {
    c.batched = false;
    c.layers = 2;
    c.bidirectional = true;
    c.states = true;
  });
  add([](Config& c) {
    c.T = 1;
    c.N = 1;
    c.I = 1;
    c.H = 1;
  });
  add([](Config& c) {
    c.layers = 2;
    c.dropout = 0.4;
  });
  add([](Config& c) {
    c.layers = 3;
    c.bidirectional = true;
    c.batch_first = true;
    c.dropout = 0.5;
    c.states = true;
  });
  add([](Config& c) {
    c.layers = 2;
    c.dropout = 0.4;
    c.training = false;
  });
  // Several batch blocks (one task per block of about 32 rows), both layouts.
  add([](Config& c) {
    c.T = 4;
    c.N = 70;
    c.I = 3;
    c.H = 3;
    c.layers = 2;
    c.bidirectional = true;
    c.states = true;
  });
  add([](Config& c) {
    c.T = 3;
    c.N = 33;
    c.I = 2;
    c.H = 5;
    c.batch_first = true;
    c.states = true;
  });
  return cs;
}

// ---------------------------------------------------------------- a hand-computed step

TEST(Lstm, HandComputedTwoSteps) {
  // I = H = 1, one layer: weight_ih = [a_i, a_f, a_g, a_o], weight_hh likewise, biases.
  const double wi[4] = {0.5, -0.25, 1.0, 0.75}, wh[4] = {0.1, 0.2, -0.3, 0.4};
  const double bi[4] = {0.0, 0.5, 0.0, -0.5}, bh[4] = {0.25, 0.0, 0.125, 0.0};
  const double xs[2] = {1.0, -2.0};
  double h = 0.0, c = 0.0, expected_h[2], expected_c[2];
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int t = 0; t < 2; ++t) {
    double pre[4];
    for (int k = 0; k < 4; ++k) pre[k] = wi[k] * xs[t] + bi[k] + wh[k] * h + bh[k];
    c = sig(pre[1]) * c + sig(pre[0]) * std::tanh(pre[2]);
    h = sig(pre[3]) * std::tanh(c);
    expected_h[t] = h;
    expected_c[t] = c;
  }
  for (DType dtype : {kFloat64, kFloat32}) {
    std::vector<Tensor> w = {from_vector(std::vector<double>(wi, wi + 4), {4, 1}, dtype),
                             from_vector(std::vector<double>(wh, wh + 4), {4, 1}, dtype),
                             from_vector(std::vector<double>(bi, bi + 4), {4}, dtype),
                             from_vector(std::vector<double>(bh, bh + 4), {4}, dtype)};
    LstmResult r = lstm(from_vector(std::vector<double>(xs, xs + 2), {2, 1, 1}, dtype), w);
    const double tol = dtype == kFloat64 ? 1e-15 : 1e-6;
    ASSERT_EQ(r.output.shape(), (Shape{2, 1, 1}));
    EXPECT_NEAR(r.output.to_vector<double>()[0], expected_h[0], tol);
    EXPECT_NEAR(r.output.to_vector<double>()[1], expected_h[1], tol);
    EXPECT_NEAR(r.h_n.item(), expected_h[1], tol);
    EXPECT_NEAR(r.c_n.item(), expected_c[1], tol);
  }
}

// With every weight zero, i = f = o = 1/2 and g = 0: the cell decays by half per step.
TEST(Lstm, ZeroWeightsHalveTheCellEachStep) {
  std::vector<Tensor> w;
  for (const Shape& s : lstm_weight_shapes(2, 3, 1, false, true)) w.push_back(zeros(s, kFloat64));
  Tensor c0 = full({1, 1, 3}, 8.0, kFloat64);
  LstmResult r = lstm(ones({3, 1, 2}, kFloat64), w, {}, Tensor(), c0);
  EXPECT_EQ(r.c_n.to_vector<double>(), std::vector<double>(3, 1.0));
  const std::vector<double> out = r.output.to_vector<double>();
  for (int t = 0; t < 3; ++t) EXPECT_DOUBLE_EQ(out[static_cast<size_t>(t * 3)], 0.5 * std::tanh(8.0 / (2 << t)));
}

// ---------------------------------------------------------------- against the references

TEST(Lstm, ForwardMatchesNaiveReference) {
  for (const Config& c : configs()) {
    for (DType dtype : {kFloat64, kFloat32}) {
      SCOPED_TRACE(c.name() + " " + dtype_name(dtype));
      const Arguments a = make_arguments(c, dtype, 3, false);
      Generator g1(11), g2(11);
      LstmResult got = lstm(a.input, a.weights, options_of(c, &g1), a.h0, a.c0);
      LstmResult want = lstm_reference(a.input, a.weights, options_of(c, &g2), a.h0, a.c0);
      const double tol = dtype == kFloat64 ? 1e-13 : 2e-6;
      EXPECT_TRUE(close(got.output, want.output, tol));
      EXPECT_TRUE(close(got.h_n, want.h_n, tol));
      EXPECT_TRUE(close(got.c_n, want.c_n, tol));
      EXPECT_EQ(g1.state(), g2.state()) << "both drew the same dropout masks";
    }
  }
}

TEST(Lstm, ComposedReferenceMatchesNaiveReference) {
  for (const Config& c : configs()) {
    SCOPED_TRACE(c.name());
    const Arguments a = make_arguments(c, kFloat64, 4, false);
    Generator g1(5), g2(5);
    LstmResult got = lstm_reference_autograd(a.input, a.weights, options_of(c, &g1), a.h0, a.c0);
    LstmResult want = lstm_reference(a.input, a.weights, options_of(c, &g2), a.h0, a.c0);
    EXPECT_TRUE(close(got.output, want.output, 1e-13));
    EXPECT_TRUE(close(got.h_n, want.h_n, 1e-13));
    EXPECT_TRUE(close(got.c_n, want.c_n, 1e-13));
  }
}

// sum(out * u) + sum(h_n * v) + sum(c_n * w) with fixed random u, v, w: every output contributes.
Tensor weighted_loss(const LstmResult& r, Generator& gen) {
  const Tensor u = randn(r.output.shape(), gen, r.output.dtype());
  const Tensor v = randn(r.h_n.shape(), gen, r.h_n.dtype());
  const Tensor w = randn(r.c_n.shape(), gen, r.c_n.dtype());
  return add(add(sum(mul(r.output, u)), sum(mul(r.h_n, v))), sum(mul(r.c_n, w)));
}

std::vector<Tensor> leaves(const Arguments& a) {
  std::vector<Tensor> all{a.input};
  all.insert(all.end(), a.weights.begin(), a.weights.end());
  if (a.h0.defined()) all.push_back(a.h0);
  if (a.c0.defined()) all.push_back(a.c0);
  return all;
}

// The fused BPTT against autograd through the composed network: float64 to 1e-10 (in
// practice ~1e-15), float32 loosely.
TEST(Lstm, BackwardMatchesComposedReference) {
  for (const Config& c : configs()) {
    for (DType dtype : {kFloat64, kFloat32}) {
      SCOPED_TRACE(c.name() + " " + dtype_name(dtype));
      const Arguments fused = make_arguments(c, dtype, 7, true), composed = make_arguments(c, dtype, 7, true);
      Generator g1(13), g2(13), u1(17), u2(17);
      weighted_loss(lstm(fused.input, fused.weights, options_of(c, &g1), fused.h0, fused.c0), u1).backward();
      weighted_loss(
          lstm_reference_autograd(composed.input, composed.weights, options_of(c, &g2), composed.h0, composed.c0), u2)
          .backward();
      const std::vector<Tensor> a = leaves(fused), b = leaves(composed);
      const double tol = dtype == kFloat64 ? 1e-10 : 2e-5;
      for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(close(a[k].grad(), b[k].grad(), tol)) << "leaf " << k;
    }
  }
}

// Gradients only where asked for: here the second layer's weights and c0.
TEST(Lstm, BackwardComputesOnlyWhatIsNeeded) {
  Config c;
  c.layers = 2;
  c.bidirectional = true;
  c.states = true;
  Arguments fused = make_arguments(c, kFloat64, 8, false), composed = make_arguments(c, kFloat64, 8, false);
  for (Arguments* a : {&fused, &composed}) {
    for (size_t k = a->weights.size() / 2; k < a->weights.size(); ++k) a->weights[k].set_requires_grad(true);
    a->c0.set_requires_grad(true);
  }
  Generator u1(3), u2(3);
  weighted_loss(lstm(fused.input, fused.weights, options_of(c, nullptr), fused.h0, fused.c0), u1).backward();
  weighted_loss(
      lstm_reference_autograd(composed.input, composed.weights, options_of(c, nullptr), composed.h0, composed.c0), u2)
      .backward();
  EXPECT_FALSE(fused.input.grad().defined());
  EXPECT_FALSE(fused.h0.grad().defined());
  for (size_t k = 0; k < fused.weights.size() / 2; ++k) EXPECT_FALSE(fused.weights[k].grad().defined());
  for (size_t k = fused.weights.size() / 2; k < fused.weights.size(); ++k)
    EXPECT_TRUE(close(fused.weights[k].grad(), composed.weights[k].grad(), 1e-10)) << "weight " << k;
  EXPECT_TRUE(close(fused.c0.grad(), composed.c0.grad(), 1e-10));

  // Only the input: no weight gradient at all.
  Arguments only_input = make_arguments(c, kFloat64, 8, false);
  only_input.input.set_requires_grad(true);
  Generator u3(3);
  weighted_loss(lstm(only_input.input, only_input.weights, options_of(c, nullptr), only_input.h0, only_input.c0), u3)
      .backward();
  EXPECT_TRUE(only_input.input.grad().defined());
  for (const Tensor& w : only_input.weights) EXPECT_FALSE(w.grad().defined());
}

// ---------------------------------------------------------------- semantics

TEST(Lstm, WeightNamesAndShapesFollowPyTorch) {
  EXPECT_EQ(
      lstm_weight_names(2, true, true),
      (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                                "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                                "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse",
                                "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"}));
  EXPECT_EQ(lstm_weight_names(2, false, false),
            (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"}));
  EXPECT_EQ(lstm_weight_shapes(7, 3, 2, true, false),
            (std::vector<Shape>{{12, 7}, {12, 3}, {12, 7}, {12, 3}, {12, 6}, {12, 3}, {12, 6}, {12, 3}}));
}

TEST(Lstm, OutputShapes) {
  Config c;
  c.layers = 2;
  c.bidirectional = true;
  c.T = 5;
  c.N = 4;
  c.H = 3;
  for (bool batch_first : {false, true}) {
    c.batch_first = batch_first;
    const Arguments a = make_arguments(c, kFloat32, 1, false);
    LstmResult r = lstm(a.input, a.weights, options_of(c, nullptr));
    EXPECT_EQ(r.output.shape(), batch_first ? (Shape{4, 5, 6}) : (Shape{5, 4, 6}));
    EXPECT_EQ(r.h_n.shape(), (Shape{4, 4, 3}));
    EXPECT_EQ(r.c_n.shape(), (Shape{4, 4, 3}));
  }
}

// The last step of the forward direction and the first step of the reverse one are h_n.
TEST(Lstm, FinalStatesAreTheOutputsAtTheEnds) {
  Config c;
  c.bidirectional = true;
  c.T = 4;
  c.N = 3;
  c.H = 2;
  const Arguments a = make_arguments(c, kFloat64, 2, false);
  LstmResult r = lstm(a.input, a.weights, options_of(c, nullptr));
  const std::vector<double> out = r.output.to_vector<double>(), h_n = r.h_n.to_vector<double>();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t j = 0; j < 2; ++j) {
      EXPECT_EQ(h_n[static_cast<size_t>(n * 2 + j)], out[static_cast<size_t>((3 * 3 + n) * 4 + j)]);
      EXPECT_EQ(h_n[static_cast<size_t>(6 + n * 2 + j)], out[static_cast<size_t>(n * 4 + 2 + j)]);
    }
}

// Unbatched input is a batch of one without the batch dimension.
TEST(Lstm, UnbatchedEqualsBatchOfOne) {
  Config c;
  c.layers = 2;
  c.bidirectional = true;
  c.states = true;
  c.batched = false;
  const Arguments a = make_arguments(c, kFloat64, 5, false);
  LstmResult r = lstm(a.input, a.weights, options_of(c, nullptr), a.h0, a.c0);
  LstmResult b = lstm(unsqueeze(a.input, 1), a.weights, options_of(c, nullptr), unsqueeze(a.h0, 1), unsqueeze(a.c0, 1));
  EXPECT_EQ(r.output.shape(), (Shape{3, 4}));
  EXPECT_EQ(r.h_n.shape(), (Shape{4, 2}));
  EXPECT_EQ(r.output.to_vector<double>(), b.output.to_vector<double>());
  EXPECT_EQ(r.h_n.to_vector<double>(), b.h_n.to_vector<double>());
  EXPECT_EQ(r.c_n.to_vector<double>(), b.c_n.to_vector<double>());
}

// batch_first is only a layout: the same network on the transposed input.
TEST(Lstm, BatchFirstIsTheTransposedLayout) {
  Config c;
  c.layers = 2;
  c.bidirectional = true;
  c.states = true;
  c.N = 4;
  const Arguments a = make_arguments(c, kFloat64, 6, false);
  LstmResult time_major = lstm(a.input, a.weights, options_of(c, nullptr), a.h0, a.c0);
  Config bf = c;
  bf.batch_first = true;
  LstmResult batch_major = lstm(contiguous(transpose(a.input, 0, 1)), a.weights, options_of(bf, nullptr), a.h0, a.c0);
  EXPECT_TRUE(close(contiguous(transpose(batch_major.output, 0, 1)), time_major.output, 1e-15));
  EXPECT_TRUE(close(batch_major.h_n, time_major.h_n, 1e-15));
  EXPECT_TRUE(close(batch_major.c_n, time_major.c_n, 1e-15));
}

// Dropout: none in eval mode; in training, the layers above see masked outputs, the last layer's
// output is never masked, and the generator supplies exactly one draw per masked element.
TEST(Lstm, DropoutBetweenLayersOnly) {
  Config c;
  c.layers = 2;
  c.T = 4;
  c.N = 3;
  c.H = 3;
  c.dropout = 1.0;  // every element of layer 0's output dropped: layer 1 sees zeros
  const Arguments a = make_arguments(c, kFloat64, 9, false);
  Generator gen(1);
  LstmResult r = lstm(a.input, a.weights, options_of(c, &gen), a.h0, a.c0);
  Generator replay(1);
  for (int64_t k = 0; k < c.T * c.N * c.H; ++k) replay.uniform();
  EXPECT_EQ(gen.state(), replay.state());

  // Layer 1 alone on a zero input (from zero initial states).
  std::vector<Tensor> layer1(a.weights.begin() + 4, a.weights.end());
  LstmResult top = lstm(zeros({c.T, c.N, c.H}, kFloat64), layer1);
  EXPECT_TRUE(close(r.output, top.output, 1e-15));
  // Layer 0's final states are not masked.
  Config bottom = c;
  bottom.layers = 1;
  LstmResult first =
      lstm(a.input, std::vector<Tensor>(a.weights.begin(), a.weights.begin() + 4), options_of(bottom, nullptr));
  EXPECT_TRUE(close(narrow(r.h_n, 0, 0, 1), first.h_n, 1e-15));

  // Eval mode: dropout has no effect and needs no generator.
  Config eval = c;
  eval.training = false;
  Config none = c;
  none.dropout = 0.0;
  EXPECT_EQ(lstm(a.input, a.weights, options_of(eval, nullptr)).output.to_vector<double>(),
            lstm(a.input, a.weights, options_of(none, nullptr)).output.to_vector<double>());

  // p in (0, 1): kept elements are scaled by 1 / (1 - p); equal seeds give equal results.
  c.dropout = 0.5;
  Generator s1(4), s2(4), s3(5);
  const std::vector<double> r1 = lstm(a.input, a.weights, options_of(c, &s1)).output.to_vector<double>();
  const std::vector<double> r2 = lstm(a.input, a.weights, options_of(c, &s2)).output.to_vector<double>();
  const std::vector<double> r3 = lstm(a.input, a.weights, options_of(c, &s3)).output.to_vector<double>();
  EXPECT_EQ(r1, r2);
  EXPECT_NE(r1, r3);
  Generator m(4);
  const std::vector<double> mask = rnn_dropout_mask({8, 100}, 0.25, m, kFloat64).to_vector<double>();
  int kept = 0;
  for (double v : mask) {
    EXPECT_TRUE(v == 0.0 || v == 1.0 / 0.75) << v;
    kept += v != 0.0;
  }
  EXPECT_GT(kept, 520);  // 600 expected
  EXPECT_LT(kept, 680);
}

// ---------------------------------------------------------------- layouts and threads

// A transposed input, transposed weights and strided states give the contiguous results.
TEST(Lstm, StridedArguments) {
  Config c;
  c.layers = 2;
  c.states = true;
  c.N = 3;
  const Arguments a = make_arguments(c, kFloat64, 10, false);
  Tensor input_view = transpose(contiguous(transpose(a.input, 0, 1)), 0, 1);  // [T, N, I] with N outermost in memory
  ASSERT_FALSE(input_view.is_contiguous());
  std::vector<Tensor> weight_views;
  for (const Tensor& w : a.weights)
    weight_views.push_back(w.dim() == 2 ? transpose(contiguous(transpose(w, 0, 1)), 0, 1) : w);
  // h0's values every other element of a larger buffer: [L*D, N, H] with strides [2NH, 2H, 2].
  Tensor h0_view = squeeze(narrow(stack({a.h0, zeros_like(a.h0)}, 3), 3, 0, 1), 3);
  ASSERT_FALSE(h0_view.is_contiguous());
  LstmResult r = lstm(input_view, weight_views, options_of(c, nullptr), h0_view, a.c0);
  LstmResult want = lstm(a.input, a.weights, options_of(c, nullptr), a.h0, a.c0);
  EXPECT_EQ(r.output.to_vector<double>(), want.output.to_vector<double>());
  EXPECT_EQ(r.h_n.to_vector<double>(), want.h_n.to_vector<double>());
  EXPECT_EQ(r.c_n.to_vector<double>(), want.c_n.to_vector<double>());
}

// Forward and every gradient bit-identical for 1 and 2 threads, and run to run, at a size with
// several batch blocks and both directions.
TEST(Lstm, IdenticalForAnyThreadCount) {
  Config c;
  c.T = 6;
  c.N = 70;
  c.I = 40;
  c.H = 24;
  c.layers = 2;
  c.bidirectional = true;
  c.states = true;
  c.dropout = 0.2;
  for (bool batch_first : {false, true}) {
    c.batch_first = batch_first;
    auto run = [&](int threads) {
      ScopedThreads scoped(threads);
      const Arguments a = make_arguments(c, kFloat32, 12, true);
      Generator gen(3), u(4);
      LstmResult r = lstm(a.input, a.weights, options_of(c, &gen), a.h0, a.c0);
      weighted_loss(r, u).backward();
      std::vector<std::vector<float>> values{r.output.to_vector<float>(), r.h_n.to_vector<float>(),
                                             r.c_n.to_vector<float>()};
      for (const Tensor& leaf : leaves(a)) values.push_back(leaf.grad().to_vector<float>());
      return values;
    };
    const auto one = run(1), two = run(2), again = run(2);
    EXPECT_TRUE(one == two) << "batch_first=" << batch_first;
    EXPECT_TRUE(two == again) << "batch_first=" << batch_first;
  }
}

// ---------------------------------------------------------------- errors and grad mode

TEST(LstmErrors, Arguments) {
  Config c;
  c.layers = 2;
  const Arguments a = make_arguments(c, kFloat32, 1, false);
  const LstmOptions o = options_of(c, nullptr);
  expect_error(
      [&] {
        lstm(zeros({2, 3, 4, 5}), a.weights, o);
      },
      "lstm: input must be 3-d ([T, N, I], or [N, T, I] with batch_first) or 2-d ([T, I], unbatched), got "
      "shape [2, 3, 4, 5]");
  expect_error([&] { lstm(Tensor(), a.weights, o); }, "lstm: input is an undefined tensor");
  expect_error([&] { lstm(zeros({3, 2, 3}, kInt64), a.weights, o); }, "lstm: expected a floating input");
  std::vector<Tensor> fewer(a.weights.begin(), a.weights.end() - 1);
  expect_error([&] { lstm(a.input, fewer, o); },
               "lstm: expected 8 weights for num_layers=2, bidirectional=false, bias=true (weight_ih_l0, "
               "weight_hh_l0, ...), got 7");
  expect_error([&] { lstm(a.input, a.weights, options_of(Config{}, nullptr)); }, "lstm: expected 4 weights");
  std::vector<Tensor> bad_hh = a.weights;
  bad_hh[1] = zeros({8, 3});
  expect_error([&] { lstm(a.input, bad_hh, o); },
               "lstm: weight_hh_l0 must have shape [4*hidden_size, hidden_size] with hidden_size >= 1, got [8, 3]");
  std::vector<Tensor> bad_ih = a.weights;
  bad_ih[4] = zeros({8, 3});
  expect_error([&] { lstm(a.input, bad_ih, o); },
               "lstm: weight_ih_l1 must have shape [8, 2] (input size 3, hidden size 2), got [8, 3]");
  std::vector<Tensor> bad_bias = a.weights;
  bad_bias[3] = zeros({4});
  expect_error([&] { lstm(a.input, bad_bias, o); }, "lstm: bias_hh_l0 must have shape [8]");
  std::vector<Tensor> mixed = a.weights;
  mixed[2] = zeros({8}, kFloat64);
  expect_error([&] { lstm(a.input, mixed, o); }, "lstm: bias_ih_l0 is float64 but input is float32");
  expect_error(
      [&] {
        lstm(a.input, a.weights, o, zeros({2, 2, 3}));
      },
      "lstm: h0 must have shape [2, 2, 2] ([num_layers*directions, N, hidden_size]) for input of shape "
      "[3, 2, 3], got [2, 2, 3]");
  expect_error([&] { lstm(a.input, a.weights, o, Tensor(), zeros({1, 2, 2})); }, "lstm: c0 must have shape [2, 2, 2]");
  expect_error(
      [&] {
        lstm(a.input, a.weights, o, zeros({2, 2, 2}, kFloat64));
      },
      "lstm: h0 is float64 but input is float32");
  expect_error([&] { lstm(zeros({0, 2, 3}), a.weights, o); }, "lstm: input of shape [0, 2, 3] has no time steps");
  expect_error([&] { lstm(zeros({3, 0, 3}), a.weights, o); }, "lstm: input of shape [3, 0, 3] has an empty batch");

  LstmOptions bad = o;
  bad.num_layers = 0;
  expect_error([&] { lstm(a.input, a.weights, bad); }, "lstm: num_layers must be at least 1, got 0");
  bad = o;
  bad.dropout = 1.5;
  expect_error([&] { lstm(a.input, a.weights, bad); }, "lstm: dropout must be in [0, 1], got 1.5");
  bad = o;
  bad.dropout = 0.25;
  expect_error([&] { lstm(a.input, a.weights, bad); },
               "lstm: dropout=0.25 with num_layers=2 in training needs options.generator");
}

TEST(LstmGradMode, OneNodeAndNoGraphUnderNoGradGuard) {
  Config c;
  c.layers = 2;
  c.states = true;
  const Arguments a = make_arguments(c, kFloat32, 1, true);
  {
    NoGradGuard guard;
    LstmResult r = lstm(a.input, a.weights, options_of(c, nullptr), a.h0, a.c0);
    for (const Tensor& t : {r.output, r.h_n, r.c_n}) {
      EXPECT_FALSE(t.requires_grad());
      EXPECT_EQ(t.grad_fn(), nullptr);
    }
  }
  LstmResult r = lstm(a.input, a.weights, options_of(c, nullptr), a.h0, a.c0);
  ASSERT_NE(r.output.grad_fn(), nullptr);
  EXPECT_EQ(r.output.grad_fn()->name(), "lstm");
  EXPECT_EQ(r.output.grad_fn(), r.h_n.grad_fn());  // one node for the whole network
  EXPECT_EQ(r.output.grad_fn(), r.c_n.grad_fn());
  EXPECT_EQ(r.c_n.output_nr(), 2u);
  EXPECT_EQ(r.output.grad_fn()->next().size(), 1 + a.weights.size() + 2);
  // Nothing requires grad: no node.
  const Arguments plain = make_arguments(c, kFloat32, 1, false);
  EXPECT_FALSE(lstm(plain.input, plain.weights, options_of(c, nullptr)).output.requires_grad());
  // Only h0 requires grad: recorded.
  Tensor h0 = plain.h0.detach().set_requires_grad(true);
  EXPECT_TRUE(lstm(plain.input, plain.weights, options_of(c, nullptr), h0).h_n.requires_grad());
}

// Gradients reaching only h_n (the output unused) flow back through every step.
TEST(Lstm, GradientThroughFinalStateOnly) {
  Config c;
  c.T = 5;
  c.layers = 2;
  Arguments fused = make_arguments(c, kFloat64, 14, true), composed = make_arguments(c, kFloat64, 14, true);
  sum(lstm(fused.input, fused.weights, options_of(c, nullptr)).h_n).backward();
  sum(lstm_reference_autograd(composed.input, composed.weights, options_of(c, nullptr)).h_n).backward();
  const std::vector<Tensor> a = leaves(fused), b = leaves(composed);
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(close(a[k].grad(), b[k].grad(), 1e-10)) << "leaf " << k;
  // The first time step influences h_n.
  EXPECT_NE(fused.input.grad().to_vector<double>()[0], 0.0);
}

}  // namespace
}  // namespace harnet
