// Pooling modules: the generic module checker on each, PyTorch's printed forms (no state),
// forward equals the operator with the module's arguments, hand checks, and the errors.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/module_check.h"
#include "nn/pool.h"
#include "ops/ops.h"
#include "tests/nn_layer_fixture.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using namespace nn;

// The configurations of tools/make_nn_layer_fixtures.py, by name.
std::shared_ptr<UnaryModule> make_named(const std::string& name) {
  if (name == "maxpool1d") return std::make_shared<MaxPool1d>(3);
  if (name == "maxpool1d_full")
    return std::make_shared<MaxPool1d>(3, MaxPool1dOptions{.stride = 2, .padding = 1, .dilation = 2, .ceil_mode = true});
  if (name == "maxpool2d") return std::make_shared<MaxPool2d>(2, MaxPool2dOptions{.stride = Pool2dParam{1}, .padding = 1});
  if (name == "maxpool2d_rect")
    return std::make_shared<MaxPool2d>(Pool2dParam{2, 3},
                                       MaxPool2dOptions{.stride = Pool2dParam{1, 2}, .dilation = Pool2dParam{2, 1}});
  if (name == "avgpool1d") return std::make_shared<AvgPool1d>(2);
  if (name == "avgpool1d_full")
    return std::make_shared<AvgPool1d>(
        3, AvgPool1dOptions{.stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false});
  if (name == "avgpool2d") return std::make_shared<AvgPool2d>(Pool2dParam{2, 3});
  if (name == "avgpool2d_full")
    return std::make_shared<AvgPool2d>(3, AvgPool2dOptions{.stride = Pool2dParam{2},
                                                           .padding = 1,
                                                           .ceil_mode = true,
                                                           .count_include_pad = false,
                                                           .divisor_override = 4});
  if (name == "adaptiveavgpool1d") return std::make_shared<AdaptiveAvgPool1d>(4);
  if (name == "adaptiveavgpool2d") return std::make_shared<AdaptiveAvgPool2d>(Pool2dParam{2, 3});
  if (name == "adaptiveavgpool2d_square") return std::make_shared<AdaptiveAvgPool2d>(1);
  throw Error("test_nn_pool: unknown configuration " + name);
}

struct Case {
  std::string name;
  Shape input;
};
const std::vector<Case> kCases = {
    {"maxpool1d", {2, 3, 7}},          {"maxpool1d_full", {2, 2, 9}},   {"maxpool2d", {1, 2, 4, 5}},
    {"maxpool2d_rect", {2, 6, 7}},     {"avgpool1d", {2, 3, 7}},        {"avgpool1d_full", {2, 2, 8}},
    {"avgpool2d", {1, 2, 4, 6}},       {"avgpool2d_full", {1, 2, 5, 6}}, {"adaptiveavgpool1d", {2, 3, 7}},
    {"adaptiveavgpool2d", {2, 2, 5, 7}}, {"adaptiveavgpool2d_square", {3, 4, 5}}};

TEST(NnPool, PassesTheModuleChecker) {
  for (const Case& c : kCases) {
    ModuleCheckSpec spec;
    spec.name = c.name;
    spec.make = [name = c.name](Generator&) { return make_named(name); };
    spec.input_shapes = {c.input};
    ModuleCheckResult r = check_module(spec);
    EXPECT_TRUE(r.passed()) << r.report();
  }
}

TEST(NnPool, PrintLikePyTorchAndHaveNoState) {
  for (const Case& c : kCases) nn_fixture::expect_like_pytorch(*make_named(c.name), c.name);
}

TEST(NnPool, ForwardIsTheOperatorWithTheModuleArguments) {
  Generator gen(1);
  Tensor x1 = randn({2, 3, 9}, gen, kFloat64), x2 = randn({2, 3, 6, 7}, gen, kFloat64);
  auto same = [](const Tensor& a, const Tensor& b) { return a.to_vector<double>() == b.to_vector<double>(); };
  EXPECT_TRUE(same((*make_named("maxpool1d_full"))(x1),
                   max_pool1d(x1, 3, {.stride = 2, .padding = 1, .dilation = 2, .ceil_mode = true})));
  EXPECT_TRUE(same((*make_named("maxpool1d"))(x1), max_pool1d(x1, 3)));
  EXPECT_TRUE(same((*make_named("maxpool2d_rect"))(x2),
                   max_pool2d(x2, {2, 3}, {.stride = Pool2dParam{1, 2}, .dilation = Pool2dParam{2, 1}})));
  EXPECT_TRUE(same((*make_named("avgpool2d_full"))(x2),
                   avg_pool2d(x2, 3, {.stride = Pool2dParam{2}, .padding = 1, .ceil_mode = true,
                                      .count_include_pad = false, .divisor_override = 4})));
  EXPECT_TRUE(same((*make_named("avgpool1d"))(x1), avg_pool1d(x1, 2)));
  EXPECT_TRUE(same((*make_named("adaptiveavgpool2d"))(x2), adaptive_avg_pool2d(x2, {2, 3})));
  EXPECT_TRUE(same((*make_named("adaptiveavgpool1d"))(x1), adaptive_avg_pool1d(x1, 4)));
}

TEST(NnPool, ByHand) {
  Tensor x = from_vector<double>({1, 5, 2, 0, 3, 4}, {1, 1, 6}, kFloat64);
  EXPECT_EQ(MaxPool1d(2)(x).to_vector<double>(), (std::vector<double>{5, 2, 4}));
  EXPECT_EQ(AvgPool1d(3)(x).to_vector<double>(), (std::vector<double>{8.0 / 3, 7.0 / 3}));
  EXPECT_EQ(AdaptiveAvgPool1d(1)(x).to_vector<double>(), (std::vector<double>{2.5}));
  Tensor y = from_vector<double>({1, 2, 3, 4}, {1, 2, 2}, kFloat64);
  EXPECT_EQ(MaxPool2d(2)(y).to_vector<double>(), (std::vector<double>{4}));
  EXPECT_EQ(AvgPool2d(2)(y).to_vector<double>(), (std::vector<double>{2.5}));
  EXPECT_EQ(AdaptiveAvgPool2d(Pool2dParam{2, 1})(y).to_vector<double>(), (std::vector<double>{1.5, 3.5}));
}

TEST(NnPool, RefuseBadArgumentsAndInputs) {
  expect_error([] { MaxPool1d(0); }, "MaxPool1d: kernel_size must be positive, got 0");
  expect_error([] { MaxPool1d(2, {.stride = 0}); }, "MaxPool1d: stride must be positive, got 0");
  expect_error([] { MaxPool2d(Pool2dParam{2, 0}); }, "MaxPool2d: kernel_size must be positive, got (2, 0)");
  expect_error([] { AvgPool1d(-1); }, "AvgPool1d: kernel_size must be positive, got -1");
  expect_error([] { AvgPool2d(2, {.stride = Pool2dParam{0}}); }, "AvgPool2d: stride must be positive, got 0");
  expect_error([] { AdaptiveAvgPool1d(0); }, "AdaptiveAvgPool1d: output_size must be positive, got 0");
  expect_error([] { AdaptiveAvgPool2d(Pool2dParam{1, -2}); }, "AdaptiveAvgPool2d: output_size must be positive, got (1, -2)");
  expect_error([] { MaxPool1d(2)(zeros({2, 3, 4, 5})); },
               "MaxPool1d: expected input [N, C, L] or [C, L], got [2, 3, 4, 5]");
  expect_error([] { MaxPool2d(2)(zeros({4})); }, "MaxPool2d: expected input [N, C, H, W] or [C, H, W], got [4]");
  expect_error([] { AvgPool2d(2)(Tensor()); }, "AvgPool2d: expected input [N, C, H, W] or [C, H, W], got an undefined tensor");
  expect_error([] { AdaptiveAvgPool1d(2)(zeros({5})); }, "AdaptiveAvgPool1d: expected input [N, C, L] or [C, L], got [5]");
  expect_error([] { AvgPool1d(2)(zeros({2, 2, 2, 2})); }, "AvgPool1d: expected input");
  expect_error([] { AdaptiveAvgPool2d(2)(zeros({2, 2})); }, "AdaptiveAvgPool2d: expected input");
}

}  // namespace
}  // namespace harnet
