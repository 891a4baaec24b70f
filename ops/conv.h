// Convolutions with torch.nn.functional semantics: conv2d and conv1d, any stride, padding
// (numbers or PyTorch's "valid" / "same"), dilation and groups, batched or unbatched input.
// Forward and backward run as im2col + GEMM (ops/blas.h), or Winograd F(4, 3) for (1, 3)
// kernels with padding (0, 1) (ops/winograd.h), parallel over the batch with oneTBB;
// results are bit-identical for any thread count. The naive loop references
// (conv2d_reference, ...) stay next to them for the tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "autograd/tensor.h"

namespace harnet {

// PyTorch's `padding` argument of an N-d convolution: one size for every spatial dimension,
// one size per dimension, or the strings "valid" (no padding) and "same" (the output as
// large as the input; stride 1 only). "same" pads dilation * (kernel - 1) in total per
// dimension, half before and the rest (one more when odd) after, exactly as PyTorch does.
//   Conv2dOptions{.padding = 1}, {.padding = {0, 1}}, {.padding = "same"}
template <size_t N>
class ConvPadding {
 public:
  enum class Mode { Explicit, Valid, Same };

  ConvPadding(int64_t all = 0) { sizes_.fill(all); }
  ConvPadding(int64_t height, int64_t width)
    requires(N == 2)
      : sizes_{height, width} {}
  // A string literal; an unknown mode is an error naming it.
  template <size_t L>
  ConvPadding(const char (&mode)[L]) : ConvPadding(std::string(mode)) {}
  ConvPadding(const std::string& mode) {
    sizes_.fill(0);
    if (mode == "valid") {
      mode_ = Mode::Valid;
    } else if (mode == "same") {
      mode_ = Mode::Same;
    } else {
      throw Error(str_cat("conv: invalid padding string '", mode, "', should be one of 'valid' or 'same'"));
    }
  }

  Mode mode() const { return mode_; }
  // The explicit sizes (zeros for "valid" and "same").
  const std::array<int64_t, N>& sizes() const { return sizes_; }

 private:
  Mode mode_ = Mode::Explicit;
  std::array<int64_t, N> sizes_{};
};

using Conv2dPadding = ConvPadding<2>;
using Conv1dPadding = ConvPadding<1>;

// F.conv2d's keyword arguments; pairs are (height, width).
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  Conv2dPadding padding{};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};

// F.conv1d's keyword arguments.
struct Conv1dOptions {
  int64_t stride = 1;
  Conv1dPadding padding{};
  int64_t dilation = 1;
  int64_t groups = 1;
};

// input [N, C_in, H, W] (or unbatched [C_in, H, W]), weight [C_out, C_in / groups, kH, kW],
// bias [C_out] or undefined -> [N, C_out, H_out, W_out] (or [C_out, H_out, W_out]) with
//   H_out = (H + pad_top + pad_bottom - dilation_h * (kH - 1) - 1) / stride_h + 1, same for W.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

// input [N, C_in, L] (or [C_in, L]), weight [C_out, C_in / groups, k], bias [C_out] or
// undefined -> [N, C_out, L_out]. Runs as conv2d with height 1 (no copy).
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv1dOptions& options = {});

// ---- naive references: plain loops straight from the definition (float64 accumulation),
// no BLAS, no autograd. Same arguments, shapes and checks as the functions above.
Tensor conv2d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Conv2dOptions& options = {});
Tensor conv1d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Conv1dOptions& options = {});

// Gradients of sum(grad_output * conv(input, weight, bias)); grad_bias is undefined unless has_bias.
struct ConvGradients {
  Tensor grad_input, grad_weight, grad_bias;
};
ConvGradients conv2d_backward_reference(const Tensor& input, const Tensor& weight, const Tensor& grad_output,
                                        bool has_bias, const Conv2dOptions& options = {});
ConvGradients conv1d_backward_reference(const Tensor& input, const Tensor& weight, const Tensor& grad_output,
                                        bool has_bias, const Conv1dOptions& options = {});

}  // namespace harnet
