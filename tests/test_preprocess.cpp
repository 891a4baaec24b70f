// The deterministic pipeline: tracked-frame extraction, normalisation (recovering a known
// canonical pose from rotated and translated Kinect v2 sequences; each step on its own;
// degenerate shoulders and spines), linear resampling, windows, input features with the
// joint order, option checks and every refusal's message.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/error.h"
#include "autograd/generator.h"
#include "data/joint_order.h"
#include "data/preprocess.h"
#include "tests/skeleton_test_data.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

// A 5-joint tree: 0 hip (root, centre), 1 neck, 2 left shoulder, 3 right shoulder, 4 head.
// Each sequence is a list of frames of 15 values.
SkeletonDataset five_joint_dataset(const std::vector<std::vector<std::vector<float>>>& sequences) {
  SkeletonDataset data;
  data.joint_names = {"hip", "neck", "shoulder_left", "shoulder_right", "head"};
  data.parents = {-1, 0, 1, 1, 1};
  data.class_names = {"a", "b"};
  data.center_joint = 0;
  data.neck_joint = 1;
  data.left_shoulder_joint = 2;
  data.right_shoulder_joint = 3;
  data.offsets = {0};
  for (size_t i = 0; i < sequences.size(); ++i) {
    for (const auto& frame : sequences[i]) data.skeletons.insert(data.skeletons.end(), frame.begin(), frame.end());
    data.offsets.push_back(data.offsets.back() + static_cast<int64_t>(sequences[i].size()));
    data.labels.push_back(static_cast<int32_t>(i % 2));
    data.subjects.push_back(1);
    data.names.push_back(str_cat("walk_", i));
  }
  return data;
}

// A standing 5-joint body at (x, z) with the spine of length `spine`.
std::vector<float> body(float x, float z, float spine = 0.5f) {
  return {x, 1.0f, z, x, 1.0f + spine, z, x - 0.2f, 1.0f + spine, z, x + 0.2f, 1.0f + spine, z, x, 1.2f + spine, z};
}

const std::vector<float> kZeroFrame(15, 0.0f);

double spine_length(const SkeletonSequence& s, int64_t t, int32_t center, int32_t neck) {
  const float* a = s.frame(t) + 3 * center;
  const float* b = s.frame(t) + 3 * neck;
  return std::sqrt(std::pow(b[0] - a[0], 2) + std::pow(b[1] - a[1], 2) + std::pow(b[2] - a[2], 2));
}

// ---------------------------------------------------------------- extraction

TEST(Preprocess, ExtractDropsUntrackedFrames) {
  const SkeletonDataset data = five_joint_dataset({{body(0, 0), kZeroFrame, body(1, 0), kZeroFrame}});
  const SkeletonSequence dropped = extract_sequence(data, 0, true);
  EXPECT_EQ(dropped.frames, 2);
  EXPECT_EQ(dropped.joints, 5);
  std::vector<float> expected = body(0, 0);
  const std::vector<float> second = body(1, 0);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(dropped.xyz, expected);
  const SkeletonSequence kept = extract_sequence(data, 0, false);
  EXPECT_EQ(kept.frames, 4);
  EXPECT_FALSE(is_tracked_frame(kept.frame(1), 5));
  EXPECT_TRUE(is_tracked_frame(kept.frame(2), 5));
}

TEST(Preprocess, ExtractRefusesBadSequences) {
  std::vector<float> with_nan = body(0, 0);
  with_nan[7] = std::numeric_limits<float>::quiet_NaN();  // joint 2, y
  SkeletonDataset data =
      five_joint_dataset({{body(0, 0)}, {kZeroFrame, kZeroFrame, kZeroFrame}, {body(0, 0), with_nan}});
  expect_error([&] { extract_sequence(data, 3, true); },
               "sequence index 3 is out of range for a dataset of 3 sequences");
  expect_error([&] { extract_sequence(data, -1, true); }, "sequence index -1 is out of range");
  expect_error([&] { extract_sequence(data, 1, true); }, "sequence 1 ('walk_1'): none of its 3 frames is tracked");
  expect_error([&] { extract_sequence(data, 1, false); }, "sequence 1 ('walk_1'): none of its 3 frames is tracked");
  expect_error([&] { extract_sequence(data, 2, true); },
               "sequence 2 ('walk_2'): frame 1 joint 2 has a non-finite coordinate");
  data.names.clear();  // names are optional: messages fall back to the index
  expect_error([&] { extract_sequence(data, 2, true); }, "sequence 2: frame 1 joint 2");
  data.offsets = {0, 1, 1, 4};  // sequence 1 now has no frames
  expect_error([&] { extract_sequence(data, 1, true); }, "sequence 1 has no frames");
}

// ---------------------------------------------------------------- normalisation

TEST(Preprocess, NormalizationRecoversTheCanonicalPose) {
  const SkeletonDataset data = test::kinect_dataset(8);
  const JointRoles roles = joint_roles(data);
  for (int64_t i = 0; i < data.num_sequences(); ++i) {
    SkeletonSequence s = extract_sequence(data, i, true);
    normalize_sequence(s, roles, NormalizeOptions{});
    ASSERT_EQ(s.frames, data.sequence_length(i));
    for (int64_t t = 0; t < s.frames; ++t) {
      const std::vector<float> expected = test::canonical_frame(i, t);  // spine 0.5 m: scaled by 2
      for (int64_t k = 0; k < test::kKinectJoints * 3; ++k) {
        ASSERT_NEAR(s.frame(t)[k], 2.0f * expected[static_cast<size_t>(k)], 2e-5)
            << "sequence " << i << " frame " << t << " value " << k;
      }
    }
  }
}

TEST(Preprocess, EachNormalizationStepAlone) {
  const SkeletonDataset data = test::kinect_dataset(3);
  const JointRoles roles = joint_roles(data);
  const int64_t i = 2;
  const SkeletonSequence raw = extract_sequence(data, i, true);
  const float* raw_center = raw.frame(0) + 3 * roles.center;

  {  // translation only: a pure shift by the first frame's centre
    SkeletonSequence s = raw;
    normalize_sequence(s, roles, {true, false, false});
    for (int64_t t = 0; t < s.frames; ++t) {
      for (int64_t j = 0; j < s.joints; ++j) {
        for (int d = 0; d < 3; ++d) ASSERT_FLOAT_EQ(s.frame(t)[3 * j + d], raw.frame(t)[3 * j + d] - raw_center[d]);
      }
    }
  }
  {  // rotation only: shoulders along +x, heights and the pivot unchanged, distances kept
    SkeletonSequence s = raw;
    normalize_sequence(s, roles, {false, true, false});
    const float* l = s.frame(0) + 3 * roles.left_shoulder;
    const float* r = s.frame(0) + 3 * roles.right_shoulder;
    EXPECT_NEAR(r[2] - l[2], 0.0, 1e-6);
    EXPECT_NEAR(r[0] - l[0], 0.36, 1e-5);
    for (int d = 0; d < 3; ++d) EXPECT_NEAR(s.frame(0)[3 * roles.center + d], raw_center[d], 1e-6);
    for (int64_t t = 0; t < s.frames; ++t) {
      for (int64_t j = 0; j < s.joints; ++j) ASSERT_EQ(s.frame(t)[3 * j + 1], raw.frame(t)[3 * j + 1]);
      ASSERT_NEAR(spine_length(s, t, roles.center, roles.neck), 0.5, 1e-5);
    }
  }
  {  // scale only: mean spine length 1, the pivot unchanged
    SkeletonSequence s = raw;
    normalize_sequence(s, roles, {false, false, true});
    double mean = 0;
    for (int64_t t = 0; t < s.frames; ++t) mean += spine_length(s, t, roles.center, roles.neck);
    EXPECT_NEAR(mean / static_cast<double>(s.frames), 1.0, 1e-5);
    for (int d = 0; d < 3; ++d) EXPECT_NEAR(s.frame(0)[3 * roles.center + d], raw_center[d], 1e-6);
  }
  {  // all off: untouched
    SkeletonSequence s = raw;
    normalize_sequence(s, roles, {false, false, false});
    EXPECT_EQ(s.xyz, raw.xyz);
  }
}

// A rotation matrix: about x by `pitch`, then about z by `roll` (radians).
std::array<std::array<double, 3>, 3> tilt(double pitch, double roll) {
  const double cp = std::cos(pitch), sp = std::sin(pitch), cr = std::cos(roll), sr = std::sin(roll);
  // R_z(roll) R_x(pitch)
  return {{{cr, -sr * cp, sr * sp}, {sr, cr * cp, -cr * sp}, {0.0, sp, cp}}};
}

// Every frame of sequence `s` turned by `r` about the first frame's joint `pivot`.
void turn(SkeletonSequence& s, const std::array<std::array<double, 3>, 3>& r, int32_t pivot) {
  const std::vector<float> p0(s.frame(0) + 3 * pivot, s.frame(0) + 3 * pivot + 3);
  for (int64_t t = 0; t < s.frames; ++t) {
    for (int64_t j = 0; j < s.joints; ++j) {
      float* p = s.frame(t) + 3 * j;
      const double d[3] = {p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]};
      for (int i = 0; i < 3; ++i) p[i] = static_cast<float>(p0[i] + r[i][0] * d[0] + r[i][1] * d[1] + r[i][2] * d[2]);
    }
  }
}

// Sequences tilted forward or back and sideways (a camera's pitch and roll, a leaning body):
// with `upright` the pipeline still gives back the canonical pose; without it the tilt stays.
TEST(Preprocess, UprightUndoesPitchAndRoll) {
  const SkeletonDataset data = test::kinect_dataset(6);
  const JointRoles roles = joint_roles(data);
  NormalizeOptions options;
  options.upright = true;
  for (int64_t i = 0; i < data.num_sequences(); ++i) {
    SkeletonSequence s = extract_sequence(data, i, true);
    turn(s, tilt(-0.45 + 0.2 * static_cast<double>(i), 0.3 - 0.13 * static_cast<double>(i)), roles.center);
    SkeletonSequence without = s;
    normalize_sequence(s, roles, options);
    normalize_sequence(without, roles, NormalizeOptions{});
    double moved = 0.0;
    for (int64_t t = 0; t < s.frames; ++t) {
      const std::vector<float> expected = test::canonical_frame(i, t);
      for (int64_t k = 0; k < test::kKinectJoints * 3; ++k) {
        ASSERT_NEAR(s.frame(t)[k], 2.0f * expected[static_cast<size_t>(k)], 5e-5)
            << "sequence " << i << " frame " << t << " value " << k;
        moved = std::max(moved, std::abs(double(without.frame(t)[k]) - 2.0 * expected[static_cast<size_t>(k)]));
      }
    }
    EXPECT_GT(moved, 0.1) << "sequence " << i;
  }
}

// Upright alone: the first frame's spine along +y with its length, the pivot where it was,
// every distance kept; a spine pointing down turns over; an upright spine stays as it is.
TEST(Preprocess, UprightAloneIsARigidTurnOfTheSpineToVertical) {
  const SkeletonDataset data = test::kinect_dataset(3);
  const JointRoles roles = joint_roles(data);
  NormalizeOptions only;
  only.translate = only.rotate = only.scale = false;
  only.upright = true;
  SkeletonSequence raw = extract_sequence(data, 1, true);
  turn(raw, tilt(0.7, -0.4), roles.center);
  SkeletonSequence s = raw;
  normalize_sequence(s, roles, only);
  const float* c = s.frame(0) + 3 * roles.center;
  const float* n = s.frame(0) + 3 * roles.neck;
  EXPECT_NEAR(n[0] - c[0], 0.0, 1e-6);
  EXPECT_NEAR(n[1] - c[1], 0.5, 1e-6);
  EXPECT_NEAR(n[2] - c[2], 0.0, 1e-6);
  for (int d = 0; d < 3; ++d) EXPECT_NEAR(c[d], raw.frame(0)[3 * roles.center + d], 1e-6);
  auto distance = [](const float* a, const float* b) {
    return std::sqrt(std::pow(a[0] - b[0], 2) + std::pow(a[1] - b[1], 2) + std::pow(a[2] - b[2], 2));
  };
  for (int64_t t = 0; t < s.frames; t += 5)
    for (int64_t j = 1; j < s.joints; ++j)
      ASSERT_NEAR(distance(s.frame(t) + 3 * j, s.frame(0)), distance(raw.frame(t) + 3 * j, raw.frame(0)), 1e-5);

  // Upside down (neck straight below the centre): turned about x, the left/right axis kept.
  const SkeletonDataset down = five_joint_dataset({{{0, 1, 0, 0, 0.5f, 0, -0.2f, 0.5f, 0, 0.2f, 0.5f, 0, 0, 0.3f, 0}}});
  SkeletonSequence d = extract_sequence(down, 0, true);
  normalize_sequence(d, joint_roles(down), only);
  const std::vector<float> expected = {0, 1, 0, 0, 1.5f, 0, -0.2f, 1.5f, 0, 0.2f, 1.5f, 0, 0, 1.7f, 0};
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(d.xyz[k], expected[k], 1e-6) << "value " << k;

  // Already upright: unchanged.
  const SkeletonDataset standing = five_joint_dataset({{body(1, 2), body(1.5f, 2)}});
  SkeletonSequence u = extract_sequence(standing, 0, true);
  const std::vector<float> before = u.xyz;
  normalize_sequence(u, joint_roles(standing), only);
  for (size_t k = 0; k < before.size(); ++k) EXPECT_NEAR(u.xyz[k], before[k], 1e-6);
}

TEST(Preprocess, ScaleUsesTheMeanSpineLength) {
  // Spines of 0.5 and 1.5 have mean 1.0: lengths stay as they are.
  const SkeletonDataset data = five_joint_dataset({{body(0, 0, 0.5f), body(0, 0, 1.5f)}});
  SkeletonSequence s = extract_sequence(data, 0, true);
  normalize_sequence(s, joint_roles(data), NormalizeOptions{});
  EXPECT_NEAR(spine_length(s, 0, 0, 1), 0.5, 1e-6);
  EXPECT_NEAR(spine_length(s, 1, 0, 1), 1.5, 1e-6);
  // Spines of 0.2 and 0.6 have mean 0.4: they become 0.5 and 1.5.
  const SkeletonDataset small = five_joint_dataset({{body(0, 0, 0.2f), body(0, 0, 0.6f)}});
  s = extract_sequence(small, 0, true);
  normalize_sequence(s, joint_roles(small), NormalizeOptions{});
  EXPECT_NEAR(spine_length(s, 0, 0, 1), 0.5, 1e-6);
  EXPECT_NEAR(spine_length(s, 1, 0, 1), 1.5, 1e-6);
}

TEST(Preprocess, UntrackedFramesStayZeroAndTheFirstTrackedFrameIsTheReference) {
  const SkeletonDataset data = five_joint_dataset({{kZeroFrame, body(3, 4), kZeroFrame, body(3.5f, 4)}});
  SkeletonSequence s = extract_sequence(data, 0, false);
  normalize_sequence(s, joint_roles(data), NormalizeOptions{});
  EXPECT_FALSE(is_tracked_frame(s.frame(0), 5));
  EXPECT_FALSE(is_tracked_frame(s.frame(2), 5));
  for (int d = 0; d < 3; ++d) EXPECT_FLOAT_EQ(s.frame(1)[d], 0.0f);  // centre of frame 1 at the origin
  EXPECT_NEAR(s.frame(3)[0], 0.5f / 0.5f, 1e-6);                     // moved 0.5 m along +x, spine 0.5
}

TEST(Preprocess, DegenerateShouldersAndSpinesAreSkippedNotNaN) {
  // Shoulders one above the other (no horizontal extent), neck on the centre joint.
  std::vector<float> frame = {1, 1, 2, 1, 1, 2, 1, 1.3f, 2, 1, 1.6f, 2, 1, 2, 2};
  const SkeletonDataset data = five_joint_dataset({{frame, frame}});
  SkeletonSequence s = extract_sequence(data, 0, true);
  NormalizeOptions options;
  options.upright = true;
  normalize_sequence(s, joint_roles(data), options);
  for (float v : s.xyz) ASSERT_TRUE(std::isfinite(v));
  // Translation happened; standing upright, rotation and scaling were skipped.
  for (int64_t t = 0; t < 2; ++t) {
    for (int64_t j = 0; j < 5; ++j) {
      EXPECT_FLOAT_EQ(s.frame(t)[3 * j], 0.0f);
      EXPECT_FLOAT_EQ(s.frame(t)[3 * j + 1], frame[static_cast<size_t>(3 * j + 1)] - 1.0f);
      EXPECT_FLOAT_EQ(s.frame(t)[3 * j + 2], 0.0f);
    }
  }
}

TEST(Preprocess, JointRolesMustBeJoints) {
  SkeletonDataset data = five_joint_dataset({{body(0, 0)}});
  data.neck_joint = 5;
  expect_error([&] { joint_roles(data); },
               "dataset attribute neck_joint = 5 is not a joint index (the dataset has 5 joints)");
  data.neck_joint = 1;
  data.left_shoulder_joint = -1;
  expect_error([&] { joint_roles(data); }, "left_shoulder_joint = -1");
}

// ---------------------------------------------------------------- resampling and windows

// One joint whose coordinates are (t, 2t, -t) at frame t.
SkeletonSequence ramp(int64_t frames) {
  SkeletonSequence s;
  s.frames = frames;
  s.joints = 1;
  for (int64_t t = 0; t < frames; ++t) {
    s.xyz.push_back(static_cast<float>(t));
    s.xyz.push_back(static_cast<float>(2 * t));
    s.xyz.push_back(static_cast<float>(-t));
  }
  return s;
}

void expect_ramp_positions(const SkeletonSequence& s, double first, double step) {
  for (int64_t k = 0; k < s.frames; ++k) {
    const double position = first + step * static_cast<double>(k);
    EXPECT_NEAR(s.frame(k)[0], position, 1e-5) << "frame " << k;
    EXPECT_NEAR(s.frame(k)[1], 2 * position, 1e-5) << "frame " << k;
    EXPECT_NEAR(s.frame(k)[2], -position, 1e-5) << "frame " << k;
  }
}

TEST(Preprocess, ResampleInterpolatesLinearly) {
  expect_ramp_positions(resample_sequence(ramp(10), 4), 0.0, 3.0);  // down: 0 3 6 9
  expect_ramp_positions(resample_sequence(ramp(10), 7), 0.0, 1.5);  // 0 1.5 ... 9
  expect_ramp_positions(resample_sequence(ramp(3), 9), 0.0, 0.25);  // shorter than T: stretched
  const SkeletonSequence same = resample_sequence(ramp(6), 6);
  EXPECT_EQ(same.xyz, ramp(6).xyz);                               // same length: exact copy
  const SkeletonSequence single = resample_sequence(ramp(1), 5);  // one frame: repeated
  for (int64_t k = 0; k < 5; ++k) EXPECT_EQ(single.frame(k)[0], 0.0f);
  EXPECT_EQ(resample_sequence(ramp(5), 1).xyz, (std::vector<float>{0, 0, 0}));  // T = 1: the first frame
}

TEST(Preprocess, ResampleAFractionalRange) {
  const SkeletonSequence source = ramp(10);
  SkeletonSequence out;
  out.frames = 5;
  out.joints = 1;
  out.xyz.resize(15);
  resample_frames(source.xyz.data(), 10, 1, 2.5, 8.5, 5, out.xyz.data());
  expect_ramp_positions(out, 2.5, 1.5);
  expect_error([&] { resample_frames(source.xyz.data(), 10, 1, 2.0, 9.5, 5, out.xyz.data()); },
               "resample_frames: range [2, 9.5] is not inside frames [0, 9]");
  expect_error([&] { resample_frames(source.xyz.data(), 10, 1, 0.0, 9.0, 0, out.xyz.data()); },
               "need at least one source and one output frame");
}

TEST(Preprocess, WindowsCoverEveryFrame) {
  EXPECT_EQ(window_starts(120, 60, 30), (std::vector<int64_t>{0, 30, 60}));
  EXPECT_EQ(window_starts(100, 60, 30), (std::vector<int64_t>{0, 30, 40}));  // the last one ends at 100
  EXPECT_EQ(window_starts(60, 60, 30), (std::vector<int64_t>{0}));
  EXPECT_EQ(window_starts(45, 60, 30), (std::vector<int64_t>{0}));  // shorter: one window, resampled up
  EXPECT_EQ(window_starts(10, 4, 100), (std::vector<int64_t>{0, 6}));
  EXPECT_EQ(window_starts(5, 2, 1), (std::vector<int64_t>{0, 1, 2, 3}));
  expect_error([] { window_starts(10, 4, 0); },
               "window_starts: length, window and stride must be at least 1, got 10, 4 and 0");
}

// ---------------------------------------------------------------- features and options

TEST(Preprocess, FeaturesPositionsVelocitiesBonesInJointOrder) {
  const int64_t frames = 4, joints = 5;
  const std::vector<int32_t> parents = {-1, 0, 1, 1, 1};
  const std::vector<int32_t> order = {3, 0, 4, 1, 2};
  Generator gen(7);
  std::vector<float> positions(static_cast<size_t>(frames * joints * 3));
  for (float& v : positions) v = static_cast<float>(gen.normal());
  auto p = [&](int64_t t, int64_t j, int d) { return positions[static_cast<size_t>((t * joints + j) * 3 + d)]; };

  for (const FeatureOptions features : {FeatureOptions{false, false}, FeatureOptions{true, false},
                                        FeatureOptions{false, true}, FeatureOptions{true, true}}) {
    const int64_t channels = features.channels();
    EXPECT_EQ(channels, 3 * (1 + features.velocities + features.bones));
    std::vector<float> out(static_cast<size_t>(frames * joints * channels), -99.0f);
    write_features(positions.data(), frames, joints, parents, order, features, out.data());
    for (int64_t t = 0; t < frames; ++t) {
      for (int64_t k = 0; k < joints; ++k) {
        const int32_t j = order[static_cast<size_t>(k)];
        const float* o = out.data() + (t * joints + k) * channels;
        int64_t c = 0;
        for (int d = 0; d < 3; ++d) EXPECT_EQ(o[c + d], p(t, j, d));
        c += 3;
        if (features.velocities) {
          for (int d = 0; d < 3; ++d) EXPECT_EQ(o[c + d], t == 0 ? 0.0f : p(t, j, d) - p(t - 1, j, d));
          c += 3;
        }
        if (features.bones) {
          const int32_t parent = parents[static_cast<size_t>(j)];
          for (int d = 0; d < 3; ++d) EXPECT_EQ(o[c + d], parent < 0 ? 0.0f : p(t, j, d) - p(t, parent, d));
        }
      }
    }
  }
}

TEST(Preprocess, PipelineJointOrder) {
  PreprocessOptions options;
  EXPECT_EQ(pipeline_joint_order(options, test::kKinectV2Parents), depth_first_joint_order(test::kKinectV2Parents));
  options.joint_order = {4, 3, 2, 1, 0};
  EXPECT_EQ(pipeline_joint_order(options, {-1, 0, 1, 1, 1}), options.joint_order);
  options.joint_order = {4, 3, 3, 1, 0};  // repeats are allowed, leaving a joint out is not
  expect_error([&] { pipeline_joint_order(options, {-1, 0, 1, 1, 1}); },
               "preprocess: joint_order: joint 2 is missing (expected every joint at least once)");
  options.joint_order = {0, 1, 2, 1, 3, 1, 4};
  EXPECT_EQ(pipeline_joint_order(options, {-1, 0, 1, 1, 1}), options.joint_order);
  options.joint_order = {};
  options.walk = JointWalk::Tour;  // the walk applies when no order is given
  EXPECT_EQ(pipeline_joint_order(options, test::kKinectV2Parents), tour_joint_order(test::kKinectV2Parents));
  options.walk = JointWalk::DepthFirst;
  options.joint_order = {};
  options.reorder_joints = false;
  EXPECT_EQ(pipeline_joint_order(options, {-1, 0, 1, 1, 1}), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  expect_error([&] { pipeline_joint_order(options, {-1, 0, 1, -1}); }, "skeleton tree: 2 roots");
}

TEST(Preprocess, OptionsAreChecked) {
  PreprocessOptions options;
  validate_preprocess_options(options);
  options.temporal.frames = 0;
  expect_error([&] { validate_preprocess_options(options); }, "preprocess: frames (T) must be at least 1, got 0");
  options.temporal.frames = 60;
  options.temporal.stride = 0;
  validate_preprocess_options(options);  // the stride only matters for windows
  options.temporal.mode = TemporalMode::Windows;
  expect_error([&] { validate_preprocess_options(options); }, "preprocess: window stride must be at least 1, got 0");
  options.temporal.stride = 10;
  options.reorder_joints = false;
  options.joint_order = {0};
  expect_error([&] { validate_preprocess_options(options); }, "joint_order is given but reorder_joints is off");
}

}  // namespace
}  // namespace harnet
