#include "nn/container.h"

#include <string>

namespace harnet::nn {

size_t detail::checked_index(int64_t index, size_t size, const char* container) {
  const int64_t n = static_cast<int64_t>(size);
  HARNET_CHECK(index >= -n && index < n, container, ": index ", index, " is out of range for ", n, " modules");
  return static_cast<size_t>(index < 0 ? index + n : index);
}

// ---------------------------------------------------------------- Sequential

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> modules) {
  for (auto& m : modules) append(std::move(m));
}

void Sequential::append(std::shared_ptr<UnaryModule> module) {
  HARNET_CHECK(module != nullptr, "Sequential: cannot append a null module (position ", modules_.size(), ")");
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](int64_t index) const {
  return modules_[detail::checked_index(index, modules_.size(), "Sequential")];
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& module : modules_) x = (*module)(x);
  return x;
}

// ---------------------------------------------------------------- ModuleList

ModuleList::ModuleList(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) append(std::move(m));
}

void ModuleList::append(std::shared_ptr<Module> module) {
  HARNET_CHECK(module != nullptr, "ModuleList: cannot append a null module (position ", modules_.size(), ")");
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

const std::shared_ptr<Module>& ModuleList::operator[](int64_t index) const {
  return modules_[detail::checked_index(index, modules_.size(), "ModuleList")];
}

}  // namespace harnet::nn
