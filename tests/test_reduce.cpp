// Reductions (ops/reduce.h): hand-computed values in float32 and float64, strided inputs,
// empty tensors, ties, NaN, backward values, errors, and bit-identical results for any
// thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/reduce.h"

namespace harnet {
namespace {

// Shorthand for a list of dimensions.
using Dims = std::vector<int64_t>;

constexpr DType kFloatTypes[] = {kFloat32, kFloat64};

double tolerance(DType dtype) { return dtype == kFloat32 ? 1e-5 : 1e-12; }

void expect_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected, double tol) {
  ASSERT_EQ(t.shape(), shape);
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    if (std::isnan(expected[k]))
      EXPECT_TRUE(std::isnan(got[k])) << "element " << k << ": " << got[k];
    else
      EXPECT_NEAR(got[k], expected[k], tol) << "element " << k;
  }
}

// Expects fn to throw a harnet::Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "'" << f << "' not in: " << e.what();
  }
}

// [[1, 2, 3], [4, 5, 6]]
Tensor two_by_three(DType dtype) { return from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}, dtype); }

// A transposed (non-contiguous) view of a contiguous 2-d tensor.
Tensor transposed(const Tensor& x) {
  return x.as_strided({x.size(1), x.size(0)}, {x.strides()[1], x.strides()[0]}, x.offset());
}

TEST(Reduce, SumOverDimsMatchesHandComputed) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = two_by_three(dt);
    const double tol = tolerance(dt);
    expect_values(sum(x), {}, {21}, tol);
    expect_values(sum(x, {}), {}, {21}, tol);
    expect_values(sum(x, {0}), {3}, {5, 7, 9}, tol);
    expect_values(sum(x, {1}), {2}, {6, 15}, tol);
    expect_values(sum(x, {-1}, true), {2, 1}, {6, 15}, tol);
    expect_values(sum(x, {0, 1}, true), {1, 1}, {21}, tol);
    EXPECT_EQ(sum(x).dtype(), dt);
  }
}

TEST(Reduce, NonAdjacentDimsAndNegativeDims) {
  // x[i][j][k] = 12 i + 4 j + k; summing over i and k leaves 32 j + 60.
  const Tensor x = arange(0, 24, 1, kFloat64).as_strided({2, 3, 4}, {12, 4, 1}, 0);
  expect_values(sum(x, {0, 2}), {3}, {60, 92, 124}, 1e-12);
  expect_values(sum(x, {-1, -3}, true), {1, 3, 1}, {60, 92, 124}, 1e-12);
  expect_values(mean(x, {0, 2}), {3}, {7.5, 11.5, 15.5}, 1e-12);
  expect_values(max(x, {2, 0}), {3}, {15, 19, 23}, 0);
  expect_values(min(x, {0, 2}, true), {1, 3, 1}, {0, 4, 8}, 0);
}

TEST(Reduce, StridedInputs) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor xt = transposed(two_by_three(dt));  // [[1, 4], [2, 5], [3, 6]]
    ASSERT_FALSE(xt.is_contiguous());
    const double tol = tolerance(dt);
    expect_values(sum(xt, {0}), {2}, {6, 15}, tol);
    expect_values(mean(xt, {1}), {3}, {2.5, 3.5, 4.5}, tol);
    expect_values(max(xt, {0}), {2}, {3, 6}, 0);
    expect_values(var(xt, Dims{1}), {3}, {4.5, 4.5, 4.5}, tol);
    auto [values, indices] = min_with_indices(xt, 0);
    expect_values(values, {2}, {1, 4}, 0);
    EXPECT_EQ(indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
    EXPECT_EQ(argmax(xt).item(), 5);  // flattened [1, 4, 2, 5, 3, 6]: the 6 is last
  }
}

TEST(Reduce, MeanAndVarHandComputed) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    const Tensor v = tensor({1, 2, 3, 4}, dt);
    expect_values(mean(v), {}, {2.5}, tol);
    expect_values(var(v), {}, {5.0 / 3.0}, tol);
    expect_values(var(v, {}, 0), {}, {1.25}, tol);
    const Tensor m = from_vector<double>({1, 2, 3, 5}, {2, 2}, dt);
    expect_values(var(m, Dims{1}), {2}, {0.5, 2.0}, tol);
    expect_values(var(m, {0}, 0, true), {1, 2}, {1.0, 2.25}, tol);
  }
}

TEST(Reduce, TooFewElementsFollowPyTorch) {
  // One element with correction 1: 0 / 0. Two elements with correction 3: positive / 0.
  EXPECT_TRUE(std::isnan(var(tensor({3.0}, kFloat64)).item()));
  EXPECT_TRUE(std::isinf(var(tensor({1.0, 2.0}, kFloat64), {}, 3).item()));
  // Empty: sums are 0, means and variances nan.
  const Tensor empty_rows = zeros({0, 3}, kFloat32);
  EXPECT_EQ(sum(empty_rows).item(), 0.0);
  expect_values(sum(empty_rows, {0}), {3}, {0, 0, 0}, 0);
  expect_values(sum(empty_rows, {1}), {0}, {}, 0);
  EXPECT_TRUE(std::isnan(mean(empty_rows).item()));
  expect_values(mean(empty_rows, {0}), {3}, {NAN, NAN, NAN}, 0);
  EXPECT_TRUE(std::isnan(var(empty_rows).item()));
}

TEST(Reduce, ZeroDimInput) {
  const Tensor s = scalar_tensor(4.0, kFloat64);
  expect_values(sum(s), {}, {4}, 0);
  expect_values(sum(s, {0}), {}, {4}, 0);
  expect_values(max(s, {-1}, true), {}, {4}, 0);
  EXPECT_EQ(argmax(s).item(), 0);
}

TEST(Reduce, MaxMinValuesAndIndices) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = from_vector<double>({1, 5, 5, 7, 2, 7}, {2, 3}, dt);
    expect_values(max(x), {}, {7}, 0);
    expect_values(min(x), {}, {1}, 0);
    expect_values(max(x, {1}), {2}, {5, 7}, 0);
    expect_values(min(x, {0}, true), {1, 3}, {1, 2, 5}, 0);
    auto [values, indices] = max_with_indices(x, 1);
    expect_values(values, {2}, {5, 7}, 0);
    EXPECT_EQ(indices.dtype(), kInt64);
    EXPECT_EQ(indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // first occurrence of ties
    auto [kept_values, kept_indices] = min_with_indices(x, -1, true);
    expect_values(kept_values, {2, 1}, {1, 2}, 0);
    EXPECT_EQ(kept_indices.shape(), (Shape{2, 1}));
    EXPECT_EQ(kept_indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
    EXPECT_EQ(argmax(x).item(), 3);  // first of the two 7s in flattened order
    EXPECT_EQ(argmin(x).item(), 0);
    EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
    EXPECT_EQ(argmin(x, 0, true).shape(), (Shape{1, 3}));
    EXPECT_EQ(argmin(x, 0, true).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0}));
  }
  // argmax / argmin also take int64 tensors.
  EXPECT_EQ(argmax(from_vector<int64_t>({3, 9, 9, 1}, {4})).item(), 1);
  EXPECT_EQ(argmin(from_vector<int64_t>({3, 9, 9, 1}, {2, 2}), 1).to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(Reduce, NanPropagatesThroughMaxAndMin) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = tensor({1.0, nan, 3.0, nan}, kFloat64);
  EXPECT_TRUE(std::isnan(max(x).item()));
  EXPECT_TRUE(std::isnan(min(x).item()));
  EXPECT_EQ(argmax(x).item(), 1);
  EXPECT_EQ(argmin(x).item(), 1);
  EXPECT_TRUE(std::isnan(sum(x).item()));
}

TEST(Reduce, SumAndMeanBackwardBroadcastTheGradient) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    Tensor x = two_by_three(dt).set_requires_grad(true);
    sum(x, {1}).backward(from_vector<double>({1, 2}, {2}, dt));
    expect_values(x.grad(), {2, 3}, {1, 1, 1, 2, 2, 2}, tol);
    x.zero_grad();
    mean(x, {0}, true).backward(from_vector<double>({3, 6, 9}, {1, 3}, dt));
    expect_values(x.grad(), {2, 3}, {1.5, 3, 4.5, 1.5, 3, 4.5}, tol);
    x.zero_grad();
    mean(x).backward();
    expect_values(x.grad(), {2, 3}, {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6}, tol);
  }
  // Non-adjacent dims: grad[i][j][k] = g[j].
  Tensor y = zeros({2, 3, 2}, kFloat64).set_requires_grad(true);
  sum(y, {0, 2}).backward(tensor({1, 2, 3}, kFloat64));
  expect_values(y.grad(), {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, 0);
}

TEST(Reduce, VarBackwardHandComputed) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    // d var / d x = 2 (x - mean) / (n - 1) = 2 (x - 2.5) / 3
    Tensor x = tensor({1, 2, 3, 4}, dt).set_requires_grad(true);
    var(x).backward();
    expect_values(x.grad(), {4}, {-1, -1.0 / 3, 1.0 / 3, 1}, tolerance(dt));
  }
}

TEST(Reduce, MaxGradientIsSharedAmongTies) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = from_vector<double>({1, 3, 3, 0, -2, -2}, {2, 3}, dt).set_requires_grad(true);
    max(x).backward();
    expect_values(x.grad(), {2, 3}, {0, 0.5, 0.5, 0, 0, 0}, 0);
    x.zero_grad();
    min(x, {1}).backward(from_vector<double>({4, 6}, {2}, dt));
    expect_values(x.grad(), {2, 3}, {4, 0, 0, 0, 3, 3}, 0);
  }
}

TEST(Reduce, MaxWithIndicesGradientGoesToTheFirstIndex) {
  Tensor x = from_vector<double>({1, 5, 5, 7, 2, 7}, {2, 3}, kFloat64).set_requires_grad(true);
  auto [values, indices] = max_with_indices(x, 1);
  EXPECT_FALSE(indices.requires_grad());
  values.backward(tensor({10, 20}, kFloat64));
  expect_values(x.grad(), {2, 3}, {0, 10, 0, 20, 0, 0}, 0);
  // Through a transposed view: the gradient lands in the viewed element.
  Tensor base = from_vector<double>({1, 5, 9, 2}, {2, 2}, kFloat32);
  auto [tv, ti] = min_with_indices(transposed(base), 1, true);  // [[1, 9], [5, 2]]
  expect_values(tv, {2, 1}, {1, 2}, 0);
  EXPECT_EQ(ti.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(Reduce, NoGraphUnderNoGradGuard) {
  Tensor x = two_by_three(kFloat64).set_requires_grad(true);
  {
    NoGradGuard guard;
    for (const Tensor& y : {sum(x), mean(x, {0}), var(x, Dims{1}), max(x), min(x, {0}), max_with_indices(x, 1).first}) {
      EXPECT_FALSE(y.requires_grad());
      EXPECT_EQ(y.grad_fn(), nullptr);
    }
  }
  EXPECT_NE(sum(x).grad_fn(), nullptr);
  EXPECT_EQ(sum(x).grad_fn()->name(), "sum");
}

TEST(Reduce, ErrorsNameTheOpAndTheArguments) {
  const Tensor x = zeros({2, 3}, kFloat32);
  expect_error([&] { sum(x, {1, -1}); }, {"sum", "appears more than once", "[1, -1]", "[2, 3]"});
  expect_error([&] { mean(x, {2}); }, {"mean", "dimension 2 out of range"});
  expect_error([&] { var(x, Dims{-3}); }, {"var", "-3"});
  expect_error([&] { sum(zeros({2}, kInt64)); }, {"sum", "int64"});
  expect_error([&] { mean(zeros({2}, kBool)); }, {"mean", "bool"});
  expect_error([&] { max(zeros({0, 3}, kFloat32)); }, {"max", "empty", "[0, 3]"});
  expect_error([&] { min(zeros({3, 0}, kFloat32), {1}); }, {"min", "size 0", "[3, 0]"});
  expect_error([&] { max_with_indices(zeros({3, 0}, kFloat64), 1); }, {"max_with_indices", "[3, 0]"});
  expect_error([&] { argmax(zeros({0}, kFloat32)); }, {"argmax", "[0]"});
  expect_error([&] { argmin(zeros({2}, kBool)); }, {"argmin", "bool"});
  expect_error([&] { sum(Tensor()); }, {"sum", "undefined"});
}

// The same reduction with 1 and with 2 (and 3) threads must give the same bits.
TEST(Reduce, BitIdenticalForAnyThreadCount) {
  const int saved_threads = get_num_threads();
  Generator gen(7);
  const Tensor wide = randn({3, 300001}, gen, kFloat32);  // few outputs, long rows: split along the axis
  const Tensor tall = randn({30011, 70}, gen, kFloat32);  // many outputs, reduced over dim 0
  const Tensor thin = randn({200003, 5}, gen, kFloat32);  // few outputs with inner > 1: split along dim 0
  const Tensor wide64 = randn({700001}, gen, kFloat64);
  auto run_all = [&] {
    std::vector<std::vector<double>> results;
    for (const Tensor& r :
         {sum(wide), sum(wide, {1}), mean(wide, {1}, true), var(wide, Dims{1}), max(wide, {1}), sum(tall, {0}),
          var(tall, Dims{0}), sum(tall, {1}), min(tall, {0}), sum(thin, {0}), var(thin, {0}, 0), mean(thin, {0, 1}),
          sum(wide64), var(wide64), argmax(wide64).cast(kFloat64), argmin(tall, 0).cast(kFloat64)})
      results.push_back(r.to_vector<double>());
    return results;
  };
  set_num_threads(1);
  const auto serial = run_all();
  set_num_threads(2);
  const auto two = run_all();
  set_num_threads(3);
  const auto three = run_all();
  set_num_threads(saved_threads);
  ASSERT_EQ(serial.size(), two.size());
  for (size_t k = 0; k < serial.size(); ++k) {
    EXPECT_EQ(serial[k], two[k]) << "result " << k;  // exact: bit-identical
    EXPECT_EQ(serial[k], three[k]) << "result " << k;
  }
  // And accurate: float32 sums are accumulated in double.
  double reference = 0.0;
  for (float v : wide.to_vector<float>()) reference += v;
  EXPECT_NEAR(serial[0][0], reference, 1e-6 * std::max(1.0, std::fabs(reference)) + 1e-3);
}

}  // namespace
}  // namespace harnet

namespace harnet {
namespace {

TEST(Reduce, VarWithABracedDimListReducesThatDim) {
  // var(x, {1}) once meant "correction 1 over all dims"; it must mean "over dim 1".
  Tensor m = from_vector(std::vector<double>{1, 2, 3, 6}, {2, 2}, kFloat64);
  EXPECT_EQ(var(m, {1}).shape(), (Shape{2}));
  EXPECT_EQ(var(m, {1}).to_vector<double>(), (std::vector<double>{0.5, 4.5}));
}

}  // namespace
}  // namespace harnet
