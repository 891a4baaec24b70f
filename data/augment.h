// Training augmentation of one sample (spec, "Input pipeline"): a random temporal crop
// (then resampling back to T frames), a rotation about the vertical axis, a uniform scale
// and Gaussian jitter; beyond the spec, random bone lengths (body proportions) and a random
// motion amplitude, which stand in for the differences between performers. Each is switched
// on separately; all are off by default, as in evaluation. Beyond those, left/right
// mirroring: the sample reflected in a vertical plane with every left joint swapped for its
// right counterpart, as if a performer of the other handedness did the action.
//
// Reproducibility: a sample's random numbers come from its own Generator seeded by
// sample_seed(seed, epoch, sample index), so they do not depend on the thread that
// prepares the sample or on the batch it lands in. The four
// scalar draws are always taken, in a fixed order, so switching one augmentation on or off
// leaves the others' values unchanged; the jitter's normals come last. The bone and motion
// factors and the mirroring's coin come from streams of their own, seeded from the same sample
// seed.
//
// Order in the loader: crop, bone lengths, motion amplitude, mirroring, tilt, shear, then
// rotation, scale and jitter. The tilt's angles and the shear's factors come from streams of
// their own too.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/generator.h"

namespace harnet {

struct AugmentOptions {
  bool rotate = false;
  double max_rotation_degrees = 15.0;  // angle uniform in [-max, +max] about the vertical axis
  bool scale = false;
  double min_scale = 0.9;  // factor uniform in [min, max]
  double max_scale = 1.1;
  bool jitter = false;
  double jitter_sigma = 0.01;  // per coordinate, in the sample's units (spine lengths once scaled)
  bool temporal_crop = false;
  double min_crop_fraction = 0.8;  // keep a fraction uniform in [min, 1] of the frames
  // Body proportions: every bone's length times its own factor, uniform in [1 - range, 1 + range]
  // and the same in every frame of the sample; the skeleton is rebuilt outward from the root.
  bool bone_scale = false;
  double bone_scale_range = 0.2;
  // Motion amplitude: every joint's deviation from its mean position over the sample's frames
  // times one factor uniform in [1 - range, 1 + range] (larger or smaller movements).
  bool motion_scale = false;
  double motion_scale_range = 0.2;
  // Left/right mirroring, with probability mirror_probability per sample: x -> 2 p - x (p: the
  // pivot joint's x in frame 0; after the normalisation x runs from the left shoulder to the
  // right one) and every joint swapped with its partner (mirror_partners: the joint names).
  bool mirror = false;
  double mirror_probability = 0.5;
  // Tilt: a rotation about the left-right axis (x: forward or back) and one about the depth axis
  // (z: sideways), each angle uniform in [-max, +max], through the pivot joint of frame 0, the
  // same for every frame: a camera's pitch and roll, or a body leaning, which the rotation about
  // the vertical axis does not cover.
  bool tilt = false;
  double max_tilt_degrees = 10.0;
  // Shear: p -> pivot + S (p - pivot) through the pivot joint of frame 0, the same for every
  // frame, with S = [[1, s_xy, s_xz], [s_yx, 1, s_yz], [s_zx, s_zy, 1]] and each off-diagonal
  // factor uniform in [-max_shear, +max_shear]: each coordinate gains a share of the other two,
  // a skew of posture and proportions that no rotation or uniform scale makes.
  bool shear = false;
  double max_shear = 0.2;

  bool any() const {
    return rotate || scale || jitter || temporal_crop || bone_scale || motion_scale || mirror || tilt || shear;
  }
  // All four on, with the spec's ranges.
  static AugmentOptions training();
};

// Throws naming the option at fault (ranges, negative sigma, fraction outside (0, 1]).
void validate_augment_options(const AugmentOptions& options);

// A well-mixed 64-bit seed from the sample's identity (splitmix64 chained over the parts).
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample);

// What the draws decided for one sample (identity values for what is switched off).
struct SampleAugmentation {
  double crop_fraction = 1.0;  // of the source frames kept
  double crop_position = 0.0;  // in [0, 1): where the crop starts among the possible starts
  double rotation_radians = 0.0;
  double scale = 1.0;
};

// Takes the four scalar draws from gen (always all four, see above).
SampleAugmentation draw_augmentation(const AugmentOptions& options, Generator& gen);

struct FrameRange {
  int64_t start = 0;
  int64_t length = 0;
};

// The crop of `frames` source frames: round(fraction * frames) frames (at least 1), starting
// at floor(position * (number of possible starts)).
FrameRange crop_range(int64_t frames, const SampleAugmentation& augmentation);

// The tilt of one sample (radians), from a stream of its own seeded from the sample seed: the
// same seed, the same angles; zero when tilt is off.
struct TiltAngles {
  double forward = 0.0;   // about x
  double sideways = 0.0;  // about z
};
TiltAngles draw_tilt(const AugmentOptions& options, uint64_t sample_seed);

// p -> pivot + R_z(sideways) R_x(forward) (p - pivot), with R_x(a): y' = cos y - sin z,
// z' = sin y + cos z and R_z(b): x' = cos x - sin y, y' = sin x + cos y. xyz: [points, 3].
void tilt_about(float* xyz, int64_t points, const TiltAngles& angles, const float* pivot);

// The shear of one sample, from a stream of its own seeded from the sample seed: the six
// off-diagonal factors of S row by row (s_xy, s_xz, s_yx, s_yz, s_zx, s_zy); zero when shear is off.
struct ShearFactors {
  std::array<double, 6> off{};
};
ShearFactors draw_shear(const AugmentOptions& options, uint64_t sample_seed);

// p -> pivot + S (p - pivot), S as above (ones on the diagonal). xyz: [points, 3].
void shear_about(float* xyz, int64_t points, const ShearFactors& factors, const float* pivot);

// Rotation about the vertical (y) axis through (pivot_x, pivot_z), the same convention as the
// normalisation: x' = cos x + sin z, z' = -sin x + cos z. xyz: [points, 3].
void rotate_about_vertical(float* xyz, int64_t points, double radians, float pivot_x, float pivot_z);

// p -> pivot + factor * (p - pivot). xyz: [points, 3]; pivot: 3 values.
void scale_about(float* xyz, int64_t points, double factor, const float* pivot);

// Adds sigma * N(0, 1) to each of the `count` values, drawn from gen in order.
void add_jitter(float* values, int64_t count, double sigma, Generator& gen);

// Multiplies the length of bone (j, parents[j]) by factors[j] in every frame: each joint moves
// so that its offset from its parent, already moved, is factors[j] times the original offset.
// The root (parent -1) stays and its factor is ignored. parents must be one tree (it is
// validated: validate_skeleton_tree).
// xyz: [frames, joints, 3].
void scale_bones(float* xyz, int64_t frames, int64_t joints, const std::vector<int32_t>& parents,
                 const std::vector<double>& factors);

// The bone factors of one sample for scale_bones, uniform in [1 - range, 1 + range], drawn
// from their own stream (seeded from the sample's seed) so the other draws stay unchanged.
std::vector<double> draw_bone_factors(const AugmentOptions& options, int64_t joints, uint64_t sample_seed);

// p(t, j) -> mean_t p(t, j) + factor * (p(t, j) - mean_t p(t, j)). xyz: [frames, joints, 3].
void scale_motion(float* xyz, int64_t frames, int64_t joints, double factor);

// The factor of scale_motion, uniform in [1 - range, 1 + range], from a stream of its own.
double draw_motion_factor(const AugmentOptions& options, uint64_t sample_seed);

// The joint that takes each joint's place in a mirrored skeleton: partner[j] is the joint whose
// name is joint j's with "left" and "right" exchanged (the first of the two words in the name,
// matched in any case: ShoulderLeft <-> ShoulderRight, left_hip <-> right_hip), and j itself for
// a joint whose name has neither word (the spine, the head). Throws harnet::Error naming the
// joint when a left or right joint has no counterpart or two joints' names differ only in case,
// when the tree is not symmetric under the swap (the parent of a joint's partner must be the
// partner of its parent; parents as in scale_bones), and when no name has either word.
std::vector<int32_t> mirror_partners(const std::vector<std::string>& joint_names, const std::vector<int32_t>& parents);

// The mirror image of a sample in place: x -> 2 pivot_x - x in every frame, then joint j takes
// the (reflected) position of partners[j]. xyz: [frames, joints, 3]; partners: an involution of
// 0 .. joints-1 (checked).
void mirror_left_right(float* xyz, int64_t frames, int64_t joints, const std::vector<int32_t>& partners,
                       float pivot_x);

// Whether one sample is mirrored: true with probability mirror_probability, from a stream of
// its own (seeded from the sample's seed), so the other draws stay unchanged.
bool draw_mirror(const AugmentOptions& options, uint64_t sample_seed);

// The spatial augmentations of one sample in place: rotation, then scale (both about frame
// 0's pivot joint), then jitter (normals from gen). xyz: [frames, joints, 3].
void augment_positions(float* xyz, int64_t frames, int64_t joints, int32_t pivot_joint, const AugmentOptions& options,
                       const SampleAugmentation& augmentation, Generator& gen);

}  // namespace harnet
