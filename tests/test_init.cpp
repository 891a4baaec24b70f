// nn::init: gains and fans as PyTorch computes them; the distributions of the initialisers on
// large tensors (bounds exact, mean and standard deviation within sampling tolerance: our
// generator is not PyTorch's, so values cannot be compared); orthogonal_ is orthonormal with
// PyTorch's sign convention; views are filled through their strides; bad arguments refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "ops/ops.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

namespace init = nn::init;

struct Stats {
  double mean = 0, std = 0, min = 0, max = 0;
};

Stats stats_of(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  Stats s;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size() - 1));
  return s;
}

// A uniform(-bound, bound) sample of 2^18 values: inside the bounds, reaching close to both,
// mean ~ 0, std ~ bound / sqrt(3) (sampling error of the std ~ 0.1%).
void expect_uniform(const Tensor& t, double bound) {
  const Stats s = stats_of(t);
  EXPECT_GE(s.min, -bound);
  EXPECT_LE(s.max, bound);
  EXPECT_LT(s.min, -0.999 * bound);
  EXPECT_GT(s.max, 0.999 * bound);
  EXPECT_NEAR(s.mean, 0.0, 0.01 * bound);
  EXPECT_NEAR(s.std, bound / std::sqrt(3.0), 0.01 * bound / std::sqrt(3.0));
}

void expect_normal(const Tensor& t, double mean, double std) {
  const Stats s = stats_of(t);
  EXPECT_NEAR(s.mean, mean, 0.01 * std);
  EXPECT_NEAR(s.std, std, 0.01 * std);
  // 2^18 normal draws: the extremes lie beyond 3.5 sigma and within 6.
  EXPECT_GT(s.max, mean + 3.5 * std);
  EXPECT_LT(s.max, mean + 6 * std);
}

// ---------------------------------------------------------------- gains and fans

TEST(Init, GainsAreThoseOfPyTorch) {
  for (const char* linear :
       {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    EXPECT_EQ(init::calculate_gain(linear), 1.0) << linear;
  EXPECT_DOUBLE_EQ(init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu"), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("selu"), 0.75);
  expect_error([] { init::calculate_gain("swish"); }, "init.calculate_gain: unsupported nonlinearity \"swish\"");
  expect_error([] { init::calculate_gain("leaky_relu", NAN); }, "the negative slope must be finite");
}

TEST(Init, FansIncludeTheReceptiveField) {
  init::Fans f = init::calculate_fan_in_and_fan_out(empty({64, 128}));
  EXPECT_EQ(f.fan_in, 128);
  EXPECT_EQ(f.fan_out, 64);
  f = init::calculate_fan_in_and_fan_out(empty({64, 3, 1, 3}));  // a Conv2d weight [out, in, kh, kw]
  EXPECT_EQ(f.fan_in, 9);
  EXPECT_EQ(f.fan_out, 192);
  EXPECT_EQ(init::calculate_correct_fan(empty({5, 4, 2}), "fan_in"), 8);
  EXPECT_EQ(init::calculate_correct_fan(empty({5, 4, 2}), "fan_out"), 10);
  expect_error([] { init::calculate_fan_in_and_fan_out(empty({5})); },
               "init.calculate_fan_in_and_fan_out: fan in and fan out cannot be computed for a tensor with fewer than "
               "2 dimensions, got shape [5]");
  expect_error(
      [] {
        init::calculate_correct_fan(empty({5, 4}), "fan_avg");
      },
      "mode must be \"fan_in\" or \"fan_out\", got \"fan_avg\"");
}

// ---------------------------------------------------------------- distributions

TEST(Init, UniformAndNormal) {
  Generator gen(1);
  Tensor t = empty({512, 512});
  init::uniform_(t, gen, -0.5, 0.5);
  expect_uniform(t, 0.5);
  init::uniform_(t, gen, 2.0, 3.0);
  const Stats s = stats_of(t);
  EXPECT_GE(s.min, 2.0);
  EXPECT_LE(s.max, 3.0);
  EXPECT_NEAR(s.mean, 2.5, 0.01);
  init::normal_(t, gen, 1.5, 0.2);
  expect_normal(t, 1.5, 0.2);
}

TEST(Init, ConstantsFillEveryElement) {
  Tensor t = empty({3, 4}, kFloat64);
  init::constant_(t, 0.25);
  EXPECT_EQ(t.to_vector<double>(), std::vector<double>(12, 0.25));
  init::zeros_(t);
  EXPECT_EQ(t.to_vector<double>(), std::vector<double>(12, 0.0));
  init::ones_(t);
  EXPECT_EQ(t.to_vector<double>(), std::vector<double>(12, 1.0));
}

TEST(Init, KaimingUniformBoundFollowsGainAndMode) {
  Generator gen(2);
  Tensor w = empty({256, 1024});
  init::kaiming_uniform_(w, gen);  // a = 0, leaky_relu: gain sqrt(2), fan_in 1024
  expect_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 1024));
  init::kaiming_uniform_(w, gen, 0.0, "fan_out", "relu");
  expect_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 256));
  Tensor conv = empty({128, 64, 1, 32});  // fan_in = 64 * 32
  init::kaiming_uniform_(conv, gen, 0.0, "fan_in", "tanh");
  expect_uniform(conv, 5.0 / 3.0 * std::sqrt(3.0 / (64 * 32)));
}

TEST(Init, KaimingNormalStd) {
  Generator gen(3);
  Tensor w = empty({1024, 256});
  init::kaiming_normal_(w, gen, 0.0, "fan_in", "relu");
  expect_normal(w, 0.0, std::sqrt(2.0 / 256));
  init::kaiming_normal_(w, gen, 0.1, "fan_out");
  expect_normal(w, 0.0, std::sqrt(2.0 / (1 + 0.01)) / std::sqrt(1024.0));
}

TEST(Init, XavierUniformAndNormal) {
  Generator gen(4);
  Tensor w = empty({256, 768});
  init::xavier_uniform_(w, gen);
  expect_uniform(w, std::sqrt(6.0 / (256 + 768)));
  init::xavier_uniform_(w, gen, 2.0);
  expect_uniform(w, 2.0 * std::sqrt(6.0 / (256 + 768)));
  init::xavier_normal_(w, gen, 0.5);
  expect_normal(w, 0.0, 0.5 * std::sqrt(2.0 / (256 + 768)));
}

TEST(Init, LinearDefaultIsUniformWithinOneOverSqrtFanIn) {
  Generator gen(5);
  nn::Linear fc(400, 655, gen);
  expect_uniform(fc.weight, 1.0 / std::sqrt(400.0));
  Stats b = stats_of(fc.bias);
  EXPECT_GE(b.min, -1.0 / std::sqrt(400.0));
  EXPECT_LE(b.max, 1.0 / std::sqrt(400.0));
  EXPECT_LT(b.min, -0.9 / std::sqrt(400.0));  // 655 draws reach near both ends
  EXPECT_GT(b.max, 0.9 / std::sqrt(400.0));
}

TEST(Init, TruncatedNormalStaysInsideItsBounds) {
  Generator gen(6);
  Tensor t = empty({512, 512});
  init::trunc_normal_(t, gen, 0.0, 1.0, -2.0, 2.0);
  const Stats s = stats_of(t);
  EXPECT_GE(s.min, -2.0);
  EXPECT_LE(s.max, 2.0);
  EXPECT_LT(s.min, -1.99);
  // The variance of N(0, 1) truncated to [-2, 2]: 1 - 2 * 2 phi(2) / (Phi(2) - Phi(-2)).
  const double phi2 = std::exp(-2.0) / std::sqrt(2 * M_PI), z = std::erf(2.0 / std::sqrt(2.0));
  EXPECT_NEAR(s.std, std::sqrt(1 - 4 * phi2 / z), 0.005);
  EXPECT_NEAR(s.mean, 0.0, 0.01);
  init::trunc_normal_(t, gen, 1.0, 0.5, 0.0, 5.0);  // one-sided: bounded below by the mean - 2 std
  EXPECT_GE(stats_of(t).min, 0.0);
  expect_error([&] { init::trunc_normal_(t, gen, 0.0, 1.0, 5.0, 6.0); }, "init.trunc_normal_: [5, 6] holds only");
  expect_error([&] { init::trunc_normal_(t, gen, 0.0, 1.0, 1.0, -1.0); }, "must be below the upper bound");
  expect_error([&] { init::trunc_normal_(t, gen, 0.0, 0.0); }, "std must be positive, got 0");
}

// ---------------------------------------------------------------- orthogonal

// max |W W^T - I| (rows orthonormal) or max |W^T W - I| (columns), over a float64 [r, c] matrix.
double orthonormality_error(const Tensor& w, bool rows, double gain = 1.0) {
  Tensor w64 = w.cast(kFloat64);
  Tensor product = rows ? matmul(w64, transpose(w64, 0, 1)) : matmul(transpose(w64, 0, 1), w64);
  const int64_t n = product.size(0);
  const std::vector<double> p = product.to_vector<double>();
  double err = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      err = std::max(err, std::fabs(p[static_cast<size_t>(i * n + j)] - (i == j ? gain * gain : 0.0)));
  return err;
}

TEST(Init, OrthogonalRowsOrColumnsAreOrthonormal) {
  Generator gen(7);
  Tensor wide = empty({48, 160}, kFloat64);
  init::orthogonal_(wide, gen);
  EXPECT_LT(orthonormality_error(wide, /*rows=*/true), 1e-12);
  Tensor tall = empty({160, 48}, kFloat64);
  init::orthogonal_(tall, gen);
  EXPECT_LT(orthonormality_error(tall, /*rows=*/false), 1e-12);
  Tensor square = empty({64, 64});
  init::orthogonal_(square, gen, 2.0);
  EXPECT_LT(orthonormality_error(square, true, 2.0), 1e-5);
  EXPECT_LT(orthonormality_error(square, false, 2.0), 1e-5);
  Tensor conv = empty({8, 2, 1, 3}, kFloat64);  // viewed as [8, 6]: columns orthonormal
  init::orthogonal_(conv, gen);
  EXPECT_LT(orthonormality_error(reshape(conv, {8, 6}), false), 1e-12);
  expect_error([&] { init::orthogonal_(empty({5}), gen); },
               "init.orthogonal_: only tensors with 2 or more dimensions are supported, got shape [5]");
}

// PyTorch's sign correction: W is the Q of the QR decomposition of the normal matrix it drew
// with R's diagonal positive. orthogonal_ draws rows * cols normals in row-major order, so
// the same seed reproduces that matrix A. Tall: R = W^T A upper triangular, positive
// diagonal. Wide: W = Q^T for A^T = Q R, so A W^T = R^T is lower triangular, positive diagonal.
TEST(Init, OrthogonalIsTheQWithAPositiveRDiagonal) {
  for (bool wide : {false, true}) {
    const Shape shape = wide ? Shape{5, 9} : Shape{9, 5};
    Generator gen_w(11), gen_a(11);
    Tensor w = empty(shape, kFloat64);
    init::orthogonal_(w, gen_w);
    Tensor a = randn(shape, gen_a, kFloat64);
    Tensor r = wide ? matmul(a, transpose(w, 0, 1)) : matmul(transpose(w, 0, 1), a);  // [5, 5]
    const std::vector<double> rv = r.to_vector<double>();
    for (int64_t i = 0; i < 5; ++i) {
      for (int64_t j = 0; j < 5; ++j) {
        const double v = rv[static_cast<size_t>(i * 5 + j)];
        const bool zero_part = wide ? j > i : j < i;
        if (i == j) {
          EXPECT_GT(v, 0.1) << "wide " << wide << " diagonal " << i;
        } else if (zero_part) {
          EXPECT_NEAR(v, 0.0, 1e-12) << "wide " << wide << " at " << i << ", " << j;
        }
      }
    }
  }
}

// ---------------------------------------------------------------- layout, determinism, errors

TEST(Init, ViewsAreFilledThroughTheirStrides) {
  Generator gen(8);
  Tensor bias = zeros({4, 3});
  init::constant_(narrow(bias, 0, 1, 1), 1.0);  // e.g. an LSTM's forget-gate bias
  init::uniform_(transpose(narrow(bias, 0, 2, 2), 0, 1), gen, 5.0, 6.0);
  const std::vector<float> v = bias.to_vector<float>();
  for (int64_t i = 0; i < 12; ++i) {
    const float x = v[static_cast<size_t>(i)];
    if (i < 3)
      EXPECT_EQ(x, 0.0f) << i;
    else if (i < 6)
      EXPECT_EQ(x, 1.0f) << i;
    else
      EXPECT_TRUE(x >= 5.0f && x <= 6.0f) << i << ": " << x;
  }
}

TEST(Init, SameSeedSameValuesAndNoGraph) {
  Generator a(9), b(9), c(10);
  Tensor x = empty({6, 7}), y = empty({6, 7}), z = empty({6, 7});
  x.set_requires_grad(true);
  init::kaiming_uniform_(x, a);
  init::kaiming_uniform_(y, b);
  init::kaiming_uniform_(z, c);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  EXPECT_NE(x.to_vector<float>(), z.to_vector<float>());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_TRUE(x.requires_grad());
}

TEST(Init, EmptyTensorsAreLeftAlone) {
  Generator gen(0);
  const uint64_t before = Generator(0).next_u64();
  init::kaiming_uniform_(empty({0, 5}), gen);
  init::xavier_normal_(empty({5, 0}), gen);
  init::orthogonal_(empty({0, 3}), gen);
  EXPECT_EQ(gen.next_u64(), before);  // nothing was drawn
}

TEST(Init, RefusesBadTensorsAndArguments) {
  Generator gen(0);
  expect_error([&] { init::uniform_(Tensor(), gen); }, "init.uniform_: the tensor is undefined");
  expect_error([&] { init::normal_(zeros({2}, kInt64), gen); }, "init.normal_: expected a floating tensor, got int64");
  expect_error([&] { init::uniform_(empty({2}), gen, 1.0, 0.0); },
               "the lower bound a = 1 exceeds the upper bound b = 0");
  expect_error([&] { init::uniform_(empty({2}), gen, 0.0, INFINITY); }, "init.uniform_: b must be finite, got inf");
  expect_error([&] { init::normal_(empty({2}), gen, 0.0, -1.0); }, "init.normal_: std must be non-negative, got -1");
  expect_error(
      [&] {
        init::kaiming_normal_(empty({2, 2}), gen, 0.0, "fan", "relu");
      },
      "init.kaiming_normal_: mode must be \"fan_in\" or \"fan_out\"");
  expect_error(
      [&] {
        init::kaiming_uniform_(empty({2, 2}), gen, 0.0, "fan_in", "gelu");
      },
      "unsupported nonlinearity \"gelu\"");
  expect_error([&] { init::xavier_uniform_(empty({4}), gen); },
               "init.xavier_uniform_: fan in and fan out cannot be computed");
  expect_error([&] { init::constant_(zeros({2}, kBool), 1.0); },
               "init.constant_: expected a floating tensor, got bool");
}

}  // namespace
}  // namespace harnet
