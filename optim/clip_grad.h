// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (PyTorch 1.13).
// Parameters without a gradient are skipped. Gradients are changed in place (a non-contiguous
// gradient is replaced by a contiguous clipped copy).
#pragma once

#include <vector>

#include "autograd/tensor.h"

namespace harnet {

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
// norm_type-norm of all gradients viewed as one vector (norm_type > 0, or infinity for the
// largest absolute value), and returns total_norm (0 when no parameter has a gradient).
// The norm is accumulated in double in a fixed order: the same for any thread count.
// A non-finite total norm throws when error_if_nonfinite; otherwise, as in PyTorch, the
// gradients are scaled anyway (by NaN, or by 0 for an infinite norm).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value] (clip_value >= 0).
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace harnet
