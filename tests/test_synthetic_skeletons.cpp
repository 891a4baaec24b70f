// The synthetic skeleton generator: contract-valid, deterministic for a seed, rigid bones, and
// learnable but not from a single frame (nearest-centroid checks on held-out subjects).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "autograd/error.h"
#include "data/dataset_io.h"
#include "data/kinect_v2.h"
#include "data/synthetic_skeletons.h"
#include "harnet/lib/commands.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using harnet::testing::error_of;


TEST(SyntheticSkeletons, ShapesLabelsAndContract) {
  SyntheticSkeletonOptions o;
  o.classes = 5;
  o.subjects = 3;
  o.repetitions = 2;
  o.frames = 30;
  const SkeletonDataset d = make_synthetic_skeletons(o);
  EXPECT_NO_THROW(validate(d));
  ASSERT_EQ(d.num_sequences(), 5 * 3 * 2);
  EXPECT_EQ(d.num_joints(), kKinectV2Joints);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"wave", "punch", "kick", "bend", "raise arms"}));
  EXPECT_EQ(d.parents, std::vector<int32_t>(kinect_v2_parents().begin(), kinect_v2_parents().end()));
  EXPECT_EQ(d.names[3], "punch_s01_r02");
  EXPECT_EQ(d.labels[3], 1);
  EXPECT_EQ(d.subjects.back(), 3);
  for (int64_t i = 0; i < d.num_sequences(); ++i) {
    EXPECT_GE(d.sequence_length(i), 24);  // 30 x 0.8
    EXPECT_LE(d.sequence_length(i), 36);  // 30 x 1.2
  }
  // Standing in front of the camera: the spine base 0.6 .. 1.3 m up and 2 .. 3.6 m away.
  for (int64_t f = 0; f < d.num_frames(); ++f) {
    const float* base = d.skeletons.data() + f * kKinectV2Joints * 3;
    EXPECT_GT(base[2], 2.0f);
    EXPECT_LT(base[2], 3.6f);
  }
}

TEST(SyntheticSkeletons, DeterministicForASeed) {
  SyntheticSkeletonOptions o;
  o.subjects = 2;
  o.repetitions = 2;
  o.seed = 7;
  const SkeletonDataset a = make_synthetic_skeletons(o), b = make_synthetic_skeletons(o);
  EXPECT_EQ(a.skeletons, b.skeletons);
  EXPECT_EQ(a.offsets, b.offsets);
  o.seed = 8;
  EXPECT_NE(make_synthetic_skeletons(o).skeletons, a.skeletons);
}

TEST(SyntheticSkeletons, BonesAreRigidWithoutNoise) {
  SyntheticSkeletonOptions o;
  o.classes = kSyntheticClassCount;
  o.subjects = 2;
  o.repetitions = 1;
  o.noise = 0;
  const SkeletonDataset d = make_synthetic_skeletons(o);
  const auto& parents = kinect_v2_parents();
  for (int64_t i = 0; i < d.num_sequences(); ++i) {
    const float* seq = d.sequence(i);
    for (int j = 1; j < kKinectV2Joints; ++j) {
      const int p = parents[static_cast<size_t>(j)];
      double lo = 1e9, hi = 0;
      for (int64_t t = 0; t < d.sequence_length(i); ++t) {
        const float* a = seq + (t * kKinectV2Joints + j) * 3;
        const float* b = seq + (t * kKinectV2Joints + p) * 3;
        const double len = std::hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
        lo = std::min(lo, len);
        hi = std::max(hi, len);
      }
      EXPECT_GT(lo, 0.005) << d.names[static_cast<size_t>(i)] << " joint " << j;
      EXPECT_LT(hi - lo, 1e-5) << d.names[static_cast<size_t>(i)] << " joint " << j;
    }
  }
}

// Nearest-centroid accuracy on subjects > split (trained on the others). features(i) -> vector.
double held_out_accuracy(const SkeletonDataset& d, int32_t split,
                         const std::function<std::vector<double>(int64_t)>& features) {
  std::map<int32_t, std::vector<double>> sums;
  std::map<int32_t, int> counts;
  for (int64_t i = 0; i < d.num_sequences(); ++i) {
    if (d.subjects[static_cast<size_t>(i)] > split) continue;
    const std::vector<double> x = features(i);
    std::vector<double>& s = sums[d.labels[static_cast<size_t>(i)]];
    s.resize(x.size(), 0.0);
    for (size_t k = 0; k < x.size(); ++k) s[k] += x[k];
    ++counts[d.labels[static_cast<size_t>(i)]];
  }
  int correct = 0, total = 0;
  for (int64_t i = 0; i < d.num_sequences(); ++i) {
    if (d.subjects[static_cast<size_t>(i)] <= split) continue;
    const std::vector<double> x = features(i);
    int32_t best = -1;
    double best_distance = 1e300;
    for (const auto& [label, sum] : sums) {
      double distance = 0;
      for (size_t k = 0; k < x.size(); ++k) {
        const double diff = x[k] - sum[k] / counts[label];
        distance += diff * diff;
      }
      if (distance < best_distance) best_distance = distance, best = label;
    }
    correct += best == d.labels[static_cast<size_t>(i)];
    ++total;
  }
  return static_cast<double>(correct) / total;
}

// Joint positions relative to the spine base at `samples` evenly spaced frames of sequence i.
std::vector<double> trajectory(const SkeletonDataset& d, int64_t i, int samples) {
  std::vector<double> x;
  const int64_t length = d.sequence_length(i);
  for (int s = 0; s < samples; ++s) {
    const int64_t t = samples == 1 ? 0 : s * (length - 1) / (samples - 1);
    const float* frame = d.sequence(i) + t * kKinectV2Joints * 3;
    for (int k = 0; k < kKinectV2Joints * 3; ++k) x.push_back(frame[k] - frame[k % 3]);
  }
  return x;
}

TEST(SyntheticSkeletons, LearnableFromMotionButNotFromOneFrame) {
  SyntheticSkeletonOptions o;
  o.classes = 8;
  o.subjects = 10;
  o.repetitions = 3;
  o.seed = 3;
  const SkeletonDataset d = make_synthetic_skeletons(o);
  const double chance = 1.0 / 8;
  const double motion = held_out_accuracy(d, 6, [&](int64_t i) { return trajectory(d, i, 12); });
  const double first_frame = held_out_accuracy(d, 6, [&](int64_t i) { return trajectory(d, i, 1); });
  EXPECT_GT(motion, 4 * chance) << "a crude classifier should learn the motions";
  EXPECT_LT(motion, 0.95) << "the task should not be trivial for a crude classifier";
  EXPECT_LT(first_frame, 2.5 * chance) << "the rest pose at the start should not give the class away";
  std::printf("nearest centroid on held-out subjects: motion %.2f, first frame %.2f (chance %.2f)\n", motion,
              first_frame, chance);
}

TEST(SyntheticSkeletons, RefusesBadOptions) {
  SyntheticSkeletonOptions o;
  o.classes = 1;
  EXPECT_NE(error_of([&] { make_synthetic_skeletons(o); }).find("classes 1 is not in [2, 10]"), std::string::npos);
  o.classes = 11;
  EXPECT_NE(error_of([&] { make_synthetic_skeletons(o); }).find("classes 11"), std::string::npos);
  o = {};
  o.frames = 3;
  EXPECT_NE(error_of([&] { make_synthetic_skeletons(o); }).find("frames 3"), std::string::npos);
  o = {};
  o.noise = -1;
  EXPECT_NE(error_of([&] { make_synthetic_skeletons(o); }).find("noise -1"), std::string::npos);
}

TEST(SynthCommand, WritesAContractFile) {
  const fs::path dir = fs::path(::testing::TempDir()) / "harnet-synth-command";
  fs::create_directories(dir);
  const std::string out = (dir / "synth.h5").string();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(synth_command({"-o", out, "--classes", "3", "--subjects", "2", "--repetitions", "2", "--frames", "20",
                           "--seed", "5"}),
            0);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find("12 sequences"), std::string::npos) << printed;
  const SkeletonDataset d = read_dataset(out);
  SyntheticSkeletonOptions o;
  o.classes = 3;
  o.subjects = 2;
  o.repetitions = 2;
  o.frames = 20;
  o.seed = 5;
  EXPECT_EQ(d.skeletons, make_synthetic_skeletons(o).skeletons);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace harnet
