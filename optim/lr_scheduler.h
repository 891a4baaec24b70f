// Learning-rate schedulers with PyTorch 1.13's semantics (torch.optim.lr_scheduler).
//
// A scheduler writes each param group's "lr" (constructing one already applies the first
// value, as in PyTorch); call optimizer.step() then scheduler.step() once per epoch (or per
// iteration). The schedulers here use PyTorch's recursive ("chainable") forms: each step
// scales the group's current lr, so schedulers that share an optimizer compose (ChainedScheduler),
// and the values are PyTorch's up to rounding (CosineAnnealingLR's recursion differs from its
// closed form by rounding; harnet follows the recursion, as PyTorch does).
//
// Checkpoints: state() holds what stepping changes (last_epoch, the step count, base_lrs,
// last_lr, ...); the settings come from the constructor, as a resumed run rebuilds its scheduler
// from its configuration. The lrs themselves live in the optimizer's groups (with "initial_lr"),
// so save and restore the optimizer's state_dict() alongside.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace harnet {

struct SchedulerState {
  std::string kind;                                  // "StepLR", ...: load_state refuses another kind
  std::map<std::string, double> scalars;             // "last_epoch", "step_count", ...
  std::map<std::string, std::vector<double>> lists;  // "base_lrs", "last_lr": one value per group
  std::vector<SchedulerState> children;              // SequentialLR, ChainedScheduler: one per scheduler
};

// What a training loop drives: step() once per epoch, get_last_lr(), state for checkpoints.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  virtual void step() = 0;
  // The lr of each group after the latest step (or the construction).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::string& name() const { return name_; }
  Optimizer& optimizer() const { return *optimizer_; }

  virtual SchedulerState state() const = 0;
  // Throws naming what does not fit (another kind, another number of groups, a missing value).
  virtual void load_state(const SchedulerState& state) = 0;

 protected:
  LRScheduler(std::string name, Optimizer& optimizer) : name_(std::move(name)), optimizer_(&optimizer) {}
  std::vector<double> group_lrs() const;
  // The state's scalar / list (of one value per group) `key`; throws naming it if absent or of
  // the wrong length.
  double state_scalar(const SchedulerState& state, const std::string& key) const;
  std::vector<double> state_list(const SchedulerState& state, const std::string& key) const;
  // The state's "last_epoch", checked to be a whole number >= -1.
  int64_t state_epoch(const SchedulerState& state) const;
  void check_kind(const SchedulerState& state) const;

  int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;

 private:
  std::string name_;
  Optimizer* optimizer_;
};

// PyTorch's _LRScheduler: a schedule given by get_lr(), the chainable form computed from the
// groups' current lrs and last_epoch (0 at construction, +1 per step), and, for SequentialLR's
// jumps, an optional closed form.
class ChainableLRScheduler : public LRScheduler {
 public:
  void step() override;
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  SchedulerState state() const override;
  void load_state(const SchedulerState& state) override;

 protected:
  ChainableLRScheduler(std::string name, Optimizer& optimizer) : LRScheduler(std::move(name), optimizer) {}
  // The last line of every constructor, as PyTorch's super().__init__: records each group's
  // "initial_lr" (unless present) as base_lrs and applies the value at last_epoch 0.
  void start();

  // New lr per group at last_epoch_ (already advanced), from the groups' current lrs.
  virtual std::vector<double> get_lr() = 0;
  // lr per group at last_epoch_ as a function of base_lrs alone; nullopt if there is none.
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }

  std::vector<double> base_lrs_;
  int64_t step_count_ = 0;

 private:
  friend class SequentialLR;
  // PyTorch's _initial_step: step_count back to 0, then one step.
  void initial_step();
  // Moves to `epoch`; closed_form: by the closed form where there is one (PyTorch's
  // step(epoch)), otherwise by get_lr().
  void step_to(int64_t epoch, bool closed_form);
  void apply(const std::vector<double>& lrs);
};

// lr * gamma every step_size steps.
class StepLR final : public ChainableLRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  int64_t step_size_;
  double gamma_;
};

// lr * gamma at each milestone (a milestone listed k times multiplies by gamma^k).
class MultiStepLR final : public ChainableLRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  std::vector<int64_t> milestones_;  // sorted
  double gamma_;
};

// lr * gamma every step.
class ExponentialLR final : public ChainableLRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  double gamma_;
};

// Cosine from base_lr down to eta_min over T_max steps, then back up over the next T_max, and so
// on: eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2, computed recursively.
class CosineAnnealingLR final : public ChainableLRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  int64_t T_max_;
  double eta_min_;
};

// The linear warm-up: lr factor from start_factor to end_factor over total_iters steps, then
// constant. Composed with another schedule by SequentialLR (sequential_lr.h).
class LinearLR final : public ChainableLRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

}  // namespace harnet
