// Linear: y = x W^T + b, torch.nn.Linear.
#pragma once

#include "autograd/generator.h"
#include "nn/module.h"

namespace harnet::nn {

class Linear : public UnaryModule {
 public:
  // PyTorch's default initialisation, drawn from gen: weight kaiming_uniform_(a = sqrt(5)),
  // i.e. U(-1/sqrt(in), 1/sqrt(in)); bias U(-1/sqrt(in), 1/sqrt(in)). Without bias there is
  // no "bias" parameter (PyTorch registers None, which no listing shows).
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen);
  Linear(int64_t in_features, int64_t out_features, Generator& gen) : Linear(in_features, out_features, true, gen) {}

  // input [..., in_features] -> [..., out_features]
  Tensor forward(const Tensor& input) override;

  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool has_bias() const { return bias.defined(); }

  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features], undefined without bias

 private:
  int64_t in_features_, out_features_;
};

}  // namespace harnet::nn
