// The deterministic part of the input pipeline, applied to each sequence of a
// SkeletonDataset before any augmentation (spec, "Input pipeline"):
//   1. keep the tracked frames (Kinect writes all-zero frames when it loses the body);
//   2. optionally smooth along time (data/smooth.h);
//   3. normalise: translate, optionally stand the spine upright, rotate about the vertical axis,
//      divide by the spine length;
//   4. resample uniformly to T frames, or cut windows of T frames with a stride;
// and, last, the model's input features of one sample: positions, optionally velocities
// and bone vectors, with the joints in the convolution's order (data/joint_order.h).
//
// Coordinates: y is vertical (up), x and z horizontal, as Kinect reports them.
// Every spatial transform pivots about the first frame's centre joint, which is the
// origin once translation is on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/joint_order.h"

namespace harnet {

// The frames of one sequence: [frames, joints, 3], row-major.
struct SkeletonSequence {
  int64_t frames = 0;
  int64_t joints = 0;
  std::vector<float> xyz;

  float* frame(int64_t t) { return xyz.data() + t * joints * 3; }
  const float* frame(int64_t t) const { return xyz.data() + t * joints * 3; }
};

// The joints the normalisation refers to (the dataset's *_joint attributes).
struct JointRoles {
  int32_t center = 0;
  int32_t left_shoulder = 0;
  int32_t right_shoulder = 0;
  int32_t neck = 0;
};

// The dataset's roles, each checked to be a joint index (the error names the attribute).
JointRoles joint_roles(const SkeletonDataset& dataset);

struct NormalizeOptions {
  // The first tracked frame's centre joint moves to the origin (the whole sequence shifts by
  // the same vector, so walking actions keep their path).
  bool translate = true;
  // Rotation about the vertical axis so that the first tracked frame's left->right shoulder
  // vector, projected on the horizontal plane, points along +x. Skipped when the projection
  // is (nearly) zero.
  bool rotate = true;
  // Division by the mean centre->neck distance over the tracked frames. Skipped when that
  // mean is (nearly) zero.
  bool scale = true;
  // Before `rotate`: the rotation (about the axis perpendicular to both) that turns the first
  // tracked frame's centre->neck vector to +y, so that the spine stands upright: it removes the
  // camera's pitch and roll and the body's lean, which the rotation about the vertical axis
  // leaves. A spine pointing straight down turns about x. Skipped when the spine is (nearly)
  // zero. Off in the spec's pipeline.
  bool upright = false;
};

// Savitzky-Golay smoothing along time, before normalisation (data/smooth.h).
struct SmoothOptions {
  int64_t window = 0;  // frames, odd and >= 3; 0: off
  int64_t order = 2;   // degree of the fitted polynomial, < window
  bool enabled() const { return window != 0; }
};

enum class TemporalMode {
  Resample,  // each sequence becomes one sample of T frames
  Windows,   // each sequence becomes windows of T frames, `stride` frames apart
};

struct TemporalOptions {
  int64_t frames = 60;  // T
  TemporalMode mode = TemporalMode::Resample;
  int64_t stride = 30;  // Windows only
};

// Input channels per joint, in this order: position (always), velocity, bone vector.
struct FeatureOptions {
  bool velocities = false;  // frame t minus frame t-1; zero at t = 0
  bool bones = false;       // joint minus its parent; zero at the root
  int64_t channels() const { return 3 * (1 + (velocities ? 1 : 0) + (bones ? 1 : 0)); }
};

struct PreprocessOptions {
  bool drop_untracked_frames = true;
  SmoothOptions smooth;
  NormalizeOptions normalize;
  TemporalOptions temporal;
  FeatureOptions features;
  // Joints along the output's joint axis: joint_order when given (any sequence of joint
  // indices with every joint at least once, see validate_joint_walk), else the tree walked by
  // `walk` (data/joint_order.h); the dataset's order when reorder_joints is off.
  bool reorder_joints = true;
  JointWalk walk = JointWalk::DepthFirst;
  std::vector<int32_t> joint_order;
};

// Throws naming the option at fault (frames >= 1, stride >= 1, the smoothing's window and order).
void validate_preprocess_options(const PreprocessOptions& options);

// The joint order the pipeline writes (validated against the tree and J).
std::vector<int32_t> pipeline_joint_order(const PreprocessOptions& options, const std::vector<int32_t>& parents);

// A frame is tracked unless all its coordinates are zero. frame: [joints, 3].
bool is_tracked_frame(const float* frame, int64_t joints);

// "sequence 3" or "sequence 3 ('a01_s01_e01')": how error messages name a sequence.
std::string sequence_label(const SkeletonDataset& dataset, int64_t index);

// A copy of sequence `index`, without its untracked frames when drop_untracked. Throws
// (naming the sequence) for an index out of range, no frames, non-finite coordinates or
// no tracked frame at all.
SkeletonSequence extract_sequence(const SkeletonDataset& dataset, int64_t index, bool drop_untracked);

// Normalises in place (see NormalizeOptions). Every tracked-frame reference uses the first
// tracked frame; a sequence without one is left unchanged.
void normalize_sequence(SkeletonSequence& sequence, const JointRoles& roles, const NormalizeOptions& options);

// Linear interpolation at `frames` evenly spaced positions from source frame `first` to
// `last` (fractional, 0 <= first <= last <= source_frames-1), both ends included.
// source: [source_frames, joints, 3] -> out: [frames, joints, 3]. frames = 1 takes `first`.
void resample_frames(const float* source, int64_t source_frames, int64_t joints, double first, double last,
                     int64_t frames, float* out);
// The whole sequence resampled to `frames` frames (shorter sequences are stretched).
SkeletonSequence resample_sequence(const SkeletonSequence& sequence, int64_t frames);

// First frames of the windows of `window` frames cut from `length` frames, every `stride`
// frames; when the last window stops short of the end, one more window ends exactly at the
// end, so every frame is covered. length <= window gives one window at 0 (the sample then
// resamples the whole sequence up to `window` frames).
std::vector<int64_t> window_starts(int64_t length, int64_t window, int64_t stride);

// One sample's input features. positions: [frames, joints, 3] in the dataset's joint
// numbering; parents: the dataset's tree; order: output position k is input joint order[k]
// (a joint may fill several positions). out: [frames, order.size(), features.channels()].
void write_features(const float* positions, int64_t frames, int64_t joints, const std::vector<int32_t>& parents,
                    const std::vector<int32_t>& order, const FeatureOptions& features, float* out);

}  // namespace harnet
