#include "optim/sequential_lr.h"

#include <algorithm>

namespace harnet {

namespace {

// The optimizer every scheduler shares; throws naming the first that differs.
Optimizer& common_optimizer(const std::vector<std::shared_ptr<ChainableLRScheduler>>& schedulers, const char* who) {
  HARNET_CHECK(!schedulers.empty(), who, ": needs at least one scheduler");
  for (size_t i = 0; i < schedulers.size(); ++i) HARNET_CHECK(schedulers[i] != nullptr, who, ": scheduler ", i, " is null");
  Optimizer& optimizer = schedulers[0]->optimizer();
  for (size_t i = 1; i < schedulers.size(); ++i) {
    HARNET_CHECK(&schedulers[i]->optimizer() == &optimizer, who, ": scheduler ", i, " (", schedulers[i]->name(),
                 ") belongs to another optimizer than scheduler 0");
  }
  return optimizer;
}

void load_children(const std::vector<std::shared_ptr<ChainableLRScheduler>>& schedulers, const SchedulerState& state,
                   const std::string& who) {
  HARNET_CHECK(state.children.size() == schedulers.size(), who, ".load_state: the state has ", state.children.size(),
               " schedulers, this one ", schedulers.size());
  // Check every child before changing any: restoring keeps the old state of each on error.
  std::vector<SchedulerState> saved;
  for (const auto& s : schedulers) saved.push_back(s->state());
  try {
    for (size_t i = 0; i < schedulers.size(); ++i) schedulers[i]->load_state(state.children[i]);
  } catch (...) {
    for (size_t i = 0; i < schedulers.size(); ++i) schedulers[i]->load_state(saved[i]);
    throw;
  }
}

}  // namespace

// ---------------------------------------------------------------- SequentialLR

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<ChainableLRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler("SequentialLR", optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  HARNET_CHECK(&common_optimizer(schedulers_, "SequentialLR") == &optimizer,
               "SequentialLR: the schedulers belong to another optimizer than the one given");
  HARNET_CHECK(milestones_.size() + 1 == schedulers_.size(), "SequentialLR: needs one milestone fewer than schedulers, got ",
               schedulers_.size(), " schedulers and ", milestones_.size(), " milestones");
  for (size_t i = 0; i < milestones_.size(); ++i) {
    HARNET_CHECK(milestones_[i] >= 1 && (i == 0 || milestones_[i] > milestones_[i - 1]),
                 "SequentialLR: milestones must be >= 1 and strictly increasing, got ", milestones_);
  }
  // As PyTorch: back to the initial lrs, every scheduler one epoch back, the first restarted.
  for (ParamGroup& g : optimizer.param_groups()) g.set_lr(g.option("initial_lr"));
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_epoch_ = 0;
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const size_t index = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  ChainableLRScheduler& scheduler = *schedulers_[index];
  if (index > 0 && milestones_[index - 1] == last_epoch_) {
    scheduler.step_to(0, /*closed_form=*/true);
  } else {
    scheduler.step();
  }
  last_lr_ = scheduler.get_last_lr();
}

SchedulerState SequentialLR::state() const {
  SchedulerState s;
  s.kind = name();
  s.scalars["last_epoch"] = static_cast<double>(last_epoch_);
  s.lists["last_lr"] = last_lr_;
  for (const auto& child : schedulers_) s.children.push_back(child->state());
  return s;
}

void SequentialLR::load_state(const SchedulerState& state) {
  check_kind(state);
  const int64_t last_epoch = state_epoch(state);
  std::vector<double> last_lr = state_list(state, "last_lr");
  load_children(schedulers_, state, name());
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
}

// ---------------------------------------------------------------- ChainedScheduler

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<ChainableLRScheduler>> schedulers)
    : LRScheduler("ChainedScheduler", common_optimizer(schedulers, "ChainedScheduler")),
      schedulers_(std::move(schedulers)) {
  last_epoch_ = 0;
  last_lr_ = group_lrs();
}

void ChainedScheduler::step() {
  for (auto& s : schedulers_) s->step();
  ++last_epoch_;
  last_lr_ = group_lrs();
}

SchedulerState ChainedScheduler::state() const {
  SchedulerState s;
  s.kind = name();
  s.scalars["last_epoch"] = static_cast<double>(last_epoch_);
  s.lists["last_lr"] = last_lr_;
  for (const auto& child : schedulers_) s.children.push_back(child->state());
  return s;
}

void ChainedScheduler::load_state(const SchedulerState& state) {
  check_kind(state);
  const int64_t last_epoch = state_epoch(state);
  std::vector<double> last_lr = state_list(state, "last_lr");
  load_children(schedulers_, state, name());
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
}

}  // namespace harnet
