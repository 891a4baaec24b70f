// Savitzky-Golay smoothing: the weights against the published tables (centre and ends),
// polynomials up to the order passing unchanged at every frame (ends included) and the next
// degree not, a frame-by-frame check against the weights, untracked frames skipped, short
// sequences, noise reduction, and every refusal's message.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/test_util.h"
#include "autograd/generator.h"
#include "data/smooth.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

void expect_weights(const std::vector<double>& got, const std::vector<double>& numerators, double denominator) {
  ASSERT_EQ(got.size(), numerators.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], numerators[i] / denominator, 1e-12) << "weight " << i;
}

// A sequence of `frames` frames of `joints` joints whose coordinate v of frame t is f(t, v).
template <class F>
SkeletonSequence sequence_of(int64_t frames, int64_t joints, F&& f) {
  SkeletonSequence s;
  s.frames = frames;
  s.joints = joints;
  s.xyz.resize(static_cast<size_t>(frames * joints * 3));
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t v = 0; v < joints * 3; ++v) s.frame(t)[v] = static_cast<float>(f(static_cast<double>(t), v));
  return s;
}

TEST(Smooth, CentreWeightsAreSavitzkyGolaysTables) {
  expect_weights(savgol_weights(5, 2, 2), {-3, 12, 17, 12, -3}, 35);
  expect_weights(savgol_weights(7, 2, 3), {-2, 3, 6, 7, 6, 3, -2}, 21);
  expect_weights(savgol_weights(9, 4, 4), {15, -55, 30, 135, 179, 135, 30, -55, 15}, 429);
  // Order 3 has the centre weights of order 2 (odd terms vanish at the centre).
  expect_weights(savgol_weights(5, 3, 2), {-3, 12, 17, 12, -3}, 35);
  // Order 0 and 1: the moving average.
  expect_weights(savgol_weights(5, 0, 2), {1, 1, 1, 1, 1}, 5);
  expect_weights(savgol_weights(5, 1, 2), {1, 1, 1, 1, 1}, 5);
  // Order window - 1 interpolates: the frame itself.
  expect_weights(savgol_weights(5, 4, 2), {0, 0, 35, 0, 0}, 35);
}

TEST(Smooth, EndWeightsEvaluateTheFitAtTheirFrame) {
  expect_weights(savgol_weights(5, 2, 0), {31, 9, -3, -5, 3}, 35);
  expect_weights(savgol_weights(5, 2, 1), {9, 13, 12, 6, -5}, 35);
  // Mirror images at the other end.
  expect_weights(savgol_weights(5, 2, 4), {3, -5, -3, 9, 31}, 35);
  expect_weights(savgol_weights(7, 3, 0), {39, 8, -4, -4, 1, 4, -2}, 42);
  expect_weights(savgol_weights(5, 1, 0), {3, 2, 1, 0, -1}, 5);
}

TEST(Smooth, WeightsSumToOneAndReproduceTheirMoments) {
  for (int64_t window : {3, 5, 7, 11, 21}) {
    for (int64_t order = 0; order < window && order <= 6; ++order) {
      for (int64_t at = 0; at < window; ++at) {
        const std::vector<double> w = savgol_weights(window, order, at);
        for (int64_t k = 0; k <= order; ++k) {
          double moment = 0.0;
          for (int64_t i = 0; i < window; ++i)
            moment += w[static_cast<size_t>(i)] * std::pow(double(i - at) / double(window), k);
          EXPECT_NEAR(moment, k == 0 ? 1.0 : 0.0, 1e-9)
              << "window " << window << " order " << order << " at " << at << " moment " << k;
        }
      }
    }
  }
}

TEST(Smooth, PolynomialsUpToTheOrderPassUnchangedEndsIncluded) {
  const auto quadratic = [](double t, int64_t v) { return 0.1 * v + 0.03 * t - 0.002 * (v + 1) * t * t; };
  SkeletonSequence s = sequence_of(17, 2, quadratic);
  const std::vector<float> before = s.xyz;
  smooth_sequence(s, SmoothOptions{5, 2});
  for (size_t i = 0; i < before.size(); ++i) EXPECT_NEAR(s.xyz[i], before[i], 1e-5) << "value " << i;

  const auto cubic = [](double t, int64_t v) { return 0.1 * v + 0.001 * t * t * t; };
  SkeletonSequence c = sequence_of(17, 2, cubic);
  const std::vector<float> cubic_before = c.xyz;
  SkeletonSequence c3 = c;
  smooth_sequence(c, SmoothOptions{7, 2});
  smooth_sequence(c3, SmoothOptions{7, 3});
  double moved = 0.0;
  for (size_t i = 0; i < cubic_before.size(); ++i) {
    moved = std::max(moved, std::abs(double(c.xyz[i]) - cubic_before[i]));
    EXPECT_NEAR(c3.xyz[i], cubic_before[i], 2e-5) << "value " << i;
  }
  EXPECT_GT(moved, 1e-3);  // order 2 cannot follow a cubic at the ends
}

TEST(Smooth, EveryFrameIsItsWindowsWeightedSum) {
  Generator generator(11);
  SkeletonSequence s = sequence_of(9, 3, [&](double, int64_t) { return generator.uniform() * 2.0 - 1.0; });
  const SkeletonSequence source = s;
  smooth_sequence(s, SmoothOptions{5, 2});
  for (int64_t t = 0; t < 9; ++t) {
    const int64_t start = t < 2 ? 0 : (t > 6 ? 4 : t - 2);
    const std::vector<double> w = savgol_weights(5, 2, t - start);
    for (int64_t v = 0; v < 9; ++v) {
      double expected = 0.0;
      for (int64_t i = 0; i < 5; ++i) expected += w[static_cast<size_t>(i)] * source.frame(start + i)[v];
      EXPECT_NEAR(s.frame(t)[v], expected, 1e-6) << "frame " << t << " value " << v;
    }
  }
}

TEST(Smooth, ReducesFrameToFrameNoise) {
  Generator generator(3);
  const auto truth = [](double t, int64_t v) { return std::sin(0.2 * t + 0.3 * static_cast<double>(v)); };
  SkeletonSequence s = sequence_of(60, 4, [&](double t, int64_t v) { return truth(t, v) + 0.05 * generator.normal(); });
  auto error = [&](const SkeletonSequence& q) {
    double sum = 0.0;
    for (int64_t t = 0; t < q.frames; ++t)
      for (int64_t v = 0; v < 12; ++v) sum += std::pow(q.frame(t)[v] - truth(double(t), v), 2);
    return std::sqrt(sum / double(q.frames * 12));
  };
  const double noisy = error(s);
  smooth_sequence(s, SmoothOptions{5, 2});
  EXPECT_LT(error(s), 0.8 * noisy);
}

TEST(Smooth, SkipsUntrackedFramesAndLeavesThemZero) {
  // Frames 0-3 and 5-8 tracked, frame 4 all zero: the tracked ones are smoothed as one run.
  Generator generator(5);
  SkeletonSequence s = sequence_of(9, 2, [&](double t, int64_t) { return t == 4 ? 0.0 : 1.0 + generator.uniform(); });
  SkeletonSequence tracked_only = sequence_of(8, 2, [&](double t, int64_t v) {
    const int64_t source = t < 4 ? static_cast<int64_t>(t) : static_cast<int64_t>(t) + 1;
    return s.frame(source)[v];
  });
  smooth_sequence(s, SmoothOptions{5, 2});
  smooth_sequence(tracked_only, SmoothOptions{5, 2});
  for (int64_t v = 0; v < 6; ++v) EXPECT_EQ(s.frame(4)[v], 0.0f);
  for (int64_t t = 0; t < 8; ++t)
    for (int64_t v = 0; v < 6; ++v) EXPECT_EQ(s.frame(t < 4 ? t : t + 1)[v], tracked_only.frame(t)[v]);
}

TEST(Smooth, ShortSequencesUseTheLongestWindowTheyHold) {
  Generator generator(7);
  const auto random = [&](double, int64_t) { return generator.uniform(); };
  // 4 frames, window 7 order 1: window 3, the moving average of order 1 (ends: the line's ends).
  SkeletonSequence s = sequence_of(4, 1, random);
  const SkeletonSequence source = s;
  smooth_sequence(s, SmoothOptions{7, 1});
  for (int64_t v = 0; v < 3; ++v)
    EXPECT_NEAR(s.frame(1)[v], (source.frame(0)[v] + source.frame(1)[v] + source.frame(2)[v]) / 3.0, 1e-6);
  // 4 frames, window 5 order 2: window 3 with order 2 interpolates, nothing moves.
  SkeletonSequence t = source;
  smooth_sequence(t, SmoothOptions{5, 2});
  for (size_t i = 0; i < t.xyz.size(); ++i) EXPECT_NEAR(t.xyz[i], source.xyz[i], 1e-6);
  // Two frames and one frame stay as they are.
  for (int64_t frames : {1, 2}) {
    SkeletonSequence u = sequence_of(frames, 1, random);
    const std::vector<float> before = u.xyz;
    smooth_sequence(u, SmoothOptions{5, 2});
    EXPECT_EQ(u.xyz, before);
  }
}

TEST(Smooth, OffLeavesTheSequenceAlone) {
  Generator generator(9);
  SkeletonSequence s = sequence_of(10, 2, [&](double, int64_t) { return generator.uniform(); });
  const std::vector<float> before = s.xyz;
  smooth_sequence(s, SmoothOptions{});
  EXPECT_EQ(s.xyz, before);
  EXPECT_FALSE(SmoothOptions{}.enabled());
}

TEST(Smooth, RefusesBadSettings) {
  SkeletonSequence s = sequence_of(10, 1, [](double t, int64_t) { return t; });
  expect_error([&] { smooth_sequence(s, SmoothOptions{4, 2}); }, "window must be an odd number of frames >= 3");
  expect_error([&] { smooth_sequence(s, SmoothOptions{1, 0}); }, "got 1");
  expect_error([&] { smooth_sequence(s, SmoothOptions{-5, 2}); }, "got -5");
  expect_error([&] { smooth_sequence(s, SmoothOptions{5, 5}); }, "order must be in [0, window) = [0, 5), got 5");
  expect_error([&] { smooth_sequence(s, SmoothOptions{5, -1}); }, "got -1");
  expect_error([] { savgol_weights(5, 2, 5); }, "0 <= at < window");
  expect_error([] { savgol_weights(3, 3, 0); }, "0 <= order < window");
}

}  // namespace
}  // namespace harnet
