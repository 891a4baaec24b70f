// Module: the base of every layer and model, with PyTorch's semantics and names.
//
// A module owns tensors of two kinds and child modules, each registered under a name and kept
// in registration order:
//   parameters  trainable leaves (requires_grad), e.g. Linear's "weight" and "bias",
//               LSTM's "weight_ih_l0";
//   buffers     state that is not trained, e.g. BatchNorm's "running_mean" and the int64
//               "num_batches_tracked"; persistent buffers are saved in the state dict,
//               non-persistent ones (caches, masks) are not;
//   children    sub-modules, shared (std::shared_ptr), e.g. Sequential's "0", "1", ...
// Qualified names join the path with dots exactly as PyTorch does ("spatial.0.weight",
// "lstm.weight_ih_l0", "head.3.bias"), so a state dict maps one to one onto PyTorch's.
//
// Parameters and buffers live in members of the derived class; the registry refers to those
// members ("slots"). A module author writes
//     class Linear : public UnaryModule {
//       Tensor weight, bias;
//       Linear(...) { weight = empty({out, in}); register_parameter("weight", weight); ... }
//       Tensor forward(const Tensor& x) override { return linear(x, weight, bias); }
//     };
// and forward reads its members directly. Because the registry points at the members, tools
// can rebind a slot (module_check differentiates w.r.t. parameters that way), and modules can
// be neither copied nor moved: create them with std::make_shared. Slots kept in a container
// (an LSTM's per-layer weights) must be sized before registering, so they never move.
//
// Modules are called through a call operator (UnaryModule::operator() for the one-tensor
// kind), which runs forward and reports the call to the thread's ForwardObserver, if any; that
// is how summary() sees every layer. Modules with other signatures (an LSTM returning
// (output, (h, c)), attention taking query, key and value) define their own forward and call
// operator, which ends with report_forward(outputs).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace harnet::nn {

// ---------------------------------------------------------------- state dict

// An ordered map from qualified name to tensor: a model's parameters and persistent buffers,
// in PyTorch's order (a module's own parameters, then its own buffers, then each child's).
class StateDict {
 public:
  using Entry = std::pair<std::string, Tensor>;

  // Throws if the key is already present or the tensor is undefined.
  void insert(const std::string& key, const Tensor& value);
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  // Throws naming the key if it is absent.
  const Tensor& at(const std::string& key) const;
  // Replaces the value of an existing key (keeps its position).
  void set(const std::string& key, const Tensor& value);
  void erase(const std::string& key);
  std::vector<std::string> keys() const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // key -> position in entries_
};

// What a non-strict load_state_dict did not load.
struct LoadReport {
  // A key present in both whose tensor cannot be copied in: left untouched in the model.
  struct Mismatch {
    std::string key;
    Shape model_shape;
    DType model_dtype;
    Shape checkpoint_shape;
    DType checkpoint_dtype;
  };
  std::vector<std::string> missing_keys;     // the model has them, the dict does not
  std::vector<std::string> unexpected_keys;  // the dict has them, the model does not
  std::vector<Mismatch> mismatched;          // shape or dtype differ

  bool complete() const { return missing_keys.empty() && unexpected_keys.empty() && mismatched.empty(); }
  // One line listing every problem; "complete" when there is none.
  std::string to_string() const;
};

// ---------------------------------------------------------------- module

class Module;

// Sees every module call made through a call operator on the installing thread.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // Called after module's forward has returned, with its output tensors.
  virtual void on_forward(const Module& module, const std::vector<Tensor>& outputs) = 0;
};

// True while a ForwardObserver is installed on the current thread: a caller that would fuse
// modules into one call (skipping their own reports) calls them one by one instead.
bool forward_observer_installed();

// Installs an observer for the current thread while it lives; the previous one (if any) is
// restored afterwards, so scopes nest.
class ScopedForwardObserver {
 public:
  explicit ScopedForwardObserver(ForwardObserver& observer);
  ~ScopedForwardObserver();
  ScopedForwardObserver(const ScopedForwardObserver&) = delete;
  ScopedForwardObserver& operator=(const ScopedForwardObserver&) = delete;

 private:
  ForwardObserver* previous_;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;  // the registry points into the module: it cannot move
  Module& operator=(const Module&) = delete;

  // The class name as PyTorch prints it: "Linear", "Sequential".
  virtual std::string type_name() const = 0;
  // What goes inside the parentheses when printed, PyTorch's extra_repr:
  // "in_features=128, out_features=64, bias=True". Empty by default.
  virtual std::string extra_repr() const { return ""; }
  // The module tree as PyTorch's repr prints it.
  std::string to_string() const;

  // ---- the registry, recursively, with dotted names. A tensor or module reachable along
  // several paths (shared) is listed once, under its first name, as in PyTorch.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;  // persistent or not
  std::vector<Tensor> buffers() const;
  // Direct children only, in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // This module (name "") and every descendant, depth first in registration order. The
  // pointers do not own: they live as long as this module.
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  std::vector<std::pair<std::string, Module*>> named_modules();

  // Number of parameter elements (shared parameters counted once).
  int64_t num_parameters() const;

  // ---- state
  // Parameters and persistent buffers under their qualified names. The tensors share memory
  // with the model but carry no autograd state (PyTorch's detached tensors).
  StateDict state_dict() const;
  // Copies the dict's values into the model's existing tensors (their identity is kept, so an
  // optimizer holding them stays valid), without recording a graph.
  // strict: any missing or unexpected key, or a shape or dtype mismatch, throws one Error
  //   naming every such key (and both shapes / dtypes), and nothing is loaded.
  // non-strict: loads every key that matches and returns what it did not load.
  // Either way a dict tensor that is undefined or holds NaN/inf throws, naming the key.
  LoadReport load_state_dict(const StateDict& dict, bool strict = true);

  // ---- mode, gradients, dtype
  // Sets training mode on this module and every descendant (Dropout and BatchNorm read it).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();
  // Converts every floating parameter and buffer to dtype, in place: each tensor keeps its
  // identity (handles held elsewhere see the new values) and its gradient, converted too.
  // Integer buffers (num_batches_tracked) are left alone, as in PyTorch.
  void to(DType dtype);

  // ---- slots, for tools that rebind tensors (module_check differentiates w.r.t. parameters
  // by pointing the slots at its own leaves for the duration of a call). This module only.
  const std::vector<std::pair<std::string, Tensor*>>& parameter_slots() { return parameters_; }

 protected:
  // Registers a member tensor as a parameter: it must be defined, floating and a leaf; it is
  // marked requires_grad. Names are non-empty, contain no '.', and are unique within the
  // module across parameters, buffers and children.
  void register_parameter(const std::string& name, Tensor& slot);
  // Registers a member tensor (any dtype) as a buffer; non-persistent buffers are not part of
  // the state dict.
  void register_buffer(const std::string& name, Tensor& slot, bool persistent = true);
  // Adds a child and returns it, typed, for the caller to keep:
  //   head = register_module("head", std::make_shared<Sequential>());
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // Call operators end with this: the thread's ForwardObserver (if any) sees the call.
  void report_forward(const std::vector<Tensor>& outputs) const;

 private:
  struct BufferSlot {
    std::string name;
    Tensor* slot;
    bool persistent;
  };

  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_state(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const;

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor*>> parameters_;
  std::vector<BufferSlot> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

// ---------------------------------------------------------------- one tensor in, one out

// The modules Sequential can chain: forward(input) -> output.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& input) = 0;
  // Runs forward and reports the call (see ForwardObserver). Call modules this way, not
  // through forward(), so that observers see them.
  Tensor operator()(const Tensor& input);
  // summary(*this, one call on example_input): see below.
  std::string summary(const Tensor& example_input);
};

// ---------------------------------------------------------------- summary

// Runs `forward` once (in eval mode, without a graph; every module's mode is restored
// afterwards) and lists each leaf layer it called, in call order: qualified name, type,
// output shape(s) and parameter count, then the total parameter count of the model:
//   name        type     output shape  params
//   ------------------------------------------
//   0           Linear   [4, 64]          8256
//   ...
//   ------------------------------------------
//   total params: 8906
// A module called but not registered in the model is listed as "<unregistered>".
std::string summary(Module& model, const std::function<void()>& forward);

}  // namespace harnet::nn
