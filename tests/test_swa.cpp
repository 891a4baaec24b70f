// Stochastic weight averaging (nn/swa.h): ParameterAverage is the arithmetic mean of the
// snapshots it was given (float32 and float64), survives a state-dict round trip and refuses
// a module of another structure; update_bn leaves each BatchNorm's running statistics equal
// to the averages over the batches it ran, and restores momentum and mode.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "autograd/generator.h"
#include "nn/container.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/swa.h"
#include "ops/ops.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

Generator gen(7);  // the layers' initial values do not matter here

// Sets every parameter of the module to base + k * (its element index + 1).
void set_parameters(nn::Module& module, double base, double k) {
  for (auto& [name, p] : module.named_parameters()) {
    std::vector<double> values(static_cast<size_t>(p.numel()));
    for (size_t i = 0; i < values.size(); ++i) values[i] = base + k * static_cast<double>(i + 1);
    p.copy_from(from_vector<double>(values, p.shape(), kFloat64));
  }
}

class ParameterAverageTest : public ::testing::TestWithParam<DType> {};

TEST_P(ParameterAverageTest, IsTheMeanOfTheSnapshots) {
  auto model = std::make_shared<nn::Linear>(3, 2, gen);
  model->to(GetParam());
  nn::ParameterAverage average;
  EXPECT_EQ(average.count(), 0);
  const std::vector<std::pair<double, double>> snapshots = {{1.0, 0.5}, {-2.0, 0.25}, {4.0, -1.0}, {0.5, 2.0}};
  for (const auto& [base, k] : snapshots) {
    set_parameters(*model, base, k);
    average.update(*model);
  }
  EXPECT_EQ(average.count(), 4);
  set_parameters(*model, 100.0, 100.0);  // overwritten by copy_to
  const Tensor weight_before = model->weight;
  average.copy_to(*model);
  EXPECT_EQ(model->weight.impl(), weight_before.impl());  // in place
  // Mean base 0.875, mean k 0.4375.
  const double tolerance = GetParam() == kFloat64 ? 1e-14 : 1e-6;
  for (const auto& [name, p] : model->named_parameters()) {
    const std::vector<double> got = p.to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], 0.875 + 0.4375 * static_cast<double>(i + 1), tolerance) << name << "[" << i << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ParameterAverageTest, ::testing::Values(kFloat32, kFloat64));

TEST(ParameterAverage, StateDictRoundTripContinuesTheSameAverage) {
  auto model = std::make_shared<nn::Linear>(2, 2, gen);
  model->to(kFloat64);
  nn::ParameterAverage whole, first;
  for (int step = 0; step < 2; ++step) {
    set_parameters(*model, step, 1.0);
    whole.update(*model);
    first.update(*model);
  }
  const nn::StateDict saved = first.state_dict();
  EXPECT_EQ(saved.keys(), (std::vector<std::string>{"weight", "bias", "n_averaged"}));
  EXPECT_EQ(saved.at("n_averaged").to_vector<int64_t>(), (std::vector<int64_t>{2}));
  // The saved tensors are copies: later updates do not change them.
  const std::vector<double> saved_weight = saved.at("weight").to_vector<double>();
  nn::ParameterAverage resumed;
  resumed.load_state_dict(saved);
  set_parameters(*model, 7.0, -3.0);
  whole.update(*model);
  resumed.update(*model);
  EXPECT_EQ(saved.at("weight").to_vector<double>(), saved_weight);
  EXPECT_EQ(resumed.count(), 3);
  auto a = std::make_shared<nn::Linear>(2, 2, gen), b = std::make_shared<nn::Linear>(2, 2, gen);
  a->to(kFloat64);
  b->to(kFloat64);
  whole.copy_to(*a);
  resumed.copy_to(*b);
  EXPECT_EQ(a->weight.to_vector<double>(), b->weight.to_vector<double>());
  EXPECT_EQ(a->bias.to_vector<double>(), b->bias.to_vector<double>());
  EXPECT_NE(a->weight.to_vector<double>(), saved_weight);
}

TEST(ParameterAverage, RefusesNothingAveragedOtherModulesAndBadStates) {
  nn::ParameterAverage average;
  auto model = std::make_shared<nn::Linear>(3, 2, gen);
  expect_error([&] { average.copy_to(*model); }, "nothing has been averaged");
  average.update(*model);
  auto wider = std::make_shared<nn::Linear>(4, 2, gen);
  expect_error([&] { average.update(*wider); }, "parameter 'weight' [2, 4] does not match the averaged 'weight' [2, 3]");
  expect_error([&] { average.copy_to(*wider); }, "does not match the averaged 'weight'");
  auto no_bias = std::make_shared<nn::Linear>(3, 2, false, gen);
  expect_error([&] { average.copy_to(*no_bias); }, "the module has 1 parameters, the average 2");

  nn::StateDict no_count;
  no_count.insert("weight", zeros({2, 3}));
  expect_error([&] { average.load_state_dict(no_count); }, "the state has no 'n_averaged'");
  nn::StateDict negative;
  Tensor n = zeros({}, kInt64);
  n.fill_(-1);
  negative.insert("n_averaged", n);
  expect_error([&] { average.load_state_dict(negative); }, "'n_averaged' must be a count, got -1");
  nn::StateDict count_only;
  n.fill_(3);
  count_only.insert("n_averaged", n);
  expect_error([&] { average.load_state_dict(count_only); }, "'n_averaged' is 3 with 0 averaged parameters");
  EXPECT_EQ(average.count(), 1);  // a refused state leaves the average as it was
}

TEST(UpdateBn, RunningStatisticsAreTheAveragesOverTheBatchesRun) {
  auto model = std::make_shared<nn::Sequential>();
  auto linear = std::make_shared<nn::Linear>(1, 1, gen);
  auto bn = std::make_shared<nn::BatchNorm1d>(1, nn::BatchNormOptions{.momentum = 0.3});
  model->push_back(linear);
  model->push_back(bn);
  model->to(kFloat64);
  linear->weight.fill_(1.0);
  linear->bias.fill_(0.0);
  // Stale statistics from "training" that update_bn must forget.
  bn->running_mean.fill_(50.0);
  bn->running_var.fill_(9.0);
  bn->num_batches_tracked.fill_(17);
  model->eval();
  int calls = 0;
  const int64_t found = nn::update_bn(*model, [&] {
    ++calls;
    EXPECT_TRUE(bn->is_training());
    EXPECT_FALSE(bn->options().momentum.has_value());
    (*model)(from_vector<double>({1, 3}, {2, 1}, kFloat64));        // mean 2, unbiased var 2
    (*model)(from_vector<double>({5, 7, 9}, {3, 1}, kFloat64));     // mean 7, unbiased var 4
    (*model)(from_vector<double>({0, 0, 0, 4}, {4, 1}, kFloat64));  // mean 1, unbiased var 4
  });
  EXPECT_EQ(found, 1);
  EXPECT_EQ(calls, 1);
  EXPECT_NEAR(bn->running_mean.item(), (2.0 + 7.0 + 1.0) / 3.0, 1e-12);
  EXPECT_NEAR(bn->running_var.item(), (2.0 + 4.0 + 4.0) / 3.0, 1e-12);
  EXPECT_EQ(bn->num_batches_tracked.to_vector<int64_t>(), (std::vector<int64_t>{3}));
  EXPECT_EQ(bn->options().momentum, std::optional<double>(0.3));
  EXPECT_FALSE(model->is_training());
}

TEST(UpdateBn, WithoutBatchNormNothingRunsAndErrorsRestoreTheModule) {
  auto linear = std::make_shared<nn::Linear>(2, 2, gen);
  bool ran = false;
  EXPECT_EQ(nn::update_bn(*linear, [&] { ran = true; }), 0);
  EXPECT_FALSE(ran);

  auto bn = std::make_shared<nn::BatchNorm1d>(2);
  bn->eval();
  expect_error([&] { nn::update_bn(*bn, [] { throw Error("the data ran out"); }); }, "the data ran out");
  EXPECT_EQ(bn->options().momentum, std::optional<double>(0.1));
  EXPECT_FALSE(bn->is_training());
  expect_error([&] { bn->set_momentum(1.5); }, "momentum must be in [0, 1], got 1.5");
}

}  // namespace
}  // namespace harnet
