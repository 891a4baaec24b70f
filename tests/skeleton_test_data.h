// Synthetic Kinect v2 skeletons with known geometry, for the data pipeline's tests.
//
// A canonical pose stands at the origin with the spine along +y (spine base -> neck 0.5 m),
// the left->right shoulder vector along +x, and the left forearm swinging with a phase.
// Sequence i of kinect_dataset() is that motion plus a walking drift, rotated about the
// vertical axis by yaw(i) and moved to origin(i): normalisation must give back exactly
// 2 * canonical_frame(i, t) (translation, rotation and the 0.5 m spine undone).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "data/dataset.h"

namespace harnet::test {

// Kinect v2 (spec): 0 SpineBase, 1 SpineMid, 2 Neck, 3 Head, 4-7 left arm, 8-11 right arm,
// 12-15 left leg, 16-19 right leg, 20 SpineShoulder, 21/22 left hand tip/thumb, 23/24 right.
inline const std::vector<int32_t> kKinectV2Parents = {-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0,
                                                      12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11};
constexpr int64_t kKinectJoints = 25;
constexpr int32_t kSpineBase = 0, kNeck = 2, kShoulderLeft = 4, kShoulderRight = 8;

// The canonical pose at a motion phase: [25, 3].
inline std::vector<float> kinect_pose(double phase) {
  // Left half (x < 0) of the body; the right half mirrors x.
  // joint, x, y, z
  const float left[][4] = {{4, -0.18f, 0.45f, 0.0f},   {5, -0.20f, 0.20f, 0.0f},    {6, -0.22f, 0.00f, 0.0f},
                           {7, -0.22f, -0.08f, 0.0f},  {21, -0.22f, -0.15f, 0.0f},  {22, -0.18f, -0.10f, 0.02f},
                           {12, -0.10f, -0.02f, 0.0f}, {13, -0.10f, -0.45f, 0.0f},  {14, -0.10f, -0.85f, 0.0f},
                           {15, -0.10f, -0.90f, 0.10f}};
  const int32_t mirror[] = {8, 9, 10, 11, 23, 24, 16, 17, 18, 19};
  std::vector<float> pose(kKinectJoints * 3, 0.0f);
  auto set = [&](int32_t j, float x, float y, float z) {
    pose[3 * j] = x;
    pose[3 * j + 1] = y;
    pose[3 * j + 2] = z;
  };
  set(0, 0.0f, 0.0f, 0.0f);
  set(1, 0.0f, 0.25f, 0.0f);
  set(20, 0.0f, 0.45f, 0.0f);
  set(2, 0.0f, 0.50f, 0.0f);
  set(3, 0.0f, 0.62f, 0.0f);
  for (int i = 0; i < 10; ++i) {
    const auto j = static_cast<int32_t>(left[i][0]);
    set(j, left[i][1], left[i][2], left[i][3]);
    set(mirror[i], -left[i][1], left[i][2], left[i][3]);
  }
  // The left forearm swings forward (wrist, hand and fingers move together).
  const float dy = static_cast<float>(0.1 * std::sin(phase)), dz = static_cast<float>(0.1 * (1.0 - std::cos(phase)));
  for (int32_t j : {6, 7, 21, 22}) {
    pose[3 * j + 1] += dy;
    pose[3 * j + 2] += dz;
  }
  return pose;
}

// Parameters of sequence i (deterministic, no randomness to keep in sync).
inline double sequence_yaw(int64_t i) { return -1.3 + 0.37 * static_cast<double>(i); }
inline int64_t sequence_length(int64_t i, int64_t min_frames, int64_t max_frames) {
  return min_frames + (i * 17) % (max_frames - min_frames + 1);
}

// Frame t of sequence i before placement: the pose plus a drift of (1 cm, 0, 0.5 cm) per frame.
inline std::vector<float> canonical_frame(int64_t i, int64_t t) {
  std::vector<float> frame = kinect_pose(0.2 * static_cast<double>(t) + 0.1 * static_cast<double>(i));
  const float drift[3] = {0.01f * static_cast<float>(t), 0.0f, 0.005f * static_cast<float>(t)};
  for (int64_t j = 0; j < kKinectJoints; ++j) {
    for (int d = 0; d < 3; ++d) frame[static_cast<size_t>(3 * j + d)] += drift[d];
  }
  return frame;
}

// A dataset of `sequences` Kinect v2 sequences of min_frames..max_frames frames; labels
// i % classes, subjects 1 + i % subjects, names "seq<i>".
inline SkeletonDataset kinect_dataset(int64_t sequences, int64_t min_frames = 20, int64_t max_frames = 40,
                                      int32_t classes = 3, int32_t subjects = 4) {
  SkeletonDataset data;
  data.parents = kKinectV2Parents;
  for (int64_t j = 0; j < kKinectJoints; ++j) data.joint_names.push_back(str_cat("joint", j));
  for (int32_t c = 0; c < classes; ++c) data.class_names.push_back(str_cat("class", c));
  data.fps = 30.0;
  data.source = "synthetic";
  data.center_joint = kSpineBase;
  data.left_shoulder_joint = kShoulderLeft;
  data.right_shoulder_joint = kShoulderRight;
  data.neck_joint = kNeck;
  data.offsets.push_back(0);
  for (int64_t i = 0; i < sequences; ++i) {
    const double yaw = sequence_yaw(i), c = std::cos(yaw), s = std::sin(yaw);
    const double origin[3] = {0.1 * static_cast<double>(i) - 0.5, 0.9, 2.5 + 0.05 * static_cast<double>(i)};
    const int64_t length = sequence_length(i, min_frames, max_frames);
    for (int64_t t = 0; t < length; ++t) {
      const std::vector<float> frame = canonical_frame(i, t);
      for (int64_t j = 0; j < kKinectJoints; ++j) {
        const double x = frame[static_cast<size_t>(3 * j)], y = frame[static_cast<size_t>(3 * j + 1)],
                     z = frame[static_cast<size_t>(3 * j + 2)];
        // R_y(yaw): x' = cos x + sin z, z' = -sin x + cos z (the pipeline's convention).
        data.skeletons.push_back(static_cast<float>(origin[0] + c * x + s * z));
        data.skeletons.push_back(static_cast<float>(origin[1] + y));
        data.skeletons.push_back(static_cast<float>(origin[2] - s * x + c * z));
      }
    }
    data.offsets.push_back(data.offsets.back() + length);
    data.labels.push_back(static_cast<int32_t>(i % classes));
    data.subjects.push_back(static_cast<int32_t>(1 + i % subjects));
    data.names.push_back(str_cat("seq", i));
  }
  return data;
}

}  // namespace harnet::test
