// Lower the lr when a metric stops improving, as torch.optim.lr_scheduler.ReduceLROnPlateau
// (PyTorch 1.13): step(metric) once per epoch, e.g. with the validation loss. After more than
// `patience` epochs without improvement every group's lr becomes max(lr * factor, min_lr),
// unless that changes it by no more than eps; then `cooldown` epochs pass before bad epochs
// count again. Improvement (mode "min"): metric < best * (1 - threshold) ("rel") or
// metric < best - threshold ("abs"); mode "max" mirrors it.
// Unlike PyTorch, a NaN metric throws: it means training diverged, not "no improvement".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "optim/lr_scheduler.h"

namespace harnet {

struct ReduceLROnPlateauOptions {
  std::string mode = "min";  // or "max"
  double factor = 0.1;       // in [0, 1)
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // or "abs"
  int64_t cooldown = 0;
  std::vector<double> min_lr = {0.0};  // one for every group, or one per group
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  void step(double metric);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  Optimizer& optimizer() const { return *optimizer_; }

  // scalars: best, num_bad_epochs, cooldown_counter, last_epoch; lists: last_lr.
  SchedulerState state() const;
  void load_state(const SchedulerState& state);

 private:
  bool is_better(double metric) const;
  void reduce_lr();

  Optimizer* optimizer_;
  ReduceLROnPlateauOptions options_;
  bool maximize_ = false, relative_ = true;
  std::vector<double> min_lrs_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace harnet
