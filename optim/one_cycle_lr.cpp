#include "optim/one_cycle_lr.h"

#include <cmath>
#include <numbers>

namespace harnet {

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& o) : ChainableLRScheduler("OneCycleLR", optimizer) {
  HARNET_CHECK(o.total_steps >= 0 && o.epochs >= 0 && o.steps_per_epoch >= 0,
               "OneCycleLR: total_steps, epochs and steps_per_epoch must be >= 0, got ", o.total_steps, ", ", o.epochs,
               ", ", o.steps_per_epoch);
  total_steps_ = o.total_steps > 0 ? o.total_steps : o.epochs * o.steps_per_epoch;
  HARNET_CHECK(total_steps_ > 0, "OneCycleLR: set total_steps, or epochs and steps_per_epoch (both >= 1)");
  HARNET_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1], got ", o.pct_start);
  HARNET_CHECK(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
               "OneCycleLR: anneal_strategy must be \"cos\" or \"linear\", got \"", o.anneal_strategy, "\"");
  HARNET_CHECK(std::isfinite(o.div_factor) && o.div_factor > 0, "OneCycleLR: div_factor must be a finite number > 0, got ",
               o.div_factor);
  HARNET_CHECK(std::isfinite(o.final_div_factor) && o.final_div_factor > 0,
               "OneCycleLR: final_div_factor must be a finite number > 0, got ", o.final_div_factor);
  linear_ = o.anneal_strategy == "linear";

  const double total = static_cast<double>(total_steps_);
  if (o.three_phase) {
    phases_ = {{o.pct_start * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {2 * o.pct_start * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
               {total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{o.pct_start * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }

  std::vector<ParamGroup>& groups = optimizer.param_groups();
  const std::vector<double> max_lrs = per_group(o.max_lr, "max_lr");
  for (size_t i = 0; i < groups.size(); ++i) {
    HARNET_CHECK(std::isfinite(max_lrs[i]) && max_lrs[i] >= 0, "OneCycleLR: max_lr must be a finite number >= 0, got ",
                 max_lrs[i]);
    groups[i].options["initial_lr"] = max_lrs[i] / o.div_factor;
    groups[i].options["max_lr"] = max_lrs[i];
    groups[i].options["min_lr"] = groups[i].options["initial_lr"] / o.final_div_factor;
  }

  cycle_momentum_ = o.cycle_momentum;
  if (cycle_momentum_) {
    const OptionMap& defaults = optimizer.defaults();
    HARNET_CHECK(defaults.count("beta1") || defaults.count("momentum"), "OneCycleLR: cycle_momentum needs an optimizer ",
                 "with a momentum or betas (SGD, RMSprop, Adam, AdamW), ", optimizer.name(), " has neither; set ",
                 "cycle_momentum = false");
    momentum_option_ = defaults.count("beta1") ? "beta1" : "momentum";
    const std::vector<double> max_momenta = per_group(o.max_momentum, "max_momentum");
    const std::vector<double> base_momenta = per_group(o.base_momentum, "base_momentum");
    for (size_t i = 0; i < groups.size(); ++i) {
      HARNET_CHECK(std::isfinite(max_momenta[i]) && max_momenta[i] >= 0 && std::isfinite(base_momenta[i]) &&
                       base_momenta[i] >= 0,
                   "OneCycleLR: max_momentum and base_momentum must be finite numbers >= 0, got ", max_momenta[i],
                   " and ", base_momenta[i]);
      groups[i].options[momentum_option_] = max_momenta[i];
      groups[i].options["max_momentum"] = max_momenta[i];
      groups[i].options["base_momentum"] = base_momenta[i];
    }
  }
  start();
}

std::vector<double> OneCycleLR::per_group(const std::vector<double>& values, const char* name) const {
  const size_t groups = optimizer().param_groups().size();
  if (values.size() == 1) return std::vector<double>(groups, values[0]);
  HARNET_CHECK(values.size() == groups, "OneCycleLR: ", name, " needs one value, or one per param group (",
               groups, "), got ", values.size());
  return values;
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (linear_) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  HARNET_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: tried to step ", last_epoch_ + 1,
               " times; the schedule has total_steps ", total_steps_);
  const double step = static_cast<double>(last_epoch_);
  std::vector<double> lrs;
  for (ParamGroup& group : optimizer().param_groups()) {
    double start_step = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (step <= phase.end_step || i + 1 == phases_.size()) {
        HARNET_CHECK(phase.end_step != start_step, "OneCycleLR: phase ", i + 1, " of the schedule has no steps ",
                     "(pct_start * total_steps leaves it empty); choose another pct_start");
        const double pct = (step - start_step) / (phase.end_step - start_step);
        lrs.push_back(anneal(group.option(phase.start_lr), group.option(phase.end_lr), pct));
        if (cycle_momentum_) {
          group.options[momentum_option_] =
              anneal(group.option(phase.start_momentum), group.option(phase.end_momentum), pct);
        }
        break;
      }
      start_step = phase.end_step;
    }
  }
  return lrs;
}

}  // namespace harnet
