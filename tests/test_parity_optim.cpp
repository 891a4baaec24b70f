// Value parity with PyTorch 1.13 for optim/: optimizers, schedulers, gradient clipping.
//
// tests/fixtures/optim.json is written by tools/make_optim_fixtures.py (format described there).
// Each case is its own test (AllCases/ParityOptim.MatchesPyTorch/<case name>):
//   optimizer: the same parameters, param groups and per-step gradients (one parameter without
//     a gradient on the third step) through 5 steps; the parameters after every step within
//     1e-12 (float64) or 1e-6 (float32) of PyTorch's, and the final state_dict() (names, dtypes,
//     shapes, values). Then again, resumed after step 2 from state_dict() into a new optimizer.
//   scheduler: the groups' lrs (and OneCycleLR's momentum / beta1) and get_last_lr() after
//     construction and each of 30 steps within 1e-12; then resumed at step 13 from the
//     optimizer's state_dict() and the scheduler's state() into new ones.
//   clip_grad_norm / clip_grad_value: the total norm and the clipped gradients.
// Further tests check that the file loads and covers every optimizer and scheduler.
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "optim/optim.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {
using namespace harnet::parity;

const Fixture& fixture() {
  static const Fixture loaded =
      load_fixture("optim.json",
                   "regenerate it from the repository root with `/usr/bin/python3 tools/make_optim_fixtures.py` "
                   "(needs PyTorch, e.g. Debian's python3-torch)");
  return loaded;
}

const std::set<std::string> kOptimizers = {"SGD", "Adam", "AdamW", "RMSprop"};
const std::set<std::string> kSchedulers = {"StepLR",        "MultiStepLR",       "ExponentialLR",
                                           "CosineAnnealingLR", "LinearLR",      "SequentialLR",
                                           "ChainedScheduler",  "ReduceLROnPlateau", "OneCycleLR"};

constexpr double kScheduleTolerance = 1e-12;
double param_tolerance(DType dtype) { return dtype == kFloat64 ? 1e-12 : 1e-6; }

// A case's option object, read with defaults; every key the fixture gives must be read, so an
// option the test forgets fails the case instead of being silently ignored.
class Spec {
 public:
  explicit Spec(const json& options) : options_(options) {}
  double number(const std::string& key, double fallback) const { return has(key) ? json_double(at(key)) : fallback; }
  int64_t integer(const std::string& key, int64_t fallback) const { return has(key) ? at(key).get<int64_t>() : fallback; }
  bool boolean(const std::string& key, bool fallback) const { return has(key) ? at(key).get<bool>() : fallback; }
  std::string string(const std::string& key, const std::string& fallback) const {
    return has(key) ? at(key).get<std::string>() : fallback;
  }
  std::vector<double> numbers(const std::string& key, std::vector<double> fallback) const {
    if (!has(key)) return fallback;
    std::vector<double> v;
    for (const json& x : at(key)) v.push_back(json_double(x));
    return v;
  }
  std::vector<int64_t> integers(const std::string& key) const { return at(key).get<std::vector<int64_t>>(); }
  std::vector<std::string> unread() const {
    std::vector<std::string> keys;
    for (const auto& [key, value] : options_.items())
      if (!read_.count(key)) keys.push_back(key);
    return keys;
  }

 private:
  bool has(const std::string& key) const { return options_.contains(key); }
  const json& at(const std::string& key) const {
    read_.insert(key);
    return options_.at(key);
  }
  const json& options_;
  mutable std::set<std::string> read_;
};

// ---------------------------------------------------------------- optimizers

// Group option overrides: numbers, and flags as 0 / 1.
OptionMap option_map(const json& options) {
  OptionMap map;
  for (const auto& [key, value] : options.items()) map[key] = value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0) : json_double(value);
  return map;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, std::vector<ParamGroup> groups, const Spec& d) {
  if (kind == "SGD") {
    return std::make_unique<SGD>(std::move(groups), SGDOptions{.lr = d.number("lr", NAN),
                                                               .momentum = d.number("momentum", 0.0),
                                                               .dampening = d.number("dampening", 0.0),
                                                               .weight_decay = d.number("weight_decay", 0.0),
                                                               .nesterov = d.boolean("nesterov", false)});
  }
  if (kind == "Adam") {
    return std::make_unique<Adam>(std::move(groups), AdamOptions{.lr = d.number("lr", 1e-3),
                                                                 .betas = {d.number("beta1", 0.9), d.number("beta2", 0.999)},
                                                                 .eps = d.number("eps", 1e-8),
                                                                 .weight_decay = d.number("weight_decay", 0.0),
                                                                 .amsgrad = d.boolean("amsgrad", false)});
  }
  if (kind == "AdamW") {
    return std::make_unique<AdamW>(std::move(groups), AdamWOptions{.lr = d.number("lr", 1e-3),
                                                                   .betas = {d.number("beta1", 0.9), d.number("beta2", 0.999)},
                                                                   .eps = d.number("eps", 1e-8),
                                                                   .weight_decay = d.number("weight_decay", 1e-2),
                                                                   .amsgrad = d.boolean("amsgrad", false)});
  }
  if (kind == "RMSprop") {
    return std::make_unique<RMSprop>(std::move(groups), RMSpropOptions{.lr = d.number("lr", 1e-2),
                                                                       .alpha = d.number("alpha", 0.99),
                                                                       .eps = d.number("eps", 1e-8),
                                                                       .weight_decay = d.number("weight_decay", 0.0),
                                                                       .momentum = d.number("momentum", 0.0),
                                                                       .centered = d.boolean("centered", false)});
  }
  throw Error(str_cat("fixture: unknown optimizer \"", kind, "\""));
}

struct OptimizerRun {
  std::vector<Tensor> params;
  std::unique_ptr<Optimizer> optimizer;
};

// The case's optimizer over the given parameter values (one flat list per parameter).
OptimizerRun build_optimizer(const json& c, const std::vector<json>& values) {
  const DType dtype = parse_dtype(c.at("dtype").get<std::string>());
  OptimizerRun run;
  const json& specs = c.at("params");
  for (size_t i = 0; i < specs.size(); ++i)
    run.params.push_back(tensor_from_json(values[i], shape_of(specs[i]), dtype).set_requires_grad(true));
  std::vector<ParamGroup> groups;
  for (const json& g : c.at("groups")) {
    ParamGroup group;
    for (int64_t index : g.at("params").get<std::vector<int64_t>>()) group.params.push_back(run.params.at(index));
    group.options = option_map(g.at("options"));
    groups.push_back(std::move(group));
  }
  const Spec defaults(c.at("defaults"));
  run.optimizer = make_optimizer(c.at("optimizer").get<std::string>(), std::move(groups), defaults);
  EXPECT_TRUE(defaults.unread().empty()) << "defaults not used: " << ::testing::PrintToString(defaults.unread());
  return run;
}

// Applies step k's gradients (null: no gradient) and steps; compares the parameters.
void step_and_compare(OptimizerRun& run, const json& c, size_t k, const std::string& what) {
  const DType dtype = parse_dtype(c.at("dtype").get<std::string>());
  const json& step = c.at("steps").at(k);
  for (size_t i = 0; i < run.params.size(); ++i) {
    const json& grad = step.at("grads").at(i);
    run.params[i].set_grad(grad.is_null() ? Tensor() : tensor_from_json(grad, run.params[i].shape(), dtype));
  }
  run.optimizer->step();
  for (size_t i = 0; i < run.params.size(); ++i) {
    EXPECT_TRUE(matches(run.params[i], step.at("params").at(i), run.params[i].shape(), dtype,
                        str_cat(what, ": parameter ", i, " after step ", k + 1), param_tolerance(dtype)));
  }
}

void compare_state(const OptimizerState& state, const json& expected, DType dtype, const std::string& what) {
  std::set<int64_t> expected_indices;
  for (const auto& [index_text, entries] : expected.items()) {
    const int64_t index = std::stoll(index_text);
    expected_indices.insert(index);
    auto it = state.state.find(index);
    if (it == state.state.end()) {
      ADD_FAILURE() << what << ": no state for parameter " << index;
      continue;
    }
    std::set<std::string> names;
    for (const auto& [name, spec] : entries.items()) {
      names.insert(name);
      auto t = it->second.find(name);
      if (t == it->second.end()) {
        ADD_FAILURE() << what << ": the state of parameter " << index << " lacks \"" << name << "\"";
        continue;
      }
      EXPECT_TRUE(matches(t->second, spec.at("values"), shape_of(spec), dtype_of_spec(spec),
                          str_cat(what, ": state \"", name, "\" of parameter ", index), param_tolerance(dtype)));
    }
    for (const auto& [name, t] : it->second)
      EXPECT_TRUE(names.count(name)) << what << ": parameter " << index << " has state \"" << name << "\", PyTorch not";
  }
  for (const auto& [index, entries] : state.state)
    EXPECT_TRUE(expected_indices.count(index)) << what << ": state for parameter " << index << ", PyTorch has none";
}

void run_optimizer_case(const json& c) {
  const std::string name = c.at("name").get<std::string>();
  const DType dtype = parse_dtype(c.at("dtype").get<std::string>());
  std::vector<json> initial;
  for (const json& p : c.at("params")) initial.push_back(p.at("values"));
  const size_t steps = c.at("steps").size();

  OptimizerRun run = build_optimizer(c, initial);
  for (size_t k = 0; k < steps; ++k) step_and_compare(run, c, k, name);
  compare_state(run.optimizer->state_dict(), c.at("state"), dtype, name);

  // Resumed after step 2: a new optimizer over the parameters PyTorch had then, given the state.
  OptimizerRun first = build_optimizer(c, initial);
  for (size_t k = 0; k < 2; ++k) step_and_compare(first, c, k, name + " (before the resume)");
  std::vector<json> after_two;
  for (const json& p : c.at("steps").at(1).at("params")) after_two.push_back(p);
  OptimizerRun resumed = build_optimizer(c, after_two);
  resumed.optimizer->load_state_dict(first.optimizer->state_dict());
  for (size_t k = 2; k < steps; ++k) step_and_compare(resumed, c, k, name + " (resumed after step 2)");
}

// ---------------------------------------------------------------- schedulers

// A ChainableLRScheduler, LRScheduler or ReduceLROnPlateau, driven alike.
struct AnyScheduler {
  std::shared_ptr<LRScheduler> scheduler;
  std::shared_ptr<ReduceLROnPlateau> plateau;

  void step(std::optional<double> metric) {
    if (plateau) {
      plateau->step(metric.value());
    } else {
      scheduler->step();
    }
  }
  const std::vector<double>& get_last_lr() const { return plateau ? plateau->get_last_lr() : scheduler->get_last_lr(); }
  SchedulerState state() const { return plateau ? plateau->state() : scheduler->state(); }
  void load_state(const SchedulerState& s) {
    if (plateau) {
      plateau->load_state(s);
    } else {
      scheduler->load_state(s);
    }
  }
};

std::shared_ptr<ChainableLRScheduler> make_chainable(const json& spec, Optimizer& opt, std::vector<std::string>& unread) {
  const std::string type = spec.at("type").get<std::string>();
  const Spec o(spec.at("options"));
  std::shared_ptr<ChainableLRScheduler> s;
  if (type == "StepLR") {
    s = std::make_shared<StepLR>(opt, o.integer("step_size", -1), o.number("gamma", 0.1));
  } else if (type == "MultiStepLR") {
    s = std::make_shared<MultiStepLR>(opt, o.integers("milestones"), o.number("gamma", 0.1));
  } else if (type == "ExponentialLR") {
    s = std::make_shared<ExponentialLR>(opt, o.number("gamma", NAN));
  } else if (type == "CosineAnnealingLR") {
    s = std::make_shared<CosineAnnealingLR>(opt, o.integer("T_max", -1), o.number("eta_min", 0.0));
  } else if (type == "LinearLR") {
    s = std::make_shared<LinearLR>(opt, o.number("start_factor", 1.0 / 3), o.number("end_factor", 1.0),
                                   o.integer("total_iters", 5));
  } else if (type == "OneCycleLR") {
    OneCycleLROptions options;
    options.max_lr = o.numbers("max_lr", {});
    options.total_steps = o.integer("total_steps", 0);
    options.epochs = o.integer("epochs", 0);
    options.steps_per_epoch = o.integer("steps_per_epoch", 0);
    options.pct_start = o.number("pct_start", 0.3);
    options.anneal_strategy = o.string("anneal_strategy", "cos");
    options.cycle_momentum = o.boolean("cycle_momentum", true);
    options.base_momentum = o.numbers("base_momentum", {0.85});
    options.max_momentum = o.numbers("max_momentum", {0.95});
    options.div_factor = o.number("div_factor", 25.0);
    options.final_div_factor = o.number("final_div_factor", 1e4);
    options.three_phase = o.boolean("three_phase", false);
    s = std::make_shared<OneCycleLR>(opt, options);
  } else {
    throw Error(str_cat("fixture: unknown scheduler \"", type, "\""));
  }
  for (const std::string& key : o.unread()) unread.push_back(type + "." + key);
  return s;
}

AnyScheduler make_scheduler(const json& spec, Optimizer& opt, std::vector<std::string>& unread) {
  const std::string type = spec.at("type").get<std::string>();
  AnyScheduler any;
  if (type == "SequentialLR" || type == "ChainedScheduler") {
    std::vector<std::shared_ptr<ChainableLRScheduler>> children;
    for (const json& child : spec.at("schedulers")) children.push_back(make_chainable(child, opt, unread));
    if (type == "SequentialLR") {
      any.scheduler = std::make_shared<SequentialLR>(opt, children, spec.at("milestones").get<std::vector<int64_t>>());
    } else {
      any.scheduler = std::make_shared<ChainedScheduler>(children);
    }
  } else if (type == "ReduceLROnPlateau") {
    const Spec o(spec.at("options"));
    ReduceLROnPlateauOptions options;
    options.mode = o.string("mode", "min");
    options.factor = o.number("factor", 0.1);
    options.patience = o.integer("patience", 10);
    options.threshold = o.number("threshold", 1e-4);
    options.threshold_mode = o.string("threshold_mode", "rel");
    options.cooldown = o.integer("cooldown", 0);
    options.min_lr = o.numbers("min_lr", {0.0});
    options.eps = o.number("eps", 1e-8);
    any.plateau = std::make_shared<ReduceLROnPlateau>(opt, options);
    for (const std::string& key : o.unread()) unread.push_back(type + "." + key);
  } else {
    any.scheduler = make_chainable(spec, opt, unread);
  }
  return any;
}

struct ScheduleRun {
  std::unique_ptr<Optimizer> optimizer;
  AnyScheduler scheduler;
};

ScheduleRun build_schedule(const json& c) {
  ScheduleRun run;
  std::vector<ParamGroup> groups;
  for (const json& lr : c.at("group_lrs")) {
    groups.push_back(ParamGroup{{zeros({2}, kFloat64).set_requires_grad(true)}, {{"lr", json_double(lr)}}});
  }
  const Spec defaults(c.at("defaults"));
  run.optimizer = make_optimizer(c.at("optimizer").get<std::string>(), std::move(groups), defaults);
  std::vector<std::string> unread = defaults.unread();
  run.scheduler = make_scheduler(c.at("scheduler"), *run.optimizer, unread);
  EXPECT_TRUE(unread.empty()) << "options not used: " << ::testing::PrintToString(unread);
  return run;
}

// The groups' lrs, get_last_lr() and (if the case has them) momenta at time t against PyTorch's.
void compare_schedule(const ScheduleRun& run, const json& c, size_t t, const std::string& what) {
  const std::vector<ParamGroup>& groups = run.optimizer->param_groups();
  const json& lrs = c.at("lrs").at(t);
  const std::vector<double>& last_lr = run.scheduler.get_last_lr();
  ASSERT_EQ(last_lr.size(), groups.size()) << what;
  const std::string momentum_option = run.optimizer->defaults().count("beta1") ? "beta1" : "momentum";
  for (size_t g = 0; g < groups.size(); ++g) {
    const double expected = json_double(lrs.at(g));
    EXPECT_TRUE(within_tolerance(groups[g].lr(), expected, kScheduleTolerance))
        << what << ": step " << t << ", group " << g << ": lr " << groups[g].lr() << ", PyTorch " << expected;
    EXPECT_TRUE(within_tolerance(last_lr[g], expected, kScheduleTolerance))
        << what << ": step " << t << ", group " << g << ": get_last_lr " << last_lr[g] << ", PyTorch " << expected;
    if (c.contains("momenta")) {
      const double momentum = json_double(c.at("momenta").at(t).at(g));
      EXPECT_TRUE(within_tolerance(groups[g].option(momentum_option), momentum, kScheduleTolerance))
          << what << ": step " << t << ", group " << g << ": " << momentum_option << " "
          << groups[g].option(momentum_option) << ", PyTorch " << momentum;
    }
  }
}

std::optional<double> metric_of(const json& c, size_t step) {
  if (!c.contains("metrics")) return std::nullopt;
  return json_double(c.at("metrics").at(step));
}

void run_scheduler_case(const json& c) {
  const std::string name = c.at("name").get<std::string>();
  const size_t steps = c.at("steps").get<size_t>();
  ASSERT_EQ(c.at("lrs").size(), steps + 1) << name;
  constexpr size_t kResumeAt = 13;

  ScheduleRun run = build_schedule(c);
  compare_schedule(run, c, 0, name);
  OptimizerState saved_optimizer;
  SchedulerState saved_scheduler;
  for (size_t t = 1; t <= steps; ++t) {
    run.optimizer->step();
    run.scheduler.step(metric_of(c, t - 1));
    compare_schedule(run, c, t, name);
    if (t == kResumeAt) {
      saved_optimizer = run.optimizer->state_dict();
      saved_scheduler = run.scheduler.state();
    }
  }

  // Resumed: a new optimizer and scheduler (constructing them applies the first lrs), then both
  // states, then the rest of the schedule.
  ScheduleRun resumed = build_schedule(c);
  resumed.optimizer->load_state_dict(saved_optimizer);
  resumed.scheduler.load_state(saved_scheduler);
  compare_schedule(resumed, c, kResumeAt, name + " (resumed)");
  for (size_t t = kResumeAt + 1; t <= steps; ++t) {
    resumed.optimizer->step();
    resumed.scheduler.step(metric_of(c, t - 1));
    compare_schedule(resumed, c, t, name + " (resumed)");
  }
}

// ---------------------------------------------------------------- clipping

void run_clip_case(const json& c) {
  const std::string name = c.at("name").get<std::string>();
  const DType dtype = parse_dtype(c.at("dtype").get<std::string>());
  std::vector<Tensor> params;
  for (const json& g : c.at("grads")) {
    if (g.is_null()) {
      params.push_back(zeros({2}, dtype).set_requires_grad(true));
      continue;
    }
    params.push_back(zeros(shape_of(g), dtype).set_requires_grad(true));
    params.back().set_grad(tensor_from_json(g.at("values"), shape_of(g), dtype));
  }
  const Spec o(c.at("options"));
  // PyTorch computes float32 norms in float32, harnet accumulates in double.
  const double tol = dtype == kFloat64 ? 1e-12 : 1e-6;
  if (c.at("kind") == "clip_grad_norm") {
    const double total = clip_grad_norm_(params, o.number("max_norm", NAN), o.number("norm_type", 2.0),
                                         o.boolean("error_if_nonfinite", false));
    const double expected = json_double(c.at("total_norm"));
    EXPECT_TRUE(within_tolerance(total, expected, tol)) << name << ": total norm " << total << ", PyTorch " << expected;
  } else {
    clip_grad_value_(params, o.number("clip_value", NAN));
  }
  EXPECT_TRUE(o.unread().empty()) << name << ": options not used: " << ::testing::PrintToString(o.unread());
  const json& after = c.at("grads_after");
  for (size_t i = 0; i < params.size(); ++i) {
    if (after.at(i).is_null()) {
      EXPECT_FALSE(params[i].grad().defined()) << name << ": parameter " << i << " got a gradient";
      continue;
    }
    EXPECT_TRUE(matches(params[i].grad(), after.at(i), params[i].shape(), dtype,
                        str_cat(name, ": gradient ", i, " after clipping"), tol));
  }
}

// ---------------------------------------------------------------- one test per case

void run_case(const json& c) {
  const std::string kind = c.value("kind", "");
  try {
    if (kind == "optimizer") return run_optimizer_case(c);
    if (kind == "scheduler") return run_scheduler_case(c);
    if (kind == "clip_grad_norm" || kind == "clip_grad_value") return run_clip_case(c);
  } catch (const std::exception& e) {
    FAIL() << c.value("name", "<unnamed>") << " threw: " << e.what();
  }
  FAIL() << c.value("name", "<unnamed>") << ": unknown kind \"" << kind << "\"";
}

class ParityOptim : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityOptim, MatchesPyTorch) { run_case(fixture().cases.at(GetParam())); }

INSTANTIATE_TEST_SUITE_P(AllCases, ParityOptim, ::testing::Range<size_t>(0, fixture().cases.size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_name(fixture(), info.param); });
// With no fixture there are no instances; FileLoads below fails instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityOptim);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityOptimFixture, FileLoads) { check_fixture_loads(fixture()); }

// Deleting the cases of an optimizer, scheduler or clipping function fails here.
TEST(ParityOptimFixture, CoversEveryOptimizerSchedulerAndClipping) {
  ASSERT_TRUE(fixture().error.empty()) << fixture().error;
  std::set<std::string> optimizers_f64, optimizers_f32, schedulers, clips;
  std::function<void(const json&)> collect = [&](const json& spec) {
    schedulers.insert(spec.at("type").get<std::string>());
    if (spec.contains("schedulers"))
      for (const json& child : spec.at("schedulers")) collect(child);
  };
  for (const json& c : fixture().cases) {
    const std::string kind = c.at("kind").get<std::string>();
    if (kind == "optimizer") {
      (c.at("dtype") == "float64" ? optimizers_f64 : optimizers_f32).insert(c.at("optimizer").get<std::string>());
    } else if (kind == "scheduler") {
      collect(c.at("scheduler"));
    } else {
      clips.insert(kind);
    }
  }
  EXPECT_EQ(optimizers_f64, kOptimizers) << fixture().regenerate_hint;
  EXPECT_EQ(optimizers_f32, kOptimizers) << fixture().regenerate_hint;
  EXPECT_EQ(schedulers, kSchedulers) << fixture().regenerate_hint;
  EXPECT_EQ(clips, (std::set<std::string>{"clip_grad_norm", "clip_grad_value"})) << fixture().regenerate_hint;
}

}  // namespace
}  // namespace harnet
