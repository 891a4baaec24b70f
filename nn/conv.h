// Conv1d and Conv2d: torch.nn.Conv1d / torch.nn.Conv2d over ops/conv.h (padding_mode "zeros").
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "autograd/generator.h"
#include "nn/module.h"
#include "ops/conv.h"

namespace harnet::nn {

// PyTorch's default initialisation, drawn from gen: weight kaiming_uniform_(a = sqrt(5)),
// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * prod(kernel);
// bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Without bias there is no "bias" parameter.
// in_channels and out_channels must be positive multiples of groups, kernel sizes, strides
// and dilations positive, explicit paddings non-negative; errors name the argument.

class Conv1d : public UnaryModule {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const Conv1dOptions& options, bool bias,
         Generator& gen);
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen)
      : Conv1d(in_channels, out_channels, kernel_size, {}, true, gen) {}

  // input [N, C_in, L] or [C_in, L] -> [N, C_out, L_out] or [C_out, L_out]
  Tensor forward(const Tensor& input) override;

  std::string type_name() const override { return "Conv1d"; }
  // "3, 4, kernel_size=(3,), stride=(1,)" then padding, dilation, groups, bias=False when
  // not the defaults, as PyTorch prints them.
  std::string extra_repr() const override;

  const Conv1dOptions& options() const { return options_; }

  Tensor weight;  // [out_channels, in_channels / groups, kernel_size]
  Tensor bias;    // [out_channels], undefined without bias

 private:
  int64_t in_channels_, out_channels_, kernel_size_;
  Conv1dOptions options_;
};

class Conv2d : public UnaryModule {
 public:
  // kernel_size (height, width).
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size, const Conv2dOptions& options,
         bool bias, Generator& gen);
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size, Generator& gen)
      : Conv2d(in_channels, out_channels, kernel_size, {}, true, gen) {}
  // A square kernel.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const Conv2dOptions& options, bool bias,
         Generator& gen)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, options, bias, gen) {}
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, {}, true, gen) {}

  // input [N, C_in, H, W] or [C_in, H, W] -> [N, C_out, H_out, W_out] or [C_out, H_out, W_out]
  Tensor forward(const Tensor& input) override;

  std::string type_name() const override { return "Conv2d"; }
  // "3, 8, kernel_size=(3, 3), stride=(1, 1)" then padding, dilation, groups, bias=False when
  // not the defaults, as PyTorch prints them.
  std::string extra_repr() const override;

  const Conv2dOptions& options() const { return options_; }

  Tensor weight;  // [out_channels, in_channels / groups, kH, kW]
  Tensor bias;    // [out_channels], undefined without bias

 private:
  int64_t in_channels_, out_channels_;
  std::array<int64_t, 2> kernel_size_;
  Conv2dOptions options_;
};

}  // namespace harnet::nn
