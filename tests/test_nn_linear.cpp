// The simple modules: Linear on hand-computed values, the activations and Flatten against
// their operators, Sequential and ModuleList (names, indexing, chaining, errors), printed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/activation.h"
#include "nn/container.h"
#include "nn/flatten.h"
#include "nn/linear.h"
#include "ops/ops.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::Flatten;
using nn::GELU;
using nn::Identity;
using nn::Linear;
using nn::ModuleList;
using nn::ReLU;
using nn::Sequential;
using nn::Sigmoid;
using nn::Tanh;
using nn::UnaryModule;

template <class Pairs>
std::vector<std::string> names_of(const Pairs& pairs) {
  std::vector<std::string> names;
  for (const auto& p : pairs) names.push_back(p.first);
  return names;
}

// ---------------------------------------------------------------- Linear

TEST(NnLinear, ComputesXWTransposedPlusBias) {
  Generator gen(0);
  Linear fc(3, 2, gen);
  fc.weight.copy_from(from_vector<double>({1, 2, 3, -1, 0, 0.5}, {2, 3}));
  fc.bias.copy_from(tensor({0.5, -2}));
  Tensor x = from_vector<double>({1, 0, -1, 2, 1, 4}, {2, 3}, kFloat32);
  // row 0: [1 - 3 + 0.5, -1 - 0.5 - 2]; row 1: [2 + 2 + 12 + 0.5, -2 + 2 - 2]
  EXPECT_EQ(fc(x).to_vector<float>(), (std::vector<float>{-1.5f, -3.5f, 16.5f, -2.0f}));
  EXPECT_EQ(fc(x).shape(), (Shape{2, 2}));
  // Any number of leading dimensions.
  Tensor x3 = reshape(x, {2, 1, 3});
  EXPECT_EQ(fc(x3).shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(fc(x3).to_vector<float>(), fc(x).to_vector<float>());
}

TEST(NnLinear, WithoutBiasHasNoBiasParameter) {
  Generator gen(0);
  Linear fc(3, 2, false, gen);
  EXPECT_FALSE(fc.has_bias());
  EXPECT_EQ(names_of(fc.named_parameters()), (std::vector<std::string>{"weight"}));
  fc.weight.copy_from(from_vector<double>({1, 1, 1, 0, 0, 2}, {2, 3}));
  EXPECT_EQ(fc(tensor({1, 2, 3})).to_vector<float>(), (std::vector<float>{6, 6}));
  EXPECT_EQ(fc.to_string(), "Linear(in_features=3, out_features=2, bias=False)");
  EXPECT_EQ(fc.in_features(), 3);
  EXPECT_EQ(fc.out_features(), 2);
}

TEST(NnLinear, GradientsReachWeightBiasAndInput) {
  Generator gen(1);
  Linear fc(4, 3, gen);
  Tensor x = randn({5, 4}, gen).set_requires_grad(true);
  sum(fc(x)).backward();
  // d sum / d W[o][i] = sum over the batch of x[b][i]; d / d b[o] = batch size.
  std::vector<float> column_sums(4, 0.0f);
  const std::vector<float> xv = x.to_vector<float>();
  for (int b = 0; b < 5; ++b)
    for (int i = 0; i < 4; ++i) column_sums[static_cast<size_t>(i)] += xv[static_cast<size_t>(b * 4 + i)];
  const std::vector<float> gw = fc.weight.grad().to_vector<float>();
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 4; ++i)
      EXPECT_NEAR(gw[static_cast<size_t>(o * 4 + i)], column_sums[static_cast<size_t>(i)], 1e-5);
  EXPECT_EQ(fc.bias.grad().to_vector<float>(), (std::vector<float>{5, 5, 5}));
  EXPECT_TRUE(x.grad().defined());
}

TEST(NnLinear, RefusesWrongInputsAndSizes) {
  Generator gen(0);
  Linear fc(3, 2, gen);
  expect_error([&] { fc(zeros({2, 4})); }, "Linear(in_features=3): expected input [..., 3], got [2, 4]");
  expect_error([&] { fc(scalar_tensor(1.0)); }, "Linear(in_features=3): expected input [..., 3], got []");
  expect_error([&] { fc(Tensor()); }, "got an undefined tensor");
  expect_error([&] { Linear(-1, 2, gen); }, "Linear: in_features and out_features must be non-negative, got -1 and 2");
}

TEST(NnLinear, ZeroInputFeaturesGiveTheBiasAlone) {
  Generator gen(0);
  Linear fc(0, 2, gen);  // PyTorch: bound 0 for the bias, so it is zero
  EXPECT_EQ(fc(zeros({3, 0})).to_vector<float>(), std::vector<float>(6, 0.0f));
}

// ---------------------------------------------------------------- activations, Flatten

TEST(NnActivation, ForwardTheirOperators) {
  Generator gen(2);
  Tensor x = randn({3, 4}, gen, kFloat64);
  EXPECT_EQ(ReLU()(x).to_vector<double>(), relu(x).to_vector<double>());
  EXPECT_EQ(Tanh()(x).to_vector<double>(), tanh(x).to_vector<double>());
  EXPECT_EQ(Sigmoid()(x).to_vector<double>(), sigmoid(x).to_vector<double>());
  EXPECT_EQ(GELU()(x).to_vector<double>(), gelu(x, "none").to_vector<double>());
  EXPECT_EQ(GELU("tanh")(x).to_vector<double>(), gelu(x, "tanh").to_vector<double>());
  EXPECT_NE(GELU("tanh")(x).to_vector<double>(), GELU("none")(x).to_vector<double>());
  Tensor same = Identity()(x);
  EXPECT_EQ(same.impl(), x.impl());
  expect_error([] { GELU("fast"); }, "GELU: approximate must be \"none\" or \"tanh\", got \"fast\"");
}

TEST(NnActivation, PrintLikePyTorch) {
  EXPECT_EQ(ReLU().to_string(), "ReLU()");
  EXPECT_EQ(Tanh().to_string(), "Tanh()");
  EXPECT_EQ(Sigmoid().to_string(), "Sigmoid()");
  EXPECT_EQ(Identity().to_string(), "Identity()");
  EXPECT_EQ(GELU().to_string(), "GELU(approximate='none')");
  EXPECT_EQ(GELU("tanh").to_string(), "GELU(approximate='tanh')");
  EXPECT_EQ(Flatten().to_string(), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(Flatten(0, 2).to_string(), "Flatten(start_dim=0, end_dim=2)");
}

TEST(NnFlatten, MergesTheChosenDimensions) {
  Tensor x = arange(0.0, 120.0, 1.0);
  x = reshape(x, {2, 3, 4, 5});
  EXPECT_EQ(Flatten()(x).shape(), (Shape{2, 60}));
  EXPECT_EQ(Flatten(0, -1)(x).shape(), (Shape{120}));
  EXPECT_EQ(Flatten(1, 2)(x).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(Flatten(-2, -1)(x).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(Flatten()(x).to_vector<float>(), x.to_vector<float>());
  expect_error([&] { Flatten(1, 5)(x); }, "flatten: dimension 5 out of range");
  expect_error([&] { Flatten(2, 1)(x); }, "flatten: start_dim 2 comes after end_dim 1");
}

// ---------------------------------------------------------------- Sequential

TEST(NnSequential, ChainsItsModulesInOrder) {
  Generator gen(3);
  auto first = std::make_shared<Linear>(4, 5, gen);
  auto second = std::make_shared<Linear>(5, 2, gen);
  Sequential seq({first, std::make_shared<Tanh>(), second});
  Tensor x = randn({3, 4}, gen);
  EXPECT_EQ(seq(x).to_vector<float>(), (*second)(tanh((*first)(x))).to_vector<float>());
  EXPECT_EQ(names_of(seq.named_children()), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(names_of(seq.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  Tensor id = randn({2, 2}, gen);
  EXPECT_EQ(Sequential()(id).impl(), id.impl());  // empty: the identity
}

TEST(NnSequential, PushBackIndexingAndIteration) {
  Generator gen(4);
  Sequential seq;
  std::shared_ptr<Linear> fc = seq.push_back(std::make_shared<Linear>(2, 3, gen));
  seq.push_back(std::make_shared<ReLU>());
  auto inner = seq.push_back(std::make_shared<Sequential>());
  inner->push_back(std::make_shared<Linear>(3, 1, gen));
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_FALSE(seq.empty());
  EXPECT_EQ(seq[0].get(), fc.get());
  EXPECT_EQ(seq[-1].get(), inner.get());
  EXPECT_EQ(seq.at<Linear>(0).get(), fc.get());
  EXPECT_EQ(names_of(seq.named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "2.0.weight", "2.0.bias"}));
  std::vector<std::string> types;
  for (const auto& m : seq) types.push_back(m->type_name());
  EXPECT_EQ(types, (std::vector<std::string>{"Linear", "ReLU", "Sequential"}));
  EXPECT_EQ(seq(randn({4, 2}, gen)).shape(), (Shape{4, 1}));
  expect_error([&] { seq[3]; }, "Sequential: index 3 is out of range for 3 modules");
  expect_error([&] { seq[-4]; }, "Sequential: index -4 is out of range for 3 modules");
  expect_error([&] { seq.at<Linear>(1); }, "Sequential: module 1 is a ReLU, not the requested type");
  expect_error([&] { seq.push_back(std::shared_ptr<ReLU>()); }, "Sequential: cannot append a null module (position 3)");
}

TEST(NnSequential, ShapeErrorsNameTheLayer) {
  Generator gen(5);
  Sequential seq({std::make_shared<Linear>(4, 5, gen), std::make_shared<Linear>(6, 2, gen)});
  expect_error([&] { seq(zeros({1, 4})); }, "Linear(in_features=6): expected input [..., 6], got [1, 5]");
}

// ---------------------------------------------------------------- ModuleList

TEST(NnModuleList, HoldsModulesOfAnyKindUnderTheirPositions) {
  Generator gen(6);
  ModuleList list({std::make_shared<Linear>(2, 2, gen), std::make_shared<Sequential>()});
  list.push_back(std::make_shared<ModuleList>())->push_back(std::make_shared<Linear>(2, 1, false, gen));
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(names_of(list.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "2.0.weight"}));
  EXPECT_EQ(list.at<Linear>(0)->out_features(), 2);
  EXPECT_EQ(list.at<ModuleList>(-1)->at<Linear>(0)->out_features(), 1);
  int count = 0;
  for (const auto& m : list) count += m != nullptr;
  EXPECT_EQ(count, 3);
  EXPECT_EQ(list.to_string(),
            "ModuleList(\n"
            "  (0): Linear(in_features=2, out_features=2, bias=True)\n"
            "  (1): Sequential()\n"
            "  (2): ModuleList(\n"
            "    (0): Linear(in_features=2, out_features=1, bias=False)\n"
            "  )\n"
            ")");
  expect_error([&] { list[5]; }, "ModuleList: index 5 is out of range for 3 modules");
  expect_error([&] { list.at<Linear>(1); }, "ModuleList: module 1 is a Sequential, not the requested type");
  expect_error([&] { list.push_back(std::shared_ptr<Linear>()); }, "ModuleList: cannot append a null module");
  EXPECT_TRUE(ModuleList().empty());
}

}  // namespace
}  // namespace harnet
