// The attention family: multi_head_attention (fused) on hand-computed examples, against the
// naive loop reference (forward) and against the composed reference (forward and every
// gradient, float64 to 1e-10, float32 loosely) in every configuration; scaled_dot_product_
// attention against its naive forward and backward; masks (fully masked rows give NaN, as
// PyTorch 1.13), dropout (reproducible, off in eval, p = 1), self-attention detection,
// strided inputs, error messages, no graph under NoGradGuard, and bit-identical results for
// 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/attention.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;
using harnet::testing::expect_error;

// |a - b| <= tol * (1 + |b|) elementwise; NaN only against NaN.
::testing::AssertionResult close(const Tensor& a, const Tensor& b, double tol) {
  if (!a.defined() || !b.defined())
    return ::testing::AssertionFailure() << (a.defined() ? "second" : "first") << " tensor undefined";
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  int64_t bad = 0;
  std::ostringstream report;
  report.precision(17);
  for (size_t i = 0; i < x.size(); ++i) {
    const bool ok = std::isnan(y[i]) ? std::isnan(x[i]) : std::abs(x[i] - y[i]) <= tol * (1.0 + std::abs(y[i]));
    if (!ok && bad++ < 5) report << "\n  [" << i << "] " << x[i] << " vs " << y[i];
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << x.size() << " differ (tol " << tol << ")" << report.str();
}

Tensor values(const std::vector<double>& v, const Shape& shape, DType dtype = kFloat64) {
  return from_vector(v, shape, dtype);
}

// ---------------------------------------------------------------- configurations

enum class Kind { Self, SharedKeyValue, Cross };

struct Config {
  std::string name;
  Kind kind = Kind::Self;
  int64_t N = 2, L = 5, S = 7, E = 8, H = 2;
  bool batch_first = false;
  bool unbatched = false;
  bool biases = true;
  bool need_weights = true, average = true;
  // masks: "" none; "bool2", "float2" (attn [L, S]), "bool3", "float3" (attn [N*H, L, S])
  std::string attn = "";
  std::string padding = "";  // "", "bool", "float"
  double dropout = 0.0;
  bool training = true;
};

int64_t source_len(const Config& c) { return c.kind == Kind::Self ? c.L : c.S; }

// Leaves and masks of one configuration; every floating input requires grad.
struct MhaSetup {
  Config c;
  Tensor query, key, value, w_in, b_in, w_out, b_out, attn_mask, padding;

  MhaSetup(const Config& config, DType dtype, uint64_t seed) : c(config) {
    Generator gen(seed);
    const int64_t S = source_len(c);
    auto seq = [&](int64_t len) -> Shape {
      if (c.unbatched) return {len, c.E};
      return c.batch_first ? Shape{c.N, len, c.E} : Shape{len, c.N, c.E};
    };
    query = randn(seq(c.L), gen, dtype).set_requires_grad(true);
    key = c.kind == Kind::Self ? query : randn(seq(S), gen, dtype).set_requires_grad(true);
    value = c.kind == Kind::Cross ? randn(seq(S), gen, dtype).set_requires_grad(true) : key;
    const double w_scale = 1.0 / std::sqrt(static_cast<double>(c.E));
    w_in = randn({3 * c.E, c.E}, gen, dtype, 0.0, w_scale).set_requires_grad(true);
    w_out = randn({c.E, c.E}, gen, dtype, 0.0, w_scale).set_requires_grad(true);
    if (c.biases) {
      b_in = randn({3 * c.E}, gen, dtype, 0.0, 0.1).set_requires_grad(true);
      b_out = randn({c.E}, gen, dtype, 0.0, 0.1).set_requires_grad(true);
    }
    const int64_t N = c.unbatched ? 1 : c.N;
    if (!c.attn.empty()) {
      const bool three = c.attn.back() == '3';
      const Shape shape = three ? Shape{N * c.H, c.L, S} : Shape{c.L, S};
      if (c.attn.rfind("float", 0) == 0) {
        attn_mask = randn(shape, gen, dtype);
      } else {
        // Random, but column 0 always allowed: no fully masked row.
        Tensor u = rand(shape, gen, kFloat64);
        std::vector<bool> v;
        const std::vector<double> uv = u.to_vector<double>();
        for (size_t i = 0; i < uv.size(); ++i) v.push_back(i % static_cast<size_t>(S) != 0 && uv[i] < 0.4);
        attn_mask = from_vector(v, shape, kBool);
      }
    }
    if (!c.padding.empty()) {
      const Shape shape = c.unbatched ? Shape{S} : Shape{N, S};
      if (c.padding == "float") {
        padding = randn(shape, gen, dtype);
      } else {
        // The last keys of each batch element, more for later elements; key 0 is never padding.
        std::vector<bool> v;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t s = 0; s < S; ++s) v.push_back(s > 0 && s >= S - 1 - (n % (S - 1)));
        padding = from_vector(v, shape, kBool);
      }
    }
  }

  std::vector<Tensor> leaves() const {
    std::vector<Tensor> l{query};
    if (c.kind != Kind::Self) l.push_back(key);
    if (c.kind == Kind::Cross) l.push_back(value);
    for (const Tensor& t : {w_in, b_in, w_out, b_out})
      if (t.defined()) l.push_back(t);
    return l;
  }

  MhaOptions options(Generator* gen) const {
    MhaOptions o;
    o.num_heads = c.H;
    o.dropout = c.dropout;
    o.training = c.training;
    o.batch_first = c.batch_first;
    o.need_weights = c.need_weights;
    o.average_attn_weights = c.average;
    o.generator = gen;
    return o;
  }

  using Impl = MhaResult (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                             const Tensor&, const Tensor&, const MhaOptions&, const Tensor&, const Tensor&);
  MhaResult run(Impl impl, uint64_t dropout_seed = 5) const {
    Generator gen(dropout_seed);
    return impl(query, key, value, w_in, b_in, w_out, b_out, options(&gen), padding, attn_mask);
  }
};

// Output, weights, then the gradient of every leaf for fixed random upstream gradients.
std::vector<Tensor> forward_backward(const MhaSetup& s, MhaSetup::Impl impl) {
  for (const Tensor& t : s.leaves()) const_cast<Tensor&>(t).zero_grad();
  const MhaResult r = s.run(impl);
  Generator gen(77);
  const Tensor g_out = randn(r.output.shape(), gen, r.output.dtype());
  std::vector<Tensor> results{r.output.detach()};
  if (r.attn_weights.defined()) {
    results.push_back(r.attn_weights.detach());
    const Tensor g_w = randn(r.attn_weights.shape(), gen, r.output.dtype());
    r.output.backward(g_out, /*retain_graph=*/true);
    r.attn_weights.backward(g_w);
  } else {
    r.output.backward(g_out);
  }
  for (const Tensor& t : s.leaves()) results.push_back(t.grad());
  return results;
}

const std::vector<Config>& configs() {
  static const std::vector<Config> all = [] {
    std::vector<Config> v;
    v.push_back({.name = "self, 2 heads, averaged weights"});
    v.push_back({.name = "self, 1 head, per-head weights", .H = 1, .average = false});
    v.push_back({.name = "self, 4 heads, no weights", .H = 4, .need_weights = false});
    v.push_back({.name = "self batch_first, 2 heads", .batch_first = true});
    v.push_back({.name = "self unbatched, 2 heads, per head", .unbatched = true, .average = false});
    v.push_back({.name = "cross, 2 heads", .kind = Kind::Cross});
    v.push_back({.name = "cross batch_first, 4 heads, per head", .kind = Kind::Cross, .H = 4, .batch_first = true,
                 .average = false});
    v.push_back({.name = "key is value, 2 heads", .kind = Kind::SharedKeyValue});
    v.push_back({.name = "key is value, unbatched, bool key_padding_mask", .kind = Kind::SharedKeyValue,
                 .unbatched = true, .padding = "bool"});
    v.push_back({.name = "cross, no biases, 1 head", .kind = Kind::Cross, .H = 1, .biases = false});
    v.push_back({.name = "self, bool attn_mask 2-d", .attn = "bool2"});
    v.push_back({.name = "self, float attn_mask 3-d", .attn = "float3"});
    v.push_back({.name = "cross, bool attn_mask 3-d, per head", .kind = Kind::Cross, .average = false,
                 .attn = "bool3"});
    v.push_back({.name = "cross, float attn_mask 2-d", .kind = Kind::Cross, .attn = "float2"});
    v.push_back({.name = "cross, bool key_padding_mask", .kind = Kind::Cross, .padding = "bool"});
    v.push_back({.name = "self batch_first, float key_padding_mask", .batch_first = true, .padding = "float"});
    v.push_back({.name = "cross, bool attn 2-d + bool padding", .kind = Kind::Cross, .attn = "bool2",
                 .padding = "bool"});
    v.push_back({.name = "cross, float attn 3-d + float padding", .kind = Kind::Cross, .attn = "float3",
                 .padding = "float"});
    v.push_back({.name = "self, bool attn 3-d + float padding, no weights", .need_weights = false,
                 .attn = "bool3", .padding = "float"});
    v.push_back({.name = "self, odd sizes L=1", .N = 3, .L = 1, .E = 6, .H = 3});
    v.push_back({.name = "cross, S=1, batch 1", .kind = Kind::Cross, .N = 1, .L = 4, .S = 1, .E = 4});
    return v;
  }();
  return all;
}

// ---------------------------------------------------------------- hand-computed

// Identity projections, E = 2. One head (d = 2): scores = q.k / sqrt 2 = [0, ln 3] for
// q = [sqrt 2, 0], k = [0, 0], [ln 3, 0]: weights [1/4, 3/4], output 1/4 v1 + 3/4 v2.
TEST(MultiHeadAttention, OneHeadByHand) {
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor w_in = values({1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1}, {6, 2}, dtype);
    const Tensor w_out = values({1, 0, 0, 1}, {2, 2}, dtype);
    const Tensor q = values({std::sqrt(2.0), 0}, {1, 1, 2}, dtype);
    const Tensor k = values({0, 0, std::log(3.0), 0}, {2, 1, 2}, dtype);
    const Tensor v = values({4, 0, 0, 8}, {2, 1, 2}, dtype);
    MhaOptions o;
    o.num_heads = 1;
    // key and value distinct tensors: the cross path.
    const MhaResult r = multi_head_attention(q, k, v, w_in, Tensor(), w_out, Tensor(), o);
    EXPECT_EQ(r.output.shape(), (Shape{1, 1, 2}));
    EXPECT_TRUE(close(r.output, values({1, 6}, {1, 1, 2}), 1e-6));
    EXPECT_TRUE(close(r.attn_weights, values({0.25, 0.75}, {1, 1, 2}), 1e-6));
    EXPECT_EQ(r.output.dtype(), dtype);
  }
}

// Two heads of size 1 (scale 1): head 0 sees column 0 (scores [0, ln 3] -> [1/4, 3/4]), head 1
// column 1 (scores [0, 0] -> [1/2, 1/2]). Output [1/4*4 + 3/4*0, 1/2*2 + 1/2*6] = [1, 4];
// averaged weights [3/8, 5/8]; per head [[1/4, 3/4], [1/2, 1/2]]. Biases shift the output.
TEST(MultiHeadAttention, TwoHeadsByHand) {
  const Tensor w_in = values({1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1}, {6, 2});
  const Tensor w_out = values({1, 0, 0, 1}, {2, 2});
  const Tensor b_out = values({10, 20}, {2});
  const Tensor q = values({std::log(3.0), 0}, {1, 1, 2});
  const Tensor kv = values({0, 0, 1, 1}, {2, 1, 2});  // keys [0, 0], [1, 1]
  const Tensor v = values({4, 2, 0, 6}, {2, 1, 2});   // values [4, 2], [0, 6]
  MhaOptions o;
  o.num_heads = 2;
  MhaResult r = multi_head_attention(q, kv, v, w_in, Tensor(), w_out, b_out, o);
  EXPECT_TRUE(close(r.output, values({11, 24}, {1, 1, 2}), 1e-12));
  EXPECT_TRUE(close(r.attn_weights, values({0.375, 0.625}, {1, 1, 2}), 1e-12));
  o.average_attn_weights = false;
  r = multi_head_attention(q, kv, v, w_in, Tensor(), w_out, b_out, o);
  EXPECT_EQ(r.attn_weights.shape(), (Shape{1, 2, 1, 2}));
  EXPECT_TRUE(close(r.attn_weights, values({0.25, 0.75, 0.5, 0.5}, {1, 2, 1, 2}), 1e-12));
  o.need_weights = false;
  r = multi_head_attention(q, kv, v, w_in, Tensor(), w_out, b_out, o);
  EXPECT_FALSE(r.attn_weights.defined());
  // A bool key_padding_mask hiding key 1 puts all weight on key 0: output v1 + bias.
  o.need_weights = true;
  o.average_attn_weights = true;
  r = multi_head_attention(q, kv, v, w_in, Tensor(), w_out, b_out, o, values({0, 1}, {1, 2}, kBool));
  EXPECT_TRUE(close(r.output, values({14, 22}, {1, 1, 2}), 1e-12));
  EXPECT_TRUE(close(r.attn_weights, values({1, 0}, {1, 1, 2}), 1e-12));
  // A float attn_mask adding ln 3 to key 0 in both heads: head 0 [1/2, 1/2], head 1 [3/4, 1/4].
  r = multi_head_attention(q, kv, v, w_in, Tensor(), w_out, b_out, o, Tensor(), values({std::log(3.0), 0}, {1, 2}));
  EXPECT_TRUE(close(r.output, values({10 + 2, 20 + 0.75 * 2 + 0.25 * 6}, {1, 1, 2}), 1e-12));
}

// ---------------------------------------------------------------- against the references

TEST(MultiHeadAttention, MatchesNaiveReferenceForward) {
  for (const Config& c : configs()) {
    for (DType dtype : {kFloat64, kFloat32}) {
      const MhaSetup s(c, dtype, 3);
      const MhaResult fused = s.run(multi_head_attention);
      const MhaResult naive = s.run(multi_head_attention_reference);
      const double tol = dtype == kFloat64 ? 1e-12 : 2e-5;
      EXPECT_TRUE(close(fused.output, naive.output, tol)) << c.name << " " << dtype_name(dtype);
      EXPECT_EQ(fused.attn_weights.defined(), c.need_weights) << c.name;
      if (c.need_weights) {
        EXPECT_TRUE(close(fused.attn_weights, naive.attn_weights, tol)) << c.name;
      }
    }
  }
}

// Forward and the gradient of every input, fused against composed (autograd through the
// primitives). Dropout configurations use the same generator seed in both: the same mask.
void expect_fused_matches_composed(const Config& c) {
  for (DType dtype : {kFloat64, kFloat32}) {
    const MhaSetup s(c, dtype, 11);
    const std::vector<Tensor> fused = forward_backward(s, multi_head_attention);
    const std::vector<Tensor> composed = forward_backward(s, multi_head_attention_composed);
    ASSERT_EQ(fused.size(), composed.size()) << c.name;
    const double tol = dtype == kFloat64 ? 1e-10 : 1e-4;
    for (size_t i = 0; i < fused.size(); ++i)
      EXPECT_TRUE(close(fused[i], composed[i], tol)) << c.name << " " << dtype_name(dtype) << " result " << i;
  }
}

TEST(MultiHeadAttention, FusedMatchesComposedForwardAndGradients) {
  for (const Config& c : configs()) expect_fused_matches_composed(c);
}

TEST(MultiHeadAttention, FusedMatchesComposedWithDropout) {
  expect_fused_matches_composed({.name = "self, dropout 0.3, per head", .average = false, .dropout = 0.3});
  expect_fused_matches_composed({.name = "cross batch_first, dropout 0.1, averaged, masks", .kind = Kind::Cross,
                                 .batch_first = true, .attn = "bool2", .padding = "bool", .dropout = 0.1});
  expect_fused_matches_composed({.name = "self, dropout 0.5, no weights", .H = 4, .need_weights = false,
                                 .dropout = 0.5});
}

TEST(MultiHeadAttention, FusedMatchesComposedAtHarnetWidth) {
  // d = 128, 4 heads (head size 32), T = 20 frames, batch 3, batch_first self-attention.
  expect_fused_matches_composed({.name = "HARNet width", .N = 3, .L = 20, .E = 128, .H = 4, .batch_first = true,
                                 .need_weights = false});
}

// Only some inputs require grad: the others get none, the rest are unchanged.
TEST(MultiHeadAttention, GradientsOnlyWhereNeeded) {
  const Config c{.name = "cross", .kind = Kind::Cross};
  MhaSetup full(c, kFloat64, 4);
  const std::vector<Tensor> expected = forward_backward(full, multi_head_attention_composed);
  // Only value requires grad: the core's dQ / dK are skipped.
  {
    MhaSetup s(c, kFloat64, 4);
    for (Tensor* t : {&s.query, &s.key, &s.w_in, &s.b_in, &s.w_out, &s.b_out}) *t = t->detach();
    const MhaResult r = s.run(multi_head_attention);
    Generator gen(77);
    r.output.backward(randn(r.output.shape(), gen, kFloat64), true);
    r.attn_weights.backward(randn(r.attn_weights.shape(), gen, kFloat64));
    EXPECT_TRUE(close(s.value.grad(), expected[4], 1e-10));
    EXPECT_FALSE(s.query.grad().defined());
  }
  // Only the out-projection requires grad: the core needs no gradient at all.
  {
    MhaSetup s(c, kFloat64, 4);
    for (Tensor* t : {&s.query, &s.key, &s.value, &s.w_in, &s.b_in}) *t = t->detach();
    const MhaResult r = s.run(multi_head_attention);
    EXPECT_FALSE(r.attn_weights.requires_grad());
    Generator gen(77);
    r.output.backward(randn(r.output.shape(), gen, kFloat64));
    EXPECT_TRUE(close(s.w_out.grad(), expected[7], 1e-10));
    EXPECT_TRUE(close(s.b_out.grad(), expected[8], 1e-10));
  }
}

// Self-attention is detected by identity; equal but distinct tensors take the cross path.
// Same values either way, and the self gradient is the sum of the three.
TEST(MultiHeadAttention, SelfAttentionEqualsCrossWithEqualInputs) {
  Generator gen(8);
  const Tensor x = randn({5, 2, 8}, gen, kFloat64).set_requires_grad(true);
  const Tensor xq = x.contiguous_copy().set_requires_grad(true), xk = x.contiguous_copy().set_requires_grad(true),
               xv = x.contiguous_copy().set_requires_grad(true);
  const Tensor w_in = randn({24, 8}, gen, kFloat64, 0.0, 0.3), w_out = randn({8, 8}, gen, kFloat64, 0.0, 0.3);
  MhaOptions o;
  o.num_heads = 2;
  const MhaResult self = multi_head_attention(x, x, x, w_in, Tensor(), w_out, Tensor(), o);
  const MhaResult cross = multi_head_attention(xq, xk, xv, w_in, Tensor(), w_out, Tensor(), o);
  EXPECT_TRUE(close(self.output, cross.output, 1e-13));
  EXPECT_TRUE(close(self.attn_weights, cross.attn_weights, 1e-13));
  const Tensor g = randn({5, 2, 8}, gen, kFloat64);
  self.output.backward(g);
  cross.output.backward(g);
  const Tensor sum_of_three = values([&] {
    std::vector<double> v = xq.grad().to_vector<double>(), vk = xk.grad().to_vector<double>(),
                        vv = xv.grad().to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) v[i] += vk[i] + vv[i];
    return v;
  }(), {5, 2, 8});
  EXPECT_TRUE(close(x.grad(), sum_of_three, 1e-12));
}

TEST(MultiHeadAttention, StridedQueryGivesTheSameResult) {
  Generator gen(6);
  const Tensor base = randn({2, 5, 8}, gen, kFloat64);  // [N, L, E] in memory
  const Tensor strided = transpose(base, 0, 1);         // [L, N, E] view, not contiguous
  ASSERT_FALSE(strided.is_contiguous());
  const Tensor w_in = randn({24, 8}, gen, kFloat64), w_out = randn({8, 8}, gen, kFloat64);
  MhaOptions o;
  o.num_heads = 4;
  const MhaResult a = multi_head_attention(strided, strided, strided, w_in, Tensor(), w_out, Tensor(), o);
  const Tensor copy = strided.contiguous_copy();
  const MhaResult b = multi_head_attention(copy, copy, copy, w_in, Tensor(), w_out, Tensor(), o);
  EXPECT_TRUE(close(a.output, b.output, 1e-14));
  EXPECT_TRUE(close(a.attn_weights, b.attn_weights, 1e-14));
  // batch_first on the memory order gives the same values, transposed.
  o.batch_first = true;
  const MhaResult c = multi_head_attention(base, base, base, w_in, Tensor(), w_out, Tensor(), o);
  EXPECT_TRUE(close(transpose(c.output, 0, 1).contiguous_copy(), a.output, 1e-13));
  EXPECT_TRUE(close(c.attn_weights, a.attn_weights, 1e-13));
}

// Empty sizes, as PyTorch: no keys (S = 0) gives zero attention and the out-projection's
// bias; an empty batch gives empty results. Gradients flow without error.
TEST(MultiHeadAttention, EmptySourceAndEmptyBatch) {
  Generator gen(1);
  const Tensor q = randn({3, 2, 4}, gen, kFloat64).set_requires_grad(true);
  const Tensor k = randn({0, 2, 4}, gen, kFloat64).set_requires_grad(true);
  const Tensor w_in = randn({12, 4}, gen, kFloat64), w_out = randn({4, 4}, gen, kFloat64);
  const Tensor b_out = values({1, 2, 3, 4}, {4});
  MhaOptions o;
  o.num_heads = 2;
  for (auto impl : {multi_head_attention, multi_head_attention_composed, multi_head_attention_reference}) {
    const MhaResult r = impl(q, k, k, w_in, Tensor(), w_out, b_out, o, Tensor(), Tensor());
    EXPECT_EQ(r.attn_weights.shape(), (Shape{2, 3, 0}));
    EXPECT_TRUE(close(r.output, expand(b_out, {3, 2, 4}).contiguous_copy(), 0.0));
  }
  const MhaResult r = multi_head_attention(q, k, k, w_in, Tensor(), w_out, b_out, o);
  r.output.backward(ones({3, 2, 4}, kFloat64));
  EXPECT_TRUE(close(q.grad(), zeros({3, 2, 4}, kFloat64), 0.0));
  const Tensor empty_batch = randn({3, 0, 4}, gen, kFloat64).set_requires_grad(true);
  const MhaResult e = multi_head_attention(empty_batch, empty_batch, empty_batch, w_in, Tensor(), w_out, b_out, o);
  EXPECT_EQ(e.output.shape(), (Shape{3, 0, 4}));
  EXPECT_EQ(e.attn_weights.shape(), (Shape{0, 3, 3}));
  sum(e.output).backward();
  EXPECT_EQ(empty_batch.grad().shape(), (Shape{3, 0, 4}));
}

// ---------------------------------------------------------------- masks

// A query row that may attend to nothing: NaN in its output and weights (PyTorch 1.13's
// softmax over all -inf), in every implementation; the other rows stay finite and correct.
TEST(MultiHeadAttention, FullyMaskedRowIsNaN) {
  Generator gen(2);
  const int64_t L = 3, S = 4, N = 2, E = 4;
  const Tensor q = randn({L, N, E}, gen, kFloat64), k = randn({S, N, E}, gen, kFloat64);
  const Tensor w_in = randn({3 * E, E}, gen, kFloat64), w_out = randn({E, E}, gen, kFloat64);
  std::vector<bool> m(static_cast<size_t>(L * S), false);
  for (int64_t s = 0; s < S; ++s) m[static_cast<size_t>(1 * S + s)] = true;  // query 1 sees nothing
  const Tensor attn_mask = from_vector(m, {L, S}, kBool);
  MhaOptions o;
  o.num_heads = 2;
  for (auto impl : {multi_head_attention, multi_head_attention_composed, multi_head_attention_reference}) {
    const MhaResult r = impl(q, k, k, w_in, Tensor(), w_out, Tensor(), o, Tensor(), attn_mask);
    const std::vector<double> out = r.output.to_vector<double>(), w = r.attn_weights.to_vector<double>();
    for (int64_t l = 0; l < L; ++l)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t e = 0; e < E; ++e)
          EXPECT_EQ(std::isnan(out[static_cast<size_t>((l * N + n) * E + e)]), l == 1) << l << " " << n << " " << e;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l)
        for (int64_t s = 0; s < S; ++s) EXPECT_EQ(std::isnan(w[static_cast<size_t>((n * L + l) * S + s)]), l == 1);
  }
  // A whole batch element padded: all its rows NaN, the other element finite.
  const Tensor padding = values({0, 0, 0, 0, 1, 1, 1, 1}, {N, S}, kBool);
  const MhaResult r = multi_head_attention(q, k, k, w_in, Tensor(), w_out, Tensor(), o, padding);
  const std::vector<double> out = r.output.to_vector<double>();
  for (int64_t l = 0; l < L; ++l)
    for (int64_t n = 0; n < N; ++n)
      EXPECT_EQ(std::isnan(out[static_cast<size_t>((l * N + n) * E)]), n == 1);
}

// A float mask of -inf is a bool mask: the same result.
TEST(MultiHeadAttention, MinusInfinityFloatMaskEqualsBoolMask) {
  MhaSetup s({.name = "cross", .kind = Kind::Cross, .attn = "bool2", .padding = "bool"}, kFloat64, 5);
  const MhaResult with_bool = s.run(multi_head_attention);
  auto as_float = [](const Tensor& mask) {
    std::vector<double> v;
    for (bool b : mask.to_vector<bool>()) v.push_back(b ? -INFINITY : 0.0);
    return values(v, mask.shape());
  };
  s.attn_mask = as_float(s.attn_mask);
  s.padding = as_float(s.padding);
  const MhaResult with_float = s.run(multi_head_attention);
  EXPECT_TRUE(close(with_float.output, with_bool.output, 0.0));
  EXPECT_TRUE(close(with_float.attn_weights, with_bool.attn_weights, 0.0));
}

// ---------------------------------------------------------------- dropout

TEST(MultiHeadAttention, DropoutIsReproducibleAndOffInEval) {
  const Config c{.name = "self", .H = 2, .average = false, .dropout = 0.4};
  const MhaSetup s(c, kFloat64, 9);
  const MhaResult a = s.run(multi_head_attention, 1), b = s.run(multi_head_attention, 1);
  const MhaResult other = s.run(multi_head_attention, 2);
  EXPECT_TRUE(close(a.output, b.output, 0.0));
  EXPECT_FALSE(close(a.output, other.output, 1e-3));
  // Kept weights are the probabilities scaled by 1 / (1 - p); about 60 % are kept.
  Config no_dropout = c;
  no_dropout.dropout = 0.0;
  const MhaResult plain = MhaSetup(no_dropout, kFloat64, 9).run(multi_head_attention);
  const std::vector<double> w = a.attn_weights.to_vector<double>(), p = plain.attn_weights.to_vector<double>();
  int64_t kept = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0.0) continue;
    ++kept;
    EXPECT_NEAR(w[i], p[i] / 0.6, 1e-12);
  }
  EXPECT_GT(kept, 0.4 * static_cast<double>(w.size()));
  EXPECT_LT(kept, 0.8 * static_cast<double>(w.size()));
  // Not training: no dropout, and no generator needed.
  Config eval = c;
  eval.training = false;
  const MhaSetup e(eval, kFloat64, 9);
  MhaOptions o = e.options(nullptr);
  const MhaResult r = multi_head_attention(e.query, e.key, e.value, e.w_in, e.b_in, e.w_out, e.b_out, o);
  EXPECT_TRUE(close(r.output, plain.output, 0.0));
  EXPECT_TRUE(close(r.attn_weights, plain.attn_weights, 0.0));
}

TEST(MultiHeadAttention, DropoutOfOneZeroesTheWeights) {
  const MhaSetup s({.name = "self", .dropout = 1.0}, kFloat64, 3);
  const MhaResult r = s.run(multi_head_attention);
  for (double w : r.attn_weights.to_vector<double>()) EXPECT_EQ(w, 0.0);
  // The output is the out-projection's bias at every position.
  const std::vector<double> out = r.output.to_vector<double>(), bias = s.b_out.to_vector<double>();
  for (size_t i = 0; i < out.size(); ++i) EXPECT_DOUBLE_EQ(out[i], bias[i % bias.size()]);
}

TEST(AttentionDropoutScale, ValuesFrequencyAndDeterminism) {
  Generator gen(3), same(3);
  const Tensor t = attention_dropout_scale({40, 500}, 0.25, gen, kFloat32);
  EXPECT_TRUE(close(t, attention_dropout_scale({40, 500}, 0.25, same, kFloat32), 0.0));
  // One 64-bit draw per call: both generators are in step afterwards.
  EXPECT_EQ(gen.next_u64(), same.next_u64());
  int64_t kept = 0;
  for (float x : t.to_vector<float>()) {
    EXPECT_TRUE(x == 0.0f || x == static_cast<float>(1.0 / 0.75)) << x;
    kept += x != 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(kept) / 20000.0, 0.75, 0.015);  // ~5 standard deviations
  // Every element is a function of the key and its index: any thread count, any shape.
  Generator a(4), b(4);
  Tensor one, two;
  {
    ScopedThreads threads(1);
    one = attention_dropout_scale({300, 700}, 0.5, a, kFloat64);
  }
  {
    ScopedThreads threads(2);
    two = attention_dropout_scale({210000}, 0.5, b, kFloat64);
  }
  EXPECT_EQ(one.to_vector<double>(), two.to_vector<double>());
  Generator g0(1);
  for (double x : attention_dropout_scale({10}, 0.0, g0, kFloat64).to_vector<double>()) EXPECT_EQ(x, 1.0);
  for (double x : attention_dropout_scale({10}, 1.0, g0, kFloat64).to_vector<double>()) EXPECT_EQ(x, 0.0);
  expect_error([&] { attention_dropout_scale({2}, 1.5, g0, kFloat64); }, "between 0 and 1");
}

// ---------------------------------------------------------------- scaled_dot_product_attention

struct SdpaCase {
  int64_t B, L, S, d, dv;
  std::string mask;  // "", "bool2", "float3", ...
};

TEST(ScaledDotProductAttention, MatchesNaiveForwardAndBackward) {
  const std::vector<SdpaCase> cases = {{2, 3, 4, 2, 3, ""},      {3, 5, 5, 4, 4, "bool2"}, {2, 1, 6, 3, 2, "float3"},
                                       {1, 7, 2, 5, 1, "bool3"}, {4, 6, 9, 8, 8, "float2"}};
  for (const SdpaCase& c : cases)
    for (DType dtype : {kFloat64, kFloat32})
      for (bool need_weights : {false, true}) {
        Generator gen(12);
        const Tensor q = randn({c.B, c.L, c.d}, gen, dtype).set_requires_grad(true);
        const Tensor k = randn({c.B, c.S, c.d}, gen, dtype).set_requires_grad(true);
        const Tensor v = randn({c.B, c.S, c.dv}, gen, dtype).set_requires_grad(true);
        Tensor mask;
        const Shape mask_shape = c.mask.empty() || c.mask.back() == '2' ? Shape{c.L, c.S} : Shape{c.B, c.L, c.S};
        if (c.mask.rfind("float", 0) == 0) mask = randn(mask_shape, gen, dtype);
        if (c.mask.rfind("bool", 0) == 0) {
          std::vector<bool> m;
          const std::vector<double> u = rand(mask_shape, gen, kFloat64).to_vector<double>();
          for (size_t i = 0; i < u.size(); ++i) m.push_back(i % static_cast<size_t>(c.S) != 0 && u[i] < 0.5);
          mask = from_vector(m, mask_shape, kBool);
        }
        const SdpaResult r = scaled_dot_product_attention(q, k, v, mask, 0.0, nullptr, need_weights);
        const SdpaResult naive = scaled_dot_product_attention_reference(q, k, v, mask);
        const double tol = dtype == kFloat64 ? 1e-12 : 2e-5;
        EXPECT_TRUE(close(r.output, naive.output, tol));
        if (need_weights) {
          EXPECT_TRUE(close(r.attn_weights, naive.attn_weights, tol));
        }
        const Tensor g_out = randn(r.output.shape(), gen, dtype);
        const Tensor g_w = need_weights ? randn(r.attn_weights.shape(), gen, dtype) : Tensor();
        if (need_weights) {
          r.output.backward(g_out, true);
          r.attn_weights.backward(g_w);
        } else {
          r.output.backward(g_out);
        }
        const SdpaGradients expected = scaled_dot_product_attention_backward_reference(q, k, v, mask, g_out, g_w);
        EXPECT_TRUE(close(q.grad(), expected.q, tol)) << c.B << "x" << c.L << "x" << c.S << " " << c.mask;
        EXPECT_TRUE(close(k.grad(), expected.k, tol));
        EXPECT_TRUE(close(v.grad(), expected.v, tol));
      }
}

TEST(ScaledDotProductAttention, StridedInputsAndDropout) {
  Generator gen(4);
  const Tensor qt = randn({2, 4, 3}, gen, kFloat64).set_requires_grad(true);  // q = qt^T(-1,-2): [2, 3, 4]
  const Tensor k = randn({2, 5, 4}, gen, kFloat64), v = randn({2, 5, 2}, gen, kFloat64);
  const Tensor q = transpose(qt, 1, 2);
  const SdpaResult a = scaled_dot_product_attention(q, k, v);
  const SdpaResult b = scaled_dot_product_attention(q.contiguous_copy(), k, v);
  EXPECT_TRUE(close(a.output, b.output, 1e-14));
  a.output.backward(ones(a.output.shape(), kFloat64));
  EXPECT_EQ(qt.grad().shape(), (Shape{2, 4, 3}));
  // Dropout: the weights are the probabilities times the factors of the same generator seed.
  Generator g1(5), g2(5);
  const SdpaResult dropped = scaled_dot_product_attention(q, k, v, Tensor(), 0.5, &g1, true);
  const Tensor factors = attention_dropout_scale({2, 3, 5}, 0.5, g2, kFloat64);
  const SdpaResult plain = scaled_dot_product_attention(q, k, v, Tensor(), 0.0, nullptr, true);
  const std::vector<double> w = dropped.attn_weights.to_vector<double>(), p = plain.attn_weights.to_vector<double>(),
                            f = factors.to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) EXPECT_DOUBLE_EQ(w[i], p[i] * f[i]);
}

// ---------------------------------------------------------------- errors, grad mode, threads

TEST(AttentionErrors, MultiHeadAttention) {
  Generator gen(0);
  const Tensor x = randn({3, 2, 4}, gen), w_in = randn({12, 4}, gen), w_out = randn({4, 4}, gen);
  MhaOptions o;
  o.num_heads = 2;
  auto call = [&](const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& wi, const Tensor& bi,
                  const Tensor& wo, const MhaOptions& opt, const Tensor& kpm = Tensor(), const Tensor& am = Tensor()) {
    multi_head_attention(q, k, v, wi, bi, wo, Tensor(), opt, kpm, am);
  };
  expect_error([&] { call(randn({2, 3, 2, 4}, gen), x, x, w_in, Tensor(), w_out, o); },
               "multi_head_attention: expected a 3-d query");
  expect_error([&] { call(x, randn({4, 2, 4}, gen), randn({5, 2, 4}, gen), w_in, Tensor(), w_out, o); },
               "key shape [4, 2, 4] does not match value shape [5, 2, 4]");
  expect_error([&] { call(x, randn({4, 3, 4}, gen), randn({4, 3, 4}, gen), w_in, Tensor(), w_out, o); },
               "have different batch sizes");
  expect_error([&] { call(x, randn({4, 2, 6}, gen), randn({4, 2, 6}, gen), w_in, Tensor(), w_out, o); },
               "key embedding size 6 differs from query's 4");
  MhaOptions three = o;
  three.num_heads = 3;
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, three); }, "embed_dim 4 not divisible by num_heads 3");
  MhaOptions zero = o;
  zero.num_heads = 0;
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, zero); }, "num_heads must be positive");
  expect_error([&] { call(x, x, x, randn({8, 4}, gen), Tensor(), w_out, o); },
               "in_proj_weight must have shape [12, 4] for embed_dim 4, got [8, 4]");
  expect_error([&] { call(x, x, x, w_in, randn({4}, gen), w_out, o); }, "in_proj_bias must have shape [12]");
  expect_error([&] { call(x, x, x, w_in, Tensor(), randn({4, 3}, gen), o); }, "out_proj_weight must have shape [4, 4]");
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, o, zeros({3, 3}, kBool)); },
               "expecting key_padding_mask shape of [2, 3] [N, S], but got [3, 3]");
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, o, zeros({2, 3}, kInt64)); },
               "key_padding_mask must be bool or floating");
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, o, Tensor(), zeros({3, 4}, kBool)); },
               "the shape of the 2-d attn_mask is [3, 4], but should be [3, 3] [L, S]");
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, o, Tensor(), zeros({2, 3, 3}, kBool)); },
               "the shape of the 3-d attn_mask is [2, 3, 3], but should be [4, 3, 3]");
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, o, Tensor(), zeros({3}, kBool)); },
               "attn_mask must be 2-d [L, S] or 3-d");
  expect_error([&] { call(x, x, x, randn({12, 4}, gen, kFloat64), Tensor(), w_out, o); },
               "dtype mismatch, query is float32 but in_proj_weight is float64");
  expect_error([&] { call(zeros({3, 2, 4}, kInt64), x, x, w_in, Tensor(), w_out, o); },
               "query must be float32 or float64");
  MhaOptions drop = o;
  drop.dropout = 0.1;
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, drop); }, "needs a generator");
  drop.dropout = 1.5;
  expect_error([&] { call(x, x, x, w_in, Tensor(), w_out, drop); }, "between 0 and 1, but got 1.5");
  expect_error([&] { call(randn({3, 4}, gen), x, x, w_in, Tensor(), w_out, o); },
               "for an unbatched (2-d) query, key and value must be 2-d too");
  expect_error([&] { call(x, Tensor(), x, w_in, Tensor(), w_out, o); }, "must all be defined");
  // The composed and naive versions check the same way.
  expect_error([&] { multi_head_attention_composed(x, x, x, w_in, Tensor(), w_out, Tensor(), three); },
               "multi_head_attention_composed: embed_dim 4 not divisible by num_heads 3");
  expect_error([&] { multi_head_attention_reference(x, x, x, w_in, Tensor(), w_out, Tensor(), three); },
               "multi_head_attention_reference: embed_dim 4 not divisible");
}

TEST(AttentionErrors, ScaledDotProductAttention) {
  Generator gen(0);
  const Tensor q = randn({2, 3, 4}, gen), k = randn({2, 5, 4}, gen), v = randn({2, 5, 6}, gen);
  expect_error([&] { scaled_dot_product_attention(randn({3, 4}, gen), k, v); }, "expected 3-d q [B, L, d]");
  expect_error([&] { scaled_dot_product_attention(q, randn({2, 5, 3}, gen), v); }, "differ in their last dimension");
  expect_error([&] { scaled_dot_product_attention(q, k, randn({2, 4, 6}, gen)); }, "differ in their sequence length");
  expect_error([&] { scaled_dot_product_attention(q, k, randn({3, 5, 6}, gen)); }, "batch sizes of q");
  expect_error([&] { scaled_dot_product_attention(q, k, v, zeros({3, 4}, kBool)); },
               "attn_mask must have shape [3, 5] or [2, 3, 5], got [3, 4]");
  expect_error([&] { scaled_dot_product_attention(q, k, v, Tensor(), 0.2); }, "needs a generator");
  expect_error([&] { scaled_dot_product_attention(q, k, randn({2, 5, 6}, gen, kFloat64)); }, "dtype mismatch");
}

TEST(AttentionGradMode, NoGraphUnderNoGradGuard) {
  const MhaSetup s({.name = "cross", .kind = Kind::Cross}, kFloat32, 1);
  NoGradGuard guard;
  for (auto impl : {multi_head_attention, multi_head_attention_composed}) {
    const MhaResult r = s.run(impl);
    EXPECT_FALSE(r.output.requires_grad());
    EXPECT_FALSE(r.output.grad_fn());
    EXPECT_FALSE(r.attn_weights.requires_grad());
  }
  Generator gen(2);
  const Tensor q = randn({2, 3, 4}, gen).set_requires_grad(true), kv = randn({2, 5, 4}, gen).set_requires_grad(true);
  const SdpaResult r = scaled_dot_product_attention(q, kv, kv, Tensor(), 0.0, nullptr, true);
  EXPECT_FALSE(r.output.grad_fn());
  EXPECT_FALSE(r.attn_weights.grad_fn());
}

// A graph that is dropped frees its saved tensors: the core's node must not own its outputs.
TEST(AttentionGradMode, NoReferenceCycle) {
  const MhaSetup s({.name = "self", .average = false}, kFloat32, 1);
  std::weak_ptr<Node> node;
  {
    const MhaResult r = s.run(multi_head_attention);
    node = r.attn_weights.grad_fn();
    ASSERT_FALSE(node.expired());
    EXPECT_EQ(node.lock()->name(), "attention_core");
  }
  EXPECT_TRUE(node.expired());
}

// HARNet-like sizes, dropout included: forward and all gradients identical for 1 and 2 threads.
TEST(MultiHeadAttention, IdenticalForAnyThreadCount) {
  const Config c{.name = "self batch_first", .N = 8, .L = 30, .E = 64, .H = 4, .batch_first = true,
                 .average = false, .attn = "bool2", .dropout = 0.1};
  auto run = [&](int threads) {
    ScopedThreads scoped(threads);
    const MhaSetup s(c, kFloat32, 21);
    std::vector<std::vector<float>> all;
    for (const Tensor& t : forward_backward(s, multi_head_attention)) all.push_back(t.to_vector<float>());
    return all;
  };
  const auto one = run(1);
  EXPECT_TRUE(one == run(2));
  EXPECT_TRUE(one == run(2));
}

}  // namespace
}  // namespace harnet
