// The small synthetic dataset the trainer's and the commands' tests train on: `classes`
// classes x 4 subjects x 2 repetitions of about 16 frames (subjects 1 and 3 train, 2 and 4
// are held out: 4 * classes sequences each).
#pragma once

#include <string>

#include "data/dataset_io.h"
#include "data/synthetic_skeletons.h"
#include "harnet/lib/run_config.h"

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

// The tiny model of these tests (about a thousand parameters): 12 frames, batches of 5, two
// convolution blocks of 6 and 8 channels, LSTM(s) of 8, 2 heads, a classifier of 8.
inline void use_tiny_model(RunConfig& c, int64_t lstm_layers) {
  c.frames = 12;
  c.batch = 5;
  c.model.conv_channels = {6, 8};
  c.model.conv_pool = {false, true};
  c.model.lstm_layers = lstm_layers;
  c.model.lstm_hidden = 8;
  c.model.attention_heads = 2;
  c.model.classifier_hidden = 8;
}

}  // namespace harnet::test
