// Adam and AdamW: torch.optim.Adam / torch.optim.AdamW (PyTorch 1.13, single-tensor path).
// Per parameter, with g its gradient and t the step count (1 on the first step):
//   Adam:  g = g + weight_decay * p              (L2 penalty added to the gradient)
//   AdamW: p = p * (1 - lr * weight_decay)        (decoupled weight decay, before the moments)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   v_max = max(v_max, v)                          (amsgrad; the denominator uses v_max)
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// eps is added after the bias correction of sqrt(v), exactly where PyTorch adds it.
// State per parameter: "step" (a float32 scalar, as PyTorch), "exp_avg" (m), "exp_avg_sq" (v)
// and, with amsgrad, "max_exp_avg_sq" (v_max).
// Group options: lr, beta1, beta2 (PyTorch's betas), eps, weight_decay, amsgrad.
#pragma once

#include <utility>
#include <vector>

#include "optim/optimizer.h"

namespace harnet {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 penalty, added to the gradient
  bool amsgrad = false;

  OptionMap to_map() const;
};

struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr * weight_decay
  bool amsgrad = false;

  OptionMap to_map() const;
};

// The one implementation behind both; `decoupled_weight_decay` tells them apart.
class AdamBase : public Optimizer {
 protected:
  AdamBase(std::string name, OptionMap defaults, bool decoupled_weight_decay)
      : Optimizer(std::move(name), std::move(defaults)), decoupled_weight_decay_(decoupled_weight_decay) {}

 private:
  void check_options(const OptionMap& options, size_t index) const override;
  void update_group(const ParamGroup& group, size_t index) override;
  StateNames state_names() const override { return {{"step", "exp_avg", "exp_avg_sq"}, {"max_exp_avg_sq"}, kFloat32}; }

  bool decoupled_weight_decay_;
};

class Adam final : public AdamBase {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = {});
};

class AdamW final : public AdamBase {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = {});
};

}  // namespace harnet
