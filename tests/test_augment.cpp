// Augmentation: per-sample seeds, the ranges of the draws, independence of the draws from
// which augmentations are on, the rotation convention (it undoes into the normalisation),
// scale, jitter statistics, temporal crop ranges, left/right mirroring, and the option checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/error.h"
#include "data/augment.h"
#include "data/kinect_v2.h"
#include "data/msr_action3d.h"
#include "data/preprocess.h"
#include "tests/skeleton_test_data.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

constexpr double kPi = 3.14159265358979323846;

TEST(Augment, SampleSeedsAreDistinctAndRepeatable) {
  std::set<uint64_t> seen;
  for (uint64_t seed : {0ull, 1ull, 42ull}) {
    for (int64_t epoch = 0; epoch < 10; ++epoch) {
      for (int64_t sample = -1; sample < 50; ++sample) {
        const uint64_t s = sample_seed(seed, epoch, sample);
        EXPECT_EQ(s, sample_seed(seed, epoch, sample));
        seen.insert(s);
      }
    }
  }
  EXPECT_EQ(seen.size(), 3u * 10u * 51u);
}

TEST(Augment, DrawsStayInTheirRanges) {
  const AugmentOptions options = AugmentOptions::training();
  double min_angle = 1e9, max_angle = -1e9, min_scale = 1e9, max_scale = -1e9, min_crop = 1e9;
  for (int64_t i = 0; i < 4000; ++i) {
    Generator gen(sample_seed(3, 0, i));
    const SampleAugmentation a = draw_augmentation(options, gen);
    min_angle = std::min(min_angle, a.rotation_radians);
    max_angle = std::max(max_angle, a.rotation_radians);
    min_scale = std::min(min_scale, a.scale);
    max_scale = std::max(max_scale, a.scale);
    min_crop = std::min(min_crop, a.crop_fraction);
    ASSERT_LE(a.crop_fraction, 1.0);
    ASSERT_GE(a.crop_position, 0.0);
    ASSERT_LT(a.crop_position, 1.0);
  }
  const double limit = 15.0 * kPi / 180.0;
  EXPECT_GE(min_angle, -limit);
  EXPECT_LE(max_angle, limit);
  EXPECT_LT(min_angle, -0.95 * limit);  // the whole range is used
  EXPECT_GT(max_angle, 0.95 * limit);
  EXPECT_GE(min_scale, 0.9);
  EXPECT_LE(max_scale, 1.1);
  EXPECT_LT(min_scale, 0.91);
  EXPECT_GT(max_scale, 1.09);
  EXPECT_GE(min_crop, 0.8);
  EXPECT_LT(min_crop, 0.81);
}

TEST(Augment, SwitchedOffGivesIdentityAndDoesNotShiftOtherDraws) {
  AugmentOptions all = AugmentOptions::training();
  AugmentOptions rotate_only;
  rotate_only.rotate = true;
  Generator a(11), b(11), c(11);
  const SampleAugmentation with_all = draw_augmentation(all, a);
  const SampleAugmentation with_rotation = draw_augmentation(rotate_only, b);
  EXPECT_EQ(with_all.rotation_radians, with_rotation.rotation_radians);
  EXPECT_NE(with_all.rotation_radians, 0.0);
  EXPECT_EQ(with_rotation.scale, 1.0);
  EXPECT_EQ(with_rotation.crop_fraction, 1.0);
  EXPECT_EQ(with_rotation.crop_position, 0.0);
  // Both consumed the same four draws: the generators are in the same state.
  EXPECT_EQ(a.state(), b.state());
  const SampleAugmentation none = draw_augmentation(AugmentOptions{}, c);
  EXPECT_EQ(none.rotation_radians, 0.0);
  EXPECT_EQ(c.state(), a.state());
}

TEST(Augment, RotationConventionAndPivot) {
  // (1, 5, 0) about the y axis by +90 degrees: x' = cos x + sin z = 0, z' = -sin x + cos z = -1.
  std::vector<float> p = {1, 5, 0, 3, 0, 4};
  rotate_about_vertical(p.data(), 2, kPi / 2, 0.0f, 0.0f);
  EXPECT_NEAR(p[0], 0.0, 1e-6);
  EXPECT_EQ(p[1], 5.0f);
  EXPECT_NEAR(p[2], -1.0, 1e-6);
  EXPECT_NEAR(p[3], 4.0, 1e-6);
  EXPECT_NEAR(p[5], -3.0, 1e-6);
  // About a pivot: the pivot stays, distances to it stay.
  std::vector<float> q = {2, 1, 3, 4, 1, 3};
  rotate_about_vertical(q.data(), 2, 0.7, 2.0f, 3.0f);
  EXPECT_FLOAT_EQ(q[0], 2.0f);
  EXPECT_FLOAT_EQ(q[2], 3.0f);
  EXPECT_NEAR(std::hypot(q[3] - 2.0, q[5] - 3.0), 2.0, 1e-6);
}

TEST(Augment, NormalizationUndoesAnAugmentationRotation) {
  // A normalised body (shoulders along +x) rotated by the augmentation and normalised again
  // comes back: the two use the same convention.
  const SkeletonDataset data = test::kinect_dataset(1);
  SkeletonSequence s = extract_sequence(data, 0, true);
  normalize_sequence(s, joint_roles(data), NormalizeOptions{});
  SkeletonSequence rotated = s;
  rotate_about_vertical(rotated.xyz.data(), rotated.frames * rotated.joints, 0.2, 0.0f, 0.0f);
  EXPECT_GT(std::fabs(rotated.xyz[3 * test::kShoulderLeft + 2] - s.xyz[3 * test::kShoulderLeft + 2]), 0.05);
  normalize_sequence(rotated, joint_roles(data), NormalizeOptions{});
  for (size_t i = 0; i < s.xyz.size(); ++i) ASSERT_NEAR(rotated.xyz[i], s.xyz[i], 1e-5) << "value " << i;
}

TEST(Augment, ScaleAboutAPivot) {
  std::vector<float> p = {1, 2, 3, 2, 4, 6};
  const float pivot[3] = {1, 2, 3};
  scale_about(p.data(), 2, 1.5, pivot);
  EXPECT_EQ(p, (std::vector<float>{1, 2, 3, 2.5f, 5, 7.5f}));
  // The pivot may be one of the scaled points.
  std::vector<float> q = {1, 1, 1, 3, 3, 3};
  scale_about(q.data(), 2, 2.0, q.data() + 3);
  EXPECT_EQ(q, (std::vector<float>{-1, -1, -1, 3, 3, 3}));
}

TEST(Augment, JitterHasTheRequestedSpread) {
  const int64_t n = 200000;
  std::vector<float> v(static_cast<size_t>(n), 1.0f);
  Generator gen(5);
  add_jitter(v.data(), n, 0.01, gen);
  double sum = 0, sum_sq = 0;
  for (float x : v) {
    sum += x - 1.0;
    sum_sq += (x - 1.0) * (x - 1.0);
  }
  const double mean = sum / static_cast<double>(n);
  const double sigma = std::sqrt(sum_sq / static_cast<double>(n) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-4);  // 5 standard errors
  EXPECT_NEAR(sigma, 0.01, 1e-4);
  std::vector<float> w(static_cast<size_t>(n), 1.0f);
  Generator again(5);
  add_jitter(w.data(), n, 0.01, again);
  EXPECT_EQ(v, w);
}

TEST(Augment, CropRanges) {
  SampleAugmentation a;
  EXPECT_EQ(crop_range(50, a).start, 0);
  EXPECT_EQ(crop_range(50, a).length, 50);
  a.crop_fraction = 0.8;
  a.crop_position = 0.0;
  EXPECT_EQ(crop_range(100, a).length, 80);
  EXPECT_EQ(crop_range(100, a).start, 0);
  a.crop_position = 0.999999;
  EXPECT_EQ(crop_range(100, a).start, 20);  // the last of the 21 possible starts
  a.crop_position = 0.5;
  EXPECT_EQ(crop_range(100, a).start, 10);
  a.crop_fraction = 0.01;
  EXPECT_EQ(crop_range(10, a).length, 1);  // at least one frame
  EXPECT_EQ(crop_range(1, a).length, 1);
  EXPECT_EQ(crop_range(1, a).start, 0);
}

TEST(Augment, PositionsEachAugmentationAlone) {
  const SkeletonDataset data = test::kinect_dataset(1);
  SkeletonSequence s = extract_sequence(data, 0, true);
  normalize_sequence(s, joint_roles(data), NormalizeOptions{});
  const SkeletonSequence original = s;
  const int32_t center = test::kSpineBase;
  SampleAugmentation draws;
  draws.rotation_radians = 0.25;
  draws.scale = 1.07;

  auto run = [&](const AugmentOptions& options) {
    SkeletonSequence out = original;
    Generator gen(1);
    augment_positions(out.xyz.data(), out.frames, out.joints, center, options, draws, gen);
    return out;
  };
  auto bone = [](const SkeletonSequence& x, int64_t t, int32_t a, int32_t b) {
    const float* p = x.frame(t);
    return std::sqrt(std::pow(p[3 * a] - p[3 * b], 2) + std::pow(p[3 * a + 1] - p[3 * b + 1], 2) +
                     std::pow(p[3 * a + 2] - p[3 * b + 2], 2));
  };

  EXPECT_EQ(run(AugmentOptions{}).xyz, original.xyz);

  AugmentOptions rotate;
  rotate.rotate = true;
  const SkeletonSequence r = run(rotate);
  for (int64_t t = 0; t < r.frames; ++t) {
    for (int64_t j = 0; j < r.joints; ++j) ASSERT_EQ(r.frame(t)[3 * j + 1], original.frame(t)[3 * j + 1]);
    ASSERT_NEAR(bone(r, t, 5, 6), bone(original, t, 5, 6), 1e-5);
  }
  // The shoulder line turned by the drawn angle: z' = -sin(0.25) * x.
  const float* ls = r.frame(0) + 3 * test::kShoulderLeft;
  const float* rs = r.frame(0) + 3 * test::kShoulderRight;
  EXPECT_NEAR(std::atan2(-(rs[2] - ls[2]), rs[0] - ls[0]), 0.25, 1e-5);

  AugmentOptions scale;
  scale.scale = true;
  const SkeletonSequence sc = run(scale);
  for (int d = 0; d < 3; ++d) EXPECT_EQ(sc.frame(0)[3 * center + d], original.frame(0)[3 * center + d]);
  EXPECT_NEAR(bone(sc, 3, 13, 14), 1.07 * bone(original, 3, 13, 14), 1e-5);

  AugmentOptions jitter;
  jitter.jitter = true;
  jitter.jitter_sigma = 0.02;
  const SkeletonSequence j = run(jitter);
  double sum_sq = 0;
  for (size_t i = 0; i < j.xyz.size(); ++i) sum_sq += std::pow(j.xyz[i] - original.xyz[i], 2);
  EXPECT_NEAR(std::sqrt(sum_sq / static_cast<double>(j.xyz.size())), 0.02, 0.002);
}

TEST(Augment, ScaleBonesScalesEachBoneAlongItself) {
  const SkeletonDataset data = test::kinect_dataset(1);
  SkeletonSequence s = extract_sequence(data, 0, true);
  const SkeletonSequence original = s;
  const std::vector<int32_t>& parents = test::kKinectV2Parents;  // joint 20's parent (1) comes after 2, 4, 8
  std::vector<double> factors(parents.size());
  for (size_t j = 0; j < factors.size(); ++j) factors[j] = 0.8 + 0.02 * static_cast<double>(j);
  scale_bones(s.xyz.data(), s.frames, s.joints, parents, factors);
  for (int64_t t = 0; t < s.frames; ++t) {
    const float* a = s.frame(t);
    const float* o = original.frame(t);
    for (int d = 0; d < 3; ++d) ASSERT_EQ(a[3 * test::kSpineBase + d], o[3 * test::kSpineBase + d]);
    for (size_t j = 0; j < parents.size(); ++j) {
      const int32_t p = parents[j];
      if (p < 0) continue;
      for (int d = 0; d < 3; ++d) {
        const double moved = a[3 * j + d] - a[3 * p + d];
        const double before = o[3 * j + d] - o[3 * p + d];
        ASSERT_NEAR(moved, factors[j] * before, 1e-5) << "frame " << t << ", joint " << j << ", axis " << d;
      }
    }
  }
  // Factors of 1 leave the skeleton as it was.
  SkeletonSequence same = original;
  scale_bones(same.xyz.data(), same.frames, same.joints, parents, std::vector<double>(parents.size(), 1.0));
  for (size_t i = 0; i < same.xyz.size(); ++i) ASSERT_NEAR(same.xyz[i], original.xyz[i], 1e-6);
  // Bad trees are refused.
  std::vector<int32_t> cycle = parents;
  cycle[0] = 3;
  expect_error([&] { scale_bones(same.xyz.data(), same.frames, same.joints, cycle, factors); },
               "skeleton tree: no root (no joint has parent -1); the joints form a cycle");
  expect_error([&] { scale_bones(same.xyz.data(), same.frames, same.joints, {-1, 0}, factors); },
               "scale_bones: parents and factors need 25 entries, got 2 and 25");
}

TEST(Augment, BoneFactorsAndMotionFactorStayInRangeAndRepeat) {
  AugmentOptions options;
  options.bone_scale_range = 0.3;
  options.motion_scale_range = 0.25;
  double low = 2, high = 0, motion_low = 2, motion_high = 0;
  std::set<double> distinct;
  for (int64_t sample = 0; sample < 400; ++sample) {
    const uint64_t seed = sample_seed(5, 0, sample);
    const std::vector<double> f = draw_bone_factors(options, 25, seed);
    ASSERT_EQ(f.size(), 25u);
    EXPECT_EQ(f, draw_bone_factors(options, 25, seed));
    for (double v : f) {
      low = std::min(low, v);
      high = std::max(high, v);
      distinct.insert(v);
    }
    const double m = draw_motion_factor(options, seed);
    EXPECT_EQ(m, draw_motion_factor(options, seed));
    motion_low = std::min(motion_low, m);
    motion_high = std::max(motion_high, m);
  }
  EXPECT_GE(low, 0.7);
  EXPECT_LT(low, 0.72);
  EXPECT_LE(high, 1.3);
  EXPECT_GT(high, 1.28);
  EXPECT_GT(distinct.size(), 9000u);
  EXPECT_GE(motion_low, 0.75);
  EXPECT_LT(motion_low, 0.77);
  EXPECT_LE(motion_high, 1.25);
  EXPECT_GT(motion_high, 1.23);
}

TEST(Augment, ScaleMotionScalesDeviationsFromTheMeanPose) {
  const SkeletonDataset data = test::kinect_dataset(1);
  SkeletonSequence s = extract_sequence(data, 0, true);
  const SkeletonSequence original = s;
  scale_motion(s.xyz.data(), s.frames, s.joints, 1.3);
  const int64_t values = s.joints * 3;
  for (int64_t i = 0; i < values; ++i) {
    double mean = 0;
    for (int64_t t = 0; t < s.frames; ++t) mean += original.xyz[static_cast<size_t>(t * values + i)];
    mean /= static_cast<double>(s.frames);
    for (int64_t t = 0; t < s.frames; ++t) {
      const double before = original.xyz[static_cast<size_t>(t * values + i)];
      ASSERT_NEAR(s.xyz[static_cast<size_t>(t * values + i)], mean + 1.3 * (before - mean), 1e-5);
    }
  }
  // The left wrist swings in the fixture, so this did move something.
  EXPECT_NE(s.xyz, original.xyz);
}

TEST(Augment, OptionsAreChecked) {
  validate_augment_options(AugmentOptions::training());
  AugmentOptions o;
  o.max_rotation_degrees = -1;
  expect_error([&] { validate_augment_options(o); }, "augment: max_rotation_degrees must be in [0, 180], got -1");
  o = AugmentOptions{};
  o.min_scale = 1.2;
  expect_error([&] { validate_augment_options(o); },
               "augment: the scale range must satisfy 0 < min_scale <= max_scale, got [1.2, 1.1]");
  o = AugmentOptions{};
  o.min_scale = 0.0;
  expect_error([&] { validate_augment_options(o); }, "got [0, 1.1]");
  o = AugmentOptions{};
  o.jitter_sigma = std::nan("");
  expect_error([&] { validate_augment_options(o); }, "augment: jitter_sigma must be a non-negative number, got nan");
  o = AugmentOptions{};
  o.min_crop_fraction = 0.0;
  expect_error([&] { validate_augment_options(o); }, "augment: min_crop_fraction must be in (0, 1], got 0");
  o.min_crop_fraction = 1.5;
  expect_error([&] { validate_augment_options(o); }, "got 1.5");
  o = AugmentOptions{};
  o.bone_scale_range = 1.0;
  expect_error([&] { validate_augment_options(o); }, "augment: bone_scale_range must be in [0, 1), got 1");
  o = AugmentOptions{};
  o.motion_scale_range = -0.1;
  expect_error([&] { validate_augment_options(o); }, "augment: motion_scale_range must be in [0, 1), got -0.1");
  o = AugmentOptions{};
  o.mirror_probability = 1.5;
  expect_error([&] { validate_augment_options(o); }, "augment: mirror_probability must be in [0, 1], got 1.5");
  o.mirror_probability = std::nan("");
  expect_error([&] { validate_augment_options(o); }, "augment: mirror_probability must be in [0, 1], got nan");
  o = AugmentOptions{};
  o.max_tilt_degrees = 91;
  expect_error([&] { validate_augment_options(o); }, "augment: max_tilt_degrees must be in [0, 90], got 91");
  o.max_tilt_degrees = -2;
  expect_error([&] { validate_augment_options(o); }, "got -2");
  o = AugmentOptions{};
  o.max_shear = 1.5;
  expect_error([&] { validate_augment_options(o); }, "augment: max_shear must be in [0, 1], got 1.5");
  o.max_shear = std::nan("");
  expect_error([&] { validate_augment_options(o); }, "augment: max_shear must be in [0, 1], got nan");
}

template <size_t N>
std::vector<std::string> names_of(const std::array<const char*, N>& names) {
  return std::vector<std::string>(names.begin(), names.end());
}

int32_t index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  EXPECT_NE(it, names.end()) << name;
  return static_cast<int32_t>(it - names.begin());
}

// Both built-in layouts pair every Left joint with its Right joint; the joints on the body's
// midline keep their place; the pairing is an involution.
TEST(Augment, MirrorPartnersPairTheBuiltInSkeletons) {
  const std::vector<std::string> kinect = names_of(kinect_v2_joint_names());
  const std::vector<int32_t> kinect_parents(kinect_v2_parents().begin(), kinect_v2_parents().end());
  const std::vector<std::string> msr = names_of(msr_action3d_joint_names());
  const std::vector<int32_t> msr_parents(msr_action3d_parents().begin(), msr_action3d_parents().end());
  for (const auto& [names, parents] : {std::pair{kinect, kinect_parents}, std::pair{msr, msr_parents}}) {
    const std::vector<int32_t> partners = mirror_partners(names, parents);
    ASSERT_EQ(partners.size(), names.size());
    int swapped = 0;
    for (size_t j = 0; j < names.size(); ++j) {
      const std::string& name = names[j];
      const std::string& other = names[static_cast<size_t>(partners[j])];
      EXPECT_EQ(partners[static_cast<size_t>(partners[j])], static_cast<int32_t>(j)) << name;
      const size_t left = name.find("Left"), right = name.find("Right");
      if (left != std::string::npos) {
        EXPECT_EQ(other, name.substr(0, left) + "Right" + name.substr(left + 4));
        ++swapped;
      } else if (right != std::string::npos) {
        EXPECT_EQ(other, name.substr(0, right) + "Left" + name.substr(right + 5));
        ++swapped;
      } else {
        EXPECT_EQ(other, name) << "a midline joint stays";
      }
    }
    EXPECT_EQ(swapped, names.size() == 25 ? 20 : 16);  // Kinect v2: 2 x 10 limb joints; MSR: 2 x 8
  }
  EXPECT_EQ(msr[static_cast<size_t>(mirror_partners(msr, msr_parents)[static_cast<size_t>(index_of(msr, "HandLeft"))])],
            "HandRight");
}

// Other spellings pair too (any case, the word anywhere in the name), and what cannot be
// mirrored is one clear error naming the joint.
TEST(Augment, MirrorPartnersOfOtherNamesAndTheirErrors) {
  //                                 0        1           2            3            4
  const std::vector<std::string> names = {"pelvis", "LEFT_hip", "right_HIP", "left_knee", "Right_Knee"};
  const std::vector<int32_t> parents = {-1, 0, 0, 1, 2};
  EXPECT_EQ(mirror_partners(names, parents), (std::vector<int32_t>{0, 2, 1, 4, 3}));

  expect_error([&] { mirror_partners({"pelvis", "left_hip", "hip_right"}, {-1, 0, 0}); },
               "mirror: joint 1 'left_hip' has no counterpart on the other side (no joint is named like 'right_hip')");
  expect_error([&] { mirror_partners({"root", "a", "b"}, {-1, 0, 0}); },
               "mirror: none of the 3 joint names contains \"left\" or \"right\"");
  expect_error([&] { mirror_partners({"root", "Left", "left", "right"}, {-1, 0, 0, 0}); },
               "mirror: joints 1 'Left' and 2 'left' have the same name but for case");
  // The left knee hangs from the left hip, the right knee from the pelvis.
  expect_error([&] { mirror_partners(names, {-1, 0, 0, 1, 0}); },
               "mirror: the skeleton is not symmetric: joint 3 'left_knee' hangs from 'LEFT_hip' but its "
               "counterpart 'Right_Knee' from 'pelvis'");
  expect_error([&] { mirror_partners(names, {-1, 0, 0}); }, "mirror: 5 joint names but 3 parents");
}

// x reflects about the pivot's x, y and z stay, and every joint takes its partner's place; twice
// is the identity.
TEST(Augment, MirrorReflectsAndSwapsTheSides) {
  // 2 frames of (centre, left, right).
  const std::vector<float> sample = {0.5f, 1, 2, -1, 3, 4, 2, 5, 6,  //
                                     0.7f, 7, 8, -2, 9, 10, 3, 11, 12};
  const std::vector<int32_t> partners = {0, 2, 1};
  std::vector<float> xyz = sample;
  mirror_left_right(xyz.data(), 2, 3, partners, 0.5f);
  // x -> 1 - x; joint 1 takes joint 2's point and joint 2 joint 1's.
  const std::vector<float> expected = {0.5f, 1, 2, -1, 5, 6, 2, 3, 4,  //
                                       0.3f, 7, 8, -2, 11, 12, 3, 9, 10};
  for (size_t i = 0; i < xyz.size(); ++i) EXPECT_FLOAT_EQ(xyz[i], expected[i]) << i;
  mirror_left_right(xyz.data(), 2, 3, partners, 0.5f);
  for (size_t i = 0; i < xyz.size(); ++i) EXPECT_FLOAT_EQ(xyz[i], sample[i]) << i;
  expect_error([&] { mirror_left_right(xyz.data(), 2, 3, {0, 2, 2}, 0.0f); },
               "mirror_left_right: partners[1] = 2 is not a joint that has 1 as its partner");
  expect_error([&] { mirror_left_right(xyz.data(), 2, 3, {0, 1}, 0.0f); },
               "mirror_left_right: partners has 2 entries for 3 joints");
}

// The coin: never at 0, always at 1, and at p = 0.3 close to 30% of many samples (a binomial's
// 5 standard deviations); the same sample seed gives the same answer.
TEST(Augment, MirrorCoinHasTheRequestedProbability) {
  AugmentOptions o;
  o.mirror = true;
  const int n = 20000;
  for (double p : {0.0, 0.3, 1.0}) {
    o.mirror_probability = p;
    int heads = 0;
    for (int i = 0; i < n; ++i) heads += draw_mirror(o, sample_seed(5, 0, i)) ? 1 : 0;
    EXPECT_NEAR(heads, p * n, 5.0 * std::sqrt(n * p * (1.0 - p)) + 1e-9) << p;
  }
  o.mirror_probability = 0.5;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(draw_mirror(o, sample_seed(1, 2, i)), draw_mirror(o, sample_seed(1, 2, i)));
}

// The tilt: forward (about x) then sideways (about z) through the pivot, against the closed
// form for a unit vector along +y, rigid for any points.
TEST(Augment, TiltConventionPivotAndRigidity) {
  const double a = 0.3, b = -0.2;
  const float pivot[3] = {1.0f, 2.0f, 3.0f};
  std::vector<float> up = {1.0f, 3.0f, 3.0f, 1.0f, 2.0f, 3.0f};  // pivot + y, and the pivot itself
  tilt_about(up.data(), 2, {a, b}, pivot);
  EXPECT_NEAR(up[0], 1.0 - std::sin(b) * std::cos(a), 1e-6);
  EXPECT_NEAR(up[1], 2.0 + std::cos(b) * std::cos(a), 1e-6);
  EXPECT_NEAR(up[2], 3.0 + std::sin(a), 1e-6);
  for (int d = 0; d < 3; ++d) EXPECT_FLOAT_EQ(up[static_cast<size_t>(3 + d)], pivot[d]);
  // Forward alone turns +z toward -y; sideways alone turns +x toward +y.
  std::vector<float> z = {0, 0, 1};
  const float origin[3] = {0, 0, 0};
  tilt_about(z.data(), 1, {a, 0.0}, origin);
  EXPECT_NEAR(z[1], -std::sin(a), 1e-6);
  EXPECT_NEAR(z[2], std::cos(a), 1e-6);
  std::vector<float> x = {1, 0, 0};
  tilt_about(x.data(), 1, {0.0, b}, origin);
  EXPECT_NEAR(x[0], std::cos(b), 1e-6);
  EXPECT_NEAR(x[1], std::sin(b), 1e-6);
  // Rigid: every pairwise distance kept.
  Generator gen(4);
  std::vector<float> points(30);
  for (float& v : points) v = static_cast<float>(gen.uniform() * 2.0 - 1.0);
  std::vector<float> turned = points;
  tilt_about(turned.data(), 10, {0.4, 0.25}, points.data() + 6);  // the pivot points into the data
  auto distance = [](const std::vector<float>& p, int i, int j) {
    double sum = 0.0;
    for (int d = 0; d < 3; ++d) sum += std::pow(p[static_cast<size_t>(3 * i + d)] - p[static_cast<size_t>(3 * j + d)], 2);
    return std::sqrt(sum);
  };
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < i; ++j) EXPECT_NEAR(distance(turned, i, j), distance(points, i, j), 1e-5);
  for (int d = 0; d < 3; ++d) EXPECT_FLOAT_EQ(turned[static_cast<size_t>(6 + d)], points[static_cast<size_t>(6 + d)]);
}

TEST(Augment, TiltAnglesStayInRangeRepeatAndAreOffByDefault) {
  AugmentOptions o;
  const TiltAngles off = draw_tilt(o, sample_seed(1, 0, 0));
  EXPECT_EQ(off.forward, 0.0);
  EXPECT_EQ(off.sideways, 0.0);
  o.tilt = true;
  o.max_tilt_degrees = 12.0;
  const double max = 12.0 * M_PI / 180.0;
  double low = 0.0, high = 0.0, sum = 0.0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const TiltAngles t = draw_tilt(o, sample_seed(7, 1, i));
    for (double v : {t.forward, t.sideways}) {
      ASSERT_LE(std::abs(v), max);
      low = std::min(low, v), high = std::max(high, v), sum += v;
    }
    const TiltAngles again = draw_tilt(o, sample_seed(7, 1, i));
    EXPECT_EQ(again.forward, t.forward);
    EXPECT_EQ(again.sideways, t.sideways);
  }
  EXPECT_LT(low, -0.95 * max);
  EXPECT_GT(high, 0.95 * max);
  EXPECT_NEAR(sum / (2.0 * n), 0.0, 5.0 * max / std::sqrt(3.0 * 2.0 * n));
  EXPECT_NE(draw_tilt(o, sample_seed(7, 1, 0)).forward, draw_tilt(o, sample_seed(7, 1, 1)).forward);
}

// The shear: p -> pivot + S (p - pivot), the unit vectors going to S's columns; zero factors
// leave every point alone; the pivot stays even when it points into the data.
TEST(Augment, ShearConventionAndPivot) {
  const ShearFactors f{{0.1, -0.2, 0.3, 0.15, -0.25, 0.05}};
  const float pivot[3] = {1.0f, -2.0f, 0.5f};
  // pivot + e_x, pivot + e_y, pivot + e_z, and a general point
  std::vector<float> p = {2.0f, -2.0f, 0.5f, 1.0f, -1.0f, 0.5f, 1.0f, -2.0f, 1.5f, 1.5f, -3.0f, 2.5f};
  const std::vector<float> before = p;
  shear_about(p.data(), 4, f, pivot);
  const double columns[3][3] = {{1.0, 0.3, -0.25}, {0.1, 1.0, 0.05}, {-0.2, 0.15, 1.0}};  // S e_x, S e_y, S e_z
  for (int c = 0; c < 3; ++c)
    for (int d = 0; d < 3; ++d) EXPECT_NEAR(p[static_cast<size_t>(3 * c + d)], pivot[d] + columns[c][d], 1e-6) << c;
  const double v[3] = {0.5, -1.0, 2.0};  // the general point minus the pivot
  EXPECT_NEAR(p[9], 1.0 + v[0] + 0.1 * v[1] - 0.2 * v[2], 1e-6);
  EXPECT_NEAR(p[10], -2.0 + 0.3 * v[0] + v[1] + 0.15 * v[2], 1e-6);
  EXPECT_NEAR(p[11], 0.5 - 0.25 * v[0] + 0.05 * v[1] + v[2], 1e-6);
  std::vector<float> same = before;
  shear_about(same.data(), 4, ShearFactors{}, pivot);
  EXPECT_EQ(same, before);
  std::vector<float> inside = before;
  shear_about(inside.data(), 4, f, inside.data() + 9);  // about the last point, which stays
  for (int d = 0; d < 3; ++d) EXPECT_FLOAT_EQ(inside[static_cast<size_t>(9 + d)], before[static_cast<size_t>(9 + d)]);
  EXPECT_NE(inside, before);
}

TEST(Augment, ShearFactorsStayInRangeRepeatAndAreOffByDefault) {
  AugmentOptions o;
  for (double s : draw_shear(o, sample_seed(1, 0, 0)).off) EXPECT_EQ(s, 0.0);
  o.shear = true;
  o.max_shear = 0.3;
  double low = 0.0, high = 0.0, sum = 0.0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const ShearFactors f = draw_shear(o, sample_seed(5, 2, i));
    for (double s : f.off) {
      ASSERT_LE(std::abs(s), 0.3);
      low = std::min(low, s), high = std::max(high, s), sum += s;
    }
    EXPECT_EQ(draw_shear(o, sample_seed(5, 2, i)).off, f.off);
    EXPECT_NE(f.off[0], f.off[1]);  // six draws, not one
  }
  EXPECT_LT(low, -0.95 * 0.3);
  EXPECT_GT(high, 0.95 * 0.3);
  EXPECT_NEAR(sum / (6.0 * n), 0.0, 5.0 * 0.3 / std::sqrt(3.0 * 6.0 * n));
  EXPECT_NE(draw_shear(o, sample_seed(5, 2, 0)).off, draw_shear(o, sample_seed(5, 2, 1)).off);
  // A stream of its own: the tilt's angles do not follow from the same sample seed.
  o.tilt = true;
  o.max_tilt_degrees = 0.3 * 180.0 / M_PI;
  EXPECT_NE(draw_tilt(o, sample_seed(5, 2, 0)).forward, draw_shear(o, sample_seed(5, 2, 0)).off[0]);
}

}  // namespace
}  // namespace harnet
