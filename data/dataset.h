// A skeleton dataset in memory: the `harnet-skeleton-v1` HDF5 contract (see
// docs/dataset-format.md and the project's spec) as plain arrays. Sequences are stored back
// to back; sequence i is frames offsets[i] .. offsets[i+1]-1 of `skeletons`.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace harnet {

struct SkeletonDataset {
  std::vector<float> skeletons;  // [F, J, 3], metres, row-major
  std::vector<int64_t> offsets;  // [N + 1], offsets[0] = 0, offsets[N] = F, increasing
  std::vector<int32_t> labels;   // [N], 0-based class index
  std::vector<int32_t> subjects; // [N], performer id
  std::vector<std::string> names;  // [N] source id of each sequence, or empty (optional)

  std::vector<std::string> class_names;  // [C]
  std::vector<std::string> joint_names;  // [J]
  std::vector<int32_t> parents;          // [J], -1 for the root
  double fps = 0.0;
  std::string source;
  int32_t center_joint = 0;  // hip centre / spine base: the origin after normalisation
  int32_t left_shoulder_joint = 0;
  int32_t right_shoulder_joint = 0;
  int32_t neck_joint = 0;

  int64_t num_sequences() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_joints() const { return static_cast<int64_t>(joint_names.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t num_frames() const { return offsets.empty() ? 0 : offsets.back(); }
  // Distinct performer ids in /subjects.
  int64_t num_subjects() const {
    return static_cast<int64_t>(std::set<int32_t>(subjects.begin(), subjects.end()).size());
  }
  int64_t sequence_length(int64_t i) const { return offsets[i + 1] - offsets[i]; }
  // Pointer to frame 0 of sequence i: [sequence_length(i), J, 3].
  const float* sequence(int64_t i) const { return skeletons.data() + offsets[i] * num_joints() * 3; }
};

}  // namespace harnet
