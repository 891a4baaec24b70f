// Conv1d and Conv2d modules: the generic module checker on several configurations, PyTorch's
// printed form and state-dict layout, default initialisation bounds, PyTorch's outputs for
// its own weights, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/conv.h"
#include "nn/module_check.h"
#include "ops/ops.h"
#include "tests/nn_layer_fixture.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::Conv1d;
using nn::Conv2d;

// The configurations of tools/make_nn_layer_fixtures.py, by name.
std::shared_ptr<nn::UnaryModule> make_named(const std::string& name, Generator& gen) {
  if (name == "conv1d_basic") return std::make_shared<Conv1d>(3, 4, 3, gen);
  if (name == "conv1d_full")
    return std::make_shared<Conv1d>(4, 6, 5, Conv1dOptions{.stride = 2, .padding = 1, .dilation = 2, .groups = 2},
                                    false, gen);
  if (name == "conv2d_basic") return std::make_shared<Conv2d>(3, 8, 3, gen);
  if (name == "conv2d_full")
    return std::make_shared<Conv2d>(
        4, 6, std::array<int64_t, 2>{3, 2},
        Conv2dOptions{.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2}, true, gen);
  if (name == "conv2d_same") return std::make_shared<Conv2d>(2, 3, 3, Conv2dOptions{.padding = "same"}, false, gen);
  throw Error("test_nn_conv: unknown configuration " + name);
}

TEST(NnConv, PassesTheModuleChecker) {
  struct Case {
    std::string name;
    Shape input;
  };
  const std::vector<Case> cases = {{"conv1d_basic", {2, 3, 6}}, {"conv1d_full", {2, 4, 11}},
                                   {"conv2d_basic", {1, 3, 4, 5}}, {"conv2d_full", {2, 4, 5, 6}},
                                   {"conv2d_same", {2, 4, 5}}};  // unbatched
  for (const Case& c : cases) {
    nn::ModuleCheckSpec spec;
    spec.name = c.name;
    spec.make = [name = c.name](Generator& g) { return make_named(name, g); };
    spec.input_shapes = {c.input};
    nn::ModuleCheckResult r = nn::check_module(spec);
    EXPECT_TRUE(r.passed()) << r.report();
  }
}

TEST(NnConv, PrintsAndNamesItsStateLikePyTorch) {
  for (const std::string name : {"conv1d_basic", "conv1d_full", "conv2d_basic", "conv2d_full", "conv2d_same"}) {
    Generator gen(0);
    nn_fixture::expect_like_pytorch(*make_named(name, gen), name);
  }
  Generator gen(0);
  EXPECT_EQ(Conv2d(2, 2, 3, Conv2dOptions{.padding = "valid"}, true, gen).to_string(),
            "Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=valid)");
}

TEST(NnConv, MatchesPyTorchWithItsWeights) {
  for (const std::string name : {"conv2d_full", "conv1d_full"}) {
    Generator gen(0);
    auto m = make_named(name, gen);
    nn_fixture::load_pytorch_weights(*m, name);
    nn_fixture::expect_outputs({(*m)(nn_fixture::parity_inputs(name).at(0))}, name);
  }
}

TEST(NnConv, DefaultInitialisationIsBoundedByOneOverSqrtFanIn) {
  Generator gen(3);
  // fan_in = 8 / 2 * 3 * 3 = 36: bound 1/6, for weight and bias alike.
  Conv2d conv(8, 16, 3, Conv2dOptions{.groups = 2}, true, gen);
  EXPECT_EQ(conv.weight.shape(), (Shape{16, 4, 3, 3}));
  const double bound = 1.0 / 6.0;
  double largest = 0.0;
  for (double w : conv.weight.to_vector<double>()) largest = std::max(largest, std::fabs(w));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.9 * bound);  // 576 draws: the largest comes close to the bound
  for (double b : conv.bias.to_vector<double>()) EXPECT_LE(std::fabs(b), bound);
  Generator same(3);
  EXPECT_EQ(Conv2d(8, 16, 3, Conv2dOptions{.groups = 2}, true, same).weight.to_vector<float>(),
            conv.weight.to_vector<float>());
}

TEST(NnConv, ForwardIsTheOperator) {
  Generator gen(4);
  Conv1d c1(2, 3, 2, Conv1dOptions{.padding = 1}, true, gen);
  Tensor x1 = randn({2, 2, 5}, gen);
  EXPECT_EQ(c1(x1).to_vector<float>(), conv1d(x1, c1.weight, c1.bias, {.padding = 1}).to_vector<float>());
  EXPECT_EQ(c1(x1).shape(), (Shape{2, 3, 6}));
  // A hand check: a 1x1 kernel of weight 2 and bias -1 maps x to 2x - 1.
  Conv2d c2(1, 1, 1, gen);
  c2.weight.copy_from(full({1, 1, 1, 1}, 2.0));
  c2.bias.copy_from(full({1}, -1.0));
  EXPECT_EQ(c2(from_vector<double>({0, 1, 2, 3}, {1, 2, 2}, kFloat32)).to_vector<float>(),
            (std::vector<float>{-1, 1, 3, 5}));
}

TEST(NnConv, RefusesBadArgumentsAndInputs) {
  Generator gen(0);
  expect_error([&] { Conv2d(3, 4, 3, Conv2dOptions{.groups = 2}, true, gen); },
               "Conv2d: in_channels must be a positive multiple of groups (2), got 3");
  expect_error([&] { Conv2d(4, 3, 3, Conv2dOptions{.groups = 2}, true, gen); },
               "Conv2d: out_channels must be a positive multiple of groups (2), got 3");
  expect_error([&] { Conv1d(4, 4, 3, Conv1dOptions{.groups = 0}, true, gen); }, "Conv1d: groups must be positive, got 0");
  expect_error([&] { Conv2d(1, 1, std::array<int64_t, 2>{0, 2}, gen); }, "Conv2d: kernel_size must be positive, got (0, 2)");
  expect_error([&] { Conv1d(1, 1, 2, Conv1dOptions{.stride = 0}, true, gen); }, "Conv1d: stride must be positive, got (0,)");
  expect_error([&] { Conv2d(1, 1, 2, Conv2dOptions{.dilation = {1, 0}}, true, gen); },
               "Conv2d: dilation must be positive, got (1, 0)");
  expect_error([&] { Conv1d(1, 1, 2, Conv1dOptions{.padding = -1}, true, gen); },
               "Conv1d: padding must be non-negative, got (-1,)");
  Conv2d conv(3, 2, 2, gen);
  expect_error([&] { conv(zeros({1, 2, 4, 4})); }, "Conv2d(in_channels=3): expected input [N, 3, H, W] or [3, H, W], got [1, 2, 4, 4]");
  expect_error([&] { conv(zeros({4, 4})); }, "got [4, 4]");
  expect_error([&] { conv(Tensor()); }, "got an undefined tensor");
  Conv1d conv1(2, 2, 2, gen);
  expect_error([&] { conv1(zeros({1, 3, 4})); }, "Conv1d(in_channels=2): expected input [N, 2, L] or [2, L], got [1, 3, 4]");
}

}  // namespace
}  // namespace harnet
