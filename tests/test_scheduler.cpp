// The learning-rate schedulers beyond value parity (tests/test_parity_optim.cpp): argument
// checks and their messages, hand-computed schedules (step decay, composition of two schedulers
// on one optimizer, the cosine's closed form over two periods, warm-up then cosine, plateau
// traces), OneCycleLR's limits, state()/load_state() refusals, and an optimizer written outside
// optim/ (the extension point) driven by a scheduler.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "optim/optim.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

// Plain gradient descent with only an lr: an optimizer defined outside optim/, without momentum.
class PlainGradientDescent final : public Optimizer {
 public:
  PlainGradientDescent(std::vector<Tensor> params, double lr) : Optimizer("PlainGradientDescent", {{"lr", lr}}) {
    add_initial_groups({ParamGroup{std::move(params), {}}});
  }

 private:
  void check_options(const OptionMap& options, size_t index) const override {
    check_option(options.at("lr") >= 0, index, "lr", ">= 0", options.at("lr"));
  }
  void update_group(const ParamGroup& group, size_t) override {
    for_each_param_with_grad(group, [&](Tensor& p, const Tensor& g, ParamState&) {
      double* w = p.data<double>();
      const double* d = g.data<double>();
      for (int64_t i = 0; i < p.numel(); ++i) w[i] -= group.lr() * d[i];
    });
  }
  StateNames state_names() const override { return {}; }
};

Tensor param() { return zeros({2}, kFloat64).set_requires_grad(true); }

// An SGD with one group per lr.
std::unique_ptr<SGD> sgd_with_lrs(const std::vector<double>& lrs, double momentum = 0.9) {
  std::vector<ParamGroup> groups;
  for (double lr : lrs) groups.push_back(ParamGroup{{param()}, {{"lr", lr}}});
  return std::make_unique<SGD>(std::move(groups), SGDOptions{.lr = 1.0, .momentum = momentum});
}

double lr0(const Optimizer& opt) { return opt.param_groups()[0].lr(); }

// ---------------------------------------------------------------- argument checks

TEST(SchedulerArguments, InvalidValuesAreRefusedNamingTheArgument) {
  auto opt = sgd_with_lrs({0.1});
  expect_error([&] { StepLR(*opt, 0); }, "StepLR: step_size must be >= 1, got 0");
  expect_error([&] { StepLR(*opt, 2, -0.5); }, "StepLR: gamma must be a finite number >= 0, got -0.5");
  expect_error([&] { MultiStepLR(*opt, {3, 0}); }, "MultiStepLR: milestones must be >= 1, got 0");
  expect_error([&] { ExponentialLR(*opt, NAN); }, "ExponentialLR: gamma must be a finite number >= 0, got nan");
  expect_error([&] { CosineAnnealingLR(*opt, 0); }, "CosineAnnealingLR: T_max must be >= 1, got 0");
  expect_error([&] { CosineAnnealingLR(*opt, 10, -1e-3); }, "CosineAnnealingLR: eta_min must be a finite number >= 0");
  expect_error([&] { LinearLR(*opt, 0.0); }, "LinearLR: start_factor must be in (0, 1], got 0");
  expect_error([&] { LinearLR(*opt, 1.5); }, "LinearLR: start_factor must be in (0, 1], got 1.5");
  expect_error([&] { LinearLR(*opt, 0.5, 1.5); }, "LinearLR: end_factor must be in [0, 1], got 1.5");
  expect_error([&] { LinearLR(*opt, 0.5, 1.0, 0); }, "LinearLR: total_iters must be >= 1, got 0");

  expect_error([&] { ReduceLROnPlateau(*opt, {.factor = 1.0}); }, "ReduceLROnPlateau: factor must be in [0, 1), got 1");
  expect_error([&] { ReduceLROnPlateau(*opt, {.mode = "mid"}); }, "ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"mid\"");
  expect_error([&] { ReduceLROnPlateau(*opt, {.threshold_mode = "relative"}); },
               "threshold_mode must be \"rel\" or \"abs\", got \"relative\"");
  expect_error([&] { ReduceLROnPlateau(*opt, {.patience = -1}); }, "patience must be >= 0, got -1");
  expect_error([&] { ReduceLROnPlateau(*opt, {.cooldown = -2}); }, "cooldown must be >= 0, got -2");
  expect_error([&] { ReduceLROnPlateau(*opt, {.threshold = -1}); }, "threshold must be a finite number >= 0");
  expect_error([&] { ReduceLROnPlateau(*opt, {.min_lr = {0.1, 0.2}}); },
               "ReduceLROnPlateau: min_lr needs one value, or one per param group (1), got 2");
  expect_error([&] { ReduceLROnPlateau(*opt, {.min_lr = {-0.1}}); }, "min_lr must be a finite number >= 0, got -0.1");
  expect_error([&] { ReduceLROnPlateau(*opt, {.eps = -1}); }, "eps must be a finite number >= 0");
  ReduceLROnPlateau plateau(*opt);
  expect_error([&] { plateau.step(NAN); }, "ReduceLROnPlateau.step: the metric is NaN");
  EXPECT_EQ(plateau.last_epoch(), 0);  // the refused metric did not count
}

TEST(SchedulerArguments, OneCycleLR) {
  auto opt = sgd_with_lrs({0.1, 0.2});
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}}); },
               "OneCycleLR: set total_steps, or epochs and steps_per_epoch (both >= 1)");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .epochs = 3}); }, "set total_steps, or epochs and steps_per_epoch");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .total_steps = -4}); }, "must be >= 0, got -4");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0, 2.0, 3.0}, .total_steps = 10}); },
               "OneCycleLR: max_lr needs one value, or one per param group (2), got 3");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {}, .total_steps = 10}); }, "max_lr needs one value");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .total_steps = 10, .pct_start = 1.5}); },
               "OneCycleLR: pct_start must be in [0, 1], got 1.5");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .total_steps = 10, .anneal_strategy = "cosine"}); },
               "anneal_strategy must be \"cos\" or \"linear\", got \"cosine\"");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .total_steps = 10, .div_factor = 0}); },
               "div_factor must be a finite number > 0");
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .total_steps = 10, .base_momentum = {-0.5}}); },
               "max_momentum and base_momentum must be finite numbers >= 0");
  // pct_start * total_steps = 1: the warm-up phase has no step (PyTorch divides by zero).
  expect_error([&] { OneCycleLR(*opt, {.max_lr = {1.0}, .total_steps = 2, .pct_start = 0.5}); },
               "OneCycleLR: phase 1 of the schedule has no steps");

  PlainGradientDescent plain({param()}, 0.1);
  expect_error([&] { OneCycleLR(plain, {.max_lr = {1.0}, .total_steps = 10}); },
               "OneCycleLR: cycle_momentum needs an optimizer with a momentum or betas (SGD, RMSprop, Adam, AdamW), "
               "PlainGradientDescent has neither");
  OneCycleLR without_momentum(plain, {.max_lr = {1.0}, .total_steps = 10, .cycle_momentum = false});
  EXPECT_NEAR(lr0(plain), 1.0 / 25, 1e-15);
}

TEST(SchedulerArguments, Composition) {
  auto opt = sgd_with_lrs({0.1}), other = sgd_with_lrs({0.1});
  auto warmup = std::make_shared<LinearLR>(*opt, 0.5, 1.0, 3);
  auto step = std::make_shared<StepLR>(*opt, 2);
  auto foreign = std::make_shared<StepLR>(*other, 2);
  expect_error([&] { SequentialLR(*opt, {warmup, step}, {}); },
               "SequentialLR: needs one milestone fewer than schedulers, got 2 schedulers and 0 milestones");
  expect_error([&] { SequentialLR(*opt, {warmup, step, step}, {4, 4}); },
               "SequentialLR: milestones must be >= 1 and strictly increasing, got [4, 4]");
  expect_error([&] { SequentialLR(*opt, {warmup, foreign}, {3}); },
               "SequentialLR: scheduler 1 (StepLR) belongs to another optimizer than scheduler 0");
  expect_error([&] { SequentialLR(*other, {warmup, step}, {3}); }, "the schedulers belong to another optimizer");
  expect_error([&] { SequentialLR(*opt, {warmup, nullptr}, {3}); }, "SequentialLR: scheduler 1 is null");
  expect_error([&] { SequentialLR(*opt, {}, {}); }, "SequentialLR: needs at least one scheduler");
  expect_error([&] { ChainedScheduler({step, foreign}); }, "ChainedScheduler: scheduler 1 (StepLR) belongs to another");
}

// ---------------------------------------------------------------- hand-computed schedules

TEST(SchedulerValues, StepLRAndMultiStepLR) {
  auto opt = sgd_with_lrs({1.0, 0.5});
  StepLR step(*opt, 2, 0.5);
  EXPECT_EQ(step.get_last_lr(), (std::vector<double>{1.0, 0.5}));
  const std::vector<double> expected = {1.0, 0.5, 0.5, 0.25, 0.25, 0.125};
  for (double e : expected) {
    opt->step();
    step.step();
    EXPECT_DOUBLE_EQ(lr0(*opt), e);
    EXPECT_DOUBLE_EQ(opt->param_groups()[1].lr(), e / 2);
  }
  EXPECT_EQ(step.last_epoch(), 6);

  auto opt2 = sgd_with_lrs({1.0});
  MultiStepLR multi(*opt2, {4, 2, 4}, 0.5);  // unsorted, 4 twice
  const std::vector<double> expected2 = {1.0, 0.5, 0.5, 0.125, 0.125};
  for (double e : expected2) {
    multi.step();
    EXPECT_DOUBLE_EQ(lr0(*opt2), e);
  }
}

// Two schedulers stepping one optimizer: their factors multiply (the chainable form).
TEST(SchedulerValues, SchedulersOnOneOptimizerCompose) {
  auto opt = sgd_with_lrs({0.8});
  StepLR step(*opt, 3, 0.5);
  ExponentialLR exponential(*opt, 0.9);
  for (int t = 1; t <= 12; ++t) {
    step.step();
    exponential.step();
    EXPECT_NEAR(lr0(*opt), 0.8 * std::pow(0.5, t / 3) * std::pow(0.9, t), 1e-15) << "t " << t;
  }
}

TEST(SchedulerValues, CosineFollowsItsClosedFormOverTwoPeriods) {
  auto opt = sgd_with_lrs({0.1, 0.04});
  const int64_t T = 5;
  const double eta_min = 0.01;
  CosineAnnealingLR cosine(*opt, T, eta_min);
  for (int t = 0; t <= 4 * T; ++t) {
    if (t > 0) cosine.step();
    for (size_t g = 0; g < 2; ++g) {
      const double base = g == 0 ? 0.1 : 0.04;
      const double closed = eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * t / T)) / 2;
      EXPECT_NEAR(opt->param_groups()[g].lr(), closed, 1e-15) << "t " << t << ", group " << g;
    }
  }
}

TEST(SchedulerValues, LinearWarmupThenCosine) {
  auto opt = sgd_with_lrs({0.2});
  auto warmup = std::make_shared<LinearLR>(*opt, 0.1, 1.0, 5);
  auto cosine = std::make_shared<CosineAnnealingLR>(*opt, 10);
  SequentialLR schedule(*opt, {warmup, cosine}, {5});
  for (int t = 0; t <= 20; ++t) {
    if (t > 0) schedule.step();
    const double expected = t < 5 ? 0.2 * (0.1 + 0.9 * t / 5.0)
                                  : 0.2 * (1 + std::cos(std::numbers::pi * (t - 5) / 10.0)) / 2;
    EXPECT_NEAR(lr0(*opt), expected, 1e-15) << "t " << t;
    EXPECT_EQ(schedule.get_last_lr()[0], lr0(*opt));
  }
  EXPECT_EQ(schedule.last_epoch(), 20);
}

TEST(SchedulerValues, ReduceLROnPlateauTrace) {
  auto opt = sgd_with_lrs({1.0, 0.01});
  ReduceLROnPlateau plateau(*opt, {.factor = 0.5, .patience = 1, .threshold = 0.0, .cooldown = 1, .min_lr = {0.1, 0.008}});
  // metric:      1   1   1          1          1   0.5       0.5  0.5
  // bad epochs:  0   1   2: cut     cooldown   1   0 (best)  1    2: cut
  const std::vector<double> metrics = {1, 1, 1, 1, 1, 0.5, 0.5, 0.5};
  const std::vector<double> expected = {1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25};
  for (size_t i = 0; i < metrics.size(); ++i) {
    plateau.step(metrics[i]);
    EXPECT_DOUBLE_EQ(lr0(*opt), expected[i]) << "epoch " << i + 1;
  }
  EXPECT_EQ(plateau.best(), 0.5);
  // Group 1 stops at its min_lr 0.008 (0.01 * 0.5 clamped); a change below eps is skipped.
  EXPECT_DOUBLE_EQ(opt->param_groups()[1].lr(), 0.008);
  EXPECT_EQ(plateau.get_last_lr()[1], opt->param_groups()[1].lr());
}

TEST(SchedulerValues, OneCycleStopsAtTotalStepsAndStaysUsable) {
  auto opt = sgd_with_lrs({0.1});
  OneCycleLR cycle(*opt, {.max_lr = {1.0}, .total_steps = 4});
  EXPECT_NEAR(lr0(*opt), 1.0 / 25, 1e-15);
  EXPECT_NEAR(opt->param_groups()[0].option("momentum"), 0.95, 1e-15);
  for (int t = 1; t <= 4; ++t) cycle.step();  // PyTorch allows total_steps steps after construction
  const double last = lr0(*opt);
  expect_error([&] { cycle.step(); }, "OneCycleLR: tried to step 6 times; the schedule has total_steps 4");
  EXPECT_EQ(cycle.last_epoch(), 4);
  EXPECT_EQ(lr0(*opt), last);
  EXPECT_EQ(cycle.state().scalars.at("step_count"), 5.0);
}

// ---------------------------------------------------------------- state

TEST(SchedulerState, LoadRefusesWhatDoesNotFit) {
  auto opt = sgd_with_lrs({0.1, 0.2});
  CosineAnnealingLR cosine(*opt, 10);
  cosine.step();
  const SchedulerState good = cosine.state();
  EXPECT_EQ(good.kind, "CosineAnnealingLR");
  EXPECT_EQ(good.scalars.at("last_epoch"), 1.0);
  EXPECT_EQ(good.lists.at("base_lrs"), (std::vector<double>{0.1, 0.2}));

  auto refused = [&](auto& scheduler, const SchedulerState& bad, const std::string& needle) {
    expect_error([&] { scheduler.load_state(bad); }, needle);
  };
  SchedulerState bad = good;
  bad.kind = "StepLR";
  refused(cosine, bad, "CosineAnnealingLR.load_state: the state is of a StepLR, not of a CosineAnnealingLR");
  bad = good;
  bad.scalars.erase("step_count");
  refused(cosine, bad, "CosineAnnealingLR.load_state: the state lacks \"step_count\"");
  bad = good;
  bad.scalars["last_epoch"] = 2.5;
  refused(cosine, bad, "last_epoch must be a whole number >= -1, got 2.5");
  bad = good;
  bad.lists["base_lrs"] = {0.1};
  refused(cosine, bad, "\"base_lrs\" has 1 values (one per param group), the optimizer has 2 groups");

  auto warm = std::make_shared<LinearLR>(*opt);
  auto cos2 = std::make_shared<CosineAnnealingLR>(*opt, 10);
  SequentialLR sequential(*opt, {warm, cos2}, {5});
  const SchedulerState before = sequential.state();
  SchedulerState seq = before;
  ASSERT_EQ(seq.children.size(), 2u);
  seq.children.pop_back();
  refused(sequential, seq, "SequentialLR.load_state: the state has 1 schedulers, this one 2");
  seq = sequential.state();
  seq.children[1].kind = "StepLR";
  refused(sequential, seq, "the state is of a StepLR, not of a CosineAnnealingLR");
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(sequential.state().children[i].scalars, before.children[i].scalars);

  ReduceLROnPlateau plateau(*opt);
  SchedulerState p = plateau.state();
  EXPECT_TRUE(std::isinf(p.scalars.at("best")));
  p.scalars["num_bad_epochs"] = -1;
  refused(plateau, p, "ReduceLROnPlateau.load_state: num_bad_epochs must be a whole number >= 0, got -1");
  refused(plateau, good, "ReduceLROnPlateau.load_state: the state is of a CosineAnnealingLR");
}

TEST(SchedulerState, ARefusedLoadChangesNothing) {
  auto a = sgd_with_lrs({0.1}), b = sgd_with_lrs({0.1});
  auto wa = std::make_shared<LinearLR>(*a, 0.2), wb = std::make_shared<LinearLR>(*b, 0.2);
  auto ca = std::make_shared<CosineAnnealingLR>(*a, 6), cb = std::make_shared<CosineAnnealingLR>(*b, 6);
  SequentialLR sa(*a, {wa, ca}, {3}), sb(*b, {wb, cb}, {3});
  for (int t = 0; t < 4; ++t) {
    sa.step();
    sb.step();
  }
  SchedulerState bad = sa.state();
  bad.children[0].scalars["last_epoch"] = 100;  // fine on its own
  bad.children[1].lists.erase("base_lrs");      // refused after the first child loaded
  expect_error([&] { sa.load_state(bad); }, "CosineAnnealingLR.load_state: the state lacks \"base_lrs\"");
  for (int t = 0; t < 8; ++t) {
    sa.step();
    sb.step();
    EXPECT_EQ(lr0(*a), lr0(*b)) << "t " << t;
  }
}

TEST(SchedulerState, AGroupAddedLaterIsRefusedAtTheNextStep) {
  auto opt = sgd_with_lrs({0.1});
  ExponentialLR exponential(*opt, 0.5);
  opt->add_param_group(ParamGroup{{param()}, {}});
  expect_error([&] { exponential.step(); },
               "ExponentialLR.step: the optimizer has 2 param groups, 1 when the scheduler was made");
  ReduceLROnPlateau plateau(*opt);
  opt->add_param_group(ParamGroup{{param()}, {}});
  expect_error([&] { plateau.step(1.0); }, "ReduceLROnPlateau.step: the optimizer has 3 param groups, 2 when");
}

TEST(SchedulerState, DrivesAnOptimizerDefinedOutsideOptim) {
  Tensor p = from_vector<double>({1.0}, {1}).set_requires_grad(true);
  PlainGradientDescent plain({p}, 1.0);
  StepLR step(plain, 1, 0.5);
  for (int t = 0; t < 3; ++t) {
    p.set_grad(ones({1}, kFloat64));
    plain.step();
    step.step();
  }
  EXPECT_DOUBLE_EQ(p.item(), 1.0 - (1.0 + 0.5 + 0.25));
  expect_error([&] { PlainGradientDescent({p}, -1.0); }, "PlainGradientDescent: param group 0: lr must be >= 0, got -1");
}

}  // namespace
}  // namespace harnet
