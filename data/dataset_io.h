// Reading, writing and validating the `harnet-skeleton-v1` HDF5 dataset contract (the table in
// docs/dataset-format.md): /skeletons float32 [F, J, 3], /offsets int64 [N+1], /labels int32 [N],
// /subjects int32 [N], optional /names (strings) [N], and the root attributes format,
// class_names, joint_names, parents, fps, source, center_joint, left_shoulder_joint,
// right_shoulder_joint, neck_joint.
#pragma once

#include <string>

#include "data/dataset.h"

namespace harnet {

inline constexpr const char* kSkeletonFormat = "harnet-skeleton-v1";

struct DatasetWriteOptions {
  bool compress = true;  // /skeletons chunked with shuffle + deflate; any HDF5 reader decodes it
};

// Reads a file that follows the contract, written by any tool: numbers of any integer or
// floating-point width, strings variable- or fixed-length. Refuses anything else with a
// harnet::Error naming the file and the dataset or attribute at fault (missing, wrong type or
// shape, or breaking a rule of validate()); also refuses non-HDF5 and truncated files.
SkeletonDataset read_dataset(const std::string& path);

// Validates, then writes atomically: a temporary file in the destination's directory is
// written, flushed and fsync'ed, then renamed over `path`, so `path` holds either its old
// content or the complete new file, never a partial one. Errors name the path.
void write_dataset(const std::string& path, const SkeletonDataset& dataset, const DatasetWriteOptions& options = {});

// Checks every rule of the contract on an in-memory dataset: sizes agree (skeletons = F*J*3,
// offsets N+1, labels/subjects/names N, parents J), offsets rise strictly from 0 to F (every
// sequence has a frame), labels index class_names, coordinates are finite, parents form one
// tree rooted at the single -1, the joint roles index joints, fps is positive and finite.
// Throws harnet::Error whose message starts with the dataset or attribute at fault, as named
// in the file ("dataset '/labels': ...", "attribute 'parents': ...").
void validate(const SkeletonDataset& dataset);

}  // namespace harnet
