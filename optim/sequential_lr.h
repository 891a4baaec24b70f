// Composing schedulers, as PyTorch's SequentialLR and ChainedScheduler.
//
// The linear warm-up in front of any schedule:
//   auto warmup = std::make_shared<LinearLR>(opt, 0.1, 1.0, 5);
//   auto cosine = std::make_shared<CosineAnnealingLR>(opt, 95);
//   SequentialLR schedule(opt, {warmup, cosine}, {5});
// Construct the wrapped schedulers on the same optimizer first (each applies its first value, as
// in PyTorch); SequentialLR then resets the lrs to "initial_lr" and restarts the first.
#pragma once

#include <memory>
#include <vector>

#include "optim/lr_scheduler.h"

namespace harnet {

// schedulers[0] until milestones[0], then schedulers[1] (restarted at its epoch 0 through its
// closed form), and so on; milestones strictly increasing, one fewer than schedulers.
class SequentialLR final : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<ChainableLRScheduler>> schedulers,
               std::vector<int64_t> milestones);

  void step() override;
  SchedulerState state() const override;
  void load_state(const SchedulerState& state) override;

 private:
  std::vector<std::shared_ptr<ChainableLRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

// Steps every scheduler at each step, in order: their factors multiply.
class ChainedScheduler final : public LRScheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<ChainableLRScheduler>> schedulers);

  void step() override;
  SchedulerState state() const override;
  void load_state(const SchedulerState& state) override;

 private:
  std::vector<std::shared_ptr<ChainableLRScheduler>> schedulers_;
};

}  // namespace harnet
