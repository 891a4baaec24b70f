// BatchNorm1d / BatchNorm2d and LayerNorm modules: the generic module checker, PyTorch's
// printed form and state-dict layout, the running statistics (PyTorch's values after a
// training step), momentum None, modes, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/module_check.h"
#include "nn/norm.h"
#include "ops/ops.h"
#include "tests/nn_layer_fixture.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::BatchNorm1d;
using nn::BatchNorm2d;
using nn::BatchNormOptions;
using nn::LayerNorm;
using nn::ModeBehaviour;

// The configurations of tools/make_nn_layer_fixtures.py, by name.
std::shared_ptr<nn::UnaryModule> make_named(const std::string& name) {
  if (name == "batchnorm1d") return std::make_shared<BatchNorm1d>(5);
  if (name == "batchnorm1d_bare")
    return std::make_shared<BatchNorm1d>(5, BatchNormOptions{.affine = false, .track_running_stats = false});
  if (name == "batchnorm2d") return std::make_shared<BatchNorm2d>(4, BatchNormOptions{.eps = 1e-3, .momentum = 0.2});
  if (name == "layernorm") return std::make_shared<LayerNorm>(Shape{3, 4});
  if (name == "layernorm_bare") return std::make_shared<LayerNorm>(6, 1e-6, false);
  throw Error("test_nn_norm: unknown configuration " + name);
}

TEST(NnNorm, PassesTheModuleChecker) {
  struct Case {
    std::string name;
    Shape input;
    ModeBehaviour mode;
  };
  const std::vector<Case> cases = {
      {"batchnorm1d", {4, 5}, ModeBehaviour::Differs},
      {"batchnorm1d", {3, 5, 2}, ModeBehaviour::Differs},
      {"batchnorm1d_bare", {3, 5, 2}, ModeBehaviour::Same},  // batch statistics in both modes
      {"batchnorm2d", {2, 4, 2, 3}, ModeBehaviour::Differs},
      {"layernorm", {2, 3, 4}, ModeBehaviour::Same},
      {"layernorm_bare", {5, 6}, ModeBehaviour::Same},
  };
  for (const Case& c : cases) {
    nn::ModuleCheckSpec spec;
    spec.name = c.name;
    spec.make = [name = c.name](Generator&) { return make_named(name); };
    spec.input_shapes = {c.input};
    spec.mode_behaviour = c.mode;
    nn::ModuleCheckResult r = nn::check_module(spec);
    EXPECT_TRUE(r.passed()) << r.report();
  }
}

TEST(NnNorm, PrintsAndNamesItsStateLikePyTorch) {
  for (const std::string name : {"batchnorm1d", "batchnorm1d_bare", "batchnorm2d", "layernorm", "layernorm_bare"})
    nn_fixture::expect_like_pytorch(*make_named(name), name);
  EXPECT_EQ(BatchNorm1d(2, BatchNormOptions{.momentum = std::nullopt}).to_string(),
            "BatchNorm1d(2, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
}

TEST(NnNorm, BatchNormTrainingMatchesPyTorchAndUpdatesItsBuffers) {
  auto m = make_named("batchnorm2d");
  nn_fixture::load_pytorch_weights(*m, "batchnorm2d");
  auto& bn = static_cast<BatchNorm2d&>(*m);
  m->train();
  Tensor y = (*m)(nn_fixture::parity_inputs("batchnorm2d").at(0));
  nn_fixture::expect_outputs({y, bn.running_mean, bn.running_var}, "batchnorm2d");
  EXPECT_EQ(bn.num_batches_tracked.to_vector<int64_t>(), (std::vector<int64_t>{1}));
  // Eval: the running statistics, no update.
  m->eval();
  const std::vector<double> mean = bn.running_mean.to_vector<double>();
  (*m)(nn_fixture::parity_inputs("batchnorm2d").at(0));
  EXPECT_EQ(bn.running_mean.to_vector<double>(), mean);
  EXPECT_EQ(bn.num_batches_tracked.to_vector<int64_t>(), (std::vector<int64_t>{1}));
}

TEST(NnNorm, BatchNormByHand) {
  BatchNorm1d bn(1, BatchNormOptions{.eps = 1e-12, .momentum = 0.5});
  Tensor x = from_vector<double>({1, 3}, {2, 1}, kFloat64);
  bn.to(kFloat64);
  // Batch mean 2, biased variance 1: y = (x - 2) / 1; running: mean 0.5 * 0 + 0.5 * 2 = 1,
  // var 0.5 * 1 + 0.5 * 2 (unbiased) = 1.5.
  std::vector<double> y = bn(x).to_vector<double>();
  EXPECT_NEAR(y[0], -1.0, 1e-9);
  EXPECT_NEAR(y[1], 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(bn.running_mean.item(), 1.0);
  EXPECT_DOUBLE_EQ(bn.running_var.item(), 1.5);
  bn.eval();  // (x - 1) / sqrt(1.5)
  EXPECT_NEAR(bn(x).to_vector<double>()[1], 2.0 / std::sqrt(1.5), 1e-9);
}

TEST(NnNorm, MomentumNoneIsACumulativeAverage) {
  BatchNorm1d bn(1, BatchNormOptions{.momentum = std::nullopt});
  bn.to(kFloat64);
  bn(from_vector<double>({1, 3}, {2, 1}, kFloat64));  // mean 2: factor 1 -> 2
  bn(from_vector<double>({5, 7}, {2, 1}, kFloat64));  // mean 6: factor 1/2 -> 4
  EXPECT_DOUBLE_EQ(bn.running_mean.item(), 4.0);
  EXPECT_EQ(bn.num_batches_tracked.to_vector<int64_t>(), (std::vector<int64_t>{2}));
  // to(kFloat64) leaves the integer counter alone.
  EXPECT_EQ(bn.num_batches_tracked.dtype(), kInt64);
}

TEST(NnNorm, LayerNormByHand) {
  LayerNorm ln(2, 1e-12);
  ln.to(kFloat64);
  ln.weight.copy_from(tensor({2.0, 1.0}));
  ln.bias.copy_from(tensor({0.0, 10.0}));
  // Row [1, 3]: mean 2, variance 1: normalised [-1, 1] -> [-2, 11].
  std::vector<double> y = ln(from_vector<double>({1, 3}, {1, 2}, kFloat64)).to_vector<double>();
  EXPECT_NEAR(y[0], -2.0, 1e-9);
  EXPECT_NEAR(y[1], 11.0, 1e-9);
}

TEST(NnNorm, RefusesBadArgumentsAndInputs) {
  expect_error([] { BatchNorm1d(0); }, "BatchNorm: num_features must be positive, got 0");
  expect_error([] { BatchNorm2d(2, BatchNormOptions{.eps = 0}); }, "BatchNorm: eps must be positive, got 0");
  expect_error([] { BatchNorm2d(2, BatchNormOptions{.momentum = 1.5}); }, "BatchNorm: momentum must be in [0, 1], got 1.5");
  BatchNorm1d bn1(3);
  expect_error([&] { bn1(zeros({2, 3, 4, 5})); }, "BatchNorm1d(3): expected input [N, C] or [N, C, L], got [2, 3, 4, 5]");
  expect_error([&] { bn1(zeros({2, 4})); }, "BatchNorm1d(3): expected 3 channels in dimension 1, got input [2, 4]");
  expect_error([&] { bn1(Tensor()); }, "got an undefined tensor");
  expect_error([&] { bn1(zeros({1, 3})); }, "expected more than 1 value per channel when training");
  BatchNorm2d bn2(3);
  expect_error([&] { bn2(zeros({2, 3, 4})); }, "BatchNorm2d(3): expected input [N, C, H, W], got [2, 3, 4]");
  expect_error([] { LayerNorm(Shape{}); }, "LayerNorm: normalized_shape must not be empty");
  expect_error([] { LayerNorm(Shape{2, 0}); }, "LayerNorm: normalized_shape must be positive sizes, got [2, 0]");
  expect_error([] { LayerNorm(2, -1.0); }, "LayerNorm: eps must be positive, got -1");
  LayerNorm ln(Shape{3, 4});
  expect_error([&] { ln(zeros({2, 4, 3})); },
               "LayerNorm([3, 4]): expected input whose trailing dimensions are [3, 4], got [2, 4, 3]");
  expect_error([&] { ln(zeros({4})); }, "got [4]");
}

}  // namespace
}  // namespace harnet
