// Procedurally animated Kinect-v2-like skeletons (25 joints, the spec's parents): a small
// labelled dataset in the harnet-skeleton-v1 contract for tests, demos and smoke training when
// no real data is at hand.
//
// Each class is a motion of a forward-kinematics skeleton (wave, punch, kick, bend, raise arms,
// clap, squat, jump, turn around, side step). Every subject has its own body (height, arm, leg
// and shoulder proportions), speed, amplitude, idle posture and dominant side (some wave, punch
// and kick with the left); every repetition its own length (frames x 0.8 .. 1.2), timing,
// place and heading in front of the camera, plus joint jitter. The action starts and ends in
// the rest pose, so no single frame gives the class away, and pairs of classes share body parts
// (wave / raise arms, punch / clap, kick / squat / bend), so a classifier must use the motion.
// Deterministic for a seed: one Generator drawn in a fixed order.
#pragma once

#include <array>
#include <cstdint>

#include "data/dataset.h"

namespace harnet {

inline constexpr int kSyntheticClassCount = 10;
const std::array<const char*, kSyntheticClassCount>& synthetic_class_names();

struct SyntheticSkeletonOptions {
  int64_t classes = 6;       // the first `classes` of synthetic_class_names(), 2 .. 10
  int64_t subjects = 8;      // performer ids 1 .. subjects
  int64_t repetitions = 4;   // sequences per (subject, class)
  int64_t frames = 40;       // mean sequence length; each is frames x 0.8 .. 1.2 (at least 8)
  double fps = 15.0;
  double noise = 0.02;       // standard deviation of the joint jitter, metres
  uint64_t seed = 0;
};

// subjects x classes x repetitions sequences, ordered by subject, class, repetition; names
// "<class>_sSS_rRR" with spaces as '-'. Coordinates: metres, y up, the performer about 2-3.5 m
// in front of a camera looking along +z.
SkeletonDataset make_synthetic_skeletons(const SyntheticSkeletonOptions& options);

}  // namespace harnet
