// The 1cycle policy, as torch.optim.lr_scheduler.OneCycleLR (PyTorch 1.13): the lr rises from
// max_lr / div_factor to max_lr over the first pct_start of total_steps, then falls to
// max_lr / div_factor / final_div_factor (three_phase: falls back to the initial lr over a phase
// as long as the first, then to the minimum), by cosine or linear annealing. With
// cycle_momentum the momentum moves the opposite way between max_momentum and base_momentum:
// the group's "momentum" (SGD, RMSprop) or "beta1" (Adam, AdamW: PyTorch's betas[0]).
// Step once per batch; stepping past total_steps throws.
// The groups keep PyTorch's bookkeeping options: "initial_lr", "max_lr", "min_lr",
// "max_momentum", "base_momentum".
#pragma once

#include <string>
#include <vector>

#include "optim/lr_scheduler.h"

namespace harnet {

struct OneCycleLROptions {
  std::vector<double> max_lr;  // required: one value for every group, or one per group
  int64_t total_steps = 0;     // 0: epochs * steps_per_epoch
  int64_t epochs = 0;
  int64_t steps_per_epoch = 0;
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // or "linear"
  bool cycle_momentum = true;
  std::vector<double> base_momentum = {0.85};  // one for every group, or one per group
  std::vector<double> max_momentum = {0.95};
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR final : public ChainableLRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  int64_t total_steps() const { return total_steps_; }

 private:
  // One phase runs from the previous phase's end_step to its own, annealing between two group
  // options (by name).
  struct Phase {
    double end_step;
    const char* start_lr;
    const char* end_lr;
    const char* start_momentum;
    const char* end_momentum;
  };

  std::vector<double> get_lr() override;
  double anneal(double start, double end, double pct) const;
  // options.<name> for each group: one value broadcast, or one per group.
  std::vector<double> per_group(const std::vector<double>& values, const char* name) const;

  int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  bool linear_ = false;
  bool cycle_momentum_ = false;
  std::string momentum_option_;  // "momentum" or "beta1"
};

}  // namespace harnet
