// The Dropout module: the generic module checker, PyTorch's printed form (no state), the
// identity in eval, reproducible masks from the construction seed, the mask statistics.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/dropout.h"
#include "nn/module_check.h"
#include "ops/ops.h"
#include "tests/nn_layer_fixture.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::Dropout;

TEST(NnDropout, PassesTheModuleChecker) {
  for (double p : {0.3, 0.5}) {
    nn::ModuleCheckSpec spec;
    spec.name = str_cat("Dropout(", p, ")");
    spec.make = [p](Generator& g) { return std::make_shared<Dropout>(p, g); };
    spec.input_shapes = {{4, 6}};
    spec.mode_behaviour = nn::ModeBehaviour::Differs;
    spec.random_in_train = true;
    nn::ModuleCheckResult r = nn::check_module(spec);
    EXPECT_TRUE(r.passed()) << r.report();
  }
}

TEST(NnDropout, PrintsLikePyTorchAndHasNoState) {
  Generator gen(0);
  Dropout d(0.3, gen);
  nn_fixture::expect_like_pytorch(d, "dropout");
  EXPECT_EQ(Dropout(0, gen).to_string(), "Dropout(p=0.0, inplace=False)");
  EXPECT_EQ(Dropout(1, gen).to_string(), "Dropout(p=1.0, inplace=False)");
}

TEST(NnDropout, TrainingMasksAndScalesEvalIsTheIdentity) {
  Generator gen(5);
  Dropout d(0.25, gen);
  Tensor x = ones({100, 100}, kFloat64);
  std::vector<double> y = d(x).to_vector<double>();
  int kept = 0;
  for (double v : y) {
    EXPECT_TRUE(v == 0.0 || v == 1.0 / 0.75) << v;
    kept += v != 0.0;
  }
  EXPECT_NEAR(kept / 10000.0, 0.75, 0.02);  // 5 standard deviations: ~0.0043 each
  EXPECT_NE(d(x).to_vector<double>(), y);   // each call draws a new mask
  d.eval();
  EXPECT_EQ(d(x).impl(), x.impl());
}

TEST(NnDropout, MasksFollowTheConstructionSeed) {
  Generator a(7), b(7), c(8);
  Dropout da(0.5, a), db(0.5, b), dc(0.5, c);
  Tensor x = ones({64});
  const std::vector<float> first = da(x).to_vector<float>();
  EXPECT_EQ(db(x).to_vector<float>(), first);
  EXPECT_NE(dc(x).to_vector<float>(), first);
  // The module's generator advances: restoring its state repeats the mask.
  const std::string state = da.generator().state();
  const std::vector<float> second = da(x).to_vector<float>();
  da.generator().set_state(state);
  EXPECT_EQ(da(x).to_vector<float>(), second);
}

TEST(NnDropout, RefusesABadProbability) {
  Generator gen(0);
  expect_error([&] { Dropout(1.5, gen); }, "Dropout: p must be in [0, 1], got 1.5");
  expect_error([&] { Dropout(-0.1, gen); }, "Dropout: p must be in [0, 1], got -0.1");
  Dropout d(0.5, gen);
  expect_error([&] { d(Tensor()); }, "Dropout: got an undefined tensor");
}

}  // namespace
}  // namespace harnet
