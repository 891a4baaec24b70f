// Loss functions with PyTorch's semantics (torch.nn.functional names and defaults).
#pragma once

#include <optional>

#include "autograd/tensor.h"

namespace harnet {

enum class Reduction { None, Mean, Sum };

struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;  // targets equal to this contribute nothing
  double label_smoothing = 0.0; // in [0, 1]
  Tensor weight;                // optional per-class weights [C]
};

// input: logits [N, C] or [N, C, d1, ...] (or [C] with a 0-d target); target: int64 class
// indices [N] or [N, d1, ...]. Mean reduction divides by the summed weights of the
// non-ignored targets, as PyTorch does. Out-of-range targets are an error naming the value.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});

struct NllLossOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  Tensor weight;
};
// input: log-probabilities, shapes as cross_entropy.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options = {});

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace harnet
