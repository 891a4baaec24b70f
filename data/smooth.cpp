#include "data/smooth.h"

#include <algorithm>
#include <cmath>

#include "autograd/error.h"

namespace harnet {

void validate_smooth_options(const SmoothOptions& options) {
  HARNET_CHECK(options.window == 0 || (options.window >= 3 && options.window % 2 == 1),
               "smoothing: the window must be an odd number of frames >= 3 (0: off), got ", options.window);
  HARNET_CHECK(options.window == 0 || (options.order >= 0 && options.order < options.window),
               "smoothing: the polynomial order must be in [0, window) = [0, ", options.window, "), got ",
               options.order);
}

std::vector<double> savgol_weights(int64_t window, int64_t order, int64_t at) {
  HARNET_CHECK(window >= 1 && order >= 0 && order < window && at >= 0 && at < window,
               "savgol_weights: need 0 <= order < window and 0 <= at < window, got window ", window, ", order ",
               order, ", at ", at);
  // Positions u_i = (i - centre) / half in [-1, 1] keep the normal equations well conditioned.
  const auto n = static_cast<size_t>(window);
  const auto m = static_cast<size_t>(order + 1);
  const double centre = static_cast<double>(window - 1) / 2.0;
  const double half = std::max(centre, 1.0);
  auto position = [&](int64_t i) { return (static_cast<double>(i) - centre) / half; };
  // Design matrix A [n, m] with A_ik = u_i^k.
  std::vector<double> a(n * m);
  for (size_t i = 0; i < n; ++i) {
    double power = 1.0;
    for (size_t k = 0; k < m; ++k, power *= position(static_cast<int64_t>(i))) a[i * m + k] = power;
  }
  // The fit at u is e(u)^T (A^T A)^-1 A^T y, so the weights are A z with (A^T A) z = e(u).
  std::vector<double> g(m * m, 0.0), z(m);
  for (size_t r = 0; r < m; ++r)
    for (size_t c = 0; c < m; ++c)
      for (size_t i = 0; i < n; ++i) g[r * m + c] += a[i * m + r] * a[i * m + c];
  double power = 1.0;
  for (size_t k = 0; k < m; ++k, power *= position(at)) z[k] = power;
  // Gaussian elimination with partial pivoting (A^T A is symmetric positive definite).
  for (size_t col = 0; col < m; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < m; ++r)
      if (std::abs(g[r * m + col]) > std::abs(g[pivot * m + col])) pivot = r;
    if (pivot != col) {
      for (size_t c = 0; c < m; ++c) std::swap(g[col * m + c], g[pivot * m + c]);
      std::swap(z[col], z[pivot]);
    }
    for (size_t r = col + 1; r < m; ++r) {
      const double factor = g[r * m + col] / g[col * m + col];
      for (size_t c = col; c < m; ++c) g[r * m + c] -= factor * g[col * m + c];
      z[r] -= factor * z[col];
    }
  }
  for (size_t col = m; col-- > 0;) {
    for (size_t c = col + 1; c < m; ++c) z[col] -= g[col * m + c] * z[c];
    z[col] /= g[col * m + col];
  }
  std::vector<double> weights(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < m; ++k) weights[i] += a[i * m + k] * z[k];
  return weights;
}

void smooth_sequence(SkeletonSequence& sequence, const SmoothOptions& options) {
  validate_smooth_options(options);
  if (!options.enabled()) return;
  std::vector<int64_t> tracked;
  for (int64_t t = 0; t < sequence.frames; ++t)
    if (is_tracked_frame(sequence.frame(t), sequence.joints)) tracked.push_back(t);
  const auto length = static_cast<int64_t>(tracked.size());
  int64_t window = std::min(options.window, length % 2 == 1 ? length : length - 1);
  if (window < 3) return;
  const int64_t order = std::min(options.order, window - 1);
  const int64_t half = window / 2;

  // Weights for each position in the window: the centre for the interior, the others for the
  // first and last `half` frames.
  std::vector<std::vector<double>> weights(static_cast<size_t>(window));
  for (int64_t at = 0; at < window; ++at) weights[static_cast<size_t>(at)] = savgol_weights(window, order, at);

  const int64_t values = sequence.joints * 3;
  const std::vector<float> source = sequence.xyz;
  for (int64_t k = 0; k < length; ++k) {
    // The window [start, start + window) of tracked frames, and k's position in it.
    const int64_t start = std::clamp<int64_t>(k - half, 0, length - window);
    const std::vector<double>& w = weights[static_cast<size_t>(k - start)];
    float* out = sequence.frame(tracked[static_cast<size_t>(k)]);
    for (int64_t v = 0; v < values; ++v) {
      double sum = 0.0;
      for (int64_t i = 0; i < window; ++i)
        sum += w[static_cast<size_t>(i)] *
               static_cast<double>(source[static_cast<size_t>(tracked[static_cast<size_t>(start + i)] * values + v)]);
      out[v] = static_cast<float>(sum);
    }
  }
}

}  // namespace harnet
