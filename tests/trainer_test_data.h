// The small synthetic dataset the trainer's and the commands' tests train on: `classes`
// classes x 4 subjects x 2 repetitions of about 16 frames (subjects 1 and 3 train, 2 and 4
// are held out: 4 * classes sequences each).
#pragma once

#include <string>

#include "data/dataset_io.h"
#include "data/synthetic_skeletons.h"

namespace harnet::test {

inline std::string write_small_synthetic(const std::string& path, int64_t classes) {
  SyntheticSkeletonOptions o;
  o.classes = classes;
  o.subjects = 4;
  o.repetitions = 2;
  o.frames = 16;
  write_dataset(path, make_synthetic_skeletons(o));
  return path;
}

}  // namespace harnet::test
