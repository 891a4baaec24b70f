#include "optim/reduce_lr_on_plateau.h"

#include <cmath>
#include <limits>

namespace harnet {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(&optimizer), options_(options) {
  const ReduceLROnPlateauOptions& o = options_;
  HARNET_CHECK(o.factor >= 0 && o.factor < 1, "ReduceLROnPlateau: factor must be in [0, 1), got ", o.factor);
  HARNET_CHECK(o.mode == "min" || o.mode == "max", "ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"", o.mode,
               "\"");
  HARNET_CHECK(o.threshold_mode == "rel" || o.threshold_mode == "abs",
               "ReduceLROnPlateau: threshold_mode must be \"rel\" or \"abs\", got \"", o.threshold_mode, "\"");
  HARNET_CHECK(o.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got ", o.patience);
  HARNET_CHECK(o.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got ", o.cooldown);
  HARNET_CHECK(std::isfinite(o.threshold) && o.threshold >= 0,
               "ReduceLROnPlateau: threshold must be a finite number >= 0, got ", o.threshold);
  HARNET_CHECK(std::isfinite(o.eps) && o.eps >= 0, "ReduceLROnPlateau: eps must be a finite number >= 0, got ", o.eps);
  const size_t groups = optimizer.param_groups().size();
  HARNET_CHECK(o.min_lr.size() == 1 || o.min_lr.size() == groups, "ReduceLROnPlateau: min_lr needs one value, or one ",
               "per param group (", groups, "), got ", o.min_lr.size());
  min_lrs_ = o.min_lr.size() == 1 ? std::vector<double>(groups, o.min_lr[0]) : o.min_lr;
  for (double m : min_lrs_)
    HARNET_CHECK(std::isfinite(m) && m >= 0, "ReduceLROnPlateau: min_lr must be a finite number >= 0, got ", m);
  maximize_ = o.mode == "max";
  relative_ = o.threshold_mode == "rel";
  best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  for (const ParamGroup& g : optimizer.param_groups()) last_lr_.push_back(g.lr());
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const double threshold = options_.threshold;
  if (!maximize_) return relative_ ? metric < best_ * (1. - threshold) : metric < best_ - threshold;
  return relative_ ? metric > best_ * (threshold + 1.) : metric > best_ + threshold;
}

void ReduceLROnPlateau::step(double metric) {
  HARNET_CHECK(!std::isnan(metric), "ReduceLROnPlateau.step: the metric is NaN (did training diverge?)");
  std::vector<ParamGroup>& groups = optimizer_->param_groups();
  HARNET_CHECK(groups.size() == min_lrs_.size(), "ReduceLROnPlateau.step: the optimizer has ", groups.size(),
               " param groups, ", min_lrs_.size(), " when the scheduler was made");
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    reduce_lr();
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const ParamGroup& g : groups) last_lr_.push_back(g.lr());
}

void ReduceLROnPlateau::reduce_lr() {
  std::vector<ParamGroup>& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double old_lr = groups[i].lr();
    const double new_lr = std::max(old_lr * options_.factor, min_lrs_[i]);
    if (old_lr - new_lr > options_.eps) groups[i].set_lr(new_lr);
  }
}

SchedulerState ReduceLROnPlateau::state() const {
  SchedulerState s;
  s.kind = "ReduceLROnPlateau";
  s.scalars["best"] = best_;
  s.scalars["num_bad_epochs"] = static_cast<double>(num_bad_epochs_);
  s.scalars["cooldown_counter"] = static_cast<double>(cooldown_counter_);
  s.scalars["last_epoch"] = static_cast<double>(last_epoch_);
  s.lists["last_lr"] = last_lr_;
  return s;
}

void ReduceLROnPlateau::load_state(const SchedulerState& state) {
  const char* who = "ReduceLROnPlateau.load_state";
  HARNET_CHECK(state.kind == "ReduceLROnPlateau", who, ": the state is of a ",
               state.kind.empty() ? "<no kind>" : state.kind, ", not of a ReduceLROnPlateau");
  auto scalar = [&](const char* key) {
    auto it = state.scalars.find(key);
    HARNET_CHECK(it != state.scalars.end(), who, ": the state lacks \"", key, "\"");
    return it->second;
  };
  auto count = [&](const char* key) {
    const double v = scalar(key);
    HARNET_CHECK(v >= 0 && v == std::floor(v) && v < 9.0e15, who, ": ", key, " must be a whole number >= 0, got ", v);
    return static_cast<int64_t>(v);
  };
  const double best = scalar("best");
  HARNET_CHECK(!std::isnan(best), who, ": best is NaN");
  const int64_t num_bad_epochs = count("num_bad_epochs"), cooldown_counter = count("cooldown_counter");
  const int64_t last_epoch = count("last_epoch");
  auto it = state.lists.find("last_lr");
  HARNET_CHECK(it != state.lists.end(), who, ": the state lacks \"last_lr\"");
  HARNET_CHECK(it->second.size() == min_lrs_.size(), who, ": \"last_lr\" has ", it->second.size(),
               " values (one per param group), the optimizer has ", min_lrs_.size(), " groups");
  best_ = best;
  num_bad_epochs_ = num_bad_epochs;
  cooldown_counter_ = cooldown_counter;
  last_epoch_ = last_epoch;
  last_lr_ = it->second;
}

}  // namespace harnet
