// Stochastic weight averaging, as torch.optim.swa_utils: ParameterAverage keeps the equal
// average of a module's parameters over the points where update() was called (AveragedModel's
// default averaging), and update_bn recomputes the BatchNorm statistics of the averaged
// weights, which no training step has seen (swa_utils.update_bn).
//
//   nn::ParameterAverage average;
//   for each epoch: train(); if (epoch >= swa_start) average.update(model);
//   average.copy_to(model);
//   nn::update_bn(model, [&] { for (batch : training data) model(batch.x); });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace harnet::nn {

class ParameterAverage {
 public:
  // Adds the module's parameters to the average: the first call copies them, the n-th
  // (n > 1) moves the average by (p - average) / n, as AveragedModel does. Every call must
  // see the same parameter names, shapes and dtypes; a mismatch throws naming the parameter.
  void update(const Module& module);
  // Number of update() calls averaged (AveragedModel's n_averaged).
  int64_t count() const { return count_; }
  // Writes the average into the module's parameters (in place; an optimizer holding them stays
  // valid). Throws when nothing was averaged or the module's parameters differ from those
  // averaged.
  void copy_to(Module& module) const;

  // The average by parameter name, plus "n_averaged" (an int64 scalar), for checkpoints.
  StateDict state_dict() const;
  // Restores a state_dict(); throws naming what is malformed (a missing or negative
  // n_averaged, averages without a count or a count without averages).
  void load_state_dict(const StateDict& dict);

 private:
  std::vector<std::pair<std::string, Tensor>> average_;  // own copies, in parameter order
  int64_t count_ = 0;
};

// Resets the running statistics of every BatchNorm in the module, switches them to a
// cumulative average (momentum None), puts the module in training mode and calls
// run_batches, which should run the module's forward over the training data; then restores
// each BatchNorm's momentum and the module's mode. Afterwards each running mean and variance
// is the average over the batches run_batches fed it. A module without BatchNorm is left
// untouched and run_batches is not called. Returns the number of BatchNorm modules.
int64_t update_bn(Module& module, const std::function<void()>& run_batches);

}  // namespace harnet::nn
