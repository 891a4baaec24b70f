// The batch loader: shapes, labels and indices; values equal to the pipeline's functions
// applied by hand; the joint order; windows; temporal crop bounds; per-epoch shuffling;
// bit-identical batches for 1 and 2 threads, any prefetch depth and any batch size; the
// prefetcher's ordering, error propagation and shutdown; and every refusal's message.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "autograd/error.h"
#include "autograd/parallel.h"
#include "data/joint_order.h"
#include "data/kinect_v2.h"
#include "data/loader.h"
#include "data/smooth.h"
#include "tests/skeleton_test_data.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;
using harnet::testing::expect_error;

// Sets the thread count for a scope and restores the previous one.
std::vector<int64_t> all_indices(const SkeletonDataset& data) {
  std::vector<int64_t> v(static_cast<size_t>(data.num_sequences()));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::vector<Batch> whole_epoch(SkeletonLoader& loader, int64_t epoch) {
  std::vector<Batch> batches;
  loader.start_epoch(epoch);
  while (std::optional<Batch> b = loader.next()) batches.push_back(std::move(*b));
  return batches;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_EQ(a[i].y.to_vector<int64_t>(), b[i].y.to_vector<int64_t>()) << "batch " << i;
    ASSERT_EQ(a[i].x.shape(), b[i].x.shape()) << "batch " << i;
    EXPECT_EQ(std::memcmp(a[i].x.data<float>(), b[i].x.data<float>(), sizeof(float) * a[i].x.numel()), 0)
        << "batch " << i << " differs";
  }
}

// Sample rows of x, by dataset sequence index (each listed once in these tests).
std::vector<float> sample_of(const Batch& batch, int64_t b) {
  const int64_t size = batch.x.numel() / batch.x.size(0);
  const float* x = batch.x.data<float>() + b * size;
  return {x, x + size};
}

LoaderOptions small_options() {
  LoaderOptions options;
  options.batch_size = 4;
  options.preprocess.temporal.frames = 12;
  return options;
}

TEST(Loader, ShapesLabelsAndBatchCounts) {
  const SkeletonDataset data = test::kinect_dataset(10);
  LoaderOptions options = small_options();
  options.preprocess.features.velocities = true;
  options.preprocess.features.bones = true;
  SkeletonLoader loader(data, all_indices(data), options);
  EXPECT_EQ(loader.num_samples(), 10);
  EXPECT_EQ(loader.num_batches(), 3);
  EXPECT_EQ(loader.frames(), 12);
  EXPECT_EQ(loader.joints(), 25);
  EXPECT_EQ(loader.channels(), 9);
  const std::vector<Batch> batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  std::vector<int64_t> seen;
  for (size_t i = 0; i < batches.size(); ++i) {
    const int64_t size = i < 2 ? 4 : 2;
    EXPECT_EQ(batches[i].x.shape(), (Shape{size, 12, 25, 9}));
    EXPECT_EQ(batches[i].x.dtype(), kFloat32);
    EXPECT_EQ(batches[i].y.shape(), (Shape{size}));
    EXPECT_EQ(batches[i].y.dtype(), kInt64);
    const std::vector<int64_t> y = batches[i].y.to_vector<int64_t>();
    for (int64_t b = 0; b < size; ++b) {
      EXPECT_EQ(y[static_cast<size_t>(b)],
                data.labels[static_cast<size_t>(batches[i].indices[static_cast<size_t>(b)])]);
      EXPECT_EQ(batches[i].window_starts[static_cast<size_t>(b)], 0);
    }
    seen.insert(seen.end(), batches[i].indices.begin(), batches[i].indices.end());
  }
  EXPECT_EQ(seen, all_indices(data));  // no shuffle: in list order
  EXPECT_FALSE(loader.next().has_value());  // the end stays the end

  options.drop_last = true;
  SkeletonLoader dropping(data, all_indices(data), options);
  EXPECT_EQ(dropping.num_batches(), 2);
  EXPECT_EQ(whole_epoch(dropping, 0).size(), 2u);
}

TEST(Loader, ValuesAreThePipelineAppliedByHand) {
  const SkeletonDataset data = test::kinect_dataset(6, 8, 30);
  LoaderOptions options = small_options();
  options.preprocess.features.velocities = true;
  options.preprocess.features.bones = true;
  const std::vector<int64_t> listed = {5, 1, 3};
  SkeletonLoader loader(data, listed, options);
  const std::vector<int32_t> order = depth_first_joint_order(data.parents);
  EXPECT_EQ(loader.joint_order(), order);
  const Batch batch = loader.batch(0, 0);
  ASSERT_EQ(batch.indices, listed);
  for (size_t b = 0; b < listed.size(); ++b) {
    SkeletonSequence s = extract_sequence(data, listed[b], true);
    normalize_sequence(s, joint_roles(data), NormalizeOptions{});
    const SkeletonSequence resampled = resample_sequence(s, 12);
    std::vector<float> expected(static_cast<size_t>(12 * 25 * 9));
    write_features(resampled.xyz.data(), 12, 25, data.parents, order, options.preprocess.features, expected.data());
    EXPECT_EQ(sample_of(batch, static_cast<int64_t>(b)), expected) << "sample " << b;
  }
}

// Smoothing comes after extraction and before normalisation, in training and evaluation.
TEST(Loader, SmoothsBeforeNormalising) {
  const SkeletonDataset data = test::kinect_dataset(4, 8, 30);
  LoaderOptions options = small_options();
  options.preprocess.smooth = {5, 2};
  const std::vector<int64_t> listed = {0, 1, 2, 3};
  SkeletonLoader loader(data, listed, options);
  const Batch batch = loader.batch(0, 0);
  SkeletonLoader unsmoothed(data, listed, small_options());
  const Batch plain = unsmoothed.batch(0, 0);
  const std::vector<int32_t> order = depth_first_joint_order(data.parents);
  for (size_t b = 0; b < listed.size(); ++b) {
    SkeletonSequence s = extract_sequence(data, listed[b], true);
    smooth_sequence(s, options.preprocess.smooth);
    normalize_sequence(s, joint_roles(data), NormalizeOptions{});
    const SkeletonSequence resampled = resample_sequence(s, 12);
    std::vector<float> expected(static_cast<size_t>(12 * 25 * 3));
    write_features(resampled.xyz.data(), 12, 25, data.parents, order, options.preprocess.features, expected.data());
    EXPECT_EQ(sample_of(batch, static_cast<int64_t>(b)), expected) << "sample " << b;
    EXPECT_NE(sample_of(batch, static_cast<int64_t>(b)), sample_of(plain, static_cast<int64_t>(b))) << "sample " << b;
  }
  options.preprocess.smooth = {6, 2};
  expect_error([&] { SkeletonLoader bad(data, listed, options); }, "smoothing: the window must be an odd number");
}

// The tilt: with it alone every sample is the plain one turned by draw_tilt's angles about frame
// 0's centre joint; the other augmentations' draws do not move with it (rotation with a tilt of
// 0 degrees is rotation alone).
// An augmentation switched on at a setting that does nothing (`neutral`), together with
// rotation, gives the samples of rotation alone: it takes no draws from the others' stream.
void expect_rotation_draws_unmoved(const SkeletonDataset& data, const LoaderOptions& options, LoaderOptions neutral) {
  neutral.augment.rotate = true;
  LoaderOptions rotate_options = options;
  rotate_options.augment.rotate = true;
  const Batch rotated = SkeletonLoader(data, all_indices(data), rotate_options).batch(3, 0);
  const Batch with_neutral = SkeletonLoader(data, all_indices(data), neutral).batch(3, 0);
  for (int64_t b = 0; b < rotated.x.size(0); ++b) EXPECT_EQ(sample_of(with_neutral, b), sample_of(rotated, b)) << b;
  EXPECT_NE(sample_of(rotated, 0), sample_of(SkeletonLoader(data, all_indices(data), options).batch(3, 0), 0));
}

// Options for one batch of the 5 sequences of kinect_dataset(5), and where frame 0's centre joint
// sits in a sample (the pivot of the tilt and the shear).
LoaderOptions one_batch_of_five(uint64_t seed) {
  LoaderOptions options = small_options();
  options.batch_size = 5;
  options.seed = seed;
  return options;
}
size_t centre_offset(const SkeletonLoader& loader, const SkeletonDataset& data) {
  const std::vector<int32_t>& order = loader.joint_order();
  return static_cast<size_t>(3 * (std::find(order.begin(), order.end(), data.center_joint) - order.begin()));
}

// Every sample of `augmented`'s batch at `epoch` is `transform` (points, sample seed, pivot)
// applied to the plain sample, about frame 0's centre joint, and differs from the plain one.
template <class Transform>
void expect_plain_samples_transformed(const SkeletonDataset& data, const LoaderOptions& plain_options,
                                      const LoaderOptions& augmented, int64_t epoch, Transform transform) {
  const SkeletonLoader plain(data, all_indices(data), plain_options);
  const Batch p = plain.batch(epoch, 0), a = SkeletonLoader(data, all_indices(data), augmented).batch(epoch, 0);
  const size_t centre = centre_offset(plain, data);
  for (int64_t b = 0; b < p.x.size(0); ++b) {
    std::vector<float> expected = sample_of(p, b);
    const float pivot[3] = {expected[centre], expected[centre + 1], expected[centre + 2]};
    transform(expected, sample_seed(plain_options.seed, epoch, a.indices[static_cast<size_t>(b)]), pivot);
    const std::vector<float> got = sample_of(a, b);
    for (size_t k = 0; k < got.size(); ++k) ASSERT_NEAR(got[k], expected[k], 1e-5) << b << " " << k;
    EXPECT_NE(got, sample_of(p, b));
  }
}
// The tilt and the shear a sample with this seed gets, as transforms for the check above.
auto tilted_by(const AugmentOptions& augment) {
  return [augment](std::vector<float>& xyz, uint64_t seed, const float* pivot) {
    tilt_about(xyz.data(), static_cast<int64_t>(xyz.size() / 3), draw_tilt(augment, seed), pivot);
  };
}
auto sheared_by(const AugmentOptions& augment) {
  return [augment](std::vector<float>& xyz, uint64_t seed, const float* pivot) {
    shear_about(xyz.data(), static_cast<int64_t>(xyz.size() / 3), draw_shear(augment, seed), pivot);
  };
}

TEST(Loader, TiltTurnsTheSampleAboutFrameZerosCentre) {
  const SkeletonDataset data = test::kinect_dataset(5);
  const LoaderOptions options = one_batch_of_five(9);
  LoaderOptions tilt_options = options;
  tilt_options.augment.tilt = true;
  tilt_options.augment.max_tilt_degrees = 20.0;
  expect_plain_samples_transformed(data, options, tilt_options, 2, tilted_by(tilt_options.augment));
  tilt_options.augment.max_tilt_degrees = 0.0;
  expect_rotation_draws_unmoved(data, options, tilt_options);
}

// The shear alone: every sample is the plain one sheared by draw_shear's factors about frame 0's
// centre joint; with the tilt, tilted first, then sheared; a shear of 0 takes no draws from the others.
TEST(Loader, ShearSkewsTheSampleAboutFrameZerosCentre) {
  const SkeletonDataset data = test::kinect_dataset(5);
  const LoaderOptions options = one_batch_of_five(4);
  LoaderOptions shear_options = options, both_options = options;
  shear_options.augment.shear = both_options.augment.shear = both_options.augment.tilt = true;
  shear_options.augment.max_shear = both_options.augment.max_shear = 0.4;
  expect_plain_samples_transformed(data, options, shear_options, 1, sheared_by(shear_options.augment));
  expect_plain_samples_transformed(data, options, both_options, 1,
                                   [&](std::vector<float>& xyz, uint64_t seed, const float* pivot) {
                                     tilted_by(both_options.augment)(xyz, seed, pivot);
                                     sheared_by(both_options.augment)(xyz, seed, pivot);
                                   });
  shear_options.augment.max_shear = 0.0;
  expect_rotation_draws_unmoved(data, options, shear_options);
}

TEST(Loader, OutputsJointsInTheConvolutionOrder) {
  const SkeletonDataset data = test::kinect_dataset(3);
  LoaderOptions options = small_options();
  options.preprocess.reorder_joints = false;
  SkeletonLoader plain(data, all_indices(data), options);
  options.preprocess.reorder_joints = true;
  SkeletonLoader reordered(data, all_indices(data), options);
  const std::vector<int32_t>& order = reordered.joint_order();
  ASSERT_NE(order, plain.joint_order());
  const Batch a = plain.batch(0, 0), b = reordered.batch(0, 0);
  const float* x = a.x.data<float>();
  const float* y = b.x.data<float>();
  for (int64_t i = 0; i < 3 * 12; ++i) {  // every (sample, frame)
    for (int64_t k = 0; k < 25; ++k) {
      for (int d = 0; d < 3; ++d)
        ASSERT_EQ(y[(i * 25 + k) * 3 + d], x[(i * 25 + order[static_cast<size_t>(k)]) * 3 + d]);
    }
  }
}

TEST(Loader, ATourRepeatsJointsAlongTheAxis) {
  // Positions, velocities and bones, augmented: the tour's position k holds exactly what the
  // depth-first loader (same seed, same draws) writes for joint order[k].
  const SkeletonDataset data = test::kinect_dataset(4, 20, 40);
  LoaderOptions options = small_options();
  options.batch_size = 4;
  options.preprocess.features = FeatureOptions{true, true};
  options.augment = AugmentOptions::training();
  options.augment.bone_scale = options.augment.motion_scale = true;
  SkeletonLoader depth_first(data, all_indices(data), options);
  options.preprocess.walk = JointWalk::Tour;
  SkeletonLoader tour(data, all_indices(data), options);
  ASSERT_EQ(tour.joint_order(), tour_joint_order(data.parents));
  EXPECT_EQ(tour.joints(), 49);
  EXPECT_EQ(tour.dataset_joints(), 25);
  EXPECT_EQ(depth_first.joints(), 25);
  for (int64_t epoch : {0, 3}) {
    const Batch a = depth_first.batch(epoch, 0), b = tour.batch(epoch, 0);
    ASSERT_EQ(b.x.shape(), (Shape{4, 12, 49, 9}));
    const float* x = a.x.data<float>();
    const float* y = b.x.data<float>();
    std::vector<int64_t> position(25);  // of each joint in the depth-first order
    for (int64_t k = 0; k < 25; ++k) position[static_cast<size_t>(depth_first.joint_order()[static_cast<size_t>(k)])] = k;
    for (int64_t i = 0; i < 4 * 12; ++i) {  // every (sample, frame)
      for (int64_t k = 0; k < 49; ++k) {
        const int64_t joint = tour.joint_order()[static_cast<size_t>(k)];
        for (int c = 0; c < 9; ++c)
          ASSERT_EQ(y[(i * 49 + k) * 9 + c], x[(i * 25 + position[static_cast<size_t>(joint)]) * 9 + c])
              << "epoch " << epoch << ", sample-frame " << i << ", position " << k << ", channel " << c;
      }
    }
  }
  // An explicit order wins over the walk and may repeat joints too; one that misses a joint is refused.
  options.preprocess.joint_order = {0, 1, 0, 1, 20, 2, 3, 4, 5, 6, 7, 21, 22, 8, 9, 10, 11, 23, 24, 12, 13, 14, 15, 16, 17, 18, 19};
  EXPECT_EQ(SkeletonLoader(data, all_indices(data), options).joints(), 27);
  options.preprocess.joint_order = {0, 1, 2};
  expect_error([&] { SkeletonLoader(data, all_indices(data), options); },
               "preprocess: joint_order: joints 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ... are missing");
}

TEST(Loader, WindowsInheritLabelsAndCutTheTrackedFrames) {
  // Lengths 20 + (17 i) % 31: 20, 37, 23 -> windows of 12 every 10 frames, plus one ending
  // at the last frame: 2, 4 and 3 windows.
  const SkeletonDataset data = test::kinect_dataset(3, 20, 50);
  LoaderOptions options = small_options();
  options.batch_size = 16;
  options.preprocess.temporal.mode = TemporalMode::Windows;
  options.preprocess.temporal.stride = 10;
  SkeletonLoader loader(data, all_indices(data), options);
  EXPECT_EQ(loader.num_samples(), 9);
  const Batch batch = loader.batch(0, 0);
  EXPECT_EQ(batch.indices, (std::vector<int64_t>{0, 0, 1, 1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(batch.window_starts, (std::vector<int64_t>{0, 8, 0, 10, 20, 25, 0, 10, 11}));
  const std::vector<int64_t> y = batch.y.to_vector<int64_t>();
  for (size_t b = 0; b < y.size(); ++b) EXPECT_EQ(y[b], data.labels[static_cast<size_t>(batch.indices[b])]);

  // Window (1, 20): frames 20..31 of the normalised sequence, joints reordered.
  SkeletonSequence s = extract_sequence(data, 1, true);
  normalize_sequence(s, joint_roles(data), NormalizeOptions{});
  std::vector<float> expected(static_cast<size_t>(12 * 25 * 3));
  write_features(s.frame(20), 12, 25, data.parents, loader.joint_order(), FeatureOptions{}, expected.data());
  EXPECT_EQ(sample_of(batch, 4), expected);
}

TEST(Loader, TemporalCropStaysInsideTheSequence) {
  // Normalisation off and every coordinate of frame t equal to t + 1: the output's values
  // are the source positions (+1) the crop resampled.
  SkeletonDataset data = test::kinect_dataset(4, 50, 50);
  for (int64_t i = 0; i < data.num_sequences(); ++i) {
    for (int64_t t = 0; t < 50; ++t) {
      std::fill_n(data.skeletons.begin() + (data.offsets[static_cast<size_t>(i)] + t) * 75, 75,
                  static_cast<float>(t + 1));
    }
  }
  LoaderOptions options = small_options();
  options.preprocess.normalize = {false, false, false};
  options.augment.temporal_crop = true;
  options.augment.min_crop_fraction = 0.6;
  SkeletonLoader loader(data, all_indices(data), options);
  std::set<float> first_frames;
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    const Batch batch = loader.batch(epoch, 0);
    for (int64_t b = 0; b < 4; ++b) {
      const std::vector<float> x = sample_of(batch, b);
      const float first = x.front() - 1.0f, last = x.back() - 1.0f;  // source frames of output 0 and T-1
      EXPECT_GE(first, 0.0f);
      EXPECT_LE(last, 49.0f);
      EXPECT_GE(last - first + 1.0f, 0.6f * 50.0f - 0.5f);  // at least the minimal fraction kept
      EXPECT_LE(last - first + 1.0f, 50.0f);
      first_frames.insert(first);
    }
  }
  EXPECT_GT(first_frames.size(), 5u);  // the crops move
}

TEST(Loader, ShuffleDependsOnSeedAndEpochOnly) {
  const SkeletonDataset data = test::kinect_dataset(20);
  LoaderOptions options = small_options();
  options.shuffle = true;
  options.seed = 3;
  SkeletonLoader loader(data, all_indices(data), options);
  const std::vector<int64_t> e0 = loader.epoch_order(0), e1 = loader.epoch_order(1);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, all_indices(data));
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, all_indices(data));
  SkeletonLoader same(data, all_indices(data), options);
  EXPECT_EQ(same.epoch_order(1), e1);
  options.seed = 4;
  SkeletonLoader other(data, all_indices(data), options);
  EXPECT_NE(other.epoch_order(0), e0);
  // The batches follow the order.
  std::vector<int64_t> from_batches;
  for (const Batch& b : whole_epoch(loader, 1))
    from_batches.insert(from_batches.end(), b.indices.begin(), b.indices.end());
  EXPECT_EQ(from_batches, e1);
}

// Full augmentation, all features, shuffling: the batches must not depend on threads,
// prefetch depth or batch size.
LoaderOptions augmented_options() {
  LoaderOptions options = small_options();
  options.batch_size = 5;
  options.shuffle = true;
  options.seed = 99;
  options.augment = AugmentOptions::training();
  options.augment.bone_scale = options.augment.motion_scale = true;
  options.preprocess.features.velocities = true;
  options.preprocess.features.bones = true;
  return options;
}

TEST(Loader, SameBatchesForOneAndTwoThreadsAndAnyPrefetch) {
  const SkeletonDataset data = test::kinect_dataset(23);
  std::vector<std::vector<Batch>> runs;
  for (int threads : {1, 2}) {
    for (int64_t prefetch : {0, 1, 3}) {
      ScopedThreads scoped(threads);  // outlives the loader below, which is destroyed first
      LoaderOptions options = augmented_options();
      options.prefetch = prefetch;
      SkeletonLoader loader(data, all_indices(data), options);
      std::vector<Batch> batches = whole_epoch(loader, 0);
      std::vector<Batch> more = whole_epoch(loader, 1);
      batches.insert(batches.end(), more.begin(), more.end());
      runs.push_back(std::move(batches));
    }
  }
  for (size_t r = 1; r < runs.size(); ++r) expect_same_batches(runs[0], runs[r]);
}

TEST(Loader, SampleValuesDoNotDependOnTheBatchSize) {
  const SkeletonDataset data = test::kinect_dataset(9);
  LoaderOptions options = augmented_options();
  options.shuffle = false;
  std::vector<std::vector<float>> per_size[2];
  int which = 0;
  for (int64_t batch_size : {1, 4}) {
    options.batch_size = batch_size;
    SkeletonLoader loader(data, all_indices(data), options);
    for (const Batch& b : whole_epoch(loader, 2)) {
      for (int64_t i = 0; i < b.x.size(0); ++i) per_size[which].push_back(sample_of(b, i));
    }
    ++which;
  }
  ASSERT_EQ(per_size[0].size(), 9u);
  EXPECT_EQ(per_size[0], per_size[1]);
}

TEST(Loader, AugmentationChangesWithTheEpochEvaluationDoesNot) {
  const SkeletonDataset data = test::kinect_dataset(4);
  LoaderOptions options = augmented_options();
  options.shuffle = false;
  SkeletonLoader training(data, all_indices(data), options);
  EXPECT_NE(sample_of(training.batch(0, 0), 0), sample_of(training.batch(1, 0), 0));
  EXPECT_EQ(sample_of(training.batch(1, 0), 0), sample_of(training.batch(1, 0), 0));
  options.augment = AugmentOptions{};
  SkeletonLoader evaluation(data, all_indices(data), options);
  EXPECT_EQ(sample_of(evaluation.batch(0, 0), 0), sample_of(evaluation.batch(7, 0), 0));
  // Each augmentation alone changes the sample.
  const std::vector<float> plain = sample_of(evaluation.batch(0, 0), 0);
  for (int k = 0; k < 6; ++k) {
    LoaderOptions one = options;
    one.augment.rotate = k == 0;
    one.augment.scale = k == 1;
    one.augment.jitter = k == 2;
    one.augment.temporal_crop = k == 3;
    one.augment.bone_scale = k == 4;
    one.augment.motion_scale = k == 5;
    SkeletonLoader loader(data, all_indices(data), one);
    EXPECT_NE(sample_of(loader.batch(0, 0), 0), plain) << "augmentation " << k;
  }
}

// Mirroring: at probability 1 every sample is the plain one reflected about frame 0's centre
// joint (x -> 2 c - x) with every Left joint in its Right joint's place and back; at
// probability 0 it is the plain one, and the other augmentations' draws do not move with it
// (rotation with mirroring at 0 is rotation alone). A dataset whose joint names do not tell
// the sides cannot be mirrored: the loader says so when it is built.
TEST(Loader, MirroringReflectsTheSampleAndSwapsTheSides) {
  SkeletonDataset data = test::kinect_dataset(5);
  const auto& names = kinect_v2_joint_names();
  const SkeletonDataset unnamed = data;
  data.joint_names.assign(names.begin(), names.end());
  LoaderOptions options = small_options();
  options.batch_size = 5;
  SkeletonLoader plain(data, all_indices(data), options);
  LoaderOptions mirror_options = options;
  mirror_options.augment.mirror = true;
  mirror_options.augment.mirror_probability = 1.0;
  SkeletonLoader mirrored(data, all_indices(data), mirror_options);

  const std::vector<int32_t> partners = mirror_partners(data.joint_names, data.parents);
  const std::vector<int32_t>& order = plain.joint_order();
  std::vector<int64_t> position(order.size());  // of each dataset joint on the axis
  for (size_t k = 0; k < order.size(); ++k) position[static_cast<size_t>(order[k])] = static_cast<int64_t>(k);
  const int64_t frames = plain.frames(), joints = plain.joints();
  ASSERT_EQ(plain.channels(), 3);
  const Batch p = plain.batch(0, 0), m = mirrored.batch(0, 0);
  for (int64_t b = 0; b < 5; ++b) {
    const std::vector<float> x = sample_of(p, b), y = sample_of(m, b);
    const float centre_x = x[static_cast<size_t>(3 * position[static_cast<size_t>(data.center_joint)])];
    for (int64_t t = 0; t < frames; ++t) {
      for (int64_t k = 0; k < joints; ++k) {
        const int32_t joint = order[static_cast<size_t>(k)];
        const int64_t from = position[static_cast<size_t>(partners[static_cast<size_t>(joint)])];
        const auto at = static_cast<size_t>((t * joints + k) * 3);
        const auto source = static_cast<size_t>((t * joints + from) * 3);
        EXPECT_FLOAT_EQ(y[at], 2.0f * centre_x - x[source]) << b << " " << t << " " << k;
        EXPECT_FLOAT_EQ(y[at + 1], x[source + 1]);
        EXPECT_FLOAT_EQ(y[at + 2], x[source + 2]);
      }
    }
  }
  EXPECT_NE(sample_of(m, 0), sample_of(p, 0));

  mirror_options.augment.mirror_probability = 0.0;
  const Batch never = SkeletonLoader(data, all_indices(data), mirror_options).batch(0, 0);
  for (int64_t b = 0; b < 5; ++b) EXPECT_EQ(sample_of(never, b), sample_of(p, b)) << b;
  expect_rotation_draws_unmoved(data, options, mirror_options);

  // At one half, about half the samples of a few epochs are mirrored.
  mirror_options = options;
  mirror_options.augment.mirror = true;
  SkeletonLoader half(data, all_indices(data), mirror_options);
  int flipped = 0;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    const Batch h = half.batch(epoch, 0);
    for (int64_t b = 0; b < 5; ++b) flipped += sample_of(h, b) == sample_of(p, b) ? 0 : 1;
  }
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, 35);

  mirror_options.augment.mirror_probability = 1.0;
  expect_error([&] { SkeletonLoader(unnamed, all_indices(unnamed), mirror_options); },
               "mirror: none of the 25 joint names contains \"left\" or \"right\"");
}

// seed_by_sequence (test-time views): a sequence's augmented sample is the same whatever other
// sequences the loader holds and wherever it sits among them; the default keys the draws by
// the sample's place in the loader instead.
TEST(Loader, SeedBySequenceDrawsTheSameSampleInAnySubset) {
  const SkeletonDataset data = test::kinect_dataset(6);
  LoaderOptions options = augmented_options();
  options.shuffle = false;
  options.seed_by_sequence = true;
  SkeletonLoader all(data, all_indices(data), options);
  SkeletonLoader subset(data, {5, 2}, options);
  EXPECT_EQ(sample_of(subset.batch(3, 0), 0), sample_of(all.batch(3, 1), 0));  // sequence 5: all's sample 5
  EXPECT_EQ(sample_of(subset.batch(3, 0), 1), sample_of(all.batch(3, 0), 2));  // sequence 2
  EXPECT_NE(sample_of(subset.batch(3, 0), 0), sample_of(subset.batch(4, 0), 0));  // still new each epoch
  options.seed_by_sequence = false;
  SkeletonLoader by_place(data, {5, 2}, options);
  SkeletonLoader all_by_place(data, all_indices(data), options);
  EXPECT_NE(sample_of(by_place.batch(3, 0), 0), sample_of(all_by_place.batch(3, 1), 0));
}

TEST(Loader, RestartingAnEpochMidwayIsClean) {
  const SkeletonDataset data = test::kinect_dataset(30);
  LoaderOptions options = augmented_options();
  SkeletonLoader loader(data, all_indices(data), options);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  const std::vector<Batch> epoch1 = whole_epoch(loader, 1);  // abandons epoch 0
  std::vector<Batch> direct;
  for (int64_t i = 0; i < loader.num_batches(); ++i) direct.push_back(loader.batch(1, i));
  expect_same_batches(epoch1, direct);
  loader.start_epoch(2);
  ASSERT_TRUE(loader.next().has_value());
  // Destroyed here with batches pending: the destructor must stop the thread.
}

// ---------------------------------------------------------------- real data

// The MSR Action3D folder: $HARNET_DATA/msr-action3d (or $HARNET_DATA itself), else the
// project's shared data beside the repository; empty when absent.
std::filesystem::path msr_folder() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("HARNET_DATA")) {
    candidates.push_back(fs::path(env) / "msr-action3d");
    candidates.push_back(fs::path(env));
  }
  candidates.push_back(fs::path(HARNET_FIXTURE_DIR) / ".." / ".." / ".." / "shared" / "data" / "msr-action3d");
  for (const fs::path& p : candidates) {
    if (fs::exists(p / "a01_s01_e01_skeleton3D.txt")) return p;
  }
  return {};
}

// A few raw MSR Action3D files (x y z confidence per line, 20 lines a frame) read straight
// into a dataset with the Kinect v1 tree, as the pipeline's smoke test on real skeletons
// (untracked frames, noise). Files for actions 1-5, subjects 1-4, episode 1.
SkeletonDataset msr_sample(const std::filesystem::path& folder) {
  SkeletonDataset data;
  data.parents = {2, 2, 3, 6, 6, 6, -1, 0, 1, 7, 8, 9, 10, 4, 5, 13, 14, 15, 16, 2};
  for (int j = 0; j < 20; ++j) data.joint_names.push_back(str_cat("joint", j));
  for (int a = 1; a <= 5; ++a) data.class_names.push_back(str_cat("a", a));
  data.center_joint = 6;
  data.left_shoulder_joint = 0;
  data.right_shoulder_joint = 1;
  data.neck_joint = 2;
  data.offsets = {0};
  for (int a = 1; a <= 5; ++a) {
    for (int subject = 1; subject <= 4; ++subject) {
      char name[32];
      std::snprintf(name, sizeof(name), "a%02d_s%02d_e01", a, subject);
      std::ifstream in(folder / (std::string(name) + "_skeleton3D.txt"));
      if (!in) continue;
      std::vector<float> values;
      float x, y, z, confidence;
      while (in >> x >> y >> z >> confidence) values.insert(values.end(), {x, y, z});
      const auto frames = static_cast<int64_t>(values.size() / 60);
      if (frames == 0) continue;
      data.skeletons.insert(data.skeletons.end(), values.begin(), values.begin() + frames * 60);
      data.offsets.push_back(data.offsets.back() + frames);
      data.labels.push_back(a - 1);
      data.subjects.push_back(subject);
      data.names.push_back(name);
    }
  }
  return data;
}

TEST(Loader, RealMsrAction3dSequences) {
  const std::filesystem::path folder = msr_folder();
  if (folder.empty()) GTEST_SKIP() << "MSR Action3D not found: set HARNET_DATA to the folder holding msr-action3d/";
  const SkeletonDataset data = msr_sample(folder);
  ASSERT_GE(data.num_sequences(), 10);
  LoaderOptions options;
  options.batch_size = 8;
  options.preprocess.temporal.frames = 30;
  options.preprocess.features = {true, true};
  SkeletonLoader evaluation(data, all_indices(data), options);
  options.augment = AugmentOptions::training();
  options.shuffle = true;
  SkeletonLoader training(data, all_indices(data), options);
  const std::vector<int32_t>& order = evaluation.joint_order();
  auto position = [&](int32_t joint) { return std::find(order.begin(), order.end(), joint) - order.begin(); };

  for (SkeletonLoader* loader : {&evaluation, &training}) {
    for (const Batch& batch : whole_epoch(*loader, 0)) {
      EXPECT_EQ(batch.x.size(1), 30);
      EXPECT_EQ(batch.x.size(2), 20);
      EXPECT_EQ(batch.x.size(3), 9);
      const std::vector<float> x = batch.x.to_vector<float>();
      for (float v : x) ASSERT_TRUE(std::isfinite(v));
      if (loader != &evaluation) continue;
      // Normalised: frame 0's centre at the origin, shoulders level along +x, spine about 1
      // (the mean over frames is 1; one frame of real data stays within a factor of 2).
      for (int64_t b = 0; b < batch.x.size(0); ++b) {
        auto at = [&](int64_t t, int32_t joint, int d) {
          return x[static_cast<size_t>(((b * 30 + t) * 20 + position(joint)) * 9 + d)];
        };
        for (int d = 0; d < 3; ++d) EXPECT_NEAR(at(0, 6, d), 0.0f, 1e-6);
        EXPECT_NEAR(at(0, 1, 2) - at(0, 0, 2), 0.0f, 1e-5);
        EXPECT_GT(at(0, 1, 0) - at(0, 0, 0), 0.0f);
        const float spine =
            std::sqrt(std::pow(at(0, 2, 0), 2.0f) + std::pow(at(0, 2, 1), 2.0f) + std::pow(at(0, 2, 2), 2.0f));
        EXPECT_GT(spine, 0.5f);
        EXPECT_LT(spine, 2.0f);
      }
    }
  }
}

// ---------------------------------------------------------------- the prefetcher

Batch numbered_batch(int64_t i) {
  Batch b;
  b.indices = {i};
  return b;
}

TEST(Prefetcher, DeliversInOrderAtEveryDepth) {
  for (int64_t depth : {0, 1, 2, 5}) {
    BatchPrefetcher prefetcher(7, depth, numbered_batch);
    for (int64_t i = 0; i < 7; ++i) {
      std::optional<Batch> b = prefetcher.next();
      ASSERT_TRUE(b.has_value());
      EXPECT_EQ(b->indices, (std::vector<int64_t>{i})) << "depth " << depth;
    }
    EXPECT_FALSE(prefetcher.next().has_value());
    EXPECT_FALSE(prefetcher.next().has_value());
  }
}

// Waits (up to 10 s) until counter reaches target, then a little longer to see it stay.
void expect_settles_at(const std::atomic<int64_t>& counter, int64_t target) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (counter.load() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(counter.load(), target);
}

TEST(Prefetcher, KeepsAtMostDepthBatchesAhead) {
  std::atomic<int64_t> produced{0};
  BatchPrefetcher prefetcher(100, 2, [&](int64_t i) {
    ++produced;
    return numbered_batch(i);
  });
  expect_settles_at(produced, 2);
  ASSERT_TRUE(prefetcher.next().has_value());
  expect_settles_at(produced, 3);
}

TEST(Prefetcher, RethrowsTheWorkersErrorInTheCaller) {
  for (int64_t depth : {0, 2}) {
    BatchPrefetcher prefetcher(10, depth, [](int64_t i) {
      HARNET_CHECK(i != 3, "producing batch ", i, " failed");
      return numbered_batch(i);
    });
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(prefetcher.next()->indices[0], i);  // the batches before the error
    expect_error([&] { prefetcher.next(); }, "producing batch 3 failed");
    expect_error([&] { prefetcher.next(); }, "producing batch 3 failed");  // and it stays failed
  }
}

TEST(Prefetcher, DestructorStopsAWorkerThatIsAhead) {
  std::atomic<int64_t> produced{0};
  {
    BatchPrefetcher prefetcher(1000000, 3, [&](int64_t i) {
      ++produced;
      return numbered_batch(i);
    });
    ASSERT_TRUE(prefetcher.next().has_value());
  }
  EXPECT_LE(produced.load(), 5);
}

// ---------------------------------------------------------------- refusals

TEST(Loader, RefusesBadArguments) {
  const SkeletonDataset data = test::kinect_dataset(5);
  const std::vector<int64_t> all = all_indices(data);
  LoaderOptions options = small_options();
  expect_error([&] { SkeletonLoader(data, {}, options); }, "SkeletonLoader: the list of sequences is empty");
  expect_error([&] { SkeletonLoader(data, {0, 5}, options); },
               "SkeletonLoader: sequence index 5 is out of range for a dataset of 5 sequences");
  options.batch_size = 0;
  expect_error([&] { SkeletonLoader(data, all, options); }, "SkeletonLoader: batch_size must be at least 1, got 0");
  options = small_options();
  options.prefetch = -1;
  expect_error([&] { SkeletonLoader(data, all, options); }, "SkeletonLoader: prefetch must be non-negative, got -1");
  options = small_options();
  options.batch_size = 8;
  options.drop_last = true;
  expect_error([&] { SkeletonLoader(data, all, options); },
               "SkeletonLoader: drop_last with 5 samples and batch_size 8 leaves no batch");
  options = small_options();
  options.augment.max_scale = 0.5;
  expect_error([&] { SkeletonLoader(data, all, options); }, "augment: the scale range");
  options = small_options();
  options.preprocess.temporal.frames = -3;
  expect_error([&] { SkeletonLoader(data, all, options); }, "preprocess: frames (T) must be at least 1, got -3");

  SkeletonLoader loader(data, all, small_options());
  expect_error([&] { loader.next(); }, "SkeletonLoader::next: no epoch started (call start_epoch first)");
  expect_error([&] { loader.batch(0, 2); },
               "SkeletonLoader::batch: batch index 2 is out of range for 2 batches per epoch");
}

TEST(Loader, RefusesBadDatasets) {
  const std::vector<int64_t> all = {0, 1, 2};
  const LoaderOptions options = small_options();
  SkeletonDataset data = test::kinect_dataset(3);
  data.labels[1] = 3;
  expect_error([&] { SkeletonLoader(data, all, options); },
               "SkeletonLoader: sequence 1 ('seq1') has label 3, out of range for 3 classes");
  data = test::kinect_dataset(3);
  std::fill_n(data.skeletons.begin() + data.offsets[2] * 75, data.sequence_length(2) * 75, 0.0f);
  expect_error([&] { SkeletonLoader(data, all, options); }, "SkeletonLoader: sequence 2 ('seq2'): none of its");
  data = test::kinect_dataset(3);
  data.skeletons[data.offsets[1] * 75 + 4] = std::numeric_limits<float>::infinity();
  expect_error([&] { SkeletonLoader(data, all, options); },
               "SkeletonLoader: sequence 1 ('seq1'): frame 0 joint 1 has a non-finite coordinate (inf)");
  data = test::kinect_dataset(3);
  data.skeletons.pop_back();
  expect_error([&] { SkeletonLoader(data, all, options); }, "SkeletonLoader: the dataset's skeletons hold");
  data = test::kinect_dataset(3);
  data.offsets.pop_back();
  expect_error([&] { SkeletonLoader(data, all, options); },
               "SkeletonLoader: the dataset's offsets has 3 entries for 3 sequences");
  data = test::kinect_dataset(3);
  std::swap(data.offsets[1], data.offsets[2]);
  expect_error([&] { SkeletonLoader(data, all, options); }, "SkeletonLoader: the dataset's offsets decrease at 2");
  data = test::kinect_dataset(3);
  data.parents[3] = 3;
  expect_error([&] { SkeletonLoader(data, all, options); }, "skeleton tree: joint 3 is its own parent");
  data = test::kinect_dataset(3);
  data.parents.pop_back();
  expect_error([&] { SkeletonLoader(data, all, options); },
               "SkeletonLoader: the dataset's parents has 24 entries for 25 joints");
  data = test::kinect_dataset(3);
  data.center_joint = 25;
  expect_error([&] { SkeletonLoader(data, all, options); }, "dataset attribute center_joint = 25 is not a joint index");
}

}  // namespace
}  // namespace harnet
