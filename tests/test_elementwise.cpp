// Elementwise operators: forward values against hand-computed PyTorch results, float32 and
// float64, broadcasting edge cases, strided inputs, gradients at the conventional points,
// errors, thread-count independence and NoGradGuard.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/broadcast.h"
#include "ops/elementwise.h"
#include "ops/vec_math.h"

namespace harnet {
namespace {

using Doubles = std::vector<double>;

Doubles values(const Tensor& t) { return t.to_vector<double>(); }

Tensor make(const Doubles& v, const Shape& shape, DType dtype = kFloat64) { return from_vector(v, shape, dtype); }

// A 2-d [rows, cols] view reading a contiguous [cols, rows] tensor transposed.
Tensor transposed_view(const Tensor& x) {
  return x.as_strided({x.size(1), x.size(0)}, {x.strides()[1], x.strides()[0]}, x.offset());
}

// Runs f and returns the message of the harnet::Error it throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& message, const std::vector<std::string>& pieces) {
  EXPECT_FALSE(message.empty()) << "expected an error";
  for (const std::string& p : pieces) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

void expect_near_all(const Doubles& actual, const Doubles& expected, double tol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tol) << "element " << i;
}

// Restores the thread count a test changed.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(get_num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(saved_); }

 private:
  int saved_;
};

// ---------------------------------------------------------------- broadcasting

TEST(Elementwise, BroadcastShapes) {
  EXPECT_EQ(broadcast_shapes({3, 1, 4}, {2, 4}, "add"), (Shape{3, 2, 4}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}, "add"), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes({5, 1}, {1}, "add"), (Shape{5, 1}));
  EXPECT_EQ(broadcast_shapes({0, 3}, {1, 3}, "add"), (Shape{0, 3}));
  expect_contains(error_of([] { broadcast_shapes({2, 3}, {4}, "add"); }), {"add: shapes [2, 3] and [4] cannot be broadcast"});
}

TEST(Elementwise, AddBroadcastsBothWaysInBothFloatTypes) {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor a = make({1, 2}, {2, 1}, dt);
    Tensor b = make({10, 20, 30}, {3}, dt);
    Tensor out = add(a, b);
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_EQ(out.shape(), (Shape{2, 3}));
    EXPECT_EQ(values(out), (Doubles{11, 21, 31, 12, 22, 32}));
  }
}

TEST(Elementwise, ThreeByOneByFourTimesTwoByFour) {
  Tensor a = arange(0.0, 12.0, 1.0, kFloat64);
  a = a.as_strided({3, 1, 4}, {4, 4, 1}, 0);
  Tensor b = make({1, 1, 1, 1, 2, 2, 2, 2}, {2, 4});
  Tensor out = mul(a, b);
  ASSERT_EQ(out.shape(), (Shape{3, 2, 4}));
  Doubles expected;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 4; ++k) expected.push_back((i * 4 + k) * (j + 1));
  EXPECT_EQ(values(out), expected);
}

TEST(Elementwise, ZeroDimOperandsAndEmptyTensors) {
  Tensor s = scalar_tensor(2.0, kFloat64);
  Tensor x = make({1, 2, 3}, {3});
  EXPECT_EQ(values(sub(s, x)), (Doubles{1, 0, -1}));
  EXPECT_EQ(sub(s, s).shape(), Shape{});
  EXPECT_EQ(values(div(s, s)), (Doubles{1}));
  Tensor empty_rows = zeros({0, 3}, kFloat64);
  Tensor out = add(empty_rows, x);
  EXPECT_EQ(out.shape(), (Shape{0, 3}));
  EXPECT_EQ(out.numel(), 0);
}

TEST(Elementwise, StridedInputsAreReadThroughTheirStrides) {
  // base [3, 2] = [[0, 1], [2, 3], [4, 5]]; its transpose [2, 3] = [[0, 2, 4], [1, 3, 5]].
  Tensor base = arange(0.0, 6.0, 1.0, kFloat32).as_strided({3, 2}, {2, 1}, 0);
  Tensor t = transposed_view(base);
  ASSERT_FALSE(t.is_contiguous());
  EXPECT_EQ(values(add(t, make({100, 200}, {2, 1}, kFloat32))), (Doubles{100, 102, 104, 201, 203, 205}));
  EXPECT_EQ(values(exp(t)), (Doubles{std::exp(0.0f), std::exp(2.0f), std::exp(4.0f), std::exp(1.0f),
                                     std::exp(3.0f), std::exp(5.0f)}));
  // Every other element of a [6] tensor, and an offset view.
  Tensor x = arange(0.0, 6.0, 1.0, kFloat64);
  Tensor even = x.as_strided({3}, {2}, 0), odd = x.as_strided({3}, {2}, 1);
  EXPECT_EQ(values(mul(even, odd)), (Doubles{0, 6, 20}));
  EXPECT_EQ(values(lt(even, odd)), (Doubles{1, 1, 1}));
}

// The loop machinery: size-1 dimensions dropped, neighbours merged where every operand
// allows it, broadcast dimensions read with stride 0.
TEST(Elementwise, LoopGeometryMergesAndDropsDimensions) {
  // Same-shape contiguous operands: one flat run.
  auto flat = make_loop_geometry<2>({2, 3, 4}, {Shape{12, 4, 1}, Shape{12, 4, 1}});
  EXPECT_EQ(flat.sizes, (Shape{24}));
  EXPECT_EQ(flat.strides[1], (Shape{1}));
  // A bias [4] against [2, 3, 4]: the two outer dimensions merge, the bias repeats.
  Tensor bias = zeros({4}, kFloat32);
  auto biased = make_loop_geometry<2>({2, 3, 4}, {contiguous_strides({2, 3, 4}), broadcast_strides(bias, {2, 3, 4})});
  EXPECT_EQ(biased.sizes, (Shape{6, 4}));
  EXPECT_EQ(biased.strides[1], (Shape{0, 1}));
  // A per-row scale [3, 1] against [3, 5], with a size-1 leading dimension in the loop.
  Tensor scale = zeros({3, 1}, kFloat32);
  auto rows = make_loop_geometry<2>({1, 3, 5}, {contiguous_strides({1, 3, 5}), broadcast_strides(scale, {1, 3, 5})});
  EXPECT_EQ(rows.sizes, (Shape{3, 5}));
  EXPECT_EQ(rows.strides[1], (Shape{1, 0}));
  // Runs cut at the end of the innermost dimension, starting mid-row.
  std::vector<std::pair<int64_t, int64_t>> runs;
  for_each_run(biased, 2, 11, [&](int64_t n, const std::array<int64_t, 2>& off) { runs.push_back({n, off[1]}); });
  EXPECT_EQ(runs, (std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {4, 0}, {3, 0}}));
  // broadcast_copy materialises the broadcast.
  EXPECT_EQ(values(broadcast_copy(make({1, 2}, {2, 1}), {2, 3})), (Doubles{1, 1, 1, 2, 2, 2}));
}

// ---------------------------------------------------------------- arithmetic

TEST(Elementwise, ArithmeticValues) {
  Tensor a = make({6, -3, 1.5}, {3});
  Tensor b = make({2, 4, -0.5}, {3});
  EXPECT_EQ(values(sub(a, b)), (Doubles{4, -7, 2}));
  EXPECT_EQ(values(mul(a, b)), (Doubles{12, -12, -0.75}));
  EXPECT_EQ(values(div(a, b)), (Doubles{3, -0.75, -3}));
  EXPECT_EQ(values(a + b), (Doubles{8, 1, 1}));
  EXPECT_EQ(values(a - 1.0), (Doubles{5, -4, 0.5}));
  EXPECT_EQ(values(1.0 - a), (Doubles{-5, 4, -0.5}));
  EXPECT_EQ(values(a * 2.0), (Doubles{12, -6, 3}));
  EXPECT_EQ(values(2.0 * a), (Doubles{12, -6, 3}));
  EXPECT_EQ(values(a / 2.0), (Doubles{3, -1.5, 0.75}));
  EXPECT_EQ(values(3.0 / b), (Doubles{1.5, 0.75, -6}));
  EXPECT_EQ(values(2.0 + a), (Doubles{8, -1, 3.5}));
  EXPECT_EQ(values(-a), (Doubles{-6, 3, -1.5}));
  EXPECT_EQ(values(div(make({1, -1, 0}, {3}), make({0, 0, 0}, {3})))[0], std::numeric_limits<double>::infinity());
}

TEST(Elementwise, ScalarIsConvertedToTheTensorDtype) {
  // 0.1 becomes float32(0.1) for a float32 tensor, as a Python number does in PyTorch.
  Tensor x = zeros({1}, kFloat32);
  EXPECT_EQ(add(x, 0.1).data<float>()[0], 0.1f);
  EXPECT_EQ(add(x, 0.1).dtype(), kFloat32);
}

TEST(Elementwise, PowForwardMatchesStdPow) {
  Tensor base = make({0.5, 1.5, 2.0, 3.0}, {4});
  Tensor exponent = make({2.0, -1.0, 0.5, 3.0}, {4});
  expect_near_all(values(pow(base, exponent)), {0.25, 1 / 1.5, std::sqrt(2.0), 27.0}, 1e-15);
  for (double e : {0.0, 1.0, 2.0, 3.0, 0.5, -0.5, -1.0, 1.7}) {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor x = make({0.5, 1.25, 2.0, 7.0}, {4}, dt);
      Doubles expected;
      for (double v : {0.5, 1.25, 2.0, 7.0}) expected.push_back(std::pow(v, e));
      expect_near_all(values(pow(x, e)), expected, dt == kFloat32 ? 1e-5 * 50 : 1e-13);
    }
  }
}

TEST(Elementwise, PowGradientConventionsAtZero) {
  // base 0 with exponent >= 0: the exponent's gradient is 0 (PyTorch), not 0 * log(0).
  Tensor base = make({0, 0, 2, 4}, {4}).set_requires_grad(true);
  Tensor exponent = make({2, 0, 1, 0.5}, {4}).set_requires_grad(true);
  pow(base, exponent).backward(ones({4}, kFloat64));
  // d/dbase = e * base^(e-1), 0 where e == 0.
  expect_near_all(values(base.grad()), {0, 0, 1, 0.25}, 1e-15);
  expect_near_all(values(exponent.grad()), {0, 0, 2 * std::log(2.0), 2 * std::log(4.0)}, 1e-15);

  Tensor x = make({0, 3}, {2}).set_requires_grad(true);
  pow(x, 0.0).backward(ones({2}, kFloat64));
  EXPECT_EQ(values(x.grad()), (Doubles{0, 0}));
}

TEST(Elementwise, BroadcastInputGradientsAreSummed) {
  Tensor a = make({1, 2, 3}, {3, 1}).set_requires_grad(true);
  Tensor b = make({10, 20, 30, 40}, {4}).set_requires_grad(true);
  mul(a, b).backward(ones({3, 4}, kFloat64));
  EXPECT_EQ(values(a.grad()), (Doubles{100, 100, 100}));
  EXPECT_EQ(values(b.grad()), (Doubles{6, 6, 6, 6}));

  Tensor c = scalar_tensor(2.0, kFloat64).set_requires_grad(true);
  Tensor d = make({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  sub(c, d).backward(ones({2, 3}, kFloat64));
  EXPECT_EQ(c.grad().shape(), Shape{});
  EXPECT_EQ(values(c.grad()), (Doubles{6}));
  EXPECT_EQ(values(d.grad()), (Doubles{-1, -1, -1, -1, -1, -1}));

  Tensor n = make({6}, {1}).set_requires_grad(true);
  Tensor m = make({2, 4}, {2}).set_requires_grad(true);
  div(n, m).backward(ones({2}, kFloat64));
  EXPECT_EQ(values(n.grad()), (Doubles{0.5 + 0.25}));
  EXPECT_EQ(values(m.grad()), (Doubles{-6.0 / 4, -6.0 / 16}));
}

// ---------------------------------------------------------------- unary

TEST(Elementwise, UnaryValuesInBothFloatTypes) {
  const Doubles xs{-2.5, -1, -0.25, 0, 0.5, 3};
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-6 : 1e-15;
    Tensor x = make(xs, {2, 3}, dt);
    Doubles e_exp, e_tanh, e_sig, e_abs, e_relu, e_neg;
    for (double v : xs) {
      e_exp.push_back(std::exp(v));
      e_tanh.push_back(std::tanh(v));
      e_sig.push_back(1 / (1 + std::exp(-v)));
      e_abs.push_back(std::fabs(v));
      e_relu.push_back(v > 0 ? v : 0);
      e_neg.push_back(-v);
    }
    for (size_t i = 0; i < xs.size(); ++i) {
      EXPECT_NEAR(values(exp(x))[i], e_exp[i], tol * 20);
      EXPECT_NEAR(values(tanh(x))[i], e_tanh[i], tol);
      EXPECT_NEAR(values(sigmoid(x))[i], e_sig[i], tol);
    }
    EXPECT_EQ(values(abs(x)), e_abs);
    EXPECT_EQ(values(relu(x)), e_relu);
    EXPECT_EQ(values(neg(x)), e_neg);
    EXPECT_EQ(exp(x).dtype(), dt);
    Tensor positive = make({0.25, 1, 4, 9}, {4}, dt);
    expect_near_all(values(log(positive)), {std::log(0.25), 0, std::log(4.0), std::log(9.0)}, tol);
    EXPECT_EQ(values(sqrt(positive)), (Doubles{0.5, 1, 2, 3}));
  }
}

TEST(Elementwise, GeluMatchesPyTorchValues) {
  // torch.nn.functional.gelu(torch.tensor([-1., 0., 1., 2.]), approximate=...) in float64.
  Tensor x = make({-1, 0, 1, 2}, {4});
  expect_near_all(values(gelu(x)), {-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416}, 1e-15);
  expect_near_all(values(gelu(x, "tanh")), {-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775},
                  1e-15);
  Tensor xf = make({-1, 0, 1, 2}, {4}, kFloat32);
  expect_near_all(values(gelu(xf)), {-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416}, 1e-6);
  expect_near_all(values(gelu(xf, "tanh")), {-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775},
                  1e-6);
  expect_contains(error_of([&] { gelu(x, "erf"); }), {"gelu", "\"none\" or \"tanh\"", "erf"});
}

TEST(Elementwise, GradientsAtKinks) {
  // relu and abs: gradient 0 at 0 (PyTorch).
  Tensor x = make({-1, 0, 2}, {3}).set_requires_grad(true);
  relu(x).backward(ones({3}, kFloat64));
  EXPECT_EQ(values(x.grad()), (Doubles{0, 0, 1}));
  x.zero_grad();
  abs(x).backward(ones({3}, kFloat64));
  EXPECT_EQ(values(x.grad()), (Doubles{-1, 0, 1}));

  // clamp: the gradient passes where min <= x <= max, bounds included.
  Tensor y = make({-1, -0.5, 0, 0.5, 1}, {5}).set_requires_grad(true);
  Tensor c = clamp(y, -0.5, 0.5);
  EXPECT_EQ(values(c), (Doubles{-0.5, -0.5, 0, 0.5, 0.5}));
  c.backward(ones({5}, kFloat64));
  EXPECT_EQ(values(y.grad()), (Doubles{0, 1, 1, 1, 0}));
  y.zero_grad();
  clamp(y, std::nullopt, 0.0).backward(ones({5}, kFloat64));
  EXPECT_EQ(values(y.grad()), (Doubles{1, 1, 1, 0, 0}));
  y.zero_grad();
  clamp(y, 0.0, std::nullopt).backward(ones({5}, kFloat64));
  EXPECT_EQ(values(y.grad()), (Doubles{0, 0, 1, 1, 1}));
}

TEST(Elementwise, ClampEdgeCases) {
  Tensor x = make({-2, 0, std::nan(""), 5}, {4}, kFloat32);
  Doubles only_min = values(clamp(x, -1.0, std::nullopt));
  EXPECT_EQ(only_min[0], -1);
  EXPECT_EQ(only_min[1], 0);
  EXPECT_TRUE(std::isnan(only_min[2]));  // NaN propagates
  EXPECT_EQ(only_min[3], 5);
  // min > max: every element becomes max, as torch.clamp.
  Doubles crossed = values(clamp(make({-2, 0, 3}, {3}), 2.0, 1.0));
  EXPECT_EQ(crossed, (Doubles{1, 1, 1}));
  expect_contains(error_of([&] { clamp(x, std::nullopt, std::nullopt); }), {"clamp", "min", "max"});
}

TEST(Elementwise, ReluPropagatesNaN) {
  Doubles r = values(relu(make({std::nan(""), -1}, {2})));
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 0);
}

// ---------------------------------------------------------------- selection

TEST(Elementwise, WhereBroadcastsAndRoutesGradients) {
  Tensor cond = from_vector(std::vector<bool>{true, false}, {2, 1});
  Tensor a = make({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor b = scalar_tensor(-1.0, kFloat64).set_requires_grad(true);
  Tensor out = where(cond, a, b);
  ASSERT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(out), (Doubles{1, 2, 3, -1, -1, -1}));
  out.backward(make({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_EQ(values(a.grad()), (Doubles{1, 2, 3}));
  EXPECT_EQ(values(b.grad()), (Doubles{15}));

  expect_contains(error_of([&] { where(make({1}, {1}), a, b); }), {"where", "bool", "float64"});
  expect_contains(error_of([&] { where(cond, a, make({1}, {1}, kFloat32)); }), {"where", "float64", "float32"});
  expect_contains(error_of([&] { where(from_vector(std::vector<bool>{true, true}, {2}), a, b); }),
                  {"where", "[2]", "[3]"});
}

TEST(Elementwise, MaskedFillForwardBackwardAndDtypes) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  Tensor mask = from_vector(std::vector<bool>{false, true, false}, {3});
  Tensor out = masked_fill(x, mask, -9);
  EXPECT_EQ(values(out), (Doubles{1, -9, 3, 4, -9, 6}));
  out.backward(ones({2, 3}, kFloat64));
  EXPECT_EQ(values(x.grad()), (Doubles{1, 0, 1, 1, 0, 1}));

  Tensor ints = from_vector(std::vector<int64_t>{7, 8, 9}, {3});
  Tensor filled = masked_fill(ints, mask, 42);
  EXPECT_EQ(filled.dtype(), kInt64);
  EXPECT_EQ(filled.to_vector<int64_t>(), (std::vector<int64_t>{7, 42, 9}));

  // The mask must broadcast to x's shape without growing it.
  expect_contains(error_of([&] { masked_fill(make({1, 2, 3}, {3}), from_vector(std::vector<bool>(6, true), {2, 3}), 0); }),
                  {"masked_fill", "[2, 3]", "[3]"});
  expect_contains(error_of([&] { masked_fill(x, make({1, 0, 1}, {3}), 0); }), {"masked_fill", "bool"});
}

// ---------------------------------------------------------------- comparisons

TEST(Elementwise, ComparisonsOnEveryDtype) {
  Tensor a = make({1, 2, 3}, {3}, kFloat32);
  Tensor b = make({2, 2, 2}, {3}, kFloat32);
  EXPECT_EQ(values(eq(a, b)), (Doubles{0, 1, 0}));
  EXPECT_EQ(values(ne(a, b)), (Doubles{1, 0, 1}));
  EXPECT_EQ(values(lt(a, b)), (Doubles{1, 0, 0}));
  EXPECT_EQ(values(le(a, b)), (Doubles{1, 1, 0}));
  EXPECT_EQ(values(gt(a, b)), (Doubles{0, 0, 1}));
  EXPECT_EQ(values(ge(a, b)), (Doubles{0, 1, 1}));
  EXPECT_EQ(eq(a, b).dtype(), kBool);

  Tensor i = from_vector(std::vector<int64_t>{1, 5}, {2, 1});
  Tensor j = from_vector(std::vector<int64_t>{1, 2, 5}, {3});
  EXPECT_EQ(values(eq(i, j)), (Doubles{1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(values(ge(i, j)), (Doubles{1, 0, 0, 1, 1, 1}));

  Tensor p = from_vector(std::vector<bool>{true, false}, {2});
  Tensor q = from_vector(std::vector<bool>{true, true}, {2});
  EXPECT_EQ(values(eq(p, q)), (Doubles{1, 0}));
  EXPECT_EQ(values(lt(p, q)), (Doubles{0, 1}));

  expect_contains(error_of([&] { eq(a, i); }), {"eq", "float32", "int64"});
  expect_contains(error_of([&] { lt(a, make({1, 2}, {2}, kFloat32)); }), {"lt", "[3]", "[2]"});
}

TEST(Elementwise, ComparisonsWithNumbers) {
  Tensor f = make({0.1, 0.5, 2}, {3}, kFloat32);
  EXPECT_EQ(values(eq(f, 0.1)), (Doubles{1, 0, 0}));  // 0.1 compared as float32, as PyTorch
  EXPECT_EQ(values(gt(f, 0.5)), (Doubles{0, 0, 1}));
  EXPECT_EQ(values(lt(f, 0.5)), (Doubles{1, 0, 0}));
  Tensor i = from_vector(std::vector<int64_t>{2, 3, int64_t{1} << 60}, {3});
  EXPECT_EQ(values(eq(i, 2.5)), (Doubles{0, 0, 0}));  // not truncated to 2
  EXPECT_EQ(values(eq(i, 2.0)), (Doubles{1, 0, 0}));
  EXPECT_EQ(values(lt(i, 2.5)), (Doubles{1, 0, 0}));
  EXPECT_EQ(values(eq(i, static_cast<double>(int64_t{1} << 60))), (Doubles{0, 0, 1}));
  Tensor b = from_vector(std::vector<bool>{true, false}, {2});
  EXPECT_EQ(values(gt(b, 0.5)), (Doubles{1, 0}));
  EXPECT_EQ(values(eq(b, 1.0)), (Doubles{1, 0}));
}

TEST(Elementwise, FinitenessChecks) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = make({1, inf, -inf, std::nan(""), 0}, {5}, kFloat32);
  EXPECT_EQ(values(isfinite(x)), (Doubles{1, 0, 0, 0, 1}));
  EXPECT_FALSE(all_finite(x));
  EXPECT_TRUE(all_finite(make({1, 2}, {2})));
  EXPECT_TRUE(all_finite(zeros({0}, kFloat32)));
  EXPECT_TRUE(all_finite(from_vector(std::vector<int64_t>{1}, {1})));
  EXPECT_EQ(values(isfinite(from_vector(std::vector<int64_t>{1, 2}, {2}))), (Doubles{1, 1}));
  // Strided: the NaN is skipped by the view.
  Tensor y = make({1, std::nan(""), 2, std::nan("")}, {4});
  EXPECT_TRUE(all_finite(y.as_strided({2}, {2}, 0)));
  EXPECT_FALSE(all_finite(y.as_strided({2}, {2}, 1)));
  // Large enough to be split across threads; one bad element in the middle.
  Tensor big = ones({200001}, kFloat32);
  EXPECT_TRUE(all_finite(big));
  big.data<float>()[123457] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(all_finite(big));
  EXPECT_FALSE(values(isfinite(big))[123457]);
}

// ---------------------------------------------------------------- sum_to

TEST(Elementwise, SumToValues) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(values(sum_to(x, {3})), (Doubles{5, 7, 9}));
  EXPECT_EQ(values(sum_to(x, {1, 3})), (Doubles{5, 7, 9}));
  EXPECT_EQ(sum_to(x, {1, 3}).shape(), (Shape{1, 3}));
  EXPECT_EQ(values(sum_to(x, {2, 1})), (Doubles{6, 15}));
  EXPECT_EQ(values(sum_to(x, {})), (Doubles{21}));
  EXPECT_EQ(sum_to(x, {}).shape(), Shape{});
  EXPECT_EQ(values(sum_to(x, {2, 3})), values(x));
  // Middle dimension of [2, 3, 2].
  Tensor y = arange(0.0, 12.0, 1.0, kFloat32).as_strided({2, 3, 2}, {6, 2, 1}, 0);
  EXPECT_EQ(values(sum_to(y, {2, 1, 2})), (Doubles{0 + 2 + 4, 1 + 3 + 5, 6 + 8 + 10, 7 + 9 + 11}));
  // Strided input.
  EXPECT_EQ(values(sum_to(transposed_view(x), {1, 2})), (Doubles{6, 15}));
  expect_contains(error_of([&] { sum_to(x, {4}); }), {"sum_to", "[4]", "[2, 3]"});
  expect_contains(error_of([&] { sum_to(x, {1, 2, 3}); }), {"sum_to", "[1, 2, 3]"});
  expect_contains(error_of([&] { sum_to(from_vector(std::vector<int64_t>{1}, {1}), {}); }), {"sum_to", "int64"});
}

TEST(Elementwise, SumToBackwardBroadcastsBack) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  Tensor s = sum_to(x, {2, 1});
  s.backward(make({10, 20}, {2, 1}));
  EXPECT_EQ(values(x.grad()), (Doubles{10, 10, 10, 20, 20, 20}));
}

// Every reduction pattern sum_to takes (inner dimension reduced or kept, few or many
// outputs, a full sum), large enough to be split across threads: values close to a
// double-precision reference, and bit-identical with 1 and 2 threads.
TEST(Elementwise, SumToIsAccurateAndThreadCountIndependent) {
  Generator gen(7);
  struct Pattern {
    Shape from, to;
  };
  const std::vector<Pattern> patterns{
      {{300, 517}, {517}},       {{300, 517}, {300, 1}}, {{2, 70000}, {2, 1}},   {{200003}, {}},
      {{40, 9, 300}, {9, 1}},    {{3, 8000, 5}, {5}},    {{60, 3, 700}, {3, 700}}, {{7000, 6}, {6}},
  };
  for (const Pattern& p : patterns) {
    Tensor x = randn(p.from, gen, kFloat32);
    Tensor one, two;
    {
      ThreadCount threads(1);
      one = sum_to(x, p.to);
    }
    {
      ThreadCount threads(2);
      two = sum_to(x, p.to);
    }
    ASSERT_EQ(one.shape(), p.to);
    EXPECT_EQ(one.to_vector<float>(), two.to_vector<float>()) << shape_str(p.from) << " -> " << shape_str(p.to);
    Doubles reference = values(sum_to(x.cast(kFloat64), p.to));
    Doubles got = values(one);
    const double count = static_cast<double>(x.numel() / one.numel());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], reference[i], 1e-6 * count) << shape_str(p.from) << " -> " << shape_str(p.to);
  }
}

TEST(Elementwise, BroadcastGradientIsThreadCountIndependent) {
  Generator gen(3);
  Tensor x = randn({4000, 33}, gen, kFloat32);
  Tensor grads[2];
  for (int t : {1, 2}) {
    ThreadCount threads(t);
    Tensor bias = zeros({33}, kFloat32).set_requires_grad(true);
    mul(add(x, bias), x).backward(ones({4000, 33}, kFloat32));
    grads[t - 1] = bias.grad();
  }
  EXPECT_EQ(grads[0].to_vector<float>(), grads[1].to_vector<float>());
}

// ---------------------------------------------------------------- large tensors

TEST(Elementwise, ParallelPathsMatchASerialLoop) {
  Generator gen(11);
  Tensor a = randn({301, 257}, gen, kFloat32);
  Tensor b = randn({257}, gen, kFloat32);
  Tensor c = randn({301, 1}, gen, kFloat32);
  Tensor sum = add(a, b), prod = mul(a, c), e = exp(a);
  Tensor at = transposed_view(randn({257, 301}, gen, kFloat32));
  Tensor strided = sub(at, a);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pc = c.data<float>();
  std::vector<float> atv = at.to_vector<float>();
  for (int64_t i = 0; i < 301; ++i) {
    for (int64_t j = 0; j < 257; ++j) {
      const int64_t k = i * 257 + j;
      ASSERT_EQ(sum.data<float>()[k], pa[k] + pb[j]);
      ASSERT_EQ(prod.data<float>()[k], pa[k] * pc[i]);
      ASSERT_NEAR(e.data<float>()[k], std::exp(pa[k]), 3e-7f * std::exp(pa[k]));
      ASSERT_EQ(strided.data<float>()[k], atv[static_cast<size_t>(k)] - pa[k]);
    }
  }
}

// ---------------------------------------------------------------- float32 math

// Distance in units in the last place of float between a float result and a double
// reference (the reference rounded to float counts as 0 ulp away).
double ulp_error(float got, double reference) {
  const float rounded = static_cast<float>(reference);
  if (got == rounded) return 0.0;
  if (std::isinf(rounded) || std::isnan(got)) return std::numeric_limits<double>::infinity();
  const double ulp = std::max<double>(std::nextafter(std::fabs(rounded), INFINITY) - std::fabs(rounded),
                                      std::numeric_limits<float>::denorm_min());
  return std::fabs(static_cast<double>(got) - reference) / ulp;
}

// max ulp error of f against reference over `count` points evenly spaced in [low, high].
template <class F, class R>
double max_ulp_error(F f, R reference, double low, double high, int count, double* worst_x = nullptr) {
  double worst = 0.0;
  for (int i = 0; i <= count; ++i) {
    const float x = static_cast<float>(low + (high - low) * i / count);
    const double e = ulp_error(f(x), reference(static_cast<double>(x)));
    if (e > worst) {
      worst = e;
      if (worst_x) *worst_x = x;
    }
  }
  return worst;
}

TEST(Elementwise, VectorisedFloatMathIsAccurate) {
  double at = 0;
  auto phi = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  EXPECT_LE(max_ulp_error(vecmath::exp, [](double x) { return std::exp(x); }, -103, 88.7, 400000, &at), 2.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::exp, [](double x) { return std::exp(x); }, -1, 1, 100000, &at), 1.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::log, [](double x) { return std::log(x); }, 1e-6, 1e6, 400000, &at), 2.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::log, [](double x) { return std::log(x); }, 0.5, 2, 400000, &at), 2.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::log, [](double x) { return std::log(x); }, 1e-44, 1e-37, 400000, &at), 2.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::tanh, [](double x) { return std::tanh(x); }, -12, 12, 400000, &at), 3.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::tanh, [](double x) { return std::tanh(x); }, -1e-3, 1e-3, 10000, &at), 2.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -80, 80, 400000, &at),
            3.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::normal_cdf, phi, -13, 13, 400000, &at), 10.0) << at;
  EXPECT_LE(max_ulp_error(vecmath::normal_cdf, phi, -3, 3, 100000, &at), 6.0) << at;
  // Special values.
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(vecmath::exp(inf), inf);
  EXPECT_EQ(vecmath::exp(-inf), 0.0f);
  EXPECT_EQ(vecmath::exp(0.0f), 1.0f);
  EXPECT_EQ(vecmath::exp(89.0f), inf);
  EXPECT_GT(vecmath::exp(-100.0f), 0.0f);  // subnormal, not flushed
  EXPECT_TRUE(std::isnan(vecmath::exp(std::nanf(""))));
  EXPECT_EQ(vecmath::log(1.0f), 0.0f);
  EXPECT_EQ(vecmath::log(0.0f), -inf);
  EXPECT_EQ(vecmath::log(inf), inf);
  EXPECT_TRUE(std::isnan(vecmath::log(-1.0f)));
  EXPECT_TRUE(std::isnan(vecmath::log(-inf)));
  EXPECT_TRUE(std::isnan(vecmath::log(std::nanf(""))));
  EXPECT_NEAR(vecmath::log(std::numeric_limits<float>::denorm_min()), std::log(1.4012984643e-45), 1e-5);
  EXPECT_EQ(vecmath::tanh(inf), 1.0f);
  EXPECT_EQ(vecmath::tanh(-inf), -1.0f);
  EXPECT_EQ(vecmath::tanh(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(vecmath::tanh(std::nanf(""))));
  EXPECT_EQ(vecmath::sigmoid(-inf), 0.0f);
  EXPECT_EQ(vecmath::sigmoid(inf), 1.0f);
  EXPECT_EQ(vecmath::normal_cdf(inf), 1.0f);
  EXPECT_EQ(vecmath::normal_cdf(-inf), 0.0f);
  EXPECT_EQ(vecmath::normal_cdf(0.0f), 0.5f);
  EXPECT_TRUE(std::isnan(vecmath::normal_cdf(std::nanf(""))));
}

// The float32 operators use the vectorised functions; float64 the C library.
TEST(Elementwise, Float32TranscendentalsAgreeWithFloat64) {
  Generator gen(5);
  Tensor x64 = randn({1000}, gen, kFloat64, 0.0, 4.0);
  Tensor x32 = x64.cast(kFloat32);
  auto check = [&](const char* name, const Tensor& f32, const Tensor& f64, double rel) {
    Doubles a = values(f32), b = values(f64);
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], rel * std::fabs(b[i]) + 1e-30) << name << " at x = " << values(x32)[i];
  };
  Tensor xr64 = x32.cast(kFloat64);  // the same inputs, exactly
  check("exp", exp(x32), exp(xr64), 3e-7);
  check("tanh", tanh(x32), tanh(xr64), 3e-7);
  check("log", log(abs(x32)), log(abs(xr64)), 3e-7);
  check("sigmoid", sigmoid(x32), sigmoid(xr64), 3e-7);
  check("gelu", gelu(x32), gelu(xr64), 1e-6);
  // gelu's gradient in float32 against float64.
  Tensor a = x32.detach().set_requires_grad(true), b = xr64.detach().set_requires_grad(true);
  gelu(a).backward(ones({1000}, kFloat32));
  gelu(b).backward(ones({1000}, kFloat64));
  Doubles ga = values(a.grad()), gb = values(b.grad());
  for (size_t i = 0; i < ga.size(); ++i) ASSERT_NEAR(ga[i], gb[i], 1e-6 * (1 + std::fabs(gb[i])));
}

// ---------------------------------------------------------------- errors and modes

TEST(Elementwise, DtypeErrorsNameTheOpAndBothDtypes) {
  Tensor f32 = ones({2, 3}, kFloat32), f64 = ones({3}, kFloat64), i64 = ones({2, 3}, kInt64);
  expect_contains(error_of([&] { add(f32, f64); }), {"add", "float32", "float64", "[2, 3]", "[3]"});
  expect_contains(error_of([&] { mul(i64, i64); }), {"mul", "int64"});
  expect_contains(error_of([&] { pow(i64, 2.0); }), {"pow", "int64"});
  expect_contains(error_of([&] { exp(i64); }), {"exp", "int64"});
  expect_contains(error_of([&] { sub(ones({2}, kBool), 1.0); }), {"sub", "bool"});
  expect_contains(error_of([&] { div(f32, ones({4}, kFloat32)); }), {"div: shapes [2, 3] and [4] cannot be broadcast"});
  expect_contains(error_of([&] { add(Tensor(), f32); }), {"add", "undefined"});
}

TEST(Elementwise, NoGraphUnderNoGradGuard) {
  Tensor a = make({1, 2}, {2}).set_requires_grad(true);
  Tensor b = make({3}, {1}).set_requires_grad(true);
  {
    NoGradGuard guard;
    for (const Tensor& t : {add(a, b), mul(a, 2.0), pow(a, b), gelu(a), clamp(a, 0.0, 1.0), sum_to(a, {}),
                            where(gt(a, 1.0), a, b), masked_fill(a, gt(a, 1.0), 0), 1.0 / a}) {
      EXPECT_FALSE(t.requires_grad());
      EXPECT_EQ(t.grad_fn(), nullptr);
    }
  }
  Tensor recorded = add(a, b);
  EXPECT_TRUE(recorded.requires_grad());
  ASSERT_NE(recorded.grad_fn(), nullptr);
  EXPECT_EQ(recorded.grad_fn()->name(), "add");
  // Inputs that need no gradient record nothing either.
  EXPECT_EQ(mul(make({1}, {1}), make({2}, {1})).grad_fn(), nullptr);
}

TEST(Elementwise, OnlyTheNeededInputGradientsAreComputed) {
  Tensor a = make({1, 2}, {2}).set_requires_grad(true);
  Tensor b = make({3, 4}, {2});
  mul(a, b).backward(ones({2}, kFloat64));
  EXPECT_EQ(values(a.grad()), (Doubles{3, 4}));
  EXPECT_FALSE(b.grad().defined());
}

}  // namespace
}  // namespace harnet
