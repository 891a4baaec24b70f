// Pooling (ops/pool.h): hand-computed values, PyTorch's output-size rule (sizes checked
// against PyTorch 1.13), the kernels against the naive references (forward, indices and
// backward, float64 tight and float32 loose) over many shapes and options, strided and
// unbatched inputs, ties / NaN / -inf, argument errors, no graph under NoGradGuard, and
// bit-identical results for 1 and 2 threads.
#include <gtest/gtest.h>

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
#include "ops/pool.h"
#include "ops/shape.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Expects fn to throw a harnet::Error whose message contains every fragment.
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

// 0, 1, 2, ... in the given shape.
Tensor iota(const Shape& shape, DType dtype = kFloat64) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return values(v, shape, dtype);
}

// Elementwise |a - b| <= tol * (1 + |b|); NaN matches NaN; same shape and dtype.
::testing::AssertionResult close(const Tensor& a, const Tensor& b, double tol) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(a.dtype()) << " vs " << dtype_name(b.dtype());
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) {
    const bool both_nan = std::isnan(av[i]) && std::isnan(bv[i]);
    if (!both_nan && !(std::fabs(av[i] - bv[i]) <= tol * (1.0 + std::fabs(bv[i])) || av[i] == bv[i]))
      return ::testing::AssertionFailure() << "element " << i << ": " << av[i] << " vs " << bv[i];
  }
  return ::testing::AssertionSuccess();
}

double tol_of(DType dtype) { return dtype == kFloat32 ? 1e-5 : 1e-12; }

// ---------------------------------------------------------------- hand-computed values

TEST(MaxPool, TwoByTwoOnARamp) {
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = iota({1, 1, 4, 4}, dt);
    const auto [out, indices] = max_pool2d_with_indices(x, 2);
    EXPECT_EQ(out.shape(), (Shape{1, 1, 2, 2}));
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{5, 7, 13, 15}));
    EXPECT_EQ(indices.dtype(), kInt64);
    EXPECT_EQ(indices.to_vector<int64_t>(), (std::vector<int64_t>{5, 7, 13, 15}));
    EXPECT_EQ(max_pool2d(x, 2).to_vector<double>(), out.to_vector<double>());
  }
}

// HARNet's joints -> limbs pooling: (1, 2) windows, ceil_mode keeps the odd last joint.
TEST(MaxPool, HarnetWindowWithCeilMode) {
  const Tensor x = values({3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, {1, 1, 2, 5});
  const Tensor ceil = max_pool2d(x, {1, 2}, {.ceil_mode = true});
  EXPECT_EQ(ceil.shape(), (Shape{1, 1, 2, 3}));
  EXPECT_EQ(ceil.to_vector<double>(), (std::vector<double>{3, 4, 5, 9, 6, 3}));
  const Tensor floor = max_pool2d(x, {1, 2});
  EXPECT_EQ(floor.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(floor.to_vector<double>(), (std::vector<double>{3, 4, 9, 6}));
}

TEST(MaxPool, PaddingIsMinusInfinityAndNeverChosen) {
  // All values negative: a zero padding would win; -inf padding never does.
  const Tensor x = values({-5, -3, -4, -1, -2, -6}, {1, 6});
  const auto [out, indices] = max_pool1d_with_indices(x, 2, {.padding = 1});
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{-5, -3, -1, -6}));
  EXPECT_EQ(indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 3, 5}));
}

TEST(MaxPool, TiesGoToTheFirstPositionNaNWinsAllMinusInfReportsTheFirst) {
  const Tensor x = values({2, 2, 1, kNaN, 3, -kInf, -kInf, 0.0, -0.0}, {1, 9});
  const auto [out, indices] = max_pool1d_with_indices(x, 3, {.stride = 1});
  const std::vector<double> v = out.to_vector<double>();
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v[0], 2.0);
  EXPECT_TRUE(std::isnan(v[1]) && std::isnan(v[2]) && std::isnan(v[3]));
  EXPECT_EQ(v[4], 3.0);
  EXPECT_EQ(v[5], 0.0);
  EXPECT_EQ(v[6], 0.0);
  EXPECT_EQ(indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 3, 3, 4, 7, 7}));
  const auto [inf_out, inf_indices] = max_pool1d_with_indices(values({1, -kInf, -kInf}, {1, 3}), 2, {.stride = 1});
  EXPECT_EQ(inf_out.to_vector<double>(), (std::vector<double>{1, -kInf}));
  EXPECT_EQ(inf_indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(MaxPool, BackwardRoutesToTheArgmaxAndAccumulatesOverlappingWindows) {
  // Windows of 3 with stride 1 over [1, 5, 2, 0, 4]: maxima 5, 5, 4 -> positions 1, 1, 4.
  const Tensor x = values({1, 5, 2, 0, 4}, {1, 1, 5}).set_requires_grad(true);
  const Tensor out = max_pool1d(x, 3, {.stride = 1});
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{5, 5, 4}));
  out.backward(values({1, 10, 100}, {1, 1, 3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 11, 0, 0, 100}));
}

TEST(AvgPool, TwoByTwoOnARamp) {
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor out = avg_pool2d(iota({1, 1, 4, 4}, dt), 2);
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{2.5, 4.5, 10.5, 12.5}));
  }
}

TEST(AvgPool, PaddingCountedOrNotAndCeilModeWindows) {
  // [0 1 2 3 4], kernel 3, stride 2, padding 1: windows {pad,0,1} {1,2,3} {3,4,pad}.
  const Tensor x = iota({1, 5});
  EXPECT_EQ(avg_pool1d(x, 3, {.stride = 2, .padding = 1}).to_vector<double>(),
            (std::vector<double>{1.0 / 3, 2, 7.0 / 3}));
  EXPECT_EQ(avg_pool1d(x, 3, {.stride = 2, .padding = 1, .count_include_pad = false}).to_vector<double>(),
            (std::vector<double>{0.5, 2, 3.5}));
  // [0 .. 5], kernel 3, stride 2, ceil: windows {0,1,2} {2,3,4} {4,5} -- the last one clipped
  // at the input's end counts 2 elements even with count_include_pad (no padding there).
  EXPECT_EQ(avg_pool1d(iota({1, 6}), 3, {.stride = 2, .ceil_mode = true}).to_vector<double>(),
            (std::vector<double>{1, 3, 4.5}));
  // With padding 1 and ceil: windows {pad,0,1} {1,2,3} {3,4,5} {5,pad} -> the last divides by 2.
  EXPECT_EQ(avg_pool1d(iota({1, 6}), 3, {.stride = 2, .padding = 1, .ceil_mode = true}).to_vector<double>(),
            (std::vector<double>{1.0 / 3, 2, 4, 2.5}));
}

TEST(AvgPool, DivisorOverride) {
  const Tensor out = avg_pool2d(iota({1, 1, 2, 2}), 2, {.divisor_override = 3});
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{2}));
}

TEST(AvgPool, BackwardSpreadsEvenlyOverTheWindow) {
  const Tensor x = iota({1, 1, 2, 4}).set_requires_grad(true);
  avg_pool2d(x, 2).backward(values({4, 8}, {1, 1, 1, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2}));
}

TEST(AdaptiveAvgPool, PyTorchWindows) {
  // 5 -> 3: windows [0, 2), [1, 4), [3, 5).
  EXPECT_EQ(adaptive_avg_pool1d(iota({1, 5}), 3).to_vector<double>(), (std::vector<double>{0.5, 2, 3.5}));
  // 3 -> 5: windows [0,1) [0,2) [1,2) [1,3) [2,3).
  EXPECT_EQ(adaptive_avg_pool1d(iota({1, 3}), 5).to_vector<double>(), (std::vector<double>{0, 0.5, 1, 1.5, 2}));
  // Global average pooling: output size 1.
  const Tensor g = adaptive_avg_pool2d(iota({2, 2, 3}), 1);
  EXPECT_EQ(g.shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{2.5, 8.5}));
}

TEST(AdaptiveAvgPool, BackwardOfOverlappingWindows) {
  const Tensor x = iota({1, 1, 5}).set_requires_grad(true);
  adaptive_avg_pool1d(x, 3).backward(values({2, 3, 4}, {1, 1, 3}));
  // [0,2) gets 2/2 each, [1,4) 3/3, [3,5) 4/2.
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2, 1, 3, 2}));
}

// ---------------------------------------------------------------- output sizes

// {in, kernel, stride, padding, dilation, ceil_mode, out}, out as PyTorch 1.13 computes it.
struct SizeRow {
  int64_t in, kernel, stride, padding, dilation;
  bool ceil_mode;
  int64_t out;
};

TEST(PoolOutputSize, MatchesPyTorch) {
  const std::vector<SizeRow> rows = {
      {5, 2, 2, 1, 1, true, 3},  {5, 2, 2, 0, 1, true, 3},  {5, 2, 2, 0, 1, false, 2}, {6, 3, 2, 1, 1, true, 4},
      {25, 2, 2, 0, 1, true, 13}, {13, 2, 2, 0, 1, true, 7}, {7, 3, 3, 1, 1, true, 3},  {7, 3, 3, 1, 1, false, 3},
      {10, 3, 4, 1, 1, true, 3}, {9, 3, 2, 1, 2, false, 4}, {9, 3, 2, 1, 2, true, 4},  {4, 4, 3, 2, 1, true, 2},
      {1, 1, 1, 0, 1, true, 1},  {8, 2, 3, 1, 1, true, 3}};
  for (const SizeRow& r : rows) {
    const Tensor x = zeros({1, 1, r.in});
    const MaxPool1dOptions o{.stride = r.stride, .padding = r.padding, .dilation = r.dilation, .ceil_mode = r.ceil_mode};
    EXPECT_EQ(max_pool1d(x, r.kernel, o).size(-1), r.out)
        << "in " << r.in << " k " << r.kernel << " s " << r.stride << " p " << r.padding << " d " << r.dilation
        << " ceil " << r.ceil_mode;
    EXPECT_EQ(max_pool2d(zeros({1, r.in, 3}), {r.kernel, 1},
                         {.stride = Pool2dParam{r.stride, 1}, .padding = Pool2dParam{r.padding, 0},
                          .dilation = Pool2dParam{r.dilation, 1}, .ceil_mode = r.ceil_mode})
                  .size(-2),
              r.out);
    if (r.dilation == 1) {
      EXPECT_EQ(avg_pool1d(x, r.kernel, {.stride = r.stride, .padding = r.padding, .ceil_mode = r.ceil_mode}).size(-1),
                r.out);
    }
  }
}

// ---------------------------------------------------------------- kernels against the references

struct PoolConfig {
  Shape shape;
  Pool2dParam kernel, stride, padding, dilation;
  bool ceil_mode;
};

const std::vector<PoolConfig> kConfigs = {
    {{2, 3, 7, 8}, 2, 2, 0, 1, false},
    {{2, 3, 7, 8}, 2, 2, 0, 1, true},
    {{1, 2, 9, 9}, 3, 2, 1, 1, true},
    {{2, 2, 6, 25}, {1, 2}, {1, 2}, 0, 1, true},
    {{1, 3, 8, 13}, {2, 3}, {1, 2}, {1, 1}, 1, false},
    {{1, 2, 11, 10}, {3, 2}, {2, 3}, {1, 1}, {2, 1}, true},
    {{3, 10, 12}, 3, 1, 1, 2, false},
    {{2, 2, 5, 5}, 2, 2, 1, 1, true},
    {{1, 1, 1, 17}, {1, 4}, {1, 3}, {0, 2}, {1, 1}, true},
    {{4, 1, 33, 3}, {5, 3}, {4, 1}, {2, 1}, {1, 1}, true},
};

TEST(MaxPool, MatchesReferenceForwardIndicesAndBackward) {
  for (DType dt : {kFloat64, kFloat32}) {
    uint64_t seed = 0;
    for (const PoolConfig& c : kConfigs) {
      Generator gen(++seed);
      const MaxPool2dOptions o{.stride = c.stride, .padding = c.padding, .dilation = c.dilation, .ceil_mode = c.ceil_mode};
      const Tensor x = randn(c.shape, gen, dt).set_requires_grad(true);
      const auto [out, indices] = max_pool2d_with_indices(x, c.kernel, o);
      const auto [ref_out, ref_indices] = max_pool2d_reference(x.detach(), c.kernel, o);
      SCOPED_TRACE(shape_str(c.shape) + " " + dtype_name(dt));
      EXPECT_TRUE(close(out, ref_out, 0.0));  // a maximum is exact
      EXPECT_EQ(indices.to_vector<int64_t>(), ref_indices.to_vector<int64_t>());
      const Tensor g = randn(out.shape(), gen, dt);
      out.backward(g);
      EXPECT_TRUE(close(x.grad(), max_pool2d_backward_reference(g, x.detach(), c.kernel, o), tol_of(dt)));
      // The plain entry point (int32 argmax storage) gives the same values and gradient.
      const Tensor x2 = x.detach().contiguous_copy().set_requires_grad(true);
      const Tensor out2 = max_pool2d(x2, c.kernel, o);
      EXPECT_TRUE(close(out2, out.detach(), 0.0));
      out2.backward(g);
      EXPECT_TRUE(close(x2.grad(), x.grad(), 0.0));
    }
  }
}

// The pairwise kernel (windows (1, 2), stride (1, 2): one flag per output instead of an
// index) against the reference: even and odd widths in floor and ceil mode, 1-d and 2-d,
// inputs full of ties, NaN and -inf, and an incoming gradient that is a permuted view (as
// HARNet's permute + reshape after the pool hands it back).
TEST(MaxPool, PairwiseWindowsMatchTheReferenceWithTiesNaNAndStridedGradients) {
  const std::vector<double> specials = {1.0, 1.0, kNaN, -kInf, 0.0, -0.0, 2.0, kNaN};
  for (DType dt : {kFloat64, kFloat32}) {
    for (int64_t width : {1, 2, 7, 8, 25}) {
      for (bool ceil_mode : {false, true}) {
        if (!ceil_mode && width == 1) continue;  // no full window
        Generator gen(static_cast<uint64_t>(width));
        const Shape shape = {2, 3, 4, width};
        std::vector<double> v = randn(shape, gen).to_vector<double>();
        for (size_t i = 0; i < v.size(); i += 3) v[i] = specials[(i / 3) % specials.size()];
        const Tensor x = values(v, shape, dt).set_requires_grad(true);
        const MaxPool2dOptions o{.ceil_mode = ceil_mode};
        const Tensor out = max_pool2d(x, {1, 2}, o);
        SCOPED_TRACE(str_cat("width ", width, ceil_mode ? " ceil " : " floor ", dtype_name(dt)));
        EXPECT_TRUE(close(out, max_pool2d_reference(x.detach(), {1, 2}, o).first, 0.0));
        // The gradient as a [2, 4, 3, out_w] tensor seen through a permutation to [2, 3, 4, out_w].
        const Tensor g_storage = randn({2, 4, 3, out.size(-1)}, gen, dt);
        const Shape& st = g_storage.strides();
        const Tensor g = g_storage.as_strided(out.shape(), {st[0], st[2], st[1], 1}, 0);
        ASSERT_FALSE(g.is_contiguous());
        out.backward(g);
        EXPECT_TRUE(close(x.grad(), max_pool2d_backward_reference(g.contiguous_copy(), x.detach(), {1, 2}, o), 0.0));
        // 1-d: the same windows over rows of the [6, 4, width] view.
        const Tensor x1 = reshape(x.detach(), {6, 4, width});
        EXPECT_TRUE(close(max_pool1d(x1, 2, {.ceil_mode = ceil_mode}), reshape(out.detach(), {6, 4, out.size(-1)}), 0.0));
      }
    }
  }
}

TEST(AvgPool, MatchesReferenceForwardAndBackward) {
  for (DType dt : {kFloat64, kFloat32}) {
    uint64_t seed = 100;
    for (const PoolConfig& c : kConfigs) {
      if (c.dilation.h != 1 || c.dilation.w != 1) continue;  // no dilation for average pools
      for (bool include_pad : {true, false}) {
        for (std::optional<int64_t> divisor : {std::optional<int64_t>(), std::optional<int64_t>(7)}) {
          Generator gen(++seed);
          const AvgPool2dOptions o{.stride = c.stride, .padding = c.padding, .ceil_mode = c.ceil_mode,
                                   .count_include_pad = include_pad, .divisor_override = divisor};
          const Tensor x = randn(c.shape, gen, dt).set_requires_grad(true);
          const Tensor out = avg_pool2d(x, c.kernel, o);
          SCOPED_TRACE(shape_str(c.shape) + " " + dtype_name(dt) + (include_pad ? " include pad" : " exclude pad"));
          EXPECT_TRUE(close(out, avg_pool2d_reference(x.detach(), c.kernel, o), tol_of(dt)));
          const Tensor g = randn(out.shape(), gen, dt);
          out.backward(g);
          EXPECT_TRUE(close(x.grad(), avg_pool2d_backward_reference(g, x.shape(), c.kernel, o), tol_of(dt)));
        }
      }
    }
  }
}

TEST(AdaptiveAvgPool, MatchesReferenceForwardAndBackward) {
  struct Case {
    Shape shape;
    Pool2dParam out;
  };
  const std::vector<Case> cases = {{{2, 3, 7, 9}, {3, 4}}, {{1, 2, 60, 25}, 1},    {{2, 5, 5}, {5, 5}},
                                   {{1, 1, 3, 4}, {7, 9}},  {{2, 2, 10, 13}, {4, 1}}, {{1, 3, 1, 8}, {1, 3}}};
  for (DType dt : {kFloat64, kFloat32}) {
    uint64_t seed = 200;
    for (const Case& c : cases) {
      Generator gen(++seed);
      const Tensor x = randn(c.shape, gen, dt).set_requires_grad(true);
      const Tensor out = adaptive_avg_pool2d(x, c.out);
      SCOPED_TRACE(shape_str(c.shape) + " " + dtype_name(dt));
      EXPECT_TRUE(close(out, adaptive_avg_pool2d_reference(x.detach(), c.out), tol_of(dt)));
      const Tensor g = randn(out.shape(), gen, dt);
      out.backward(g);
      EXPECT_TRUE(close(x.grad(), adaptive_avg_pool2d_backward_reference(g, x.shape()), tol_of(dt)));
    }
  }
}

// 1-d pools are 2-d pools over [N, C, 1, L]: the same values as the 2-d reference.
TEST(Pool1d, AgreesWithTheTwoDimensionalReference) {
  Generator gen(3);
  const Tensor x = randn({2, 3, 11}, gen, kFloat64);
  const Tensor x4 = x.as_strided({2, 3, 1, 11}, {33, 11, 11, 1}, 0);
  auto as_3d = [](const Tensor& t) { return t.as_strided({t.size(0), t.size(1), t.size(3)}, {t.strides()[0], t.strides()[1], t.strides()[3]}, t.offset()); };
  {
    const auto [values_1d, indices_1d] = max_pool1d_with_indices(x, 3, {.stride = 2, .padding = 1, .dilation = 2, .ceil_mode = true});
    const auto [ref_values, ref_indices] = max_pool2d_reference(
        x4, {1, 3}, {.stride = Pool2dParam{1, 2}, .padding = Pool2dParam{0, 1}, .dilation = Pool2dParam{1, 2}, .ceil_mode = true});
    EXPECT_TRUE(close(values_1d, as_3d(ref_values).contiguous_copy(), 0.0));
    EXPECT_EQ(indices_1d.to_vector<int64_t>(), ref_indices.to_vector<int64_t>());
  }
  EXPECT_TRUE(close(avg_pool1d(x, 4, {.stride = 3, .padding = 2, .ceil_mode = true, .count_include_pad = false}),
                    as_3d(avg_pool2d_reference(x4, {1, 4},
                                               {.stride = Pool2dParam{1, 3}, .padding = Pool2dParam{0, 2},
                                                .ceil_mode = true, .count_include_pad = false}))
                        .contiguous_copy(),
                    1e-12));
  EXPECT_TRUE(close(adaptive_avg_pool1d(x, 4), as_3d(adaptive_avg_pool2d_reference(x4, {1, 4})).contiguous_copy(),
                    1e-12));
}

// ---------------------------------------------------------------- layouts and shapes

// A view of a contiguous [.., W, H] tensor with its last two dimensions swapped.
Tensor swapped_view(const Tensor& t) {
  Shape shape = t.shape(), strides = t.strides();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return t.as_strided(shape, strides, t.offset());
}

TEST(Pool, StridedInputsGiveTheSameValuesAndGradients) {
  Generator gen(5);
  const Tensor base = randn({2, 3, 9, 7}, gen);
  const Tensor g_max = randn({2, 3, 4, 5}, gen), g_avg = randn({2, 3, 4, 5}, gen), g_ad = randn({2, 3, 3, 2}, gen);
  auto run = [&](const Tensor& x) {
    Tensor leaf = x;  // a leaf of its own: x is a raw view (or copy) of base
    leaf.set_requires_grad(true);
    max_pool2d(leaf, 2, {.ceil_mode = true}).backward(g_max);
    const Tensor grad_max = leaf.grad();
    leaf.zero_grad();
    avg_pool2d(leaf, 3, {.stride = 2, .padding = 1}).backward(g_avg);
    const Tensor grad_avg = leaf.grad();
    leaf.zero_grad();
    adaptive_avg_pool2d(leaf, {3, 2}).backward(g_ad);
    return std::vector<std::vector<float>>{
        max_pool2d(x.detach(), 2, {.ceil_mode = true}).to_vector<float>(), grad_max.to_vector<float>(),
        avg_pool2d(x.detach(), 3, {.stride = 2, .padding = 1}).to_vector<float>(), grad_avg.to_vector<float>(),
        adaptive_avg_pool2d(x.detach(), {3, 2}).to_vector<float>(), leaf.grad().to_vector<float>()};
  };
  const Tensor strided = swapped_view(base);  // [2, 3, 7, 9], not contiguous
  ASSERT_FALSE(strided.is_contiguous());
  EXPECT_TRUE(run(strided) == run(strided.contiguous_copy()));
}

TEST(Pool, UnbatchedEqualsBatchOfOne) {
  Generator gen(6);
  const Tensor x = randn({3, 6, 7}, gen);
  const Tensor batched = x.as_strided({1, 3, 6, 7}, {126, 42, 7, 1}, 0);
  EXPECT_EQ(max_pool2d(x, 3, {.stride = 2, .padding = 1}).shape(), (Shape{3, 3, 4}));
  EXPECT_EQ(max_pool2d(x, 3, {.stride = 2, .padding = 1}).to_vector<float>(),
            max_pool2d(batched, 3, {.stride = 2, .padding = 1}).to_vector<float>());
  EXPECT_EQ(avg_pool2d(x, 2).to_vector<float>(), avg_pool2d(batched, 2).to_vector<float>());
  EXPECT_EQ(adaptive_avg_pool1d(x.as_strided({3, 42}, {42, 1}, 0), 5).shape(), (Shape{3, 5}));
}

TEST(Pool, EmptyBatch) {
  const Tensor x = zeros({0, 3, 4, 4}).set_requires_grad(true);
  const Tensor out = max_pool2d(x, 2);
  EXPECT_EQ(out.shape(), (Shape{0, 3, 2, 2}));
  out.backward(zeros({0, 3, 2, 2}));
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(avg_pool1d(zeros({0, 2, 5}), 2).shape(), (Shape{0, 2, 2}));
  EXPECT_EQ(adaptive_avg_pool2d(zeros({0, 2, 5, 5}), 3).shape(), (Shape{0, 2, 3, 3}));
}

// ---------------------------------------------------------------- errors

TEST(PoolErrors, ArgumentsAreCheckedAsPyTorchDoes) {
  Generator gen(0);
  const Tensor x4 = randn({1, 2, 5, 5}, gen), x3 = randn({1, 2, 5}, gen);
  expect_error([&] { max_pool2d(randn({5, 5}, gen), 2); },
               {"max_pool2d: expected a 3-d (unbatched) or 4-d (batched) input, got shape [5, 5]"});
  expect_error([&] { max_pool1d(x4, 2); }, {"max_pool1d: expected a 2-d (unbatched) or 3-d (batched) input"});
  expect_error([&] { max_pool2d(x4, {0, 2}); }, {"max_pool2d: kernel_size must be greater than zero, got (0, 2)"});
  expect_error([&] { max_pool2d(x4, 2, {.stride = 0}); }, {"max_pool2d: stride must be greater than zero, got (0, 0)"});
  expect_error([&] { max_pool1d(x3, 2, {.dilation = 0}); }, {"max_pool1d: dilation must be greater than zero, got 0"});
  expect_error([&] { max_pool2d(x4, 3, {.padding = 2}); },
               {"max_pool2d: padding should be at most half of kernel_size, got padding (2, 2) and kernel_size (3, 3)"});
  expect_error([&] { avg_pool1d(x3, 2, {.padding = 2}); },
               {"avg_pool1d: padding should be at most half of kernel_size, got padding 2 and kernel_size 2"});
  expect_error([&] { avg_pool2d(x4, 2, {.padding = -1}); }, {"avg_pool2d: padding must be non-negative"});
  expect_error([&] { max_pool2d(x4, {6, 1}); },
               {"max_pool2d: input shape [1, 2, 5, 5] with kernel_size (6, 1)", "gives output size (0, 5), which is too small"});
  expect_error([&] { max_pool1d(x3, 3, {.dilation = 3}); }, {"max_pool1d: input shape [1, 2, 5]", "too small"});
  expect_error([&] { max_pool2d(zeros({1, 0, 4, 4}), 2); }, {"has an empty non-batch dimension"});
  expect_error([&] { avg_pool2d(zeros({1, 2, 4, 4}, kInt64), 2); },
               {"avg_pool2d: expected a floating input (float32 or float64), got int64"});
  expect_error([&] { avg_pool2d(x4, 2, {.divisor_override = 0}); }, {"avg_pool2d: divisor_override must be non-zero"});
  expect_error([&] { adaptive_avg_pool2d(x4, {-1, 2}); },
               {"adaptive_avg_pool2d: output_size must be non-negative, got (-1, 2)"});
  expect_error([&] { adaptive_avg_pool1d(Tensor(), 2); }, {"adaptive_avg_pool1d: input is an undefined tensor"});
}

// ---------------------------------------------------------------- grad mode and threads

TEST(PoolGradMode, NoGraphUnderNoGradGuardOrWithoutRequiresGrad) {
  Generator gen(0);
  const Tensor x = randn({1, 2, 4, 4}, gen).set_requires_grad(true);
  {
    NoGradGuard guard;
    for (const Tensor& t : {max_pool2d(x, 2), avg_pool2d(x, 2), adaptive_avg_pool2d(x, 1),
                            max_pool2d_with_indices(x, 2).first}) {
      EXPECT_FALSE(t.requires_grad());
      EXPECT_EQ(t.grad_fn(), nullptr);
    }
  }
  EXPECT_EQ(max_pool2d(x.detach(), 2).grad_fn(), nullptr);
  EXPECT_EQ(max_pool2d(x, 2).grad_fn()->name(), "max_pool2d");
  EXPECT_EQ(max_pool1d(randn({2, 16}, gen).set_requires_grad(true), 2).grad_fn()->name(), "max_pool1d");
  EXPECT_EQ(avg_pool2d(x, 2).grad_fn()->name(), "avg_pool2d");
  EXPECT_EQ(adaptive_avg_pool2d(x, 2).grad_fn()->name(), "adaptive_avg_pool2d");
  const auto [values_out, indices_out] = max_pool2d_with_indices(x, 2);
  EXPECT_TRUE(values_out.requires_grad());
  EXPECT_FALSE(indices_out.requires_grad());
}

// HARNet-like sizes: forward and backward of every pool bit-identical for 1 and 2 threads.
TEST(Pool, IdenticalForAnyThreadCount) {
  auto run = [](int threads) {
    ScopedThreads scoped(threads);
    Generator gen(9);
    Tensor x = randn({8, 32, 30, 25}, gen).set_requires_grad(true);
    std::vector<std::vector<float>> results;
    const Tensor pooled[] = {max_pool2d(x, {1, 2}, {.ceil_mode = true}), avg_pool2d(x, 3, {.stride = 2, .padding = 1}),
                             adaptive_avg_pool2d(x, {7, 6})};
    for (const Tensor& out : pooled) {
      x.zero_grad();
      out.backward(randn(out.shape(), gen));
      results.push_back(out.to_vector<float>());
      results.push_back(x.grad().to_vector<float>());
    }
    return results;
  };
  EXPECT_TRUE(run(1) == run(2));
}

}  // namespace
}  // namespace harnet
