#include "data/mixup.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/error.h"
#include "autograd/generator.h"

namespace harnet {
namespace {

// Gamma(shape, 1) by Marsaglia and Tsang's method ("A simple method for generating gamma
// variables", 2000); shape < 1 through Gamma(shape + 1) * U^(1 / shape).
double gamma_draw(double shape, Generator& gen) {
  if (shape < 1.0) {
    const double u = gen.uniform();
    return gamma_draw(shape + 1.0, gen) * std::pow(1.0 - u, 1.0 / shape);  // 1 - u in (0, 1]
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0.0, v = 0.0;
    do {
      x = gen.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = gen.uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

double draw_mixup_weight(double alpha, uint64_t seed) {
  HARNET_CHECK(alpha > 0.0 && std::isfinite(alpha), "mixup: alpha must be > 0, got ", alpha);
  Generator gen(seed);
  const double a = gamma_draw(alpha, gen);
  const double b = gamma_draw(alpha, gen);
  // Both draws can underflow to 0 for a tiny alpha: then either sample alone, equally likely.
  const double w = a + b > 0.0 ? a / (a + b) : (gen.uniform() < 0.5 ? 0.0 : 1.0);
  return std::max(w, 1.0 - w);
}

Tensor mix_batch(Batch& batch, double weight) {
  HARNET_CHECK(weight >= 0.0 && weight <= 1.0, "mix_batch: the weight must be in [0, 1], got ", weight);
  HARNET_CHECK(batch.x.defined() && batch.x.dim() >= 1 && batch.x.dtype() == kFloat32 && batch.x.is_contiguous(),
               "mix_batch: the batch's x must be a contiguous float32 tensor");
  HARNET_CHECK(batch.y.defined() && batch.y.dim() == 1 && batch.y.size(0) == batch.x.size(0),
               "mix_batch: the batch's y must be [B] with B = x.size(0)");
  const int64_t size = batch.x.size(0);
  const int64_t sample = size > 0 ? batch.x.numel() / size : 0;
  Tensor partner_y = empty({size}, kInt64);
  if (size == 0) return partner_y;
  const int64_t* y = batch.y.data<int64_t>();
  int64_t* py = partner_y.data<int64_t>();
  for (int64_t b = 0; b < size; ++b) py[b] = y[(b + size - 1) % size];

  float* x = batch.x.data<float>();
  const float w = static_cast<float>(weight), rest = static_cast<float>(1.0 - weight);
  // The last sample is the first one's partner: keep it before it is blended.
  const std::vector<float> last(x + (size - 1) * sample, x + size * sample);
  for (int64_t b = size - 1; b >= 0; --b) {
    float* out = x + b * sample;
    const float* other = b > 0 ? x + (b - 1) * sample : last.data();
    for (int64_t i = 0; i < sample; ++i) out[i] = w * out[i] + rest * other[i];
  }
  return partner_y;
}

}  // namespace harnet
