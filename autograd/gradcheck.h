// Gradient checking, a first-class feature: compares the analytic Jacobian that backward()
// produces with central differences, in float64, with PyTorch's defaults.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace harnet {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|, elementwise
  double rtol = 1e-3;
  bool check_accumulation = true;  // a second backward must add to .grad, not overwrite it
  bool check_nonzero = true;       // all-zero analytic gradients where numeric ones are not fail
};

struct GradcheckResult {
  bool passed = false;
  double max_abs_error = 0.0;  // over every Jacobian entry of every input
  double max_rel_error = 0.0;  // |a - n| / max(|n|, atol), a readable scale
  std::string message;         // why it failed, naming the input and the entry
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs that require grad are differentiated; others (indices, masks) are passed through.
// Every differentiated input must be float64. fn must be deterministic.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace harnet
