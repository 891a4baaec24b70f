// Normalisation layers with torch.nn.functional semantics: batch_norm and layer_norm.
//
// batch_norm normalises each channel c of input [N, C, *] over the batch and every position:
//   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
// In training, mean_c and var_c are the batch's (var biased, dividing by N * prod(*)), the
// gradient flows through them, and running_mean / running_var (when given) are updated in
// place: running = (1 - momentum) * running + momentum * batch statistic, with the UNBIASED
// batch variance, as PyTorch does. In evaluation the running statistics are used.
//
// layer_norm normalises over the trailing dimensions normalized_shape of input
// [*, normalized_shape] (biased variance), then applies the elementwise weight and bias of
// shape normalized_shape.
//
// The kernels are fused (statistics and normalisation in one parallel loop; the backward's
// sums and gradient likewise), parallel over channels (batch_norm) or rows (layer_norm),
// with sums in double in an order fixed by the shape: results are bit-identical for any
// thread count. The naive references (*_reference) stay here for the tests.
#pragma once

#include "autograd/tensor.h"

namespace harnet {

// input [N, C] or [N, C, L] or [N, C, H, W] (any [N, C, *]); running_mean, running_var,
// weight, bias [C], each optional (undefined Tensor) except that evaluation needs the running
// statistics. Running statistics must not require grad; they are written in place in
// training. Differentiable in input, weight and bias.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm(...)) in batch_norm's passes (same arguments): the same values and
// gradients without the intermediate tensor and the separate relu passes. The backward
// recomputes relu's mask from the saved input with the forward's expression.
Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                       double momentum = 0.1, double eps = 1e-5);

// input [*, normalized_shape]; weight, bias: normalized_shape, optional. Differentiable in
// input, weight and bias.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// ---------------------------------------------------------------- naive references
// Plain loops in double straight from the textbook definitions (the backward by the chain
// rule through mean and variance step by step), no autograd, no threads: what the tests hold
// the kernels above to. Results have the input's dtype.

struct NormGradients {
  // weight and bias: the gradients an affine weight and bias get (computed whether or not
  // they were given; an absent weight counts as ones).
  Tensor input, weight, bias;
};

// Same arguments and in-place running-statistics update as batch_norm.
Tensor batch_norm_reference(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                            const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps);
// running_mean / running_var: their values at the forward (used in evaluation only).
NormGradients batch_norm_backward_reference(const Tensor& grad_output, const Tensor& input,
                                            const Tensor& running_mean, const Tensor& running_var,
                                            const Tensor& weight, bool training, double eps);

Tensor layer_norm_reference(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                            const Tensor& bias, double eps);
NormGradients layer_norm_backward_reference(const Tensor& grad_output, const Tensor& input,
                                            const Shape& normalized_shape, const Tensor& weight, double eps);

}  // namespace harnet
