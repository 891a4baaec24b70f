// The optimizers beyond value parity (tests/test_parity_optim.cpp): argument checks and their
// messages, param groups (overrides, add_param_group, writable lr), zero_grad, skipping
// parameters without a gradient, no graph recorded, state_dict()/load_state_dict() (round trip
// continuing identically, copies, every refusal), float32, non-contiguous parameters and
// gradients, thread-count independence; and gradient clipping (checks, edge cases, hand values).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/ops.h"
#include "optim/optim.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;
using harnet::testing::expect_error;

Tensor leaf(const std::vector<double>& values, const Shape& shape, DType dtype = kFloat64) {
  return from_vector(values, shape, dtype).set_requires_grad(true);
}

Tensor random_leaf(const Shape& shape, Generator& gen, DType dtype = kFloat64) {
  return randn(shape, gen, dtype).set_requires_grad(true);
}

std::vector<Tensor> copies(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.contiguous_copy().set_requires_grad(true));
  return out;
}

// Gives every parameter the same deterministic gradient for step k on both lists.
void set_grads(std::vector<Tensor>& params, int k, uint64_t seed = 7) {
  Generator gen(seed + static_cast<uint64_t>(k));
  for (Tensor& p : params) p.set_grad(randn(p.shape(), gen, p.dtype(), 0.0, 1.0 + 0.2 * k));
}

void expect_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].to_vector<double>(), b[i].to_vector<double>()) << what << ": parameter " << i;
}

// Every optimizer configuration worth a round trip, by name.
using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;
std::vector<std::pair<std::string, MakeOptimizer>> optimizer_configurations() {
  return {
      {"SGD nesterov",
       [](std::vector<Tensor> p) {
         return std::make_unique<SGD>(std::move(p), SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
       }},
      {"Adam amsgrad",
       [](std::vector<Tensor> p) {
         return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
       }},
      {"AdamW", [](std::vector<Tensor> p) { return std::make_unique<AdamW>(std::move(p)); }},
      {"RMSprop centered momentum",
       [](std::vector<Tensor> p) {
         return std::make_unique<RMSprop>(std::move(p), RMSpropOptions{.momentum = 0.5, .centered = true});
       }},
  };
}

// ---------------------------------------------------------------- construction and options

TEST(OptimizerOptions, InvalidValuesAreRefusedNamingTheOption) {
  std::vector<Tensor> p{zeros({2}).set_requires_grad(true)};
  expect_error([&] { SGD(p, SGDOptions{}); }, "SGD: param group 0: lr must be set (SGD has no default lr), got nan");
  expect_error([&] { SGD(p, SGDOptions{.lr = -0.1}); }, "lr must be a finite number >= 0");
  expect_error([&] { SGD(p, SGDOptions{.lr = 0.1, .momentum = -1}); }, "SGD: param group 0: momentum must be");
  expect_error([&] { SGD(p, SGDOptions{.lr = 0.1, .weight_decay = -1}); }, "weight_decay must be");
  expect_error([&] { SGD(p, SGDOptions{.lr = 0.1, .nesterov = true}); }, "momentum must be > 0 with nesterov");
  expect_error([&] { SGD(p, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
               "dampening must be 0 with nesterov");
  expect_error([&] { Adam(p, AdamOptions{.lr = -1}); }, "Adam: param group 0: lr must be");
  expect_error([&] { Adam(p, AdamOptions{.betas = {1.0, 0.999}}); }, "beta1 (betas.first) must be in [0, 1), got 1");
  expect_error([&] { Adam(p, AdamOptions{.betas = {0.9, -0.1}}); }, "beta2 (betas.second) must be in [0, 1), got -0.1");
  expect_error([&] { Adam(p, AdamOptions{.eps = -1e-8}); }, "eps must be");
  expect_error([&] { Adam(p, AdamOptions{.weight_decay = NAN}); }, "weight_decay must be");
  expect_error([&] { AdamW(p, AdamWOptions{.betas = {0.9, 1.0}}); }, "AdamW: param group 0: beta2");
  expect_error([&] { RMSprop(p, RMSpropOptions{.alpha = -0.5}); }, "RMSprop: param group 0: alpha must be");
  expect_error([&] { RMSprop(p, RMSpropOptions{.momentum = -0.5}); }, "momentum must be");
  expect_error([&] { RMSprop(p, RMSpropOptions{.eps = -1}); }, "eps must be");
  expect_error([&] { RMSprop(p, RMSpropOptions{.lr = INFINITY}); }, "lr must be");
}

TEST(OptimizerOptions, GroupOverridesAreCheckedPerGroup) {
  Tensor a = zeros({2}).set_requires_grad(true), b = zeros({3}).set_requires_grad(true);
  expect_error([&] { SGD({ParamGroup{{a}, {}}, ParamGroup{{b}, {{"lr", -2.0}}}}, SGDOptions{.lr = 0.1}); },
               "SGD: param group 1: lr must be a finite number >= 0, got -2");
  expect_error([&] { Adam({ParamGroup{{a}, {{"lrr", 0.1}}}}); },
               "Adam: param group 0 sets unknown option \"lrr\"; the options of Adam are amsgrad, beta1, beta2, eps, lr, "
               "weight_decay");
  expect_error([&] { Adam({ParamGroup{{a}, {{"amsgrad", 0.5}}}}); }, "amsgrad must be 0 or 1 (a flag), got 0.5");
}

TEST(OptimizerOptions, ParametersMustBeDistinctFloatingLeaves) {
  Tensor a = zeros({2}).set_requires_grad(true), b = zeros({3}).set_requires_grad(true);
  expect_error([&] { SGD(std::vector<Tensor>{}, SGDOptions{.lr = 0.1}); }, "SGD: got an empty parameter list");
  expect_error([&] { SGD({a, Tensor()}, SGDOptions{.lr = 0.1}); }, "SGD: param group 0: parameter 1 is undefined");
  expect_error([&] { SGD({zeros({2}, kInt64)}, SGDOptions{.lr = 0.1}); }, "parameter 0 must be float32 or float64, got int64");
  expect_error([&] { SGD({a * 2.0}, SGDOptions{.lr = 0.1}); }, "parameter 0 is not a leaf");
  expect_error([&] { SGD({a, b, a}, SGDOptions{.lr = 0.1}); }, "param group 0: parameter 2 [2] is already optimized");
  expect_error([&] { SGD({ParamGroup{{a}, {}}, ParamGroup{{b, a}, {}}}, SGDOptions{.lr = 0.1}); },
               "param group 1: parameter 1 [2] is already optimized");
  SGD sgd({a}, SGDOptions{.lr = 0.1});
  expect_error([&] { sgd.add_param_group(ParamGroup{{a}, {}}); }, "param group 1: parameter 0 [2] is already optimized");
  EXPECT_EQ(sgd.param_groups().size(), 1u);  // the refused group was not added
}

TEST(OptimizerGroups, OptionsTakeDefaultsUnlessOverriddenAndLrIsWritable) {
  Tensor a = leaf({1.0, 2.0}, {2}), b = leaf({3.0}, {1});
  SGD sgd({ParamGroup{{a}, {}}, ParamGroup{{b}, {{"lr", 0.5}}}}, SGDOptions{.lr = 0.1, .momentum = 0.9});
  ASSERT_EQ(sgd.param_groups().size(), 2u);
  EXPECT_EQ(sgd.param_groups()[0].lr(), 0.1);
  EXPECT_EQ(sgd.param_groups()[1].lr(), 0.5);
  EXPECT_EQ(sgd.param_groups()[1].option("momentum"), 0.9);
  EXPECT_EQ(sgd.param_groups()[1].weight_decay(), 0.0);

  a.set_grad(from_vector<double>({1.0, -1.0}, {2}));
  b.set_grad(from_vector<double>({2.0}, {1}));
  sgd.param_groups()[0].set_lr(0.25);  // as a scheduler does
  sgd.step();
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{0.75, 2.25}));
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{2.0}));

  Tensor c = leaf({0.0}, {1});
  sgd.add_param_group(ParamGroup{{c}, {{"weight_decay", 0.5}}});
  EXPECT_EQ(sgd.param_groups()[2].lr(), 0.1);
  EXPECT_EQ(sgd.param_groups()[2].weight_decay(), 0.5);
  c.set_grad(from_vector<double>({4.0}, {1}));
  sgd.step();
  EXPECT_DOUBLE_EQ(c.item(), -0.4);

  expect_error([&] { sgd.param_groups()[0].option("betas"); }, "param group has no option \"betas\"");
  sgd.param_groups()[1].set_lr(-1.0);  // checked again at every step
  expect_error([&] { sgd.step(); }, "SGD: param group 1: lr must be a finite number >= 0, got -1");
}

// ---------------------------------------------------------------- step and zero_grad

TEST(OptimizerStep, SkipsParametersWithoutGradientAndRecordsNoGraph) {
  for (auto& [name, make] : optimizer_configurations()) {
    Generator gen(1);
    Tensor with = random_leaf({3, 2}, gen), without = random_leaf({4}, gen);
    const std::vector<double> before_with = with.to_vector<double>(), before_without = without.to_vector<double>();
    std::unique_ptr<Optimizer> opt = make({with, without});
    with.set_grad(ones({3, 2}, kFloat64));
    opt->step();
    EXPECT_NE(with.to_vector<double>(), before_with) << name;
    EXPECT_EQ(without.to_vector<double>(), before_without) << name;
    const OptimizerState state = opt->state_dict();
    EXPECT_TRUE(state.state.count(0)) << name;
    EXPECT_FALSE(state.state.count(1)) << name << ": a parameter without gradient got state";
    EXPECT_TRUE(with.is_leaf() && with.requires_grad()) << name;
    EXPECT_FALSE(with.grad().grad_fn()) << name;
  }
}

TEST(OptimizerStep, ZeroGradDropsOrZeroesTheGradients) {
  Tensor a = leaf({1.0, 2.0}, {2}), b = leaf({3.0}, {1});
  Adam adam({a, b});
  a.set_grad(ones({2}, kFloat64));
  adam.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  a.set_grad(ones({2}, kFloat64));
  adam.zero_grad(/*set_to_none=*/false);
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.0, 0.0}));
  EXPECT_FALSE(b.grad().defined());  // PyTorch leaves an absent gradient absent
}

TEST(OptimizerStep, HandValuesOfOneStep) {
  // SGD, momentum 0.9, dampening 0.5: the first step uses the gradient itself, the second
  // 0.9 * buf + 0.5 * g.
  Tensor p = leaf({1.0}, {1});
  SGD sgd({p}, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  p.set_grad(from_vector<double>({2.0}, {1}));
  sgd.step();
  EXPECT_DOUBLE_EQ(p.item(), 1.0 - 0.1 * 2.0);
  sgd.step();
  EXPECT_DOUBLE_EQ(p.item(), 0.8 - 0.1 * (0.9 * 2.0 + 0.5 * 2.0));

  // Adam's first step moves every coordinate by about lr (m / sqrt(v) = sign(g) after the bias
  // corrections), eps added after the correction.
  Tensor q = leaf({1.0, -1.0}, {2});
  Adam adam({q}, AdamOptions{.lr = 0.01, .eps = 0.5});
  q.set_grad(from_vector<double>({3.0, -0.25}, {2}));
  adam.step();
  EXPECT_NEAR(q.to_vector<double>()[0], 1.0 - 0.01 * 3.0 / (3.0 + 0.5), 1e-15);
  EXPECT_NEAR(q.to_vector<double>()[1], -1.0 + 0.01 * 0.25 / (0.25 + 0.5), 1e-15);

  // AdamW decays the parameter by lr * weight_decay before the update.
  Tensor r = leaf({2.0}, {1});
  AdamW adamw({r}, AdamWOptions{.lr = 0.1, .eps = 0.0, .weight_decay = 0.5});
  r.set_grad(from_vector<double>({1.0}, {1}));
  adamw.step();
  EXPECT_NEAR(r.item(), 2.0 * (1 - 0.05) - 0.1, 1e-15);
}

// ---------------------------------------------------------------- state_dict

TEST(OptimizerState, RoundTripContinuesIdentically) {
  for (auto& [name, make] : optimizer_configurations()) {
    Generator gen(3);
    std::vector<Tensor> a{random_leaf({3, 4}, gen), random_leaf({4}, gen), random_leaf({2, 3}, gen)};
    std::unique_ptr<Optimizer> first = make(a);
    for (int k = 0; k < 3; ++k) {
      set_grads(a, k);
      first->step();
    }
    std::vector<Tensor> b = copies(a);
    std::unique_ptr<Optimizer> second = make(b);
    second->load_state_dict(first->state_dict());
    for (int k = 3; k < 6; ++k) {
      set_grads(a, k);
      set_grads(b, k);
      first->step();
      second->step();
    }
    expect_identical(a, b, name);
  }
}

TEST(OptimizerState, LayoutNamesAndCopies) {
  Tensor a = leaf({1.0, 2.0}, {2}), b = leaf({1.0, 2.0, 3.0}, {3}), c = leaf({0.5}, {1});
  Adam adam({ParamGroup{{a, b}, {}}, ParamGroup{{c}, {{"lr", 0.1}, {"amsgrad", 1.0}}}});
  for (Tensor* p : {&a, &b, &c}) p->set_grad(ones(p->shape(), kFloat64));
  adam.step();
  OptimizerState state = adam.state_dict();
  ASSERT_EQ(state.groups.size(), 2u);
  EXPECT_EQ(state.groups[0].params, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(state.groups[1].params, (std::vector<int64_t>{2}));
  EXPECT_EQ(state.groups[1].options.at("lr"), 0.1);
  EXPECT_EQ(state.groups[1].options.at("beta1"), 0.9);
  ASSERT_EQ(state.state.size(), 3u);
  const ParamState& s0 = state.state.at(0);
  EXPECT_EQ(s0.size(), 3u);  // step, exp_avg, exp_avg_sq
  EXPECT_EQ(s0.at("step").dtype(), kFloat32);
  EXPECT_EQ(s0.at("step").item(), 1.0);
  EXPECT_EQ(s0.at("exp_avg").shape(), (Shape{2}));
  EXPECT_TRUE(state.state.at(2).count("max_exp_avg_sq"));

  const std::vector<double> saved = s0.at("exp_avg").to_vector<double>();
  adam.step();  // the taken state is a copy
  EXPECT_EQ(state.state.at(0).at("exp_avg").to_vector<double>(), saved);
  EXPECT_EQ(state.state.at(0).at("step").item(), 1.0);

  Tensor r = leaf({1.0}, {1});
  RMSprop rms({r}, RMSpropOptions{.momentum = 0.9, .centered = true});
  r.set_grad(ones({1}, kFloat64));
  rms.step();
  const ParamState rs = rms.state_dict().state.at(0);
  EXPECT_EQ(rs.at("step").dtype(), kInt64);
  EXPECT_TRUE(rs.count("square_avg") && rs.count("momentum_buffer") && rs.count("grad_avg"));
}

TEST(OptimizerState, LoadRefusesWhatDoesNotFitAndChangesNothing) {
  auto build = [](std::vector<Tensor> params) { return Adam(std::move(params), AdamOptions{.lr = 0.1}); };
  Tensor a = leaf({1.0, 2.0}, {2}), b = leaf({3.0}, {1});
  Adam adam = build({a, b});
  a.set_grad(ones({2}, kFloat64));
  b.set_grad(ones({1}, kFloat64));
  adam.step();
  const OptimizerState good = adam.state_dict();

  auto refused = [&](const std::function<void(OptimizerState&)>& edit, const std::string& needle) {
    OptimizerState bad = good;
    edit(bad);
    expect_error([&] { adam.load_state_dict(bad); }, needle);
  };
  refused([](OptimizerState& s) { s.groups.push_back(s.groups[0]); },
          "Adam.load_state_dict: the state has 2 param groups, this optimizer 1");
  refused([](OptimizerState& s) { s.groups[0].params.pop_back(); },
          "param group 0 has 1 parameters in the state, 2 in this optimizer");
  refused([](OptimizerState& s) { s.groups[0].params[1] = 0; }, "parameter index 0 is listed twice");
  refused([](OptimizerState& s) { s.groups[0].options.erase("beta2"); },
          "param group 0 of the state lacks option \"beta2\" (a state saved by another optimizer?)");
  refused([](OptimizerState& s) { s.groups[0].options["lr"] = -1; }, "Adam: param group 0: lr must be");
  refused([](OptimizerState& s) { s.state[5] = s.state[0]; }, "entry for parameter index 5, which no param group lists");
  refused([](OptimizerState& s) { s.state[0]["momentum_buffer"] = zeros({2}, kFloat64); },
          "the state of parameter 0 has \"momentum_buffer\", which Adam does not use");
  refused([](OptimizerState& s) { s.state[1].erase("exp_avg_sq"); }, "the state of parameter 1 lacks \"exp_avg_sq\"");
  refused([](OptimizerState& s) { s.state[0]["exp_avg"] = zeros({3}, kFloat64); },
          "\"exp_avg\" of parameter 0 is [3] float64, the parameter [2] float64");
  refused([](OptimizerState& s) { s.state[0]["exp_avg"] = zeros({2}, kFloat32); },
          "\"exp_avg\" of parameter 0 is [2] float32, the parameter [2] float64");
  refused([](OptimizerState& s) { s.state[0]["exp_avg"] = Tensor(); }, "\"exp_avg\" of parameter 0 is undefined");
  refused([](OptimizerState& s) { s.state[0]["step"] = scalar_tensor(-1.0); }, "\"step\" of parameter 0 must be a whole number >= 0, got -1");
  refused([](OptimizerState& s) { s.state[0]["step"] = scalar_tensor(1.5); }, "must be a whole number >= 0, got 1.5");
  refused([](OptimizerState& s) { s.state[0]["step"] = zeros({2}); }, "\"step\" of parameter 0 must hold one value");

  SGD sgd({leaf({1.0, 2.0}, {2}), leaf({3.0}, {1})}, SGDOptions{.lr = 0.1});
  expect_error([&] { sgd.load_state_dict(good); }, "SGD.load_state_dict: param group 0 of the state lacks option \"dampening\"");

  // After all the refusals the optimizer continues exactly like an untouched copy.
  Tensor a2 = leaf({1.0, 2.0}, {2}), b2 = leaf({3.0}, {1});
  Adam twin = build({a2, b2});
  a2.set_grad(ones({2}, kFloat64));
  b2.set_grad(ones({1}, kFloat64));
  twin.step();
  for (Tensor* p : {&a, &b, &a2, &b2}) p->set_grad(full(p->shape(), -0.5, kFloat64));
  adam.step();
  twin.step();
  expect_identical({a, b}, {a2, b2}, "after refused loads");
}

// ---------------------------------------------------------------- dtypes, layouts, threads

TEST(OptimizerStep, Float32FollowsFloat64) {
  for (auto& [name, make] : optimizer_configurations()) {
    Generator gen(5);
    std::vector<Tensor> p64{random_leaf({5, 3}, gen)};
    std::vector<Tensor> p32{p64[0].cast(kFloat32).set_requires_grad(true)};
    std::unique_ptr<Optimizer> o64 = make(p64), o32 = make(p32);
    for (int k = 0; k < 5; ++k) {
      set_grads(p64, k);
      p32[0].set_grad(p64[0].grad().cast(kFloat32));
      o64->step();
      o32->step();
    }
    EXPECT_EQ(p32[0].dtype(), kFloat32);
    const OptimizerState state32 = o32->state_dict();
    for (const auto& [state_name, t] : state32.state.at(0)) {
      if (state_name != "step") {
        EXPECT_EQ(t.dtype(), kFloat32) << name << " " << state_name;
      }
    }
    const std::vector<double> a = p64[0].to_vector<double>(), b = p32[0].to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::fabs(a[i]))) << name << " [" << i << "]";
  }
}

TEST(OptimizerStep, NonContiguousParametersAndGradients) {
  for (auto& [name, make] : optimizer_configurations()) {
    // A transposed leaf over its own storage, and the same values contiguous.
    Generator gen(9);
    Tensor storage = randn({3, 2}, gen, kFloat64);
    Tensor transposed = storage.as_strided({2, 3}, {1, 2}, 0).set_requires_grad(true);
    Tensor contiguous = transposed.contiguous_copy().set_requires_grad(true);
    std::unique_ptr<Optimizer> a = make({transposed}), b = make({contiguous});
    for (int k = 0; k < 3; ++k) {
      // A stride-0 gradient (one value broadcast) and its contiguous twin.
      Tensor g = full({1, 1}, 0.5 + k, kFloat64);
      transposed.set_grad(expand(g, {2, 3}));
      contiguous.set_grad(full({2, 3}, 0.5 + k, kFloat64));
      a->step();
      b->step();
    }
    EXPECT_FALSE(transposed.is_contiguous());
    EXPECT_EQ(transposed.to_vector<double>(), contiguous.to_vector<double>()) << name;
    EXPECT_EQ(storage.as_strided({2, 3}, {1, 2}, 0).to_vector<double>(), contiguous.to_vector<double>()) << name;
  }
}

TEST(OptimizerStep, LargeParametersGiveTheSameResultForAnyThreadCount) {
  for (auto& [name, make] : optimizer_configurations()) {
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2}) {
      ScopedThreads scoped(threads);
      Generator gen(11);
      std::vector<Tensor> params{random_leaf({3 * kGrainSize + 17}, gen, kFloat32)};
      std::unique_ptr<Optimizer> opt = make(params);
      for (int k = 0; k < 3; ++k) {
        set_grads(params, k);
        opt->step();
      }
      results.push_back(params[0].to_vector<double>());
    }
    EXPECT_EQ(results[0], results[1]) << name;
  }
}

// ---------------------------------------------------------------- gradient clipping

TEST(ClipGrad, NormHandValuesAndTheEpsilon) {
  Tensor a = leaf({0.0, 0.0}, {2}), b = leaf({0.0}, {1}), none = leaf({0.0}, {1});
  a.set_grad(from_vector<double>({3.0, 0.0}, {2}));
  b.set_grad(from_vector<double>({-4.0}, {1}));
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, none, b}, 1.0), 5.0);
  const double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_DOUBLE_EQ(a.grad().to_vector<double>()[0], 3.0 * coef);
  EXPECT_DOUBLE_EQ(b.grad().item(), -4.0 * coef);
  EXPECT_FALSE(none.grad().defined());

  a.set_grad(from_vector<double>({3.0, 0.0}, {2}));
  b.set_grad(from_vector<double>({-4.0}, {1}));
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 10.0, INFINITY), 4.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3.0, 0.0}));  // below max_norm: untouched
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 10.0, 1.0), 7.0);
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 10.0, 3.0), std::cbrt(27.0 + 64.0));

  EXPECT_EQ(clip_grad_norm_({none}, 1.0), 0.0);  // no gradients
}

TEST(ClipGrad, RefusalsAndNonFiniteNorms) {
  Tensor a = leaf({0.0, 0.0}, {2});
  a.set_grad(from_vector<double>({1.0, NAN}, {2}));
  expect_error([&] { clip_grad_norm_({a}, -1.0); }, "clip_grad_norm_: max_norm must be >= 0, got -1");
  expect_error([&] { clip_grad_norm_({a}, NAN); }, "max_norm must be >= 0, got nan");
  expect_error([&] { clip_grad_norm_({a}, 1.0, 0.0); }, "clip_grad_norm_: norm_type must be > 0 (or infinity), got 0");
  expect_error([&] { clip_grad_norm_({a}, 1.0, 2.0, true); },
               "clip_grad_norm_: the total norm of order 2 of the gradients is nan, so they cannot be clipped");
  expect_error([&] { clip_grad_norm_({Tensor()}, 1.0); }, "clip_grad_norm_: parameter 0 is undefined");
  expect_error([&] { clip_grad_value_({a}, -0.1); }, "clip_grad_value_: clip_value must be >= 0, got -0.1");
  EXPECT_TRUE(std::isnan(clip_grad_norm_({a}, 1.0, INFINITY)));  // torch.max propagates NaN

  a.set_grad(from_vector<double>({1.0, INFINITY}, {2}));
  EXPECT_TRUE(std::isinf(clip_grad_norm_({a}, 1.0)));  // scaled by 0, as PyTorch: inf * 0 is NaN
  const std::vector<double> g = a.grad().to_vector<double>();
  EXPECT_EQ(g[0], 0.0);
  EXPECT_TRUE(std::isnan(g[1]));
}

TEST(ClipGrad, NonContiguousGradientIsScaledOnce) {
  Tensor a = leaf({0.0, 0.0, 0.0, 0.0}, {4});
  a.set_grad(expand(full({1}, 2.0, kFloat64), {4}));  // four elements sharing one value
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a}, 1.0), 4.0);
  ASSERT_TRUE(a.grad().is_contiguous());
  for (double v : a.grad().to_vector<double>()) EXPECT_DOUBLE_EQ(v, 2.0 / (4.0 + 1e-6));

  Tensor b = leaf({0.0, 0.0, 0.0}, {3});
  b.set_grad(expand(full({1}, -5.0, kFloat64), {3}));
  clip_grad_value_({b}, 1.5);
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{-1.5, -1.5, -1.5}));
}

TEST(ClipGrad, ValueClampsAndKeepsNaN) {
  Tensor a = leaf({0.0, 0.0, 0.0, 0.0}, {4}, kFloat32);
  a.set_grad(from_vector<double>({-2.0, 0.25, 3.0, NAN}, {4}, kFloat32));
  clip_grad_value_({a}, 1.0);
  const std::vector<double> g = a.grad().to_vector<double>();
  EXPECT_EQ(g[0], -1.0);
  EXPECT_EQ(g[1], 0.25);
  EXPECT_EQ(g[2], 1.0);
  EXPECT_TRUE(std::isnan(g[3]));
}

TEST(ClipGrad, NormIsTheSameForAnyThreadCount) {
  std::vector<double> totals;
  std::vector<std::vector<double>> grads;
  for (int threads : {1, 2}) {
    ScopedThreads scoped(threads);
    Generator gen(13);
    Tensor p = zeros({5 * kGrainSize + 3}, kFloat32).set_requires_grad(true);
    p.set_grad(randn(p.shape(), gen, kFloat32));
    totals.push_back(clip_grad_norm_({p}, 1.0));
    grads.push_back(p.grad().to_vector<double>());
  }
  EXPECT_EQ(totals[0], totals[1]);
  EXPECT_EQ(grads[0], grads[1]);
}

}  // namespace
}  // namespace harnet
