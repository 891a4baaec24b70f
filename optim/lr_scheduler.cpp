#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace harnet {

// ---------------------------------------------------------------- LRScheduler

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const ParamGroup& g : optimizer_->param_groups()) lrs.push_back(g.lr());
  return lrs;
}

void LRScheduler::check_kind(const SchedulerState& state) const {
  HARNET_CHECK(state.kind == name_, name_, ".load_state: the state is of a ", state.kind.empty() ? "<no kind>" : state.kind,
               ", not of a ", name_);
}

double LRScheduler::state_scalar(const SchedulerState& state, const std::string& key) const {
  auto it = state.scalars.find(key);
  HARNET_CHECK(it != state.scalars.end(), name_, ".load_state: the state lacks \"", key, "\"");
  return it->second;
}

int64_t LRScheduler::state_epoch(const SchedulerState& state) const {
  const double last_epoch = state_scalar(state, "last_epoch");
  // -1: a scheduler of a SequentialLR that has not started yet.
  HARNET_CHECK(last_epoch >= -1 && last_epoch == std::floor(last_epoch) && last_epoch < 9.0e15, name_,
               ".load_state: last_epoch must be a whole number >= -1, got ", last_epoch);
  return static_cast<int64_t>(last_epoch);
}

std::vector<double> LRScheduler::state_list(const SchedulerState& state, const std::string& key) const {
  auto it = state.lists.find(key);
  HARNET_CHECK(it != state.lists.end(), name_, ".load_state: the state lacks \"", key, "\"");
  const size_t groups = optimizer_->param_groups().size();
  HARNET_CHECK(it->second.size() == groups, name_, ".load_state: \"", key, "\" has ", it->second.size(),
               " values (one per param group), the optimizer has ", groups, " groups");
  return it->second;
}

// ---------------------------------------------------------------- ChainableLRScheduler

void ChainableLRScheduler::start() {
  base_lrs_.clear();
  for (ParamGroup& g : optimizer().param_groups()) {
    if (!g.has_option("initial_lr")) g.options["initial_lr"] = g.lr();
    base_lrs_.push_back(g.option("initial_lr"));
  }
  last_epoch_ = -1;
  initial_step();
}

void ChainableLRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void ChainableLRScheduler::step() { step_to(last_epoch_ + 1, /*closed_form=*/false); }

// A step that throws (OneCycleLR past its end) leaves the scheduler where it was.
void ChainableLRScheduler::step_to(int64_t epoch, bool closed_form) {
  const size_t groups = optimizer().param_groups().size();
  HARNET_CHECK(base_lrs_.size() == groups, name(), ".step: the optimizer has ", groups, " param groups, ",
               base_lrs_.size(), " when the scheduler was made");
  const int64_t previous_epoch = last_epoch_;
  ++step_count_;
  last_epoch_ = epoch;
  try {
    std::optional<std::vector<double>> closed = closed_form ? closed_form_lr() : std::nullopt;
    apply(closed ? *closed : get_lr());
  } catch (...) {
    --step_count_;
    last_epoch_ = previous_epoch;
    throw;
  }
}

void ChainableLRScheduler::apply(const std::vector<double>& lrs) {
  std::vector<ParamGroup>& groups = optimizer().param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].set_lr(lrs[i]);
  last_lr_ = lrs;
}

SchedulerState ChainableLRScheduler::state() const {
  SchedulerState s;
  s.kind = name();
  s.scalars["last_epoch"] = static_cast<double>(last_epoch_);
  s.scalars["step_count"] = static_cast<double>(step_count_);
  s.lists["base_lrs"] = base_lrs_;
  s.lists["last_lr"] = last_lr_;
  return s;
}

void ChainableLRScheduler::load_state(const SchedulerState& state) {
  check_kind(state);
  const int64_t last_epoch = state_epoch(state);
  const double step_count = state_scalar(state, "step_count");
  HARNET_CHECK(step_count >= 0 && step_count == std::floor(step_count) && step_count < 9.0e15, name(),
               ".load_state: step_count must be a whole number >= 0, got ", step_count);
  std::vector<double> base_lrs = state_list(state, "base_lrs"), last_lr = state_list(state, "last_lr");
  last_epoch_ = last_epoch;
  step_count_ = static_cast<int64_t>(step_count);
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

// ---------------------------------------------------------------- StepLR

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : ChainableLRScheduler("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  HARNET_CHECK(step_size > 0, "StepLR: step_size must be >= 1, got ", step_size);
  HARNET_CHECK(std::isfinite(gamma) && gamma >= 0, "StepLR: gamma must be a finite number >= 0, got ", gamma);
  start();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_ / step_size_)));
  return lrs;
}

// ---------------------------------------------------------------- MultiStepLR

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : ChainableLRScheduler("MultiStepLR", optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  for (int64_t m : milestones_) HARNET_CHECK(m > 0, "MultiStepLR: milestones must be >= 1, got ", m);
  HARNET_CHECK(std::isfinite(gamma) && gamma >= 0, "MultiStepLR: gamma must be a finite number >= 0, got ", gamma);
  std::sort(milestones_.begin(), milestones_.end());
  start();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(count));
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  // bisect_right: the number of milestones <= last_epoch.
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
  return lrs;
}

// ---------------------------------------------------------------- ExponentialLR

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : ChainableLRScheduler("ExponentialLR", optimizer), gamma_(gamma) {
  HARNET_CHECK(std::isfinite(gamma) && gamma >= 0, "ExponentialLR: gamma must be a finite number >= 0, got ", gamma);
  start();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_)));
  return lrs;
}

// ---------------------------------------------------------------- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : ChainableLRScheduler("CosineAnnealingLR", optimizer), T_max_(T_max), eta_min_(eta_min) {
  HARNET_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be >= 1, got ", T_max);
  HARNET_CHECK(std::isfinite(eta_min) && eta_min >= 0, "CosineAnnealingLR: eta_min must be a finite number >= 0, got ",
               eta_min);
  start();
}

// PyTorch's three cases: unchanged at 0; at the bottom of each period (where the ratio below
// would divide by zero) a step up by the cosine's first increment; elsewhere the ratio of
// consecutive closed-form values applied to the current lr. (PyTorch's fourth case, a first
// step with last_epoch > 0, needs its last_epoch constructor argument, which harnet replaces
// by load_state.)
std::vector<double> CosineAnnealingLR::get_lr() {
  const double pi = std::numbers::pi, T = static_cast<double>(T_max_), e = static_cast<double>(last_epoch_);
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    for (size_t i = 0; i < lrs.size(); ++i) lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(pi / T)) / 2;
    return lrs;
  }
  for (double& lr : lrs)
    lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  const double pi = std::numbers::pi, T = static_cast<double>(T_max_), e = static_cast<double>(last_epoch_);
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(pi * e / T)) / 2);
  return lrs;
}

// ---------------------------------------------------------------- LinearLR

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : ChainableLRScheduler("LinearLR", optimizer),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  // start_factor 0 would divide by zero in the recursive form (PyTorch 2 refuses it too).
  HARNET_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ", start_factor);
  HARNET_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
  HARNET_CHECK(total_iters > 0, "LinearLR: total_iters must be >= 1, got ", total_iters);
  start();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr *= start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double delta = end_factor_ - start_factor_;
  for (double& lr : lrs)
    lr *= 1. + delta / (static_cast<double>(total_iters_) * start_factor_ + static_cast<double>(last_epoch_ - 1) * delta);
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  const double done = static_cast<double>(std::min(total_iters_, last_epoch_)), total = static_cast<double>(total_iters_);
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * (start_factor_ + (end_factor_ - start_factor_) * done / total));
  return lrs;
}

}  // namespace harnet
