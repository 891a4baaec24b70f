// A classic small classification problem that no linear model solves: K interleaved
// spiral arms in the plane, with Gaussian noise. Used by tests and by `harnet train
// --data spirals` until a skeleton dataset is given.
#pragma once

#include "autograd/generator.h"
#include "autograd/tensor.h"

namespace harnet {

struct SpiralData {
  Tensor points;  // [N, 2] float32
  Tensor labels;  // [N] int64, arm index
};

// points_per_class points on each of `classes` arms, noise: std of the angular jitter.
SpiralData make_spirals(int64_t points_per_class, int64_t classes, double noise, Generator& gen,
                        DType dtype = kFloat32);

}  // namespace harnet
