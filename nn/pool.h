// Pooling modules, torch.nn's names and arguments, over ops/pool.h: MaxPool1d/2d,
// AvgPool1d/2d, AdaptiveAvgPool1d/2d. They have no parameters or buffers and behave the same
// in train and eval. A 2-d size is printed as one number when height and width agree (as
// PyTorch does for a size given as one number), else as "(h, w)".
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.h"
#include "ops/pool.h"

namespace harnet::nn {

// input [N, C, L] or [C, L]
class MaxPool1d : public UnaryModule {
 public:
  explicit MaxPool1d(int64_t kernel_size, const MaxPool1dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MaxPool1d"; }
  std::string extra_repr() const override;  // "kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False"

 private:
  int64_t kernel_size_;
  MaxPool1dOptions options_;
};

// input [N, C, H, W] or [C, H, W]
class MaxPool2d : public UnaryModule {
 public:
  explicit MaxPool2d(Pool2dParam kernel_size, const MaxPool2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;  // "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False"

 private:
  Pool2dParam kernel_size_;
  MaxPool2dOptions options_;
};

// input [N, C, L] or [C, L]
class AvgPool1d : public UnaryModule {
 public:
  explicit AvgPool1d(int64_t kernel_size, const AvgPool1dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool1d"; }
  std::string extra_repr() const override;  // "kernel_size=(2,), stride=(2,), padding=(0,)"

 private:
  int64_t kernel_size_;
  AvgPool1dOptions options_;
};

// input [N, C, H, W] or [C, H, W]
class AvgPool2d : public UnaryModule {
 public:
  explicit AvgPool2d(Pool2dParam kernel_size, const AvgPool2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;  // "kernel_size=(2, 3), stride=(2, 3), padding=0"

 private:
  Pool2dParam kernel_size_;
  AvgPool2dOptions options_;
};

// input [N, C, L] or [C, L] -> [N, C, output_size] or [C, output_size]
class AdaptiveAvgPool1d : public UnaryModule {
 public:
  explicit AdaptiveAvgPool1d(int64_t output_size);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool1d"; }
  std::string extra_repr() const override;  // "output_size=4"

 private:
  int64_t output_size_;
};

// input [N, C, H, W] or [C, H, W] -> [N, C, out_h, out_w] or [C, out_h, out_w]
class AdaptiveAvgPool2d : public UnaryModule {
 public:
  explicit AdaptiveAvgPool2d(Pool2dParam output_size);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;  // "output_size=(2, 3)"

 private:
  Pool2dParam output_size_;
};

}  // namespace harnet::nn
