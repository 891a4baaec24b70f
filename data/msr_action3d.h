// MSR Action3D skeletons (Kinect v1, 20 joints, 15 fps; Li, Zhang, Liu, CVPR Workshops 2010)
// into the harnet-skeleton-v1 contract.
//
// Raw format: aAA_sSS_eEE_skeleton3D.txt, ASCII, one joint a line as "x y z c" (metres, y up,
// z depth; c a confidence, ignored), 20 consecutive lines a frame. Frames whose 20 joints are
// all (0, 0, 0) are untracked and dropped (counted). label = AA - 1, subject = SS,
// name = "aAA_sSS_eEE". Joint order and names follow the dataset's README (0-based here); the
// parents come from its bone list rooted at the hip centre.
#pragma once

#include <array>
#include <string>

#include "data/conversion.h"

namespace harnet {

inline constexpr int kMsrJoints = 20;
inline constexpr double kMsrFps = 15.0;
inline constexpr const char* kMsrPaperList = "files_used_in_cvpr12_paper.txt";

// The 20 actions, a01 .. a20.
const std::array<const char*, 20>& msr_action3d_class_names();
// Kinect v1 joint names in the files' order, and each joint's parent (-1 for the hip centre).
const std::array<const char*, kMsrJoints>& msr_action3d_joint_names();
const std::array<int32_t, kMsrJoints>& msr_action3d_parents();

struct MsrAction3dOptions {
  bool all_files = false;  // every aAA_sSS_eEE_skeleton3D.txt, not only the 557 of the paper list
};

// One sequence file as frames [T, 20, 3] (T = lines / 20), all-zero frames included.
// Errors name the file and the line at fault.
std::vector<float> read_msr_action3d_file(const std::string& path);

// Converts a directory of the dataset: the files named in files_used_in_cvpr12_paper.txt (in
// its order) or, with all_files, every sequence file of the directory (sorted by name).
// Sequences left with no tracked frame are dropped and listed.
ConvertedDataset read_msr_action3d(const std::string& directory, const MsrAction3dOptions& options = {},
                                   const ConversionProgress& progress = {});

}  // namespace harnet
