// Parameter initialisers, torch.nn.init's names, arguments and formulas. Every function
// fills its tensor in place (any layout: a view such as one gate's rows of an LSTM weight is
// filled through its strides), without recording a graph, draws from the Generator it is
// given (row-major order), and returns the tensor. Values are reproducible for a seed, but
// differ from PyTorch's (its generator is another): compare distributions, not values.
// Empty tensors are left as they are.
#pragma once

#include <optional>
#include <string>

#include "autograd/generator.h"
#include "autograd/tensor.h"

namespace harnet::nn::init {

// The recommended gain for a nonlinearity: "linear", "conv1d/2d/3d", "conv_transpose1d/2d/3d",
// "sigmoid" -> 1; "tanh" -> 5/3; "relu" -> sqrt(2); "leaky_relu" -> sqrt(2 / (1 + slope^2))
// (param = slope, default 0.01); "selu" -> 3/4.
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);

// PyTorch's _calculate_fan_in_and_fan_out: for a weight [out, in, k1, k2, ...],
// fan_in = in * k1 * k2 * ..., fan_out = out * k1 * k2 * ... (the receptive field).
// Needs at least 2 dimensions.
struct Fans {
  int64_t fan_in = 0;
  int64_t fan_out = 0;
};
Fans calculate_fan_in_and_fan_out(const Tensor& tensor);
// mode "fan_in" or "fan_out".
int64_t calculate_correct_fan(const Tensor& tensor, const std::string& mode);

Tensor uniform_(Tensor tensor, Generator& gen, double a = 0.0, double b = 1.0);  // U[a, b)
Tensor normal_(Tensor tensor, Generator& gen, double mean = 0.0, double std = 1.0);
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);

// U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, Generator& gen, double gain = 1.0);
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, Generator& gen, double gain = 1.0);
// U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
// nn.Linear's default is kaiming_uniform_(w, gen, sqrt(5)): bound 1 / sqrt(fan_in).
Tensor kaiming_uniform_(Tensor tensor, Generator& gen, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu");
// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(Tensor tensor, Generator& gen, double a = 0.0, const std::string& mode = "fan_in",
                       const std::string& nonlinearity = "leaky_relu");
// A (semi-)orthogonal matrix times gain, from the QR decomposition of a standard normal
// matrix with PyTorch's sign correction (Q's columns times the signs of R's diagonal, which
// makes the result uniformly distributed). The tensor is viewed as [size(0), numel/size(0)]:
// with rows <= cols the rows are orthonormal (W W^T = I), otherwise the columns (W^T W = I).
Tensor orthogonal_(Tensor tensor, Generator& gen, double gain = 1.0);
// N(mean, std^2) restricted to [a, b], by rejection; refuses bounds that accept fewer than
// 1 in 1000 draws.
Tensor trunc_normal_(Tensor tensor, Generator& gen, double mean = 0.0, double std = 1.0, double a = -2.0,
                     double b = 2.0);

}  // namespace harnet::nn::init
