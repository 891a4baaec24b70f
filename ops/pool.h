// Pooling with torch.nn.functional semantics: max_pool1d/2d, avg_pool1d/2d and
// adaptive_avg_pool1d/2d over batched [N, C, (H,) W] or unbatched [C, (H,) W] inputs.
//
// Output size per pooled dimension (PyTorch's rule, dilation 1 for average pooling):
//   out = floor_or_ceil((in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1
// and, in ceil_mode, one less when the last window would start beyond the input and its
// left padding ((out - 1) * stride >= in + padding). padding <= kernel / 2 is required.
//
// Max pooling pads with -inf; its backward sends each output's gradient to the input element
// that was the window's maximum (the first one in scan order on ties; a NaN wins), whose
// position the forward saves. Average pooling divides by the window area clipped to the
// padded input (count_include_pad) or to the input alone, or by divisor_override.
// Adaptive average pooling uses PyTorch's windows: output i of out covers input positions
// [floor(i * in / out), ceil((i + 1) * in / out)); a global average pool is output size 1.
//
// Kernels run per (n, c) plane, parallel over planes with oneTBB; every plane is computed by
// one task, so results are bit-identical for any thread count. The naive references
// (*_reference) stay here for the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "autograd/tensor.h"

namespace harnet {

// A 2-d pooling argument: one value for both dimensions or a (height, width) pair, as
// PyTorch accepts `2` or `(1, 2)`.
//   max_pool2d(x, 2), max_pool2d(x, {1, 2}, {.stride = Pool2dParam{1, 1}, .ceil_mode = true})
struct Pool2dParam {
  int64_t h = 0, w = 0;
  Pool2dParam(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, like PyTorch's int
  Pool2dParam(int64_t height, int64_t width) : h(height), w(width) {}
};

// ---------------------------------------------------------------- max pooling

// F.max_pool1d's keyword arguments; stride absent = kernel_size.
struct MaxPool1dOptions {
  std::optional<int64_t> stride = std::nullopt;
  int64_t padding = 0;
  int64_t dilation = 1;
  bool ceil_mode = false;
};

// F.max_pool2d's keyword arguments; stride absent = kernel_size.
struct MaxPool2dOptions {
  std::optional<Pool2dParam> stride = std::nullopt;
  Pool2dParam padding = 0;
  Pool2dParam dilation = 1;
  bool ceil_mode = false;
};

// input [N, C, L] or [C, L] -> [N, C, L_out] or [C, L_out]
Tensor max_pool1d(const Tensor& input, int64_t kernel_size, const MaxPool1dOptions& options = {});
// input [N, C, H, W] or [C, H, W] -> [N, C, H_out, W_out] or [C, H_out, W_out]
Tensor max_pool2d(const Tensor& input, Pool2dParam kernel_size, const MaxPool2dOptions& options = {});
// return_indices=True: the values and, per output, the int64 position of its maximum in the
// flattened input plane (l, or h * W + w), as PyTorch returns them. Only the values are
// differentiable.
std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, int64_t kernel_size,
                                                  const MaxPool1dOptions& options = {});
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Pool2dParam kernel_size,
                                                  const MaxPool2dOptions& options = {});

// ---------------------------------------------------------------- average pooling

// F.avg_pool1d's keyword arguments; stride absent = kernel_size.
struct AvgPool1dOptions {
  std::optional<int64_t> stride = std::nullopt;
  int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

// F.avg_pool2d's keyword arguments; stride absent = kernel_size; divisor_override, when set
// (non-zero), replaces the window area as the divisor.
struct AvgPool2dOptions {
  std::optional<Pool2dParam> stride = std::nullopt;
  Pool2dParam padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;
};

// input [N, C, L] or [C, L] -> [N, C, L_out] or [C, L_out]
Tensor avg_pool1d(const Tensor& input, int64_t kernel_size, const AvgPool1dOptions& options = {});
// input [N, C, H, W] or [C, H, W] -> [N, C, H_out, W_out] or [C, H_out, W_out]
Tensor avg_pool2d(const Tensor& input, Pool2dParam kernel_size, const AvgPool2dOptions& options = {});

// input [N, C, L] or [C, L] -> [N, C, output_size] or [C, output_size]
Tensor adaptive_avg_pool1d(const Tensor& input, int64_t output_size);
// input [N, C, H, W] or [C, H, W] -> [N, C, out_h, out_w] or [C, out_h, out_w]
Tensor adaptive_avg_pool2d(const Tensor& input, Pool2dParam output_size);

// ---------------------------------------------------------------- naive references
// Plain loops straight from the definitions, in double, no autograd, no threads: what the
// tests hold the kernels above to. 2-d only (a 1-d pool is a 2-d pool with a height-1
// window). Arguments as above; outputs have the input's dtype. The backward references take
// the forward's input (max pooling re-finds each window's maximum) or its shape.

// Values and int64 indices.
std::pair<Tensor, Tensor> max_pool2d_reference(const Tensor& input, Pool2dParam kernel_size,
                                               const MaxPool2dOptions& options = {});
Tensor max_pool2d_backward_reference(const Tensor& grad_output, const Tensor& input, Pool2dParam kernel_size,
                                     const MaxPool2dOptions& options = {});
Tensor avg_pool2d_reference(const Tensor& input, Pool2dParam kernel_size, const AvgPool2dOptions& options = {});
Tensor avg_pool2d_backward_reference(const Tensor& grad_output, const Shape& input_shape, Pool2dParam kernel_size,
                                     const AvgPool2dOptions& options = {});
Tensor adaptive_avg_pool2d_reference(const Tensor& input, Pool2dParam output_size);
Tensor adaptive_avg_pool2d_backward_reference(const Tensor& grad_output, const Shape& input_shape);

}  // namespace harnet
