#include "optim/sgd.h"

#include <cmath>

#include "autograd/parallel.h"

namespace harnet {

namespace {

// The scalars of one update, cast to T first as PyTorch's float32 kernels do.
template <class T>
struct SGDScalars {
  T weight_decay, momentum, keep;  // keep: 1 - dampening
  T neg_lr;
};

// Elements [begin, end) of one update: one variant per template instance, so the loop has no
// branches and vectorises; the buffers never overlap (Optimizer::for_each_param_with_grad).
//   kDecay: weight_decay != 0; kMomentum: momentum != 0 (buf used); kFirstStep: the buffer
//   receives the (decayed) gradient itself, as PyTorch's clone; kNesterov.
template <class T, bool kDecay, bool kMomentum, bool kFirstStep, bool kNesterov>
void sgd_range(int64_t begin, int64_t end, T* __restrict p, const T* __restrict g, T* __restrict buf,
               const SGDScalars<T>& s) {
  for (int64_t i = begin; i < end; ++i) {
    T d = g[i];
    if constexpr (kDecay) d = d + s.weight_decay * p[i];
    if constexpr (kMomentum) {
      T b;
      if constexpr (kFirstStep) {
        b = d;
      } else {
        b = buf[i] * s.momentum + s.keep * d;
      }
      buf[i] = b;
      if constexpr (kNesterov) {
        d = d + s.momentum * b;
      } else {
        d = b;
      }
    }
    p[i] = p[i] + s.neg_lr * d;
  }
}

template <class T>
using SGDRange = void (*)(int64_t, int64_t, T*, const T*, T*, const SGDScalars<T>&);

template <class T, bool kDecay>
SGDRange<T> sgd_range_for(bool momentum, bool first_step, bool nesterov) {
  if (!momentum) return sgd_range<T, kDecay, false, false, false>;
  if (first_step) return nesterov ? sgd_range<T, kDecay, true, true, true> : sgd_range<T, kDecay, true, true, false>;
  return nesterov ? sgd_range<T, kDecay, true, false, true> : sgd_range<T, kDecay, true, false, false>;
}

// One update of n contiguous elements, in parallel chunks; buf is null when momentum is 0.
template <class T>
void sgd_update(int64_t n, T* p, const T* g, T* buf, bool first_step, const SGDOptions& o) {
  const SGDScalars<T> s{static_cast<T>(o.weight_decay), static_cast<T>(o.momentum), static_cast<T>(1.0 - o.dampening),
                        static_cast<T>(-o.lr)};
  const bool momentum = buf != nullptr;
  const SGDRange<T> range = o.weight_decay != 0.0 ? sgd_range_for<T, true>(momentum, first_step, o.nesterov)
                                                  : sgd_range_for<T, false>(momentum, first_step, o.nesterov);
  parallel_for(0, n, kGrainSize, [&](int64_t begin, int64_t end) { range(begin, end, p, g, buf, s); });
}

// A group's options, typed.
SGDOptions options_of(const ParamGroup& group) {
  return {.lr = group.option("lr"),
          .momentum = group.option("momentum"),
          .dampening = group.option("dampening"),
          .weight_decay = group.option("weight_decay"),
          .nesterov = group.option("nesterov") != 0.0};
}

}  // namespace

OptionMap SGDOptions::to_map() const {
  return {{"lr", lr},
          {"momentum", momentum},
          {"dampening", dampening},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov ? 1.0 : 0.0}};
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : SGD(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) : Optimizer("SGD", defaults.to_map()) {
  add_initial_groups(std::move(groups));
}

void SGD::check_options(const OptionMap& options, size_t index) const {
  const double lr = options.at("lr"), momentum = options.at("momentum"), dampening = options.at("dampening");
  const double weight_decay = options.at("weight_decay"), nesterov = options.at("nesterov");
  check_option(!std::isnan(lr), index, "lr", "set (SGD has no default lr)", lr);
  check_option(std::isfinite(lr) && lr >= 0, index, "lr", "a finite number >= 0", lr);
  check_option(std::isfinite(momentum) && momentum >= 0, index, "momentum", "a finite number >= 0", momentum);
  check_option(std::isfinite(dampening), index, "dampening", "finite", dampening);
  check_option(std::isfinite(weight_decay) && weight_decay >= 0, index, "weight_decay", "a finite number >= 0",
               weight_decay);
  check_option(nesterov == 0.0 || nesterov == 1.0, index, "nesterov", "0 or 1 (a flag)", nesterov);
  check_option(nesterov == 0.0 || momentum > 0, index, "momentum", "> 0 with nesterov", momentum);
  check_option(nesterov == 0.0 || dampening == 0, index, "dampening", "0 with nesterov", dampening);
}

void SGD::update_group(const ParamGroup& group, size_t) {
  const SGDOptions o = options_of(group);
  for_each_param_with_grad(group, [&](Tensor& param, const Tensor& grad, ParamState& state) {
    Tensor buffer;
    bool first_step = false;
    if (o.momentum != 0.0) {
      auto it = state.find("momentum_buffer");
      first_step = it == state.end();
      if (first_step) {
        buffer = empty(param.shape(), param.dtype());
        state["momentum_buffer"] = buffer;
      } else {
        buffer = it->second;
      }
    }
    dispatch_floating(param.dtype(), name().c_str(), [&](auto tag) {
      using T = decltype(tag);
      sgd_update<T>(param.numel(), param.data<T>(), grad.data<T>(), buffer.defined() ? buffer.data<T>() : nullptr,
                    first_step, o);
    });
  });
}

}  // namespace harnet
