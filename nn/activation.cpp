#include "nn/activation.h"

#include "ops/elementwise.h"

namespace harnet::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  HARNET_CHECK(approximate_ == "none" || approximate_ == "tanh",
               "GELU: approximate must be \"none\" or \"tanh\", got \"", approximate_, "\"");
}
Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate_); }

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }

Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

}  // namespace harnet::nn
