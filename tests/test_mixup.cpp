// Mixup: the weight's distribution (Beta(alpha, alpha) folded into [0.5, 1], checked against
// closed forms for alpha 1 and 0.5, the two paths of the gamma sampler), its repeatability,
// the blend of a batch with itself rolled by one, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "autograd/error.h"
#include "data/mixup.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

constexpr double kPi = 3.14159265358979323846;

// The share of n weights at most t, and their mean.
struct WeightStats {
  double share_below = 0.0;
  double mean = 0.0;
};

WeightStats weight_stats(double alpha, double t, int n) {
  WeightStats s;
  for (int i = 0; i < n; ++i) {
    const double w = draw_mixup_weight(alpha, static_cast<uint64_t>(i) * 7919u + 13u);
    EXPECT_GE(w, 0.5);
    EXPECT_LE(w, 1.0);
    s.share_below += w <= t;
    s.mean += w;
  }
  s.share_below /= n;
  s.mean /= n;
  return s;
}

TEST(Mixup, WeightsFollowTheFoldedBetaDistribution) {
  constexpr int n = 40000;  // standard error of a share about 0.0025
  // alpha 1: Beta(1, 1) is uniform, so max(w, 1 - w) is uniform on [0.5, 1].
  const WeightStats uniform = weight_stats(1.0, 0.75, n);
  EXPECT_NEAR(uniform.share_below, 0.5, 0.012);
  EXPECT_NEAR(uniform.mean, 0.75, 0.004);
  // alpha 0.5 (the shape < 1 path): Beta(1/2, 1/2) is the arcsine law, F(w) = 2/pi asin(sqrt(w)),
  // so P(max(w, 1 - w) <= 3/4) = F(3/4) - F(1/4) = 2/3 - 1/3.
  const WeightStats arcsine = weight_stats(0.5, 0.75, n);
  EXPECT_NEAR(arcsine.share_below, 1.0 / 3.0, 0.012);
  // E[max(w, 1 - w)] = 1/2 + E|w - 1/2| = 1/2 + 1/pi for the arcsine law.
  EXPECT_NEAR(arcsine.mean, 0.5 + 1.0 / kPi, 0.004);
  // alpha 2 (Beta(2, 2), density 6 w (1 - w)): E[max(w, 1 - w)] = 1/2 + 3/16.
  EXPECT_NEAR(weight_stats(2.0, 0.75, n).mean, 0.6875, 0.004);
  // A tiny alpha puts nearly all the mass at the ends: the weight is (almost) always above 0.99
  // (and in [0.5, 1], checked inside, even where both gamma draws underflow).
  EXPECT_LT(weight_stats(1e-3, 0.99, 2000).share_below, 0.02);
}

TEST(Mixup, TheSameSeedGivesTheSameWeight) {
  std::set<double> seen;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const double w = draw_mixup_weight(0.4, seed);
    EXPECT_EQ(w, draw_mixup_weight(0.4, seed));
    seen.insert(w);
  }
  EXPECT_GT(seen.size(), 95u);
}

Batch small_batch() {
  Batch batch;
  batch.x = empty({3, 2, 2}, kFloat32);
  float* x = batch.x.data<float>();
  for (int64_t i = 0; i < 12; ++i) x[i] = static_cast<float>(i * i) - 3.0f;
  batch.y = empty({3}, kInt64);
  int64_t* y = batch.y.data<int64_t>();
  y[0] = 4, y[1] = 0, y[2] = 7;
  batch.indices = {10, 11, 12};
  batch.window_starts = {0, 0, 0};
  return batch;
}

TEST(Mixup, BlendsEachSampleWithThePreviousOne) {
  const Batch original = small_batch();
  Batch batch = small_batch();
  const double w = 0.7;
  const Tensor partner = mix_batch(batch, w);
  EXPECT_EQ(partner.to_vector<int64_t>(), (std::vector<int64_t>{7, 4, 0}));
  EXPECT_EQ(batch.y.to_vector<int64_t>(), (std::vector<int64_t>{4, 0, 7}));
  EXPECT_EQ(batch.indices, original.indices);
  const std::vector<float> before = original.x.to_vector<float>(), after = batch.x.to_vector<float>();
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t p = (b + 2) % 3;
    for (int64_t i = 0; i < 4; ++i) {
      const double expected = w * before[b * 4 + i] + (1 - w) * before[p * 4 + i];
      EXPECT_NEAR(after[b * 4 + i], expected, 1e-5 * (1 + std::abs(expected))) << b << " " << i;
    }
  }
}

TEST(Mixup, WeightOneAndABatchOfOneLeaveTheSamplesAlone) {
  Batch batch = small_batch();
  mix_batch(batch, 1.0);
  EXPECT_EQ(batch.x.to_vector<float>(), small_batch().x.to_vector<float>());

  Batch one;
  one.x = empty({1, 3}, kFloat32);
  float* x = one.x.data<float>();
  x[0] = 1.5f, x[1] = -2.0f, x[2] = 0.25f;
  one.y = empty({1}, kInt64);
  one.y.data<int64_t>()[0] = 2;
  EXPECT_EQ(mix_batch(one, 0.6).to_vector<int64_t>(), (std::vector<int64_t>{2}));
  const std::vector<float> got = one.x.to_vector<float>();
  EXPECT_NEAR(got[0], 1.5f, 1e-6);
  EXPECT_NEAR(got[1], -2.0f, 1e-6);
  EXPECT_NEAR(got[2], 0.25f, 1e-6);
}

TEST(Mixup, BadAlphasWeightsAndBatchesAreErrors) {
  expect_error([] { draw_mixup_weight(0.0, 1); }, "mixup: alpha must be > 0, got 0");
  expect_error([] { draw_mixup_weight(-1.0, 1); }, "mixup: alpha must be > 0");
  expect_error([] { draw_mixup_weight(std::numeric_limits<double>::quiet_NaN(), 1); }, "mixup: alpha must be > 0");
  expect_error(
      [] {
        Batch b = small_batch();
        mix_batch(b, 1.5);
      },
      "the weight must be in [0, 1], got 1.5");
  expect_error(
      [] {
        Batch b = small_batch();
        b.y = empty({2}, kInt64);
        mix_batch(b, 0.5);
      },
      "the batch's y must be [B] with B = x.size(0)");
  expect_error(
      [] {
        Batch b = small_batch();
        b.x = empty({3, 2, 2}, kFloat64);
        mix_batch(b, 0.5);
      },
      "contiguous float32");
}

}  // namespace
}  // namespace harnet
