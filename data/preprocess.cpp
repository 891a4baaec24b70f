#include "data/preprocess.h"

#include <cmath>
#include <numeric>

#include "autograd/error.h"
#include "data/joint_order.h"
#include "data/smooth.h"

namespace harnet {

namespace {

// Below this length (metres) a shoulder vector or a spine is treated as degenerate.
constexpr double kDegenerateLength = 1e-6;

int64_t first_tracked_frame(const SkeletonSequence& sequence) {
  for (int64_t t = 0; t < sequence.frames; ++t) {
    if (is_tracked_frame(sequence.frame(t), sequence.joints)) return t;
  }
  return -1;
}

}  // namespace

JointRoles joint_roles(const SkeletonDataset& dataset) {
  const int64_t joints = dataset.num_joints();
  auto checked = [&](int32_t joint, const char* attribute) {
    HARNET_CHECK(joint >= 0 && joint < joints, "dataset attribute ", attribute, " = ", joint,
                 " is not a joint index (the dataset has ", joints, " joints)");
    return joint;
  };
  return {checked(dataset.center_joint, "center_joint"), checked(dataset.left_shoulder_joint, "left_shoulder_joint"),
          checked(dataset.right_shoulder_joint, "right_shoulder_joint"), checked(dataset.neck_joint, "neck_joint")};
}

void validate_preprocess_options(const PreprocessOptions& options) {
  HARNET_CHECK(options.temporal.frames >= 1, "preprocess: frames (T) must be at least 1, got ",
               options.temporal.frames);
  HARNET_CHECK(options.temporal.mode != TemporalMode::Windows || options.temporal.stride >= 1,
               "preprocess: window stride must be at least 1, got ", options.temporal.stride);
  HARNET_CHECK(options.reorder_joints || options.joint_order.empty(),
               "preprocess: joint_order is given but reorder_joints is off");
  validate_smooth_options(options.smooth);
}

std::vector<int32_t> pipeline_joint_order(const PreprocessOptions& options, const std::vector<int32_t>& parents) {
  validate_skeleton_tree(parents);
  const int64_t joints = static_cast<int64_t>(parents.size());
  if (!options.reorder_joints) {
    std::vector<int32_t> identity(parents.size());
    std::iota(identity.begin(), identity.end(), 0);
    return identity;
  }
  if (!options.joint_order.empty()) {
    validate_joint_walk(options.joint_order, joints, "preprocess: joint_order");
    return options.joint_order;
  }
  return joint_walk_order(options.walk, parents);
}

bool is_tracked_frame(const float* frame, int64_t joints) {
  for (int64_t i = 0; i < joints * 3; ++i) {
    if (frame[i] != 0.0f) return true;
  }
  return false;
}

std::string sequence_label(const SkeletonDataset& dataset, int64_t index) {
  const bool named = index >= 0 && index < static_cast<int64_t>(dataset.names.size()) &&
                     !dataset.names[static_cast<size_t>(index)].empty();
  return named ? str_cat("sequence ", index, " ('", dataset.names[static_cast<size_t>(index)], "')")
               : str_cat("sequence ", index);
}

SkeletonSequence extract_sequence(const SkeletonDataset& dataset, int64_t index, bool drop_untracked) {
  HARNET_CHECK(index >= 0 && index < dataset.num_sequences(), "extract_sequence: sequence index ", index,
               " is out of range for a dataset of ", dataset.num_sequences(), " sequences");
  const int64_t joints = dataset.num_joints();
  const int64_t length = dataset.sequence_length(index);
  HARNET_CHECK(length >= 1, sequence_label(dataset, index), " has no frames");
  const float* source = dataset.sequence(index);

  SkeletonSequence sequence;
  sequence.joints = joints;
  sequence.xyz.reserve(static_cast<size_t>(length * joints * 3));
  for (int64_t t = 0; t < length; ++t) {
    const float* frame = source + t * joints * 3;
    for (int64_t i = 0; i < joints * 3; ++i) {
      HARNET_CHECK(std::isfinite(frame[i]), sequence_label(dataset, index), ": frame ", t, " joint ", i / 3,
                   " has a non-finite coordinate (", frame[i], ")");
    }
    if (drop_untracked && !is_tracked_frame(frame, joints)) continue;
    sequence.xyz.insert(sequence.xyz.end(), frame, frame + joints * 3);
    ++sequence.frames;
  }
  HARNET_CHECK(sequence.frames >= 1 && first_tracked_frame(sequence) >= 0, sequence_label(dataset, index),
               ": none of its ", length, " frames is tracked (all coordinates zero)");
  return sequence;
}

void normalize_sequence(SkeletonSequence& sequence, const JointRoles& roles, const NormalizeOptions& options) {
  const int64_t first = first_tracked_frame(sequence);
  if (first < 0) return;
  const int64_t joints = sequence.joints;
  std::vector<bool> tracked(static_cast<size_t>(sequence.frames));
  for (int64_t t = 0; t < sequence.frames; ++t)
    tracked[static_cast<size_t>(t)] = is_tracked_frame(sequence.frame(t), joints);

  // Applies p -> f(p) to every joint of every tracked frame (untracked frames stay zero).
  auto transform = [&](auto&& f) {
    for (int64_t t = 0; t < sequence.frames; ++t) {
      if (!tracked[static_cast<size_t>(t)]) continue;
      float* frame = sequence.frame(t);
      for (int64_t j = 0; j < joints; ++j) f(frame + 3 * j);
    }
  };
  auto joint = [&](int64_t t, int32_t j) { return sequence.frame(t) + 3 * j; };

  // The pivot: the first tracked frame's centre joint.
  const float* c = joint(first, roles.center);
  double pivot[3] = {c[0], c[1], c[2]};

  if (options.translate) {
    const float shift[3] = {static_cast<float>(pivot[0]), static_cast<float>(pivot[1]), static_cast<float>(pivot[2])};
    transform([&](float* p) {
      for (int d = 0; d < 3; ++d) p[d] -= shift[d];
    });
    pivot[0] = pivot[1] = pivot[2] = 0.0;
  }

  if (options.upright) {
    const float* n = joint(first, roles.neck);
    const double spine[3] = {n[0] - pivot[0], n[1] - pivot[1], n[2] - pivot[2]};
    const double length = std::sqrt(spine[0] * spine[0] + spine[1] * spine[1] + spine[2] * spine[2]);
    if (length > kDegenerateLength) {
      // Rodrigues: the rotation by angle a about the unit axis k = (u x y) / |u x y| maps the
      // unit spine u to y = (0, 1, 0); cos a = u . y = u_y, sin a = |u x y| = |(-u_z, 0, u_x)|.
      const double u[3] = {spine[0] / length, spine[1] / length, spine[2] / length};
      const double sin_a = std::hypot(u[0], u[2]), cos_a = u[1];
      double k[3] = {1.0, 0.0, 0.0};  // straight down (or up): about x
      if (sin_a > kDegenerateLength) k[0] = -u[2] / sin_a, k[2] = u[0] / sin_a;
      const double c = sin_a > kDegenerateLength ? cos_a : (cos_a > 0.0 ? 1.0 : -1.0);
      const double s = sin_a > kDegenerateLength ? sin_a : 0.0;
      double r[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) r[i][j] = (i == j ? c : 0.0) + (1.0 - c) * k[i] * k[j];
      r[0][1] -= s * k[2], r[0][2] += s * k[1];
      r[1][0] += s * k[2], r[1][2] -= s * k[0];
      r[2][0] -= s * k[1], r[2][1] += s * k[0];
      transform([&](float* p) {
        const double d[3] = {p[0] - pivot[0], p[1] - pivot[1], p[2] - pivot[2]};
        for (int i = 0; i < 3; ++i)
          p[i] = static_cast<float>(pivot[i] + r[i][0] * d[0] + r[i][1] * d[1] + r[i][2] * d[2]);
      });
    }
  }

  if (options.rotate) {
    const float* left = joint(first, roles.left_shoulder);
    const float* right = joint(first, roles.right_shoulder);
    const double vx = static_cast<double>(right[0]) - left[0];
    const double vz = static_cast<double>(right[2]) - left[2];
    const double horizontal = std::hypot(vx, vz);
    if (horizontal > kDegenerateLength) {
      // R_y(theta) with cos = vx/|v|, sin = vz/|v| maps (vx, vz) to (|v|, 0):
      //   x' = cos x + sin z,  z' = -sin x + cos z  (about the pivot).
      const double cos_t = vx / horizontal, sin_t = vz / horizontal;
      transform([&](float* p) {
        const double x = p[0] - pivot[0], z = p[2] - pivot[2];
        p[0] = static_cast<float>(pivot[0] + cos_t * x + sin_t * z);
        p[2] = static_cast<float>(pivot[2] - sin_t * x + cos_t * z);
      });
    }
  }

  if (options.scale) {
    double total = 0.0;
    int64_t counted = 0;
    for (int64_t t = 0; t < sequence.frames; ++t) {
      if (!tracked[static_cast<size_t>(t)]) continue;
      const float* a = joint(t, roles.center);
      const float* b = joint(t, roles.neck);
      total += std::sqrt(std::pow(static_cast<double>(b[0]) - a[0], 2) + std::pow(static_cast<double>(b[1]) - a[1], 2) +
                         std::pow(static_cast<double>(b[2]) - a[2], 2));
      ++counted;
    }
    const double spine = total / static_cast<double>(counted);
    if (spine > kDegenerateLength) {
      const double inverse = 1.0 / spine;
      transform([&](float* p) {
        for (int d = 0; d < 3; ++d) p[d] = static_cast<float>(pivot[d] + (p[d] - pivot[d]) * inverse);
      });
    }
  }
}

void resample_frames(const float* source, int64_t source_frames, int64_t joints, double first, double last,
                     int64_t frames, float* out) {
  HARNET_CHECK(source_frames >= 1 && frames >= 1,
               "resample_frames: need at least one source and one output frame, got ", source_frames, " and ", frames);
  HARNET_CHECK(0.0 <= first && first <= last && last <= static_cast<double>(source_frames - 1),
               "resample_frames: range [", first, ", ", last, "] is not inside frames [0, ", source_frames - 1, "]");
  const int64_t stride = joints * 3;
  const double step = frames > 1 ? (last - first) / static_cast<double>(frames - 1) : 0.0;
  for (int64_t k = 0; k < frames; ++k) {
    const double position = first + step * static_cast<double>(k);
    int64_t below = static_cast<int64_t>(position);
    if (below > source_frames - 1) below = source_frames - 1;
    const int64_t above = below + 1 < source_frames ? below + 1 : below;
    const float weight = static_cast<float>(position - static_cast<double>(below));
    const float* a = source + below * stride;
    const float* b = source + above * stride;
    float* o = out + k * stride;
    for (int64_t i = 0; i < stride; ++i) o[i] = a[i] + weight * (b[i] - a[i]);
  }
}

SkeletonSequence resample_sequence(const SkeletonSequence& sequence, int64_t frames) {
  SkeletonSequence out;
  out.frames = frames;
  out.joints = sequence.joints;
  out.xyz.resize(static_cast<size_t>(frames * sequence.joints * 3));
  resample_frames(sequence.xyz.data(), sequence.frames, sequence.joints, 0.0, static_cast<double>(sequence.frames - 1),
                  frames, out.xyz.data());
  return out;
}

std::vector<int64_t> window_starts(int64_t length, int64_t window, int64_t stride) {
  HARNET_CHECK(length >= 1 && window >= 1 && stride >= 1,
               "window_starts: length, window and stride must be at least 1, got ", length, ", ", window, " and ",
               stride);
  if (length <= window) return {0};
  std::vector<int64_t> starts;
  for (int64_t start = 0; start + window <= length; start += stride) starts.push_back(start);
  if (starts.back() + window < length) starts.push_back(length - window);
  return starts;
}

void write_features(const float* positions, int64_t frames, int64_t joints, const std::vector<int32_t>& parents,
                    const std::vector<int32_t>& order, const FeatureOptions& features, float* out) {
  const int64_t channels = features.channels();
  const int64_t frame_stride = joints * 3;
  const auto places = static_cast<int64_t>(order.size());
  for (int64_t t = 0; t < frames; ++t) {
    const float* frame = positions + t * frame_stride;
    for (int64_t k = 0; k < places; ++k) {
      const int32_t j = order[static_cast<size_t>(k)];
      const float* p = frame + 3 * j;
      float* o = out + (t * places + k) * channels;
      for (int d = 0; d < 3; ++d) o[d] = p[d];
      o += 3;
      if (features.velocities) {
        const float* before = t > 0 ? p - frame_stride : p;
        for (int d = 0; d < 3; ++d) o[d] = p[d] - before[d];
        o += 3;
      }
      if (features.bones) {
        const int32_t parent = parents[static_cast<size_t>(j)];
        const float* q = parent >= 0 ? frame + 3 * parent : p;
        for (int d = 0; d < 3; ++d) o[d] = p[d] - q[d];
      }
    }
  }
}

}  // namespace harnet
