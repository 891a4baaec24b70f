// Containers: Sequential chains one-tensor modules; ModuleList holds modules of any kind for
// a parent's own forward to use. Both name their children by position, "0", "1", ..., as
// PyTorch does, so "head.3.bias" means the bias of the fourth module of the child "head".
#pragma once

#include <memory>
#include <type_traits>
#include <vector>

#include "nn/module.h"

namespace harnet::nn {

namespace detail {
// Python-style index (negative counts from the end), checked against size; container names
// the caller in the message.
size_t checked_index(int64_t index, size_t size, const char* container);
}  // namespace detail

// Runs its modules in order, each one's output the next one's input; empty: the identity.
class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  // Sequential({std::make_shared<Linear>(128, 64, gen), std::make_shared<ReLU>()})
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> modules);

  // Appends a module under the next position's name and returns it, typed.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<UnaryModule, M>, "Sequential holds one-tensor modules (UnaryModule)");
    append(module);
    return module;
  }

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // Negative indices count from the end; out of range throws.
  const std::shared_ptr<UnaryModule>& operator[](int64_t index) const;
  // The module at index as M; throws naming both types if it is not one.
  template <class M>
  std::shared_ptr<M> at(int64_t index) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[index]);
    HARNET_CHECK(typed != nullptr, "Sequential: module ", index, " is a ", (*this)[index]->type_name(),
                 ", not the requested type");
    return typed;
  }
  std::vector<std::shared_ptr<UnaryModule>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<UnaryModule>>::const_iterator end() const { return modules_.end(); }

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  void append(std::shared_ptr<UnaryModule> module);
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

// A list of registered modules of any kind (LSTM layers, attention blocks, ...). It has no
// forward of its own: the parent iterates it.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  explicit ModuleList(std::vector<std::shared_ptr<Module>> modules);

  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "ModuleList holds modules");
    append(module);
    return module;
  }

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  const std::shared_ptr<Module>& operator[](int64_t index) const;
  template <class M>
  std::shared_ptr<M> at(int64_t index) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[index]);
    HARNET_CHECK(typed != nullptr, "ModuleList: module ", index, " is a ", (*this)[index]->type_name(),
                 ", not the requested type");
    return typed;
  }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

  std::string type_name() const override { return "ModuleList"; }

 private:
  void append(std::shared_ptr<Module> module);
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace harnet::nn
