// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight
// decay: torch.optim.SGD (PyTorch 1.13, single-tensor path). Per parameter, with g its gradient:
//   g = g + weight_decay * p                       (if weight_decay != 0)
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g   (if momentum != 0)
//   g = nesterov ? g + momentum * buf : buf        (if momentum != 0)
//   p = p - lr * g
// State per parameter: "momentum_buffer" (only when momentum != 0).
#pragma once

#include <limits>
#include <vector>

#include "optim/optimizer.h"

namespace harnet {

struct SGDOptions {
  double lr = std::numeric_limits<double>::quiet_NaN();  // required, as in PyTorch
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening 0

  OptionMap to_map() const;
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);

 private:
  void check_options(const OptionMap& options, size_t index) const override;
  void update_group(const ParamGroup& group, size_t index) override;
  StateNames state_names() const override { return {{}, {"momentum_buffer"}}; }
};

}  // namespace harnet
