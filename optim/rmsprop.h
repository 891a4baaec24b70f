// RMSprop: torch.optim.RMSprop (PyTorch 1.13, single-tensor path). Per parameter, with g its
// gradient:
//   g = g + weight_decay * p                                  (if weight_decay != 0)
//   v = alpha * v + (1 - alpha) * g * g
//   centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a * a) + eps
//   else:                                       avg = sqrt(v) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
//   else:                                          p = p - lr * g / avg
// State per parameter: "step" (an int64 scalar, as PyTorch's int), "square_avg" (v),
// "momentum_buffer" (buf, when momentum > 0), "grad_avg" (a, when centered).
#pragma once

#include <vector>

#include "optim/optimizer.h"

namespace harnet {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;

  OptionMap to_map() const;
};

class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = {});
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = {});

 private:
  void check_options(const OptionMap& options, size_t index) const override;
  void update_group(const ParamGroup& group, size_t index) override;
  StateNames state_names() const override { return {{"step", "square_avg"}, {"momentum_buffer", "grad_avg"}, kInt64}; }
};

}  // namespace harnet
