#include "nn/linear.h"

#include <cmath>

#include "nn/init.h"
#include "ops/linalg.h"

namespace harnet::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias_on, Generator& gen)
    : in_features_(in_features), out_features_(out_features) {
  HARNET_CHECK(in_features >= 0 && out_features >= 0, "Linear: in_features and out_features must be non-negative, got ",
               in_features, " and ", out_features);
  weight = empty({out_features, in_features});
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  register_parameter("weight", weight);
  if (bias_on) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    bias = empty({out_features});
    init::uniform_(bias, gen, -bound, bound);
    register_parameter("bias", bias);
  }
}

Tensor Linear::forward(const Tensor& input) {
  HARNET_CHECK(input.defined() && input.dim() >= 1 && input.size(-1) == in_features_,
               "Linear(in_features=", in_features_, "): expected input [..., ", in_features_, "], got ",
               input.defined() ? shape_str(input.shape()) : std::string("an undefined tensor"));
  return linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
  return str_cat("in_features=", in_features_, ", out_features=", out_features_,
                 ", bias=", has_bias() ? "True" : "False");
}

}  // namespace harnet::nn
