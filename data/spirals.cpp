#include "data/spirals.h"

#include <cmath>

namespace harnet {

SpiralData make_spirals(int64_t points_per_class, int64_t classes, double noise, Generator& gen, DType dtype) {
  HARNET_CHECK(points_per_class >= 1 && classes >= 2, "make_spirals: need at least 1 point per class and 2 classes, got ",
               points_per_class, " and ", classes);
  const int64_t n = points_per_class * classes;
  std::vector<double> xy(static_cast<size_t>(2 * n));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t c = 0; c < classes; ++c) {
    for (int64_t i = 0; i < points_per_class; ++i) {
      const int64_t k = c * points_per_class + i;
      // radius grows from 0 to 1 along the arm; the arm turns through 4 radians
      const double r = static_cast<double>(i) / static_cast<double>(points_per_class);
      const double angle = 4.0 * r + 2.0 * M_PI * static_cast<double>(c) / static_cast<double>(classes) +
                           noise * gen.normal();
      xy[static_cast<size_t>(2 * k)] = r * std::sin(angle);
      xy[static_cast<size_t>(2 * k + 1)] = r * std::cos(angle);
      labels[static_cast<size_t>(k)] = c;
    }
  }
  return {from_vector(xy, {n, 2}, dtype), from_vector(labels, {n}, kInt64)};
}

}  // namespace harnet
