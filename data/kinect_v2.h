// The Kinect v2 skeleton (25 joints) as the project's spec lists it: joint names in the SDK's
// JointType order, each joint's parent (-1 for SpineBase, the root), and the joints the
// normalisation uses. Shared by the AIR-Act2Act converter and the synthetic generator.
#pragma once

#include <array>
#include <cstdint>

namespace harnet {

inline constexpr int kKinectV2Joints = 25;

namespace kinect_v2 {
enum Joint : int32_t {
  SpineBase = 0, SpineMid = 1, Neck = 2, Head = 3,
  ShoulderLeft = 4, ElbowLeft = 5, WristLeft = 6, HandLeft = 7,
  ShoulderRight = 8, ElbowRight = 9, WristRight = 10, HandRight = 11,
  HipLeft = 12, KneeLeft = 13, AnkleLeft = 14, FootLeft = 15,
  HipRight = 16, KneeRight = 17, AnkleRight = 18, FootRight = 19,
  SpineShoulder = 20, HandTipLeft = 21, ThumbLeft = 22, HandTipRight = 23, ThumbRight = 24,
};
}  // namespace kinect_v2

inline const std::array<const char*, kKinectV2Joints>& kinect_v2_joint_names() {
  static const std::array<const char*, kKinectV2Joints> names = {
      "SpineBase",  "SpineMid",      "Neck",       "Head",       "ShoulderLeft", "ElbowLeft",    "WristLeft",
      "HandLeft",   "ShoulderRight", "ElbowRight", "WristRight", "HandRight",    "HipLeft",      "KneeLeft",
      "AnkleLeft",  "FootLeft",      "HipRight",   "KneeRight",  "AnkleRight",   "FootRight",    "SpineShoulder",
      "HandTipLeft", "ThumbLeft",    "HandTipRight", "ThumbRight"};
  return names;
}

inline const std::array<int32_t, kKinectV2Joints>& kinect_v2_parents() {
  static const std::array<int32_t, kKinectV2Joints> parents = {-1, 0,  20, 2,  20, 4,  5, 6, 20, 8, 9,  10, 0,
                                                               12, 13, 14, 0,  16, 17, 18, 1, 7, 7, 11, 11};
  return parents;
}

}  // namespace harnet
