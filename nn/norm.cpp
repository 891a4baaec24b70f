#include "nn/norm.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "autograd/autograd.h"
#include "ops/norm.h"

namespace harnet::nn {

namespace {

// A float as Python's repr prints it: the shortest decimal that reads back, "1e-05", "0.1".
std::string python_float(double v) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  std::string s = buffer;
  // Python writes exponents with at least two digits and floats with a fractional part.
  if (size_t e = s.find('e'); e != std::string::npos) {
    std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
    const char sign = exponent[0] == '-' ? '-' : '+';
    if (exponent[0] == '-' || exponent[0] == '+') exponent = exponent.substr(1);
    while (exponent.size() > 1 && exponent[0] == '0') exponent = exponent.substr(1);
    if (exponent.size() < 2) exponent = "0" + exponent;
    return mantissa + "e" + sign + exponent;
  }
  if (s.find('.') == std::string::npos && s.find("inf") == std::string::npos && s.find("nan") == std::string::npos)
    s += ".0";
  return s;
}

const char* python_bool(bool b) { return b ? "True" : "False"; }

std::string input_str(const Tensor& input) {
  return input.defined() ? shape_str(input.shape()) : std::string("an undefined tensor");
}

}  // namespace

// ---------------------------------------------------------------- BatchNorm

BatchNormBase::BatchNormBase(int64_t num_features, const BatchNormOptions& options)
    : num_features_(num_features), options_(options) {
  HARNET_CHECK(num_features > 0, "BatchNorm: num_features must be positive, got ", num_features);
  HARNET_CHECK(options.eps > 0 && std::isfinite(options.eps), "BatchNorm: eps must be positive, got ", options.eps);
  HARNET_CHECK(!options.momentum || (*options.momentum >= 0 && *options.momentum <= 1),
               "BatchNorm: momentum must be in [0, 1], got ", options.momentum.value_or(0));
  if (options.affine) {
    weight = ones({num_features});
    bias = zeros({num_features});
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
  if (options.track_running_stats) {
    running_mean = zeros({num_features});
    running_var = ones({num_features});
    num_batches_tracked = zeros({}, kInt64);
    register_buffer("running_mean", running_mean);
    register_buffer("running_var", running_var);
    register_buffer("num_batches_tracked", num_batches_tracked);
  }
}

void BatchNormBase::set_momentum(std::optional<double> momentum) {
  HARNET_CHECK(!momentum || (*momentum >= 0 && *momentum <= 1), type_name(), ": momentum must be in [0, 1], got ",
               momentum.value_or(0));
  options_.momentum = momentum;
}

void BatchNormBase::reset_running_stats() {
  if (!options_.track_running_stats) return;
  running_mean.fill_(0.0);
  running_var.fill_(1.0);
  num_batches_tracked.fill_(0.0);
}

Tensor BatchNormBase::forward(const Tensor& input) { return forward_impl(input, false); }

Tensor BatchNormBase::forward_relu(const Tensor& input) { return forward_impl(input, true); }

Tensor BatchNormBase::forward_impl(const Tensor& input, bool relu) {
  check_input_rank(input);
  HARNET_CHECK(input.size(1) == num_features_, type_name(), "(", num_features_, "): expected ", num_features_,
               " channels in dimension 1, got input ", input.shape());
  double factor = options_.momentum.value_or(0.0);
  if (is_training() && options_.track_running_stats) {
    num_batches_tracked.fill_(num_batches_tracked.item() + 1);
    if (!options_.momentum) factor = 1.0 / num_batches_tracked.item();
  }
  // PyTorch: batch statistics in training, or whenever there are no running statistics.
  const bool use_batch_stats = is_training() || !options_.track_running_stats;
  const bool pass_running = !is_training() || options_.track_running_stats;
  const auto op = relu ? batch_norm_relu : batch_norm;
  return op(input, pass_running ? running_mean : Tensor(), pass_running ? running_var : Tensor(), weight, bias,
            use_batch_stats, factor, options_.eps);
}

std::string BatchNormBase::extra_repr() const {
  return str_cat(num_features_, ", eps=", python_float(options_.eps),
                 ", momentum=", options_.momentum ? python_float(*options_.momentum) : std::string("None"),
                 ", affine=", python_bool(options_.affine),
                 ", track_running_stats=", python_bool(options_.track_running_stats));
}

void BatchNorm1d::check_input_rank(const Tensor& input) const {
  HARNET_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3), "BatchNorm1d(", num_features(),
               "): expected input [N, C] or [N, C, L], got ", input_str(input));
}

void BatchNorm2d::check_input_rank(const Tensor& input) const {
  HARNET_CHECK(input.defined() && input.dim() == 4, "BatchNorm2d(", num_features(),
               "): expected input [N, C, H, W], got ", input_str(input));
}

// ---------------------------------------------------------------- LayerNorm

LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  HARNET_CHECK(!normalized_shape_.empty(), "LayerNorm: normalized_shape must not be empty");
  for (int64_t s : normalized_shape_)
    HARNET_CHECK(s > 0, "LayerNorm: normalized_shape must be positive sizes, got ", normalized_shape_);
  HARNET_CHECK(eps > 0 && std::isfinite(eps), "LayerNorm: eps must be positive, got ", eps);
  if (elementwise_affine) {
    weight = ones(normalized_shape_);
    bias = zeros(normalized_shape_);
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
}

Tensor LayerNorm::forward(const Tensor& input) {
  const int64_t k = static_cast<int64_t>(normalized_shape_.size());
  bool fits = input.defined() && input.dim() >= k;
  for (int64_t i = 0; fits && i < k; ++i) fits = input.size(input.dim() - k + i) == normalized_shape_[static_cast<size_t>(i)];
  HARNET_CHECK(fits, "LayerNorm(", normalized_shape_, "): expected input whose trailing dimensions are ", normalized_shape_, ", got ",
               input_str(input));
  return layer_norm(input, normalized_shape_, weight, bias, eps_);
}

std::string LayerNorm::extra_repr() const {
  std::string shape = "(";
  for (size_t i = 0; i < normalized_shape_.size(); ++i) shape += (i ? ", " : "") + std::to_string(normalized_shape_[i]);
  shape += normalized_shape_.size() == 1 ? ",)" : ")";
  return str_cat(shape, ", eps=", python_float(eps_), ", elementwise_affine=", python_bool(weight.defined()));
}

}  // namespace harnet::nn
