#include "nn/flatten.h"

#include "ops/shape.h"

namespace harnet::nn {

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim_, end_dim_); }

std::string Flatten::extra_repr() const { return str_cat("start_dim=", start_dim_, ", end_dim=", end_dim_); }

}  // namespace harnet::nn
