#include "data/augment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "autograd/error.h"
#include "data/joint_order.h"

namespace harnet {

namespace {

// splitmix64's finaliser: a bijection of 64-bit values with good avalanche.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

AugmentOptions AugmentOptions::training() {
  AugmentOptions options;
  options.rotate = options.scale = options.jitter = options.temporal_crop = true;
  return options;
}

void validate_augment_options(const AugmentOptions& options) {
  HARNET_CHECK(std::isfinite(options.max_rotation_degrees) && options.max_rotation_degrees >= 0.0 &&
                   options.max_rotation_degrees <= 180.0,
               "augment: max_rotation_degrees must be in [0, 180], got ", options.max_rotation_degrees);
  HARNET_CHECK(std::isfinite(options.min_scale) && std::isfinite(options.max_scale) && options.min_scale > 0.0 &&
                   options.min_scale <= options.max_scale,
               "augment: the scale range must satisfy 0 < min_scale <= max_scale, got [", options.min_scale, ", ",
               options.max_scale, "]");
  HARNET_CHECK(std::isfinite(options.jitter_sigma) && options.jitter_sigma >= 0.0,
               "augment: jitter_sigma must be a non-negative number, got ", options.jitter_sigma);
  HARNET_CHECK(options.min_crop_fraction > 0.0 && options.min_crop_fraction <= 1.0,
               "augment: min_crop_fraction must be in (0, 1], got ", options.min_crop_fraction);
  HARNET_CHECK(std::isfinite(options.bone_scale_range) && options.bone_scale_range >= 0.0 &&
                   options.bone_scale_range < 1.0,
               "augment: bone_scale_range must be in [0, 1), got ", options.bone_scale_range);
  HARNET_CHECK(std::isfinite(options.motion_scale_range) && options.motion_scale_range >= 0.0 &&
                   options.motion_scale_range < 1.0,
               "augment: motion_scale_range must be in [0, 1), got ", options.motion_scale_range);
  HARNET_CHECK(options.mirror_probability >= 0.0 && options.mirror_probability <= 1.0,
               "augment: mirror_probability must be in [0, 1], got ", options.mirror_probability);
  HARNET_CHECK(std::isfinite(options.max_tilt_degrees) && options.max_tilt_degrees >= 0.0 &&
                   options.max_tilt_degrees <= 90.0,
               "augment: max_tilt_degrees must be in [0, 90], got ", options.max_tilt_degrees);
  HARNET_CHECK(std::isfinite(options.max_shear) && options.max_shear >= 0.0 && options.max_shear <= 1.0,
               "augment: max_shear must be in [0, 1], got ", options.max_shear);
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample) {
  const uint64_t h = mix64(mix64(seed) ^ static_cast<uint64_t>(epoch));
  return mix64(h ^ static_cast<uint64_t>(sample));
}

SampleAugmentation draw_augmentation(const AugmentOptions& options, Generator& gen) {
  const double crop_u = gen.uniform(), position_u = gen.uniform(), angle_u = gen.uniform(), scale_u = gen.uniform();
  SampleAugmentation result;
  if (options.temporal_crop) {
    result.crop_fraction = options.min_crop_fraction + (1.0 - options.min_crop_fraction) * crop_u;
    result.crop_position = position_u;
  }
  if (options.rotate) {
    const double max_radians = options.max_rotation_degrees * M_PI / 180.0;
    result.rotation_radians = (2.0 * angle_u - 1.0) * max_radians;
  }
  if (options.scale) result.scale = options.min_scale + (options.max_scale - options.min_scale) * scale_u;
  return result;
}

FrameRange crop_range(int64_t frames, const SampleAugmentation& augmentation) {
  int64_t length = static_cast<int64_t>(std::llround(augmentation.crop_fraction * static_cast<double>(frames)));
  if (length < 1) length = 1;
  if (length > frames) length = frames;
  const int64_t starts = frames - length + 1;
  int64_t start = static_cast<int64_t>(augmentation.crop_position * static_cast<double>(starts));
  if (start > starts - 1) start = starts - 1;
  return {start, length};
}

TiltAngles draw_tilt(const AugmentOptions& options, uint64_t sample_seed) {
  if (!options.tilt) return {};
  Generator gen(mix64(sample_seed ^ 0x74696c74ULL));  // "tilt"
  const double max_radians = options.max_tilt_degrees * M_PI / 180.0;
  TiltAngles angles;
  angles.forward = (2.0 * gen.uniform() - 1.0) * max_radians;
  angles.sideways = (2.0 * gen.uniform() - 1.0) * max_radians;
  return angles;
}

void tilt_about(float* xyz, int64_t points, const TiltAngles& angles, const float* pivot) {
  const double ca = std::cos(angles.forward), sa = std::sin(angles.forward);
  const double cb = std::cos(angles.sideways), sb = std::sin(angles.sideways);
  const double origin[3] = {pivot[0], pivot[1], pivot[2]};  // pivot may point into xyz
  for (int64_t i = 0; i < points; ++i) {
    float* p = xyz + 3 * i;
    const double x = p[0] - origin[0], y0 = p[1] - origin[1], z0 = p[2] - origin[2];
    const double y = ca * y0 - sa * z0, z = sa * y0 + ca * z0;  // R_x(forward)
    p[0] = static_cast<float>(origin[0] + cb * x - sb * y);     // R_z(sideways)
    p[1] = static_cast<float>(origin[1] + sb * x + cb * y);
    p[2] = static_cast<float>(origin[2] + z);
  }
}

ShearFactors draw_shear(const AugmentOptions& options, uint64_t sample_seed) {
  if (!options.shear) return {};
  Generator gen(mix64(sample_seed ^ 0x7368656172ULL));  // "shear"
  ShearFactors factors;
  for (double& s : factors.off) s = (2.0 * gen.uniform() - 1.0) * options.max_shear;
  return factors;
}

void shear_about(float* xyz, int64_t points, const ShearFactors& factors, const float* pivot) {
  const std::array<double, 6>& s = factors.off;
  const double origin[3] = {pivot[0], pivot[1], pivot[2]};  // pivot may point into xyz
  for (int64_t i = 0; i < points; ++i) {
    float* p = xyz + 3 * i;
    const double x = p[0] - origin[0], y = p[1] - origin[1], z = p[2] - origin[2];
    p[0] = static_cast<float>(origin[0] + x + s[0] * y + s[1] * z);
    p[1] = static_cast<float>(origin[1] + s[2] * x + y + s[3] * z);
    p[2] = static_cast<float>(origin[2] + s[4] * x + s[5] * y + z);
  }
}

void rotate_about_vertical(float* xyz, int64_t points, double radians, float pivot_x, float pivot_z) {
  const double cos_t = std::cos(radians), sin_t = std::sin(radians);
  for (int64_t i = 0; i < points; ++i) {
    float* p = xyz + 3 * i;
    const double x = p[0] - pivot_x, z = p[2] - pivot_z;
    p[0] = static_cast<float>(pivot_x + cos_t * x + sin_t * z);
    p[2] = static_cast<float>(pivot_z - sin_t * x + cos_t * z);
  }
}

void scale_about(float* xyz, int64_t points, double factor, const float* pivot) {
  const float f = static_cast<float>(factor);
  const float origin[3] = {pivot[0], pivot[1], pivot[2]};  // pivot may point into xyz
  for (int64_t i = 0; i < points; ++i) {
    float* p = xyz + 3 * i;
    for (int d = 0; d < 3; ++d) p[d] = origin[d] + f * (p[d] - origin[d]);
  }
}

void add_jitter(float* values, int64_t count, double sigma, Generator& gen) {
  for (int64_t i = 0; i < count; ++i) values[i] += static_cast<float>(sigma * gen.normal());
}

void scale_bones(float* xyz, int64_t frames, int64_t joints, const std::vector<int32_t>& parents,
                 const std::vector<double>& factors) {
  HARNET_CHECK(static_cast<int64_t>(parents.size()) == joints && static_cast<int64_t>(factors.size()) == joints,
               "scale_bones: parents and factors need ", joints, " entries, got ", parents.size(), " and ",
               factors.size());
  const std::vector<int32_t> order = depth_first_joint_order(parents);  // parents before children; validates
  std::vector<float> original(static_cast<size_t>(joints * 3));
  for (int64_t t = 0; t < frames; ++t) {
    float* frame = xyz + t * joints * 3;
    std::copy(frame, frame + joints * 3, original.begin());
    for (int32_t j : order) {
      const int32_t p = parents[static_cast<size_t>(j)];
      if (p < 0) continue;
      const float f = static_cast<float>(factors[static_cast<size_t>(j)]);
      for (int d = 0; d < 3; ++d) {
        frame[3 * j + d] = frame[3 * p + d] + f * (original[static_cast<size_t>(3 * j + d)] -
                                                   original[static_cast<size_t>(3 * p + d)]);
      }
    }
  }
}

std::vector<double> draw_bone_factors(const AugmentOptions& options, int64_t joints, uint64_t sample_seed) {
  Generator gen(mix64(sample_seed ^ 0x626f6e6573ULL));  // "bones"
  std::vector<double> factors(static_cast<size_t>(joints));
  for (double& f : factors) f = 1.0 + options.bone_scale_range * (2.0 * gen.uniform() - 1.0);
  return factors;
}

void scale_motion(float* xyz, int64_t frames, int64_t joints, double factor) {
  if (frames <= 0) return;
  const float f = static_cast<float>(factor);
  for (int64_t i = 0; i < joints * 3; ++i) {
    double mean = 0.0;
    for (int64_t t = 0; t < frames; ++t) mean += xyz[t * joints * 3 + i];
    const float m = static_cast<float>(mean / static_cast<double>(frames));
    for (int64_t t = 0; t < frames; ++t) {
      float& v = xyz[t * joints * 3 + i];
      v = m + f * (v - m);
    }
  }
}

double draw_motion_factor(const AugmentOptions& options, uint64_t sample_seed) {
  Generator gen(mix64(sample_seed ^ 0x6d6f74696f6eULL));  // "motion"
  return 1.0 + options.motion_scale_range * (2.0 * gen.uniform() - 1.0);
}

namespace {

std::string lower_case(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The lower-case name with its first "left" or "right" exchanged for the other, or "" when it
// has neither.
std::string swapped_side(const std::string& lower) {
  const size_t left = lower.find("left"), right = lower.find("right");
  if (left == std::string::npos && right == std::string::npos) return "";
  if (right == std::string::npos || (left != std::string::npos && left < right))
    return lower.substr(0, left) + "right" + lower.substr(left + 4);
  return lower.substr(0, right) + "left" + lower.substr(right + 5);
}

}  // namespace

std::vector<int32_t> mirror_partners(const std::vector<std::string>& joint_names, const std::vector<int32_t>& parents) {
  const auto joints = static_cast<int32_t>(joint_names.size());
  HARNET_CHECK(parents.size() == joint_names.size(), "mirror: ", joint_names.size(), " joint names but ",
               parents.size(), " parents");
  validate_skeleton_tree(parents);
  std::map<std::string, int32_t> by_name;
  for (int32_t j = 0; j < joints; ++j) {
    const auto [it, inserted] = by_name.emplace(lower_case(joint_names[static_cast<size_t>(j)]), j);
    HARNET_CHECK(inserted, "mirror: joints ", it->second, " '", joint_names[static_cast<size_t>(it->second)], "' and ",
                 j, " '", joint_names[static_cast<size_t>(j)], "' have the same name but for case");
  }
  std::vector<int32_t> partners(static_cast<size_t>(joints));
  bool sided = false;
  for (int32_t j = 0; j < joints; ++j) {
    const std::string& name = joint_names[static_cast<size_t>(j)];
    const std::string other = swapped_side(lower_case(name));
    if (other.empty()) {
      partners[static_cast<size_t>(j)] = j;
      continue;
    }
    sided = true;
    const auto it = by_name.find(other);
    HARNET_CHECK(it != by_name.end(), "mirror: joint ", j, " '", name,
                 "' has no counterpart on the other side (no joint is named like '", other, "')");
    partners[static_cast<size_t>(j)] = it->second;
  }
  HARNET_CHECK(sided, "mirror: none of the ", joints,
               " joint names contains \"left\" or \"right\", so the sides of the skeleton are unknown");
  auto parent_of = [&](int32_t j) {
    const int32_t p = parents[static_cast<size_t>(j)];
    return p < 0 ? std::string("nothing (the root)") : "'" + joint_names[static_cast<size_t>(p)] + "'";
  };
  for (int32_t j = 0; j < joints; ++j) {
    const int32_t p = parents[static_cast<size_t>(j)], q = partners[static_cast<size_t>(j)];
    const int32_t expected = p < 0 ? -1 : partners[static_cast<size_t>(p)];
    HARNET_CHECK(parents[static_cast<size_t>(q)] == expected, "mirror: the skeleton is not symmetric: joint ", j, " '",
                 joint_names[static_cast<size_t>(j)], "' hangs from ", parent_of(j), " but its counterpart '",
                 joint_names[static_cast<size_t>(q)], "' from ", parent_of(q));
  }
  return partners;
}

void mirror_left_right(float* xyz, int64_t frames, int64_t joints, const std::vector<int32_t>& partners,
                       float pivot_x) {
  HARNET_CHECK(static_cast<int64_t>(partners.size()) == joints, "mirror_left_right: partners has ", partners.size(),
               " entries for ", joints, " joints");
  for (int64_t j = 0; j < joints; ++j) {
    const int32_t q = partners[static_cast<size_t>(j)];
    HARNET_CHECK(q >= 0 && q < joints && partners[static_cast<size_t>(q)] == j, "mirror_left_right: partners[", j,
                 "] = ", q, " is not a joint that has ", j, " as its partner");
  }
  const float twice_pivot = 2.0f * pivot_x;
  for (int64_t t = 0; t < frames; ++t) {
    float* frame = xyz + t * joints * 3;
    for (int64_t j = 0; j < joints; ++j) frame[3 * j] = twice_pivot - frame[3 * j];
    for (int64_t j = 0; j < joints; ++j) {
      const int64_t q = partners[static_cast<size_t>(j)];
      if (q > j) std::swap_ranges(frame + 3 * j, frame + 3 * j + 3, frame + 3 * q);
    }
  }
}

bool draw_mirror(const AugmentOptions& options, uint64_t sample_seed) {
  Generator gen(mix64(sample_seed ^ 0x6d6972726f72ULL));  // "mirror"
  return gen.uniform() < options.mirror_probability;
}

void augment_positions(float* xyz, int64_t frames, int64_t joints, int32_t pivot_joint, const AugmentOptions& options,
                       const SampleAugmentation& augmentation, Generator& gen) {
  const int64_t points = frames * joints;
  const float pivot[3] = {xyz[3 * pivot_joint], xyz[3 * pivot_joint + 1], xyz[3 * pivot_joint + 2]};
  if (options.rotate) rotate_about_vertical(xyz, points, augmentation.rotation_radians, pivot[0], pivot[2]);
  if (options.scale) scale_about(xyz, points, augmentation.scale, pivot);
  if (options.jitter) add_jitter(xyz, 3 * points, options.jitter_sigma, gen);
}

}  // namespace harnet
