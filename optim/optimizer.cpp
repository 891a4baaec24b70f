#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "autograd/autograd.h"

namespace harnet {

double ParamGroup::option(const std::string& name) const {
  auto it = options.find(name);
  HARNET_CHECK(it != options.end(), "param group has no option \"", name, "\"");
  return it->second;
}

namespace detail {

Tensor contiguous_param(const Tensor& param) { return param.is_contiguous() ? param : param.contiguous_copy(); }

Tensor contiguous_grad(const Tensor& param, const Tensor& grad, const std::string& optimizer) {
  HARNET_CHECK(grad.shape() == param.shape() && grad.dtype() == param.dtype(), optimizer, ".step: a gradient ",
               grad.shape(), " ", dtype_name(grad.dtype()), " does not match its parameter ", param.shape(), " ",
               dtype_name(param.dtype()));
  const bool shares_memory = grad.storage() == param.storage();
  return grad.is_contiguous() && !shares_memory ? grad : grad.contiguous_copy();
}

Tensor state_or_zeros(ParamState& state, const std::string& name, const Tensor& param) {
  auto it = state.find(name);
  if (it != state.end()) return it->second;
  Tensor t = zeros(param.shape(), param.dtype());
  state[name] = t;
  return t;
}

}  // namespace detail

namespace {

std::string join_names(const OptionMap& options) {
  std::string names;
  for (const auto& [name, value] : options) names += (names.empty() ? "" : ", ") + name;
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Optimizer::Optimizer(std::string name, OptionMap defaults) : name_(std::move(name)), defaults_(std::move(defaults)) {}

void Optimizer::check_option(bool ok, size_t index, const char* option, const char* rule, double value) const {
  HARNET_CHECK(ok, name_, ": param group ", index, ": ", option, " must be ", rule, ", got ", value);
}

void Optimizer::add_initial_groups(std::vector<ParamGroup> groups) {
  size_t count = 0;
  for (const ParamGroup& g : groups) count += g.params.size();
  HARNET_CHECK(count > 0, name_, ": got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  const size_t index = groups_.size();
  for (const auto& [option, value] : group.options) {
    HARNET_CHECK(defaults_.count(option), name_, ": param group ", index, " sets unknown option \"", option,
                 "\"; the options of ", name_, " are ", join_names(defaults_));
  }
  for (const auto& [option, value] : defaults_) group.options.emplace(option, value);  // keeps overrides
  check_options(group.options, index);
  check_new_params(group, index);
  groups_.push_back(std::move(group));
}

void Optimizer::check_new_params(const ParamGroup& group, size_t index) const {
  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl());
  for (size_t k = 0; k < group.params.size(); ++k) {
    const Tensor& p = group.params[k];
    HARNET_CHECK(p.defined(), name_, ": param group ", index, ": parameter ", k, " is undefined");
    HARNET_CHECK(is_floating(p.dtype()), name_, ": param group ", index, ": parameter ", k,
                 " must be float32 or float64, got ", dtype_name(p.dtype()));
    HARNET_CHECK(p.is_leaf(), name_, ": param group ", index, ": parameter ", k,
                 " is not a leaf (it has a grad_fn); optimize the leaf it was computed from");
    HARNET_CHECK(seen.insert(p.impl()).second, name_, ": param group ", index, ": parameter ", k, " ", p.shape(),
                 " is already optimized (listed twice in this group, or in an earlier group)");
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  // Options may have changed since construction (schedulers, user code): check every group
  // before updating any, so that a refused step changes nothing.
  for (size_t i = 0; i < groups_.size(); ++i) check_options(groups_[i].options, i);
  for (size_t i = 0; i < groups_.size(); ++i) update_group(groups_[i], i);
}

void Optimizer::zero_grad(bool set_to_none) {
  for (ParamGroup& g : groups_) {
    for (Tensor& p : g.params) {
      if (!p.grad().defined()) continue;
      if (set_to_none) {
        p.zero_grad();
      } else {
        p.grad().fill_(0.0);
      }
    }
  }
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState out;
  int64_t index = 0;
  for (const ParamGroup& g : groups_) {
    GroupState group;
    group.options = g.options;
    for (const Tensor& p : g.params) {
      auto it = state_.find(p.impl());
      if (it != state_.end() && !it->second.empty()) {
        ParamState& copy = out.state[index];
        for (const auto& [name, t] : it->second) copy[name] = t.contiguous_copy();
      }
      group.params.push_back(index++);
    }
    out.groups.push_back(std::move(group));
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& state) {
  const std::string where = name_ + ".load_state_dict";
  HARNET_CHECK(state.groups.size() == groups_.size(), where, ": the state has ", state.groups.size(),
               " param groups, this optimizer ", groups_.size());

  // Saved index -> parameter, pairing the saved groups' lists with ours in order (as PyTorch).
  std::map<int64_t, Tensor> param_of_index;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const GroupState& saved = state.groups[g];
    HARNET_CHECK(saved.params.size() == groups_[g].params.size(), where, ": param group ", g, " has ",
                 saved.params.size(), " parameters in the state, ", groups_[g].params.size(), " in this optimizer");
    for (size_t k = 0; k < saved.params.size(); ++k) {
      HARNET_CHECK(param_of_index.emplace(saved.params[k], groups_[g].params[k]).second, where,
                   ": parameter index ", saved.params[k], " is listed twice in the state's groups");
    }
    for (const auto& [option, value] : defaults_) {
      HARNET_CHECK(saved.options.count(option), where, ": param group ", g, " of the state lacks option \"", option,
                   "\" (a state saved by another optimizer?)");
    }
    check_options(saved.options, g);
  }

  const StateNames names = state_names();
  std::unordered_map<const TensorImpl*, ParamState> loaded;
  for (const auto& [index, saved] : state.state) {
    auto it = param_of_index.find(index);
    HARNET_CHECK(it != param_of_index.end(), where, ": the state has an entry for parameter index ", index,
                 ", which no param group lists");
    const Tensor& param = it->second;
    ParamState& copy = loaded[param.impl()];
    for (const std::string& required : names.required) {
      HARNET_CHECK(saved.empty() || saved.count(required), where, ": the state of parameter ", index, " lacks \"",
                   required, "\"");
    }
    for (const auto& [name, t] : saved) {
      HARNET_CHECK(contains(names.required, name) || contains(names.optional, name), where, ": the state of parameter ",
                   index, " has \"", name, "\", which ", name_, " does not use (a state saved by another optimizer?)");
      HARNET_CHECK(t.defined(), where, ": \"", name, "\" of parameter ", index, " is undefined");
      if (name == "step") {
        HARNET_CHECK(t.numel() == 1, where, ": \"step\" of parameter ", index, " must hold one value, has shape ",
                     t.shape());
        const double step = t.item();
        HARNET_CHECK(std::isfinite(step) && step >= 0 && step == std::floor(step), where, ": \"step\" of parameter ",
                     index, " must be a whole number >= 0, got ", step);
        copy[name] = scalar_tensor(step, names.step_dtype);
        continue;
      }
      HARNET_CHECK(t.shape() == param.shape() && t.dtype() == param.dtype(), where, ": \"", name, "\" of parameter ",
                   index, " is ", t.shape(), " ", dtype_name(t.dtype()), ", the parameter ", param.shape(), " ",
                   dtype_name(param.dtype()));
      copy[name] = t.contiguous_copy();
    }
  }

  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = state.groups[g].options;
  state_ = std::move(loaded);
}

}  // namespace harnet
