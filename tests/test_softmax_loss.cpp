// softmax / log_softmax (ops/softmax.h) and the losses (ops/loss.h): hand-computed values in
// float32 and float64, large logits, strided inputs, backward values, PyTorch's conventions for
// label smoothing, class weights and ignore_index, errors, and determinism across threads.
//
// Most examples use logits that are logarithms of small integers, so probabilities are exact
// fractions: row [ln 1, ln 2, ln 3] has softmax [1/6, 1/3, 1/2], row [ln 4, ln 2, ln 2] has
// softmax [1/2, 1/4, 1/4].
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <string>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/loss.h"
#include "ops/softmax.h"

namespace harnet {
namespace {

constexpr DType kFloatTypes[] = {kFloat32, kFloat64};
const double ln2 = std::log(2.0), ln3 = std::log(3.0), ln4 = std::log(4.0), ln6 = std::log(6.0);

double tolerance(DType dtype) { return dtype == kFloat32 ? 2e-6 : 1e-12; }

void expect_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected, double tol) {
  ASSERT_EQ(t.shape(), shape);
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    if (std::isnan(expected[k]))
      EXPECT_TRUE(std::isnan(got[k])) << "element " << k << ": " << got[k];
    else
      EXPECT_NEAR(got[k], expected[k], tol * std::max(1.0, std::fabs(expected[k]))) << "element " << k;
  }
}

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "'" << f << "' not in: " << e.what();
  }
}

// [[ln 1, ln 2, ln 3], [ln 4, ln 2, ln 2]]
Tensor logits(DType dtype) { return from_vector<double>({0.0, ln2, ln3, ln4, ln2, ln2}, {2, 3}, dtype); }
Tensor labels(std::vector<int64_t> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return from_vector<int64_t>(values, {n});
}
Tensor transposed(const Tensor& x) {
  return x.as_strided({x.size(1), x.size(0)}, {x.strides()[1], x.strides()[0]}, x.offset());
}

CrossEntropyOptions ce(Reduction reduction, double smoothing = 0.0, Tensor weight = Tensor(), int64_t ignore = -100) {
  CrossEntropyOptions o;
  o.reduction = reduction;
  o.label_smoothing = smoothing;
  o.weight = weight;
  o.ignore_index = ignore;
  return o;
}

// ---------------------------------------------------------------- softmax

TEST(Softmax, HandComputedAlongEachDim) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    const Tensor x = logits(dt);
    expect_values(softmax(x, 1), {2, 3}, {1.0 / 6, 1.0 / 3, 0.5, 0.5, 0.25, 0.25}, tol);
    expect_values(softmax(x, -1), {2, 3}, {1.0 / 6, 1.0 / 3, 0.5, 0.5, 0.25, 0.25}, tol);
    expect_values(log_softmax(x, 1), {2, 3}, {-ln6, -ln3, -ln2, -ln2, -ln4, -ln4}, tol);
    // Along dim 0 of the transposed (non-contiguous) view: the same numbers, transposed.
    const Tensor xt = transposed(x);
    ASSERT_FALSE(xt.is_contiguous());
    expect_values(softmax(xt, 0), {3, 2}, {1.0 / 6, 0.5, 1.0 / 3, 0.25, 0.5, 0.25}, tol);
    expect_values(log_softmax(xt, 0), {3, 2}, {-ln6, -ln2, -ln3, -ln4, -ln2, -ln4}, tol);
    // Dim 0 of a contiguous [2, 3]: columns [ln 1, ln 4], [ln 2, ln 2], [ln 3, ln 2].
    expect_values(softmax(x, 0), {2, 3}, {0.2, 0.5, 0.6, 0.8, 0.5, 0.4}, tol);
    // A 0-d input is one class.
    expect_values(softmax(scalar_tensor(3.0, dt), 0), {}, {1.0}, tol);
    expect_values(log_softmax(scalar_tensor(3.0, dt), -1), {}, {0.0}, tol);
  }
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = tensor({1000, 0, -1000}, dt);
    expect_values(softmax(x, 0), {3}, {1, 0, 0}, 0);
    expect_values(log_softmax(x, 0), {3}, {0, -1000, -2000}, 0);
    const Tensor rows = from_vector<double>({1000, 1000, -1000, -1000}, {2, 2}, dt);
    expect_values(softmax(rows, 1), {2, 2}, {0.5, 0.5, 0.5, 0.5}, tolerance(dt));
    expect_values(log_softmax(rows, 0), {2, 2}, {0, 0, -2000, -2000}, tolerance(dt));
  }
}

TEST(Softmax, BackwardHandComputed) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    // y = [1/6, 1/3, 1/2]; d y_0 / d x = y_0 (e_0 - y); d log y_0 / d x = e_0 - y.
    Tensor x = from_vector<double>({0.0, ln2, ln3}, {3}, dt).set_requires_grad(true);
    softmax(x, 0).backward(tensor({1, 0, 0}, dt));
    expect_values(x.grad(), {3}, {5.0 / 36, -1.0 / 18, -1.0 / 12}, tol);
    x.zero_grad();
    log_softmax(x, 0).backward(tensor({1, 0, 0}, dt));
    expect_values(x.grad(), {3}, {5.0 / 6, -1.0 / 3, -0.5}, tol);
    // Along dim 0 of a [3, 2]: each column on its own.
    Tensor xc = from_vector<double>({0.0, 0.0, ln2, 0.0, ln3, 0.0}, {3, 2}, dt).set_requires_grad(true);
    log_softmax(xc, 0).backward(from_vector<double>({1, 0, 0, 0, 0, 0}, {3, 2}, dt));
    expect_values(xc.grad(), {3, 2}, {5.0 / 6, 0, -1.0 / 3, 0, -0.5, 0}, tol);
  }
}

TEST(Softmax, ErrorsAndNoGrad) {
  expect_error([] { softmax(zeros({2, 3}, kInt64), 1); }, {"softmax", "int64"});
  expect_error([] { log_softmax(zeros({2, 3}, kFloat32), 2); }, {"log_softmax", "dimension 2"});
  Tensor x = logits(kFloat64).set_requires_grad(true);
  {
    NoGradGuard guard;
    EXPECT_EQ(softmax(x, 1).grad_fn(), nullptr);
    EXPECT_FALSE(log_softmax(x, 0).requires_grad());
  }
  EXPECT_EQ(softmax(x, 1).grad_fn()->name(), "softmax");
}

// ---------------------------------------------------------------- cross_entropy

TEST(CrossEntropy, TwoByThreeByHand) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    const Tensor target = labels({1, 0});  // -log p: ln 3 for the first row, ln 2 for the second
    expect_values(cross_entropy(logits(dt), target, ce(Reduction::None)), {2}, {ln3, ln2}, tol);
    expect_values(cross_entropy(logits(dt), target, ce(Reduction::Sum)), {}, {ln6}, tol);
    Tensor x = logits(dt).set_requires_grad(true);
    Tensor loss = cross_entropy(x, target);  // mean by default
    expect_values(loss, {}, {ln6 / 2}, tol);
    EXPECT_EQ(loss.dtype(), dt);
    loss.backward();
    // (softmax - onehot) / N
    expect_values(x.grad(), {2, 3}, {1.0 / 12, -1.0 / 3, 0.25, -0.25, 0.125, 0.125}, tol);
  }
}

TEST(CrossEntropy, LabelSmoothingFollowsPyTorch) {
  // (1 - eps) * nll + eps / C * sum_c -log p_c, eps 0.3, C 3:
  //   row 0: 0.7 ln 3 + 0.1 (ln 6 + ln 3 + ln 2);  row 1: 0.7 ln 2 + 0.1 (ln 2 + ln 4 + ln 4)
  const double row0 = 0.7 * ln3 + 0.1 * (ln6 + ln3 + ln2), row1 = 0.7 * ln2 + 0.1 * (ln2 + 2 * ln4);
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    expect_values(cross_entropy(logits(dt), labels({1, 0}), ce(Reduction::None, 0.3)), {2}, {row0, row1}, tol);
    expect_values(cross_entropy(logits(dt), labels({1, 0}), ce(Reduction::Mean, 0.3)), {}, {(row0 + row1) / 2}, tol);
    Tensor x = logits(dt).set_requires_grad(true);
    cross_entropy(x, labels({1, 0}), ce(Reduction::Sum, 0.3)).backward();
    // softmax - 0.7 onehot - 0.3 / 3
    expect_values(x.grad(), {2, 3}, {1.0 / 6 - 0.1, 1.0 / 3 - 0.8, 0.5 - 0.1, 0.5 - 0.8, 0.25 - 0.1, 0.25 - 0.1}, tol);
  }
}

TEST(CrossEntropy, IgnoreIndex) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    // The mean divides by the one target that counts.
    Tensor x = logits(dt).set_requires_grad(true);
    Tensor loss = cross_entropy(x, labels({1, -100}));
    expect_values(loss, {}, {ln3}, tol);
    loss.backward();
    expect_values(x.grad(), {2, 3}, {1.0 / 6, -2.0 / 3, 0.5, 0, 0, 0}, tol);
    // A custom ignore_index, with smoothing: the ignored row contributes nothing at all.
    expect_values(cross_entropy(logits(dt), labels({1, 0}), ce(Reduction::None, 0.3, Tensor(), 0)), {2},
                  {0.7 * ln3 + 0.1 * (ln6 + ln3 + ln2), 0.0}, tol);
    // Everything ignored: mean is 0 / 0 = nan (as PyTorch), sum is 0.
    EXPECT_TRUE(std::isnan(cross_entropy(logits(dt), labels({-100, -100})).item()));
    expect_values(cross_entropy(logits(dt), labels({-100, -100}), ce(Reduction::Sum)), {}, {0}, 0);
  }
}

TEST(CrossEntropy, ClassWeightsFollowPyTorch) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    const Tensor w = tensor({1, 2, 3}, dt);
    // Targets 1 and 0 have weights 2 and 1; the mean divides by 2 + 1.
    expect_values(cross_entropy(logits(dt), labels({1, 0}), ce(Reduction::None, 0, w)), {2}, {2 * ln3, ln2}, tol);
    expect_values(cross_entropy(logits(dt), labels({1, 0}), ce(Reduction::Mean, 0, w)), {}, {(2 * ln3 + ln2) / 3}, tol);
    // With smoothing, the smoothing term weights each class: sum_c w_c (-log p_c).
    const double row0 = 0.7 * 2 * ln3 + 0.1 * (1 * ln6 + 2 * ln3 + 3 * ln2);
    const double row1 = 0.7 * 1 * ln2 + 0.1 * (1 * ln2 + 2 * ln4 + 3 * ln4);
    expect_values(cross_entropy(logits(dt), labels({1, 0}), ce(Reduction::Mean, 0.3, w)), {}, {(row0 + row1) / 3}, tol);
    // Ignored targets do not count in the divisor.
    expect_values(cross_entropy(logits(dt), labels({-100, 0}), ce(Reduction::Mean, 0, w)), {}, {ln2}, tol);
    Tensor x = logits(dt).set_requires_grad(true);
    cross_entropy(x, labels({1, 0}), ce(Reduction::Sum, 0, w)).backward();
    // w_t (softmax - onehot)
    expect_values(x.grad(), {2, 3}, {2.0 / 6, 2.0 / 3 - 2, 1, -0.5, 0.25, 0.25}, tol);
  }
}

TEST(CrossEntropy, SpatialAndSingleSampleLayouts) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    // [N=1, C=3, d=2]: position s holds row s of the 2x3 example.
    const Tensor x = from_vector<double>({0.0, ln4, ln2, ln2, ln3, ln2}, {1, 3, 2}, dt);
    const Tensor target = from_vector<int64_t>({1, 0}, {1, 2});
    expect_values(cross_entropy(x, target, ce(Reduction::None)), {1, 2}, {ln3, ln2}, tol);
    expect_values(cross_entropy(x, target), {}, {ln6 / 2}, tol);
    // [C] with a 0-d target.
    const Tensor row = from_vector<double>({0.0, ln2, ln3}, {3}, dt);
    const Tensor label = from_vector<int64_t>({2}, {});
    expect_values(cross_entropy(row, label, ce(Reduction::None)), {}, {ln2}, tol);
    expect_values(cross_entropy(row, label), {}, {ln2}, tol);
    // A transposed (non-contiguous) view of a [3, 2] holding the columns of the 2x3 example.
    const Tensor xt = transposed(from_vector<double>({0.0, ln4, ln2, ln2, ln3, ln2}, {3, 2}, dt));
    expect_values(cross_entropy(xt, labels({1, 0}), ce(Reduction::None)), {2}, {ln3, ln2}, tol);
  }
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = from_vector<double>({1000, 0, 0, 1000}, {2, 2}, dt).set_requires_grad(true);
    Tensor loss = cross_entropy(x, labels({0, 0}), ce(Reduction::None));
    expect_values(loss, {2}, {0, 1000}, tolerance(dt));
    loss.backward(ones({2}, dt));
    expect_values(x.grad(), {2, 2}, {0, 0, -1, 1}, tolerance(dt));
  }
}

TEST(CrossEntropy, ErrorsNameTheProblem) {
  const Tensor x = logits(kFloat32);
  expect_error([&] { cross_entropy(x, labels({1, 3})); }, {"cross_entropy", "label 3", "3 classes"});
  expect_error([&] { cross_entropy(x, labels({-1, 0})); }, {"cross_entropy", "label -1", "3 classes"});
  expect_error([&] { cross_entropy(x, tensor({1, 0}, kFloat32)); }, {"cross_entropy", "int64", "float32"});
  expect_error(
      [&] {
        cross_entropy(x, labels({1, 0, 2}));
      },
      {"cross_entropy", "[3]", "[2, 3]", "expected target shape [2]"});
  expect_error([&] { cross_entropy(tensor({1, 2, 3}), labels({1})); }, {"cross_entropy", "0-d", "[1]"});
  expect_error([&] { cross_entropy(scalar_tensor(1.0), from_vector<int64_t>({0}, {})); },
               {"cross_entropy", "class dimension", "[]"});
  expect_error([&] { cross_entropy(zeros({2, 3}, kInt64), labels({1, 0})); }, {"cross_entropy", "input", "int64"});
  expect_error(
      [&] {
        cross_entropy(x, labels({1, 0}), ce(Reduction::Mean, 0, tensor({1, 2})));
      },
      {"cross_entropy", "weight", "3 class weights", "[2]"});
  expect_error(
      [&] {
        cross_entropy(x, labels({1, 0}), ce(Reduction::Mean, 0, tensor({1, 2, 3}, kFloat64)));
      },
      {"cross_entropy", "weight dtype float64", "float32"});
  expect_error(
      [&] {
        cross_entropy(x, labels({1, 0}), ce(Reduction::Mean, 1.5));
      },
      {"cross_entropy", "label_smoothing", "1.5"});
}

TEST(CrossEntropy, NoGraphUnderNoGradGuardAndTargetNotDifferentiated) {
  Tensor x = logits(kFloat64).set_requires_grad(true);
  {
    NoGradGuard guard;
    EXPECT_EQ(cross_entropy(x, labels({1, 0})).grad_fn(), nullptr);
  }
  Tensor loss = cross_entropy(x, labels({1, 0}));
  ASSERT_NE(loss.grad_fn(), nullptr);
  EXPECT_EQ(loss.grad_fn()->name(), "cross_entropy");
  EXPECT_EQ(loss.grad_fn()->next().size(), 1u);  // the input only
}

TEST(CrossEntropy, BitIdenticalForAnyThreadCount) {
  const int saved_threads = get_num_threads();
  Generator gen(3);
  const Tensor x = randn({40000, 10}, gen, kFloat32, 0.0, 3.0);
  const Tensor target = randint(0, 10, {40000}, gen);
  const Tensor w = rand({10}, gen, kFloat32, 0.5, 2.0);
  auto run = [&] {
    Tensor leaf = x.detach().set_requires_grad(true);
    Tensor loss = cross_entropy(leaf, target, ce(Reduction::Mean, 0.1, w));
    loss.backward();
    std::vector<float> values = leaf.grad().to_vector<float>();
    values.push_back(static_cast<float>(loss.item()));
    return values;
  };
  set_num_threads(1);
  const std::vector<float> serial = run();
  set_num_threads(2);
  const std::vector<float> parallel = run();
  set_num_threads(saved_threads);
  EXPECT_EQ(serial, parallel);
}

// ---------------------------------------------------------------- nll_loss

TEST(NllLoss, HandComputed) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    const Tensor logp = from_vector<double>({-1, -2, -3, -0.5, -1.5, -2.5}, {2, 3}, dt);
    NllLossOptions none, sum, weighted;
    none.reduction = Reduction::None;
    sum.reduction = Reduction::Sum;
    weighted.weight = tensor({1, 2, 4}, dt);
    expect_values(nll_loss(logp, labels({2, 0}), none), {2}, {3, 0.5}, tol);
    expect_values(nll_loss(logp, labels({2, 0}), sum), {}, {3.5}, tol);
    expect_values(nll_loss(logp, labels({2, 0})), {}, {1.75}, tol);
    expect_values(nll_loss(logp, labels({2, 0}), weighted), {}, {12.5 / 5}, tol);
    expect_values(nll_loss(logp, labels({2, -100})), {}, {3}, tol);
    Tensor x = logp.detach().set_requires_grad(true);
    nll_loss(x, labels({2, 0}), weighted).backward();
    expect_values(x.grad(), {2, 3}, {0, 0, -0.8, -0.2, 0, 0}, tol);
    // [N=1, C=3, d=2] layout and [C] with a 0-d target.
    const Tensor spatial = from_vector<double>({-1, -0.5, -2, -1.5, -3, -2.5}, {1, 3, 2}, dt);
    expect_values(nll_loss(spatial, from_vector<int64_t>({2, 0}, {1, 2}), none), {1, 2}, {3, 0.5}, tol);
    expect_values(nll_loss(tensor({-1, -2, -3}, dt), from_vector<int64_t>({1}, {})), {}, {2}, tol);
  }
}

TEST(NllLoss, Errors) {
  const Tensor logp = zeros({2, 3}, kFloat64);
  expect_error([&] { nll_loss(logp, labels({0, 5})); }, {"nll_loss", "label 5", "3 classes"});
  expect_error([&] { nll_loss(logp, labels({0})); }, {"nll_loss", "[1]", "[2, 3]"});
  expect_error([&] { nll_loss(logp, zeros({2}, kFloat64)); }, {"nll_loss", "int64", "float64"});
}

// ---------------------------------------------------------------- mse_loss

TEST(MseLoss, HandComputedWithBackward) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = tolerance(dt);
    Tensor x = tensor({1, 2, 3}, dt).set_requires_grad(true);
    Tensor y = tensor({1, 0, 0}, dt).set_requires_grad(true);
    expect_values(mse_loss(x, y, Reduction::None), {3}, {0, 4, 9}, tol);
    expect_values(mse_loss(x, y, Reduction::Sum), {}, {13}, tol);
    Tensor loss = mse_loss(x, y);
    expect_values(loss, {}, {13.0 / 3}, tol);
    loss.backward();
    expect_values(x.grad(), {3}, {0, 4.0 / 3, 2}, tol);
    expect_values(y.grad(), {3}, {0, -4.0 / 3, -2}, tol);
    x.zero_grad();
    mse_loss(x, y, Reduction::None).backward(tensor({1, 2, 3}, dt));
    expect_values(x.grad(), {3}, {0, 8, 18}, tol);
    // Strided input.
    const Tensor a = transposed(from_vector<double>({1, 2, 3, 4}, {2, 2}, dt));  // [[1, 3], [2, 4]]
    expect_values(mse_loss(a, from_vector<double>({0, 0, 0, 0}, {2, 2}, dt), Reduction::None), {2, 2}, {1, 9, 4, 16},
                  tol);
  }
  EXPECT_TRUE(std::isnan(mse_loss(zeros({0}), zeros({0})).item()));  // mean of nothing, as PyTorch
}

TEST(MseLoss, ShapesMustMatchExactly) {
  expect_error([] { mse_loss(zeros({2, 3}), zeros({3})); }, {"mse_loss", "[2, 3]", "[3]", "broadcast"});
  expect_error([] { mse_loss(zeros({2}), zeros({2}, kFloat64)); }, {"mse_loss", "float32", "float64"});
  expect_error([] { mse_loss(zeros({2}, kInt64), zeros({2}, kInt64)); }, {"mse_loss", "int64"});
  Tensor x = zeros({2}, kFloat64).set_requires_grad(true);
  NoGradGuard guard;
  EXPECT_EQ(mse_loss(x, zeros({2}, kFloat64)).grad_fn(), nullptr);
}

}  // namespace
}  // namespace harnet
