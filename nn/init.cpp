#include "nn/init.h"

#include <cmath>
#include <vector>

#include "autograd/autograd.h"

namespace harnet::nn::init {

namespace {

void check_target(const Tensor& tensor, const char* op) {
  HARNET_CHECK(tensor.defined(), "init.", op, ": the tensor is undefined");
  HARNET_CHECK(is_floating(tensor.dtype()), "init.", op, ": expected a floating tensor, got ",
               dtype_name(tensor.dtype()));
}

void check_finite(double value, const char* op, const char* argument) {
  HARNET_CHECK(std::isfinite(value), "init.", op, ": ", argument, " must be finite, got ", value);
}

// Writes next() (a double) into every element in row-major order, through the tensor's
// strides, without recording a graph.
template <class Sample>
Tensor fill_with(Tensor tensor, Sample&& next) {
  NoGradGuard no_grad;
  Tensor values = empty(tensor.shape(), kFloat64);
  double* p = values.data<double>();
  for (int64_t i = 0; i < values.numel(); ++i) p[i] = next();
  tensor.copy_from(values);
  return tensor;
}

Fans fans_of(const Tensor& tensor, const char* op) {
  HARNET_CHECK(tensor.dim() >= 2, "init.", op,
               ": fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got shape ",
               tensor.shape());
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

int64_t fan_for_mode(const Tensor& tensor, const std::string& mode, const char* op) {
  HARNET_CHECK(mode == "fan_in" || mode == "fan_out", "init.", op, ": mode must be \"fan_in\" or \"fan_out\", got \"",
               mode, "\"");
  const Fans f = fans_of(tensor, op);
  return mode == "fan_in" ? f.fan_in : f.fan_out;
}

// The standard deviation kaiming_* aims for: gain / sqrt(fan).
double kaiming_std(const Tensor& tensor, double a, const std::string& mode, const std::string& nonlinearity,
                   const char* op) {
  check_finite(a, op, "a");
  const int64_t fan = fan_for_mode(tensor, mode, op);
  return calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}

double xavier_std(const Tensor& tensor, double gain, const char* op) {
  check_finite(gain, op, "gain");
  const Fans f = fans_of(tensor, op);
  return gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
}

// Thin QR of a row-major [m, n] matrix (m >= n) by Householder reflections, in double.
// Returns Q [m, n] with orthonormal columns, scaled column by column by the sign of R's
// diagonal (PyTorch's correction; a zero diagonal entry, probability zero for normal input,
// counts as positive so the column stays a unit vector).
std::vector<double> orthonormal_columns(std::vector<double> a, int64_t m, int64_t n) {
  auto at = [&](std::vector<double>& x, int64_t i, int64_t j) -> double& { return x[static_cast<size_t>(i * n + j)]; };
  std::vector<std::vector<double>> reflectors(static_cast<size_t>(n));  // v_k, unit, over rows k..m-1
  std::vector<double> r_diagonal(static_cast<size_t>(n), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    double norm = 0.0;
    for (int64_t i = k; i < m; ++i) norm += at(a, i, k) * at(a, i, k);
    norm = std::sqrt(norm);
    if (norm == 0.0) continue;  // the column is already zero below the diagonal: no reflection
    // Reflect x onto alpha e1 with alpha of the opposite sign of x0, which avoids cancellation.
    const double alpha = at(a, k, k) > 0 ? -norm : norm;
    std::vector<double> v(static_cast<size_t>(m - k));
    for (int64_t i = k; i < m; ++i) v[static_cast<size_t>(i - k)] = at(a, i, k);
    v[0] -= alpha;
    double v_norm = 0.0;
    for (double x : v) v_norm += x * x;
    v_norm = std::sqrt(v_norm);
    for (double& x : v) x /= v_norm;
    for (int64_t j = k; j < n; ++j) {  // A[k:, k:] -= 2 v (v^T A[k:, k:])
      double s = 0.0;
      for (int64_t i = k; i < m; ++i) s += v[static_cast<size_t>(i - k)] * at(a, i, j);
      for (int64_t i = k; i < m; ++i) at(a, i, j) -= 2.0 * s * v[static_cast<size_t>(i - k)];
    }
    r_diagonal[static_cast<size_t>(k)] = alpha;
    reflectors[static_cast<size_t>(k)] = std::move(v);
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
  std::vector<double> q(static_cast<size_t>(m * n), 0.0);
  for (int64_t j = 0; j < n; ++j) at(q, j, j) = 1.0;
  for (int64_t k = n - 1; k >= 0; --k) {
    const std::vector<double>& v = reflectors[static_cast<size_t>(k)];
    if (v.empty()) continue;
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t i = k; i < m; ++i) s += v[static_cast<size_t>(i - k)] * at(q, i, j);
      for (int64_t i = k; i < m; ++i) at(q, i, j) -= 2.0 * s * v[static_cast<size_t>(i - k)];
    }
  }
  for (int64_t j = 0; j < n; ++j)
    if (r_diagonal[static_cast<size_t>(j)] < 0)
      for (int64_t i = 0; i < m; ++i) at(q, i, j) = -at(q, i, j);
  return q;
}

// Standard normal cumulative distribution.
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

double calculate_gain(const std::string& nonlinearity, std::optional<double> param) {
  static const char* const kLinear[] = {"linear",           "conv1d",           "conv2d",           "conv3d",
                                        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  for (const char* name : kLinear)
    if (nonlinearity == name) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    check_finite(slope, "calculate_gain", "the negative slope");
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw Error(str_cat("init.calculate_gain: unsupported nonlinearity \"", nonlinearity,
                      "\" (expected linear, conv1d/2d/3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, "
                      "leaky_relu or selu)"));
}

Fans calculate_fan_in_and_fan_out(const Tensor& tensor) {
  HARNET_CHECK(tensor.defined(), "init.calculate_fan_in_and_fan_out: the tensor is undefined");
  return fans_of(tensor, "calculate_fan_in_and_fan_out");
}

int64_t calculate_correct_fan(const Tensor& tensor, const std::string& mode) {
  HARNET_CHECK(tensor.defined(), "init.calculate_correct_fan: the tensor is undefined");
  return fan_for_mode(tensor, mode, "calculate_correct_fan");
}

Tensor uniform_(Tensor tensor, Generator& gen, double a, double b) {
  check_target(tensor, "uniform_");
  check_finite(a, "uniform_", "a");
  check_finite(b, "uniform_", "b");
  HARNET_CHECK(a <= b, "init.uniform_: the lower bound a = ", a, " exceeds the upper bound b = ", b);
  return fill_with(tensor, [&] { return a + (b - a) * gen.uniform(); });
}

Tensor normal_(Tensor tensor, Generator& gen, double mean, double std) {
  check_target(tensor, "normal_");
  check_finite(mean, "normal_", "mean");
  check_finite(std, "normal_", "std");
  HARNET_CHECK(std >= 0, "init.normal_: std must be non-negative, got ", std);
  return fill_with(tensor, [&] { return mean + std * gen.normal(); });
}

Tensor constant_(Tensor tensor, double value) {
  check_target(tensor, "constant_");
  NoGradGuard no_grad;
  tensor.fill_(value);
  return tensor;
}

Tensor zeros_(Tensor tensor) { return constant_(tensor, 0.0); }
Tensor ones_(Tensor tensor) { return constant_(tensor, 1.0); }

Tensor xavier_uniform_(Tensor tensor, Generator& gen, double gain) {
  check_target(tensor, "xavier_uniform_");
  const double bound = std::sqrt(3.0) * std::fabs(xavier_std(tensor, gain, "xavier_uniform_"));
  if (tensor.numel() == 0) return tensor;
  return uniform_(tensor, gen, -bound, bound);
}

Tensor xavier_normal_(Tensor tensor, Generator& gen, double gain) {
  check_target(tensor, "xavier_normal_");
  const double std = xavier_std(tensor, gain, "xavier_normal_");
  if (tensor.numel() == 0) return tensor;
  return normal_(tensor, gen, 0.0, std::fabs(std));
}

Tensor kaiming_uniform_(Tensor tensor, Generator& gen, double a, const std::string& mode,
                        const std::string& nonlinearity) {
  check_target(tensor, "kaiming_uniform_");
  if (tensor.numel() == 0) return tensor;  // PyTorch: nothing to initialise (and a zero fan)
  const double bound = std::sqrt(3.0) * kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_");
  return uniform_(tensor, gen, -bound, bound);
}

Tensor kaiming_normal_(Tensor tensor, Generator& gen, double a, const std::string& mode,
                       const std::string& nonlinearity) {
  check_target(tensor, "kaiming_normal_");
  if (tensor.numel() == 0) return tensor;
  return normal_(tensor, gen, 0.0, kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"));
}

Tensor orthogonal_(Tensor tensor, Generator& gen, double gain) {
  check_target(tensor, "orthogonal_");
  check_finite(gain, "orthogonal_", "gain");
  HARNET_CHECK(tensor.dim() >= 2, "init.orthogonal_: only tensors with 2 or more dimensions are supported, got shape ",
               tensor.shape());
  if (tensor.numel() == 0) return tensor;
  const int64_t rows = tensor.size(0), cols = tensor.numel() / rows;
  // A standard normal [rows, cols] matrix; QR needs a tall one, so a wide one is transposed.
  const bool wide = rows < cols;
  const int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  std::vector<double> normal(static_cast<size_t>(rows * cols));
  for (double& x : normal) x = gen.normal();
  std::vector<double> tall(normal.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      tall[static_cast<size_t>(wide ? j * n + i : i * n + j)] = normal[static_cast<size_t>(i * cols + j)];
  const std::vector<double> q = orthonormal_columns(std::move(tall), m, n);  // [m, n]
  size_t next = 0;
  return fill_with(tensor, [&] {
    const int64_t i = static_cast<int64_t>(next) / cols, j = static_cast<int64_t>(next) % cols;
    ++next;
    return gain * q[static_cast<size_t>(wide ? j * n + i : i * n + j)];
  });
}

Tensor trunc_normal_(Tensor tensor, Generator& gen, double mean, double std, double a, double b) {
  check_target(tensor, "trunc_normal_");
  check_finite(mean, "trunc_normal_", "mean");
  check_finite(std, "trunc_normal_", "std");
  check_finite(a, "trunc_normal_", "a");
  check_finite(b, "trunc_normal_", "b");
  HARNET_CHECK(std > 0, "init.trunc_normal_: std must be positive, got ", std);
  HARNET_CHECK(a < b, "init.trunc_normal_: the lower bound a = ", a, " must be below the upper bound b = ", b);
  const double acceptance = normal_cdf((b - mean) / std) - normal_cdf((a - mean) / std);
  HARNET_CHECK(acceptance >= 1e-3, "init.trunc_normal_: [", a, ", ", b, "] holds only ", acceptance, " of N(", mean,
               ", ", std, "^2); move the bounds closer to the mean");
  return fill_with(tensor, [&] {
    for (;;) {
      const double x = mean + std * gen.normal();
      if (x >= a && x <= b) return x;
    }
  });
}

}  // namespace harnet::nn::init
