// Normalisation modules: torch.nn.BatchNorm1d / BatchNorm2d and torch.nn.LayerNorm, over
// ops/norm.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nn/module.h"

namespace harnet::nn {

// torch.nn.BatchNorm{1,2}d's keyword arguments. momentum absent (PyTorch's None) means a
// cumulative moving average: the factor is 1 / num_batches_tracked.
struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // buffers running_mean (zeros), running_var (ones), num_batches_tracked
};

// What BatchNorm1d and BatchNorm2d share; they differ in the input ranks they accept.
//   parameters  weight [C], bias [C]                     (affine only)
//   buffers     running_mean [C], running_var [C],       (track_running_stats only;
//               num_batches_tracked [] int64              all persistent)
// Training, or no running statistics: the batch's statistics normalise, and (when tracked)
// the running statistics are updated in place and num_batches_tracked counts the call.
// Evaluation with tracked statistics: the running statistics normalise. So train and eval
// differ unless track_running_stats is false.
class BatchNormBase : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override;
  // relu(forward(input)) in one fused operation (ops batch_norm_relu): for a BatchNorm
  // followed by a ReLU, e.g. in a Sequential's convolution blocks. Reports no forward.
  Tensor forward_relu(const Tensor& input);
  // "4, eps=0.001, momentum=0.2, affine=True, track_running_stats=True"
  std::string extra_repr() const override;

  int64_t num_features() const { return num_features_; }
  const BatchNormOptions& options() const { return options_; }
  // PyTorch's assignable `momentum` attribute: nullopt is None (a cumulative average).
  void set_momentum(std::optional<double> momentum);
  // running_mean zeros, running_var ones, num_batches_tracked 0 (nothing when not tracked).
  void reset_running_stats();

  Tensor weight, bias;                                    // [C], undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined unless tracked

 protected:
  BatchNormBase(int64_t num_features, const BatchNormOptions& options);
  // Throws naming the module unless the rank of input is one this module accepts.
  virtual void check_input_rank(const Tensor& input) const = 0;

 private:
  Tensor forward_impl(const Tensor& input, bool relu);

  int64_t num_features_;
  BatchNormOptions options_;
};

// input [N, C] or [N, C, L]
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, const BatchNormOptions& options = {})
      : BatchNormBase(num_features, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 private:
  void check_input_rank(const Tensor& input) const override;
};

// input [N, C, H, W]
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, const BatchNormOptions& options = {})
      : BatchNormBase(num_features, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 private:
  void check_input_rank(const Tensor& input) const override;
};

// Normalises the trailing dimensions normalized_shape of input [*, normalized_shape];
// with elementwise_affine, parameters weight (ones) and bias (zeros) of shape
// normalized_shape. The same in train and eval.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  explicit LayerNorm(int64_t normalized_size, double eps = 1e-5, bool elementwise_affine = true)
      : LayerNorm(Shape{normalized_size}, eps, elementwise_affine) {}

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LayerNorm"; }
  // "(3, 4), eps=1e-05, elementwise_affine=True"
  std::string extra_repr() const override;

  const Shape& normalized_shape() const { return normalized_shape_; }

  Tensor weight, bias;  // normalized_shape, undefined unless elementwise_affine

 private:
  Shape normalized_shape_;
  double eps_;
};

}  // namespace harnet::nn
