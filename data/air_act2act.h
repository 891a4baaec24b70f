// AIR-Act2Act skeletons (ETRI; Kinect v2, 25 joints, 30 fps) into the harnet-skeleton-v1
// contract. The data needs a licence, so this follows the format as the project's spec gives it:
//
// - Files CcccPpppAaaaSsss.joint (camera, performer, scenario, setup), found anywhere below the
//   given directory; only those of the chosen camera are read, sorted by name.
// - A file is JSON: a list of frames; a frame is a list of up to 6 Kinect body slots (missing
//   trailing slots and `null` frames mean empty slots), each `null` or an object with "joints":
//   25 objects with numbers "x", "y", "z" (metres). Other keys ("body", "type", "depthX", ...)
//   are ignored.
// - The recognised person is the elderly one. C001 faces them: slot 1. C003 sees both people:
//   slot 1 (slot 0 is the partner). C002 faces the partner, who is slot 0, so the elderly
//   person there is the first non-null slot after slot 0.
// - Frames are subsampled first (keep raw frames 0, k, 2k, ... with k = 30 / fps), then kept
//   frames where the chosen slot is null are dropped (counted). A sequence left without frames
//   is dropped and listed.
// - The refined x is mirrored (the body's left appears on its right), so x is negated on
//   reading: the joints named Left then lie on the person's left as in an unmirrored view.
// - label = Aaaa - 1 (A001..A010), subject = Pppp, name = the file stem.
#pragma once

#include <array>
#include <string>

#include "data/conversion.h"

namespace harnet {

inline constexpr double kAirAct2ActCameraFps = 30.0;

// The 10 scenarios A001 .. A010.
const std::array<const char*, 10>& air_act2act_class_names();

struct AirAct2ActOptions {
  std::string camera = "C001";  // C001, C002 or C003
  double fps = 10.0;            // must divide 30: 30, 15, 10, 7.5, 6, 5, ...
};

// The parts of a file name CcccPpppAaaaSsss.joint; false when `file_name` does not follow it.
struct AirAct2ActName {
  int camera = 0, performer = 0, action = 0, setup = 0;
  std::string stem;  // "C001P001A001S001"
};
bool parse_air_act2act_name(const std::string& file_name, AirAct2ActName& name);

// Raw frames kept per output frame at `fps` (30 / fps); refuses rates that do not divide 30.
int air_act2act_frame_step(double fps);

// The recognised person of one file: frames [T, 25, 3] (x negated) and the frames dropped.
struct AirAct2ActSequence {
  std::vector<float> frames;
  int64_t frames_dropped = 0;
};
AirAct2ActSequence read_air_act2act_file(const std::string& path, int camera, int frame_step);

ConvertedDataset read_air_act2act(const std::string& directory, const AirAct2ActOptions& options = {},
                                  const ConversionProgress& progress = {});

}  // namespace harnet
