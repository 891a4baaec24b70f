#include "nn/pool.h"

namespace harnet::nn {

namespace {

std::string size_str(Pool2dParam p) {
  return p.h == p.w ? std::to_string(p.h) : str_cat("(", p.h, ", ", p.w, ")");
}

const char* python_bool(bool b) { return b ? "True" : "False"; }

std::string input_str(const Tensor& input) {
  return input.defined() ? shape_str(input.shape()) : std::string("an undefined tensor");
}

// The module-level checks (the operators check the rest and name themselves).
void check_positive(const char* module, const char* argument, int64_t value) {
  HARNET_CHECK(value > 0, module, ": ", argument, " must be positive, got ", value);
}

void check_positive(const char* module, const char* argument, Pool2dParam value) {
  HARNET_CHECK(value.h > 0 && value.w > 0, module, ": ", argument, " must be positive, got ", size_str(value));
}

void check_rank(const char* module, const Tensor& input, int64_t spatial_dims) {
  const char* expected = spatial_dims == 1 ? "[N, C, L] or [C, L]" : "[N, C, H, W] or [C, H, W]";
  HARNET_CHECK(input.defined() && (input.dim() == spatial_dims + 1 || input.dim() == spatial_dims + 2), module,
               ": expected input ", expected, ", got ", input_str(input));
}

}  // namespace

MaxPool1d::MaxPool1d(int64_t kernel_size, const MaxPool1dOptions& options) : kernel_size_(kernel_size), options_(options) {
  check_positive("MaxPool1d", "kernel_size", kernel_size);
  if (!options_.stride) options_.stride = kernel_size;
  check_positive("MaxPool1d", "stride", *options_.stride);
}

Tensor MaxPool1d::forward(const Tensor& input) {
  check_rank("MaxPool1d", input, 1);
  return max_pool1d(input, kernel_size_, options_);
}

std::string MaxPool1d::extra_repr() const {
  return str_cat("kernel_size=", kernel_size_, ", stride=", *options_.stride, ", padding=", options_.padding,
                 ", dilation=", options_.dilation, ", ceil_mode=", python_bool(options_.ceil_mode));
}

MaxPool2d::MaxPool2d(Pool2dParam kernel_size, const MaxPool2dOptions& options)
    : kernel_size_(kernel_size), options_(options) {
  check_positive("MaxPool2d", "kernel_size", kernel_size);
  if (!options_.stride) options_.stride = kernel_size;
  check_positive("MaxPool2d", "stride", *options_.stride);
}

Tensor MaxPool2d::forward(const Tensor& input) {
  check_rank("MaxPool2d", input, 2);
  return max_pool2d(input, kernel_size_, options_);
}

std::string MaxPool2d::extra_repr() const {
  return str_cat("kernel_size=", size_str(kernel_size_), ", stride=", size_str(*options_.stride),
                 ", padding=", size_str(options_.padding), ", dilation=", size_str(options_.dilation),
                 ", ceil_mode=", python_bool(options_.ceil_mode));
}

AvgPool1d::AvgPool1d(int64_t kernel_size, const AvgPool1dOptions& options) : kernel_size_(kernel_size), options_(options) {
  check_positive("AvgPool1d", "kernel_size", kernel_size);
  if (!options_.stride) options_.stride = kernel_size;
  check_positive("AvgPool1d", "stride", *options_.stride);
}

Tensor AvgPool1d::forward(const Tensor& input) {
  check_rank("AvgPool1d", input, 1);
  return avg_pool1d(input, kernel_size_, options_);
}

std::string AvgPool1d::extra_repr() const {
  return str_cat("kernel_size=(", kernel_size_, ",), stride=(", *options_.stride, ",), padding=(", options_.padding,
                 ",)");
}

AvgPool2d::AvgPool2d(Pool2dParam kernel_size, const AvgPool2dOptions& options)
    : kernel_size_(kernel_size), options_(options) {
  check_positive("AvgPool2d", "kernel_size", kernel_size);
  if (!options_.stride) options_.stride = kernel_size;
  check_positive("AvgPool2d", "stride", *options_.stride);
}

Tensor AvgPool2d::forward(const Tensor& input) {
  check_rank("AvgPool2d", input, 2);
  return avg_pool2d(input, kernel_size_, options_);
}

std::string AvgPool2d::extra_repr() const {
  return str_cat("kernel_size=", size_str(kernel_size_), ", stride=", size_str(*options_.stride),
                 ", padding=", size_str(options_.padding));
}

AdaptiveAvgPool1d::AdaptiveAvgPool1d(int64_t output_size) : output_size_(output_size) {
  check_positive("AdaptiveAvgPool1d", "output_size", output_size);
}

Tensor AdaptiveAvgPool1d::forward(const Tensor& input) {
  check_rank("AdaptiveAvgPool1d", input, 1);
  return adaptive_avg_pool1d(input, output_size_);
}

std::string AdaptiveAvgPool1d::extra_repr() const { return str_cat("output_size=", output_size_); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Pool2dParam output_size) : output_size_(output_size) {
  check_positive("AdaptiveAvgPool2d", "output_size", output_size);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) {
  check_rank("AdaptiveAvgPool2d", input, 2);
  return adaptive_avg_pool2d(input, output_size_);
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + size_str(output_size_); }

}  // namespace harnet::nn
