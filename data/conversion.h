// What the raw-format converters (msr_action3d, air_act2act) return besides the dataset: what
// they left out, so that `harnet convert` can report it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace harnet {

struct ConvertedDataset {
  SkeletonDataset dataset;
  int64_t frames_dropped = 0;                  // untracked frames removed (all zeros, no body, ...)
  std::vector<std::string> sequences_dropped;  // source ids left without any frame, hence left out
};

// Called after each source file with (files done, files in total); may be empty.
using ConversionProgress = std::function<void(int64_t done, int64_t total)>;

}  // namespace harnet
