// Flatten: merges dimensions start_dim..end_dim into one, torch.nn.Flatten (whose defaults
// keep the batch dimension: [N, C, H, W] -> [N, C*H*W]). A view when the layout allows.
#pragma once

#include "nn/module.h"

namespace harnet::nn {

class Flatten : public UnaryModule {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace harnet::nn
