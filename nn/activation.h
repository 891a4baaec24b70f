// Parameter-free elementwise modules: Identity and the activations, torch.nn's names and
// printed forms. Each forwards to the operator of the same name in ops/elementwise.h.
#pragma once

#include <string>

#include "nn/module.h"

namespace harnet::nn {

// Returns its input unchanged (the same tensor): a placeholder in a Sequential.
class Identity : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override { return input; }
  std::string type_name() const override { return "Identity"; }
};

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU"; }
};

// approximate: "none" (exact, with erf) or "tanh".
class GELU : public UnaryModule {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override { return "approximate='" + approximate_ + "'"; }
  const std::string& approximate() const { return approximate_; }

 private:
  std::string approximate_;
};

class Tanh : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Tanh"; }
};

class Sigmoid : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sigmoid"; }
};

}  // namespace harnet::nn
