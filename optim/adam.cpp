#include "optim/adam.h"

#include <cmath>

#include "autograd/parallel.h"

namespace harnet {

namespace {

// How weight decay enters: not at all, as an L2 term added to the gradient (Adam), or as a
// decay of the parameter before the update (AdamW).
enum class Decay { None, L2, Decoupled };

// The scalars of one parameter's update, cast to T first as PyTorch's float32 kernels do. The
// per-step ones (step_size, bias_correction2_sqrt) come from the step count in double, as
// PyTorch computes them in Python.
template <class T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  T decay_factor;           // AdamW: 1 - lr * weight_decay
  T neg_step_size;          // -lr / (1 - beta1^t)
  T bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};

// torch.maximum: NaN if either is NaN.
template <class T>
T nan_propagating_max(T a, T b) {
  return std::isnan(a) ? a : (a > b ? a : b);
}

// Elements [begin, end) of one update; max_v is used only with amsgrad. One variant per
// template instance, so the loop has no branches and vectorises; the buffers never overlap
// (see Optimizer::for_each_param_with_grad). Each line follows one PyTorch tensor operation of
// the single-tensor path.
template <class T, Decay kDecay, bool kAmsgrad>
void adam_range(int64_t begin, int64_t end, T* __restrict p, const T* __restrict g, T* __restrict m,
                T* __restrict v, T* __restrict max_v, const AdamScalars<T>& s) {
  for (int64_t i = begin; i < end; ++i) {
    T param = p[i], grad = g[i];
    if constexpr (kDecay == Decay::Decoupled) param = param * s.decay_factor;
    if constexpr (kDecay == Decay::L2) grad = grad + s.weight_decay * param;
    const T mi = m[i] * s.beta1 + s.one_minus_beta1 * grad;
    const T vi = v[i] * s.beta2 + s.one_minus_beta2 * grad * grad;
    m[i] = mi;
    v[i] = vi;
    T second_moment = vi;
    if constexpr (kAmsgrad) {
      second_moment = nan_propagating_max(max_v[i], vi);
      max_v[i] = second_moment;
    }
    const T denom = std::sqrt(second_moment) / s.bias_correction2_sqrt + s.eps;
    p[i] = param + s.neg_step_size * (mi / denom);
  }
}

template <class T>
using AdamRange = void (*)(int64_t, int64_t, T*, const T*, T*, T*, T*, const AdamScalars<T>&);

template <class T, Decay kDecay>
AdamRange<T> adam_range_for(bool amsgrad) {
  return amsgrad ? adam_range<T, kDecay, true> : adam_range<T, kDecay, false>;
}

// One update of n contiguous elements, in parallel chunks; max_v is null without amsgrad.
template <class T>
void adam_update(int64_t n, T* p, const T* g, T* m, T* v, T* max_v, Decay decay, const AdamScalars<T>& s) {
  const bool amsgrad = max_v != nullptr;
  const AdamRange<T> range = decay == Decay::None ? adam_range_for<T, Decay::None>(amsgrad)
                             : decay == Decay::L2 ? adam_range_for<T, Decay::L2>(amsgrad)
                                                  : adam_range_for<T, Decay::Decoupled>(amsgrad);
  parallel_for(0, n, kGrainSize, [&](int64_t begin, int64_t end) { range(begin, end, p, g, m, v, max_v, s); });
}

OptionMap adam_map(double lr, std::pair<double, double> betas, double eps, double weight_decay, bool amsgrad) {
  return {{"lr", lr},       {"beta1", betas.first},        {"beta2", betas.second},
          {"eps", eps},     {"weight_decay", weight_decay}, {"amsgrad", amsgrad ? 1.0 : 0.0}};
}

}  // namespace

OptionMap AdamOptions::to_map() const { return adam_map(lr, betas, eps, weight_decay, amsgrad); }
OptionMap AdamWOptions::to_map() const { return adam_map(lr, betas, eps, weight_decay, amsgrad); }

void AdamBase::check_options(const OptionMap& options, size_t index) const {
  const double lr = options.at("lr"), beta1 = options.at("beta1"), beta2 = options.at("beta2");
  const double eps = options.at("eps"), weight_decay = options.at("weight_decay"), amsgrad = options.at("amsgrad");
  check_option(std::isfinite(lr) && lr >= 0, index, "lr", "a finite number >= 0", lr);
  check_option(beta1 >= 0 && beta1 < 1, index, "beta1 (betas.first)", "in [0, 1)", beta1);
  check_option(beta2 >= 0 && beta2 < 1, index, "beta2 (betas.second)", "in [0, 1)", beta2);
  check_option(std::isfinite(eps) && eps >= 0, index, "eps", "a finite number >= 0", eps);
  check_option(std::isfinite(weight_decay) && weight_decay >= 0, index, "weight_decay", "a finite number >= 0",
               weight_decay);
  check_option(amsgrad == 0.0 || amsgrad == 1.0, index, "amsgrad", "0 or 1 (a flag)", amsgrad);
}

void AdamBase::update_group(const ParamGroup& group, size_t) {
  const double lr = group.options.at("lr"), beta1 = group.options.at("beta1"), beta2 = group.options.at("beta2");
  const double eps = group.options.at("eps"), weight_decay = group.options.at("weight_decay");
  const bool amsgrad = group.options.at("amsgrad") != 0.0;
  const Decay decay = decoupled_weight_decay_ ? Decay::Decoupled : (weight_decay != 0.0 ? Decay::L2 : Decay::None);

  for_each_param_with_grad(group, [&](Tensor& param, const Tensor& grad, ParamState& state) {
    if (state.empty()) state["step"] = scalar_tensor(0.0, kFloat32);
    Tensor exp_avg = detail::state_or_zeros(state, "exp_avg", param);
    Tensor exp_avg_sq = detail::state_or_zeros(state, "exp_avg_sq", param);
    Tensor max_exp_avg_sq = amsgrad ? detail::state_or_zeros(state, "max_exp_avg_sq", param) : Tensor();

    // PyTorch counts steps in a float32 scalar and reads it back as a Python float.
    float& step = state.at("step").data<float>()[0];
    step += 1.0f;
    const double t = step;
    const double step_size = lr / (1.0 - std::pow(beta1, t));
    const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));

    dispatch_floating(param.dtype(), name().c_str(), [&](auto tag) {
      using T = decltype(tag);
      const AdamScalars<T> s{static_cast<T>(beta1),        static_cast<T>(1.0 - beta1),
                             static_cast<T>(beta2),        static_cast<T>(1.0 - beta2),
                             static_cast<T>(eps),          static_cast<T>(weight_decay),
                             static_cast<T>(1.0 - lr * weight_decay), static_cast<T>(-step_size),
                             static_cast<T>(bias_correction2_sqrt)};
      adam_update<T>(param.numel(), param.data<T>(), grad.data<T>(), exp_avg.data<T>(), exp_avg_sq.data<T>(),
                     amsgrad ? max_exp_avg_sq.data<T>() : nullptr, decay, s);
    });
  });
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : AdamBase("Adam", defaults.to_map(), /*decoupled_weight_decay=*/false) {
  add_initial_groups(std::move(groups));
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : AdamW(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : AdamBase("AdamW", defaults.to_map(), /*decoupled_weight_decay=*/true) {
  add_initial_groups(std::move(groups));
}

}  // namespace harnet
