#include "nn/conv.h"

#include <cmath>
#include <vector>

#include "nn/init.h"

namespace harnet::nn {

namespace {

// PyTorch prints size tuples as Python does: "(3,)", "(3, 2)".
std::string tuple_str(const std::vector<int64_t>& values) {
  std::string s = "(";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + (values.size() == 1 ? ",)" : ")");
}

template <size_t N>
std::string padding_str(const ConvPadding<N>& padding) {
  switch (padding.mode()) {
    case ConvPadding<N>::Mode::Valid: return "valid";
    case ConvPadding<N>::Mode::Same: return "same";
    default: return tuple_str(std::vector<int64_t>(padding.sizes().begin(), padding.sizes().end()));
  }
}

template <size_t N>
bool padding_is_default(const ConvPadding<N>& padding) {
  if (padding.mode() != ConvPadding<N>::Mode::Explicit) return false;
  for (int64_t p : padding.sizes())
    if (p != 0) return false;
  return true;
}

// The checks both convolutions share; `what` names the module, e.g. "Conv2d".
void check_arguments(const char* what, int64_t in_channels, int64_t out_channels, int64_t groups,
                     const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                     const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding) {
  HARNET_CHECK(groups > 0, what, ": groups must be positive, got ", groups);
  HARNET_CHECK(in_channels > 0 && in_channels % groups == 0, what, ": in_channels must be a positive multiple of groups (",
               groups, "), got ", in_channels);
  HARNET_CHECK(out_channels > 0 && out_channels % groups == 0, what,
               ": out_channels must be a positive multiple of groups (", groups, "), got ", out_channels);
  for (int64_t k : kernel) HARNET_CHECK(k > 0, what, ": kernel_size must be positive, got ", tuple_str(kernel));
  for (int64_t s : stride) HARNET_CHECK(s > 0, what, ": stride must be positive, got ", tuple_str(stride));
  for (int64_t d : dilation) HARNET_CHECK(d > 0, what, ": dilation must be positive, got ", tuple_str(dilation));
  for (int64_t p : padding) HARNET_CHECK(p >= 0, what, ": padding must be non-negative, got ", tuple_str(padding));
}

// Fills weight and (if defined) bias as PyTorch's _ConvNd.reset_parameters does.
void default_init(Tensor& weight, Tensor& bias, Generator& gen) {
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).fan_in;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, gen, -bound, bound);
  }
}

std::string common_repr(int64_t in_channels, int64_t out_channels, const std::vector<int64_t>& kernel,
                        const std::vector<int64_t>& stride, const std::string& padding, bool default_padding,
                        const std::vector<int64_t>& dilation, int64_t groups, bool has_bias) {
  std::string s = str_cat(in_channels, ", ", out_channels, ", kernel_size=", tuple_str(kernel),
                          ", stride=", tuple_str(stride));
  if (!default_padding) s += ", padding=" + padding;
  bool default_dilation = true;
  for (int64_t d : dilation) default_dilation = default_dilation && d == 1;
  if (!default_dilation) s += ", dilation=" + tuple_str(dilation);
  if (groups != 1) s += str_cat(", groups=", groups);
  if (!has_bias) s += ", bias=False";
  return s;
}

std::string input_str(const Tensor& input) {
  return input.defined() ? shape_str(input.shape()) : std::string("an undefined tensor");
}

}  // namespace

// ---------------------------------------------------------------- Conv1d

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const Conv1dOptions& options,
               bool bias_on, Generator& gen)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size), options_(options) {
  check_arguments("Conv1d", in_channels, out_channels, options.groups, {kernel_size}, {options.stride},
                  {options.dilation}, {options.padding.sizes()[0]});
  weight = empty({out_channels, in_channels / options.groups, kernel_size});
  if (bias_on) bias = empty({out_channels});
  default_init(weight, bias, gen);
  register_parameter("weight", weight);
  if (bias_on) register_parameter("bias", bias);
}

Tensor Conv1d::forward(const Tensor& input) {
  HARNET_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3) && input.size(-2) == in_channels_,
               "Conv1d(in_channels=", in_channels_, "): expected input [N, ", in_channels_, ", L] or [",
               in_channels_, ", L], got ", input_str(input));
  return conv1d(input, weight, bias, options_);
}

std::string Conv1d::extra_repr() const {
  return common_repr(in_channels_, out_channels_, {kernel_size_}, {options_.stride}, padding_str(options_.padding),
                     padding_is_default(options_.padding), {options_.dilation}, options_.groups, bias.defined());
}

// ---------------------------------------------------------------- Conv2d

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
               const Conv2dOptions& options, bool bias_on, Generator& gen)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size), options_(options) {
  const auto& pad = options.padding.sizes();
  check_arguments("Conv2d", in_channels, out_channels, options.groups, {kernel_size[0], kernel_size[1]},
                  {options.stride[0], options.stride[1]}, {options.dilation[0], options.dilation[1]},
                  {pad[0], pad[1]});
  weight = empty({out_channels, in_channels / options.groups, kernel_size[0], kernel_size[1]});
  if (bias_on) bias = empty({out_channels});
  default_init(weight, bias, gen);
  register_parameter("weight", weight);
  if (bias_on) register_parameter("bias", bias);
}

Tensor Conv2d::forward(const Tensor& input) {
  HARNET_CHECK(input.defined() && (input.dim() == 3 || input.dim() == 4) && input.size(-3) == in_channels_,
               "Conv2d(in_channels=", in_channels_, "): expected input [N, ", in_channels_, ", H, W] or [",
               in_channels_, ", H, W], got ", input_str(input));
  return conv2d(input, weight, bias, options_);
}

std::string Conv2d::extra_repr() const {
  return common_repr(in_channels_, out_channels_, {kernel_size_[0], kernel_size_[1]},
                     {options_.stride[0], options_.stride[1]}, padding_str(options_.padding),
                     padding_is_default(options_.padding), {options_.dilation[0], options_.dilation[1]},
                     options_.groups, bias.defined());
}

}  // namespace harnet::nn
