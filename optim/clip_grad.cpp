#include "optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/autograd.h"
#include "autograd/parallel.h"

namespace harnet {

namespace {

// The gradients to clip, each contiguous: non-contiguous ones are replaced by a copy first, so
// that writing through data<T>() changes every logical element once.
std::vector<Tensor> contiguous_grads(const std::vector<Tensor>& params, const char* op) {
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor p = params[i];
    HARNET_CHECK(p.defined(), op, ": parameter ", i, " is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous_copy();
      p.set_grad(g);
    }
    grads.push_back(g);
  }
  return grads;
}

// NaN-propagating maximum (torch.max): NaN once either is NaN.
double max_or_nan(double acc, double a) { return (std::isnan(a) || a > acc) ? a : acc; }

// f(x[i]) over [begin, end) folded with combine, in double, in 32 interleaved lanes: the loop
// vectorises (eight independent 4-wide accumulators hide the add latency) without
// reassociating, since the grouping depends only on the indices, never on the thread count.
template <class T, class F, class Combine>
double lane_reduce(const T* x, int64_t begin, int64_t end, F f, Combine combine) {
  constexpr int kLanes = 32;
  double lanes[kLanes] = {};
  int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lanes[k] = combine(lanes[k], f(static_cast<double>(x[i + k])));
  for (int k = 0; i < end; ++i, ++k) lanes[k] = combine(lanes[k], f(static_cast<double>(x[i])));
  for (int width = kLanes / 2; width >= 1; width /= 2)  // pairwise, in a fixed order
    for (int k = 0; k < width; ++k) lanes[k] = combine(lanes[k], lanes[k + width]);
  return lanes[0];
}

// Sum of |g|^p (or max |g| when p is infinite) over one contiguous tensor, in double, chunk
// partials combined in order.
double norm_accumulate(const Tensor& g, double p) {
  return dispatch_floating(g.dtype(), "clip_grad_norm_", [&](auto tag) {
    using T = decltype(tag);
    const T* x = g.data<T>();
    auto sum = [](double acc, double v) { return acc + v; };
    auto chunk = [&](int64_t begin, int64_t end) {
      if (std::isinf(p)) return lane_reduce(x, begin, end, [](double a) { return std::fabs(a); }, max_or_nan);
      if (p == 2.0) return lane_reduce(x, begin, end, [](double a) { return a * a; }, sum);
      if (p == 1.0) return lane_reduce(x, begin, end, [](double a) { return std::fabs(a); }, sum);
      return lane_reduce(x, begin, end, [p](double a) { return std::pow(std::fabs(a), p); }, sum);
    };
    auto combine = [&](double acc, double part) { return std::isinf(p) ? max_or_nan(acc, part) : acc + part; };
    return parallel_reduce(int64_t{0}, g.numel(), kGrainSize, 0.0, chunk, combine);
  });
}

// x = f(x) for every element of a contiguous T tensor.
template <class T, class F>
void transform_in_place(Tensor& g, F&& f) {
  T* x = g.data<T>();
  parallel_for(0, g.numel(), kGrainSize, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = f(x[i]);
  });
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  HARNET_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  HARNET_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be > 0 (or infinity), got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads = contiguous_grads(params, "clip_grad_norm_");
  if (grads.empty()) return 0.0;

  const bool infinity = std::isinf(norm_type);
  double total = 0.0;
  for (const Tensor& g : grads) {
    const double part = norm_accumulate(g, norm_type);
    total = infinity ? max_or_nan(total, part) : total + part;
  }
  if (!infinity) total = norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);

  HARNET_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
               " of the gradients is ", total, ", so they cannot be clipped (error_if_nonfinite is set)");
  double coef = max_norm / (total + 1e-6);
  if (!std::isnan(coef)) coef = std::min(coef, 1.0);  // torch.clamp(max=1) keeps NaN
  if (coef == 1.0) return total;                       // multiplying by 1 changes nothing
  for (Tensor& g : grads) {
    dispatch_floating(g.dtype(), "clip_grad_norm_", [&](auto tag) {
      using T = decltype(tag);
      const T c = static_cast<T>(coef);
      transform_in_place<T>(g, [c](T x) { return x * c; });
    });
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  HARNET_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (Tensor& g : contiguous_grads(params, "clip_grad_value_")) {
    dispatch_floating(g.dtype(), "clip_grad_value_", [&](auto tag) {
      using T = decltype(tag);
      const T hi = static_cast<T>(clip_value), lo = -hi;
      // torch.clamp: NaN stays NaN.
      transform_in_place<T>(g, [lo, hi](T x) { return x < lo ? lo : (x > hi ? hi : x); });
    });
  }
}

}  // namespace harnet
