// The optimizer base class, as torch.optim.Optimizer: parameters are organised in groups, each
// with its own hyperparameters (a group's options override the optimizer's defaults); step()
// updates, in place and without recording a graph, every parameter whose gradient is defined;
// zero_grad() drops the gradients. Schedulers read and write a group's "lr" (and OneCycleLR its
// "momentum" or "beta1") between steps.
//
// Hyperparameters live in a map by PyTorch's names, so a scheduler or a checkpoint writer can
// reach them without knowing the optimizer. PyTorch's `betas` pair is stored as "beta1" and
// "beta2"; flags (nesterov, amsgrad, centered) are 0 or 1. Schedulers add their bookkeeping
// ("initial_lr", OneCycleLR's "max_lr", ...) to the same map, as PyTorch adds it to the group dict.
//
// Checkpoints: state_dict() gives an OptimizerState with PyTorch's layout (per group the
// hyperparameters and the indices of its parameters; per parameter index its state tensors by
// name: "step", "exp_avg", "momentum_buffer", ...); load_state_dict() validates it against this
// optimizer's parameters before changing anything.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/tensor.h"

namespace harnet {

using OptionMap = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  // When constructing: the options that differ from the optimizer's defaults. Once the group
  // belongs to an optimizer: every option.
  OptionMap options;

  double lr() const { return option("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
  double weight_decay() const { return option("weight_decay"); }
  void set_weight_decay(double weight_decay) { options["weight_decay"] = weight_decay; }
  bool has_option(const std::string& name) const { return options.count(name) != 0; }
  // Throws naming the option if the group does not have it.
  double option(const std::string& name) const;
};

// The state tensors of one parameter, by PyTorch's names.
using ParamState = std::map<std::string, Tensor>;

struct GroupState {
  OptionMap options;            // every hyperparameter of the group, by name
  std::vector<int64_t> params;  // indices into the optimizer's parameters, numbered group by group
};

// What torch.optim.Optimizer.state_dict() holds. Parameters without state (never stepped) have
// no entry in `state`.
struct OptimizerState {
  std::vector<GroupState> groups;
  std::map<int64_t, ParamState> state;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "SGD", "Adam", ...: prefixes every error message.
  const std::string& name() const { return name_; }

  // One update of every parameter whose gradient is defined (the rest are skipped, their state
  // untouched). No graph is recorded. Every group's options are checked first.
  void step();
  // set_to_none (PyTorch 2's default, which harnet follows): drop the gradients. Otherwise
  // fill them with zeros in place.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // A new group; options missing from group.options take the defaults. Its parameters must not
  // belong to another group.
  void add_param_group(ParamGroup group);
  const OptionMap& defaults() const { return defaults_; }

  // Copies: later steps do not change a state taken before them.
  OptimizerState state_dict() const;
  // Replaces every group's hyperparameters and every parameter's state with copies of those in
  // `state`, after checking that it fits (group count and sizes, state names, shapes, dtypes,
  // hyperparameter values); on error nothing changes.
  void load_state_dict(const OptimizerState& state);

 protected:
  // defaults: every hyperparameter of this optimizer, by name.
  Optimizer(std::string name, OptionMap defaults);
  // The constructor's groups, added (and checked) at the end of each optimizer's constructor:
  // check_options is virtual, so this base's constructor cannot do it.
  void add_initial_groups(std::vector<ParamGroup> groups);

  // Checks the hyperparameters of group `index` and throws naming the option if one is invalid.
  virtual void check_options(const OptionMap& options, size_t index) const = 0;
  // Updates every parameter of the group that has a gradient (see for_each_param_with_grad);
  // the group's options have passed check_options.
  virtual void update_group(const ParamGroup& group, size_t index) = 0;

  // The state names this optimizer knows: those a non-empty state must hold, and the others;
  // and the dtype of its "step" counter (float32 for Adam, int64 for RMSprop, as PyTorch).
  struct StateNames {
    std::vector<std::string> required;
    std::vector<std::string> optional;
    DType step_dtype = kFloat32;
  };
  virtual StateNames state_names() const = 0;

  // Calls fn(param, grad, state) for each parameter of the group whose gradient is defined.
  // param and grad are contiguous (a non-contiguous parameter is updated through a contiguous
  // copy written back afterwards; a non-contiguous gradient is read through a copy) and never
  // share memory with each other or with the state tensors (a gradient sharing the parameter's
  // storage is copied), so kernels may treat their buffers as restrict; state is the
  // parameter's own, empty on its first step.
  template <class Fn>
  void for_each_param_with_grad(const ParamGroup& group, Fn&& fn);

  // Throws "<name>: param group <index>: <option> must be <rule>, got <value>" when !ok.
  void check_option(bool ok, size_t index, const char* option, const char* rule, double value) const;

 private:
  // Throws naming the parameter if one of group's is unusable or already in another group.
  void check_new_params(const ParamGroup& group, size_t index) const;

  std::string name_;
  OptionMap defaults_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

// ---------------------------------------------------------------- implementation

namespace detail {
// The contiguous tensor to update for param (itself when contiguous), and a contiguous gradient.
Tensor contiguous_param(const Tensor& param);
Tensor contiguous_grad(const Tensor& param, const Tensor& grad, const std::string& optimizer);
// state[name], created as zeros shaped like param when absent.
Tensor state_or_zeros(ParamState& state, const std::string& name, const Tensor& param);
}  // namespace detail

template <class Fn>
void Optimizer::for_each_param_with_grad(const ParamGroup& group, Fn&& fn) {
  for (const Tensor& param : group.params) {
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    Tensor work = detail::contiguous_param(param);
    fn(work, detail::contiguous_grad(param, grad, name_), state_[param.impl()]);
    if (work.impl() != param.impl()) Tensor(param).copy_from(work);
  }
}

}  // namespace harnet
