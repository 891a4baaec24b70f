#include "optim/rmsprop.h"

#include <cmath>

#include "autograd/parallel.h"

namespace harnet {

namespace {

// The scalars of one update, cast to T first as PyTorch's float32 kernels do.
template <class T>
struct RMSpropScalars {
  T alpha, one_minus_alpha, eps, weight_decay, momentum, neg_lr;
};

// Elements [begin, end) of one update: one variant per template instance, so the loop has no
// branches and vectorises; the buffers never overlap (Optimizer::for_each_param_with_grad).
// grad_avg is used only when kCentered, buf only when kMomentum. Each line follows one PyTorch
// tensor operation of the single-tensor path.
template <class T, bool kDecay, bool kCentered, bool kMomentum>
void rmsprop_range(int64_t begin, int64_t end, T* __restrict p, const T* __restrict g, T* __restrict square_avg,
                   T* __restrict grad_avg, T* __restrict buf, const RMSpropScalars<T>& s) {
  for (int64_t i = begin; i < end; ++i) {
    T grad = g[i];
    if constexpr (kDecay) grad = grad + s.weight_decay * p[i];
    const T v = square_avg[i] * s.alpha + s.one_minus_alpha * grad * grad;
    square_avg[i] = v;
    T avg;
    if constexpr (kCentered) {
      const T a = grad_avg[i] * s.alpha + s.one_minus_alpha * grad;
      grad_avg[i] = a;
      avg = std::sqrt(v + T(-1) * a * a);
    } else {
      avg = std::sqrt(v);
    }
    avg = avg + s.eps;
    if constexpr (kMomentum) {
      const T b = buf[i] * s.momentum + grad / avg;
      buf[i] = b;
      p[i] = p[i] + s.neg_lr * b;
    } else {
      p[i] = p[i] + s.neg_lr * (grad / avg);
    }
  }
}

template <class T>
using RMSpropRange = void (*)(int64_t, int64_t, T*, const T*, T*, T*, T*, const RMSpropScalars<T>&);

template <class T, bool kDecay>
RMSpropRange<T> rmsprop_range_for(bool centered, bool momentum) {
  if (centered) return momentum ? rmsprop_range<T, kDecay, true, true> : rmsprop_range<T, kDecay, true, false>;
  return momentum ? rmsprop_range<T, kDecay, false, true> : rmsprop_range<T, kDecay, false, false>;
}

// One update of n contiguous elements, in parallel chunks; grad_avg is null unless centered,
// buf null unless momentum > 0.
template <class T>
void rmsprop_update(int64_t n, T* p, const T* g, T* square_avg, T* grad_avg, T* buf, const RMSpropScalars<T>& s,
                    bool decay) {
  const bool centered = grad_avg != nullptr, momentum = buf != nullptr;
  const RMSpropRange<T> range =
      decay ? rmsprop_range_for<T, true>(centered, momentum) : rmsprop_range_for<T, false>(centered, momentum);
  parallel_for(0, n, kGrainSize, [&](int64_t begin, int64_t end) { range(begin, end, p, g, square_avg, grad_avg, buf, s); });
}

}  // namespace

OptionMap RMSpropOptions::to_map() const {
  return {{"lr", lr},
          {"alpha", alpha},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"momentum", momentum},
          {"centered", centered ? 1.0 : 0.0}};
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : RMSprop(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : Optimizer("RMSprop", defaults.to_map()) {
  add_initial_groups(std::move(groups));
}

void RMSprop::check_options(const OptionMap& options, size_t index) const {
  const double lr = options.at("lr"), alpha = options.at("alpha"), eps = options.at("eps");
  const double weight_decay = options.at("weight_decay"), momentum = options.at("momentum");
  const double centered = options.at("centered");
  check_option(std::isfinite(lr) && lr >= 0, index, "lr", "a finite number >= 0", lr);
  check_option(std::isfinite(alpha) && alpha >= 0, index, "alpha", "a finite number >= 0", alpha);
  check_option(std::isfinite(eps) && eps >= 0, index, "eps", "a finite number >= 0", eps);
  check_option(std::isfinite(weight_decay) && weight_decay >= 0, index, "weight_decay", "a finite number >= 0",
               weight_decay);
  check_option(std::isfinite(momentum) && momentum >= 0, index, "momentum", "a finite number >= 0", momentum);
  check_option(centered == 0.0 || centered == 1.0, index, "centered", "0 or 1 (a flag)", centered);
}

void RMSprop::update_group(const ParamGroup& group, size_t) {
  const double lr = group.options.at("lr"), alpha = group.options.at("alpha"), eps = group.options.at("eps");
  const double weight_decay = group.options.at("weight_decay"), momentum = group.options.at("momentum");
  const bool centered = group.options.at("centered") != 0.0;

  for_each_param_with_grad(group, [&](Tensor& param, const Tensor& grad, ParamState& state) {
    if (state.empty()) state["step"] = scalar_tensor(0.0, kInt64);
    Tensor square_avg = detail::state_or_zeros(state, "square_avg", param);
    Tensor buf = momentum > 0 ? detail::state_or_zeros(state, "momentum_buffer", param) : Tensor();
    Tensor grad_avg = centered ? detail::state_or_zeros(state, "grad_avg", param) : Tensor();
    state.at("step").data<int64_t>()[0] += 1;

    dispatch_floating(param.dtype(), name().c_str(), [&](auto tag) {
      using T = decltype(tag);
      const RMSpropScalars<T> s{static_cast<T>(alpha),        static_cast<T>(1.0 - alpha),
                                static_cast<T>(eps),          static_cast<T>(weight_decay),
                                static_cast<T>(momentum),     static_cast<T>(-lr)};
      rmsprop_update<T>(param.numel(), param.data<T>(), grad.data<T>(), square_avg.data<T>(),
                        centered ? grad_avg.data<T>() : nullptr, momentum > 0 ? buf.data<T>() : nullptr, s,
                        weight_decay != 0.0);
    });
  });
}

}  // namespace harnet
