#include "nn/swa.h"

#include <optional>

#include "autograd/error.h"
#include "nn/norm.h"

namespace harnet::nn {

namespace {

// average += (value - average) * weight, elementwise, both contiguous and of dtype T.
template <class T>
void move_towards(Tensor& average, const Tensor& value, double weight) {
  T* a = average.data<T>();
  const T* v = value.data<T>();
  const T w = static_cast<T>(weight);
  for (int64_t i = 0, n = average.numel(); i < n; ++i) a[i] += (v[i] - a[i]) * w;
}

void check_same(const std::pair<std::string, Tensor>& averaged, const std::pair<std::string, Tensor>& now,
                const char* what) {
  HARNET_CHECK(averaged.first == now.first && averaged.second.shape() == now.second.shape() &&
                   averaged.second.dtype() == now.second.dtype(),
               what, ": parameter '", now.first, "' ", now.second.shape(), " does not match the averaged '",
               averaged.first, "' ", averaged.second.shape());
}

}  // namespace

void ParameterAverage::update(const Module& module) {
  const auto params = module.named_parameters();
  if (count_ == 0) {
    average_.clear();
    for (const auto& [name, p] : params) average_.emplace_back(name, p.detach().contiguous_copy());
    count_ = 1;
    return;
  }
  HARNET_CHECK(params.size() == average_.size(), "ParameterAverage::update: the module has ", params.size(),
               " parameters, the average ", average_.size());
  const double weight = 1.0 / static_cast<double>(count_ + 1);
  for (size_t i = 0; i < params.size(); ++i) {
    check_same(average_[i], params[i], "ParameterAverage::update");
    const Tensor value = params[i].second.is_contiguous() ? params[i].second : params[i].second.contiguous_copy();
    Tensor& average = average_[i].second;
    if (average.dtype() == DType::Float64)
      move_towards<double>(average, value, weight);
    else
      move_towards<float>(average, value, weight);
  }
  ++count_;
}

void ParameterAverage::copy_to(Module& module) const {
  HARNET_CHECK(count_ > 0, "ParameterAverage::copy_to: nothing has been averaged");
  auto params = module.named_parameters();
  HARNET_CHECK(params.size() == average_.size(), "ParameterAverage::copy_to: the module has ", params.size(),
               " parameters, the average ", average_.size());
  for (size_t i = 0; i < params.size(); ++i) {
    check_same(average_[i], params[i], "ParameterAverage::copy_to");
    params[i].second.copy_from(average_[i].second);
  }
}

StateDict ParameterAverage::state_dict() const {
  StateDict dict;
  for (const auto& [name, average] : average_) dict.insert(name, average);
  Tensor n = zeros({}, kInt64);
  n.fill_(static_cast<double>(count_));
  dict.insert("n_averaged", n);
  return dict;
}

void ParameterAverage::load_state_dict(const StateDict& dict) {
  HARNET_CHECK(dict.contains("n_averaged"), "ParameterAverage: the state has no 'n_averaged'");
  const Tensor& n = dict.at("n_averaged");
  HARNET_CHECK(n.numel() == 1, "ParameterAverage: 'n_averaged' must be a scalar, got shape ", n.shape());
  const double count = n.item();
  HARNET_CHECK(count >= 0 && count == static_cast<double>(static_cast<int64_t>(count)),
               "ParameterAverage: 'n_averaged' must be a count, got ", count);
  std::vector<std::pair<std::string, Tensor>> average;
  for (const auto& [name, value] : dict)
    if (name != "n_averaged") average.emplace_back(name, value.contiguous_copy());
  HARNET_CHECK((count == 0) == average.empty(), "ParameterAverage: 'n_averaged' is ", count, " with ",
               average.size(), " averaged parameters");
  average_ = std::move(average);
  count_ = static_cast<int64_t>(count);
}

int64_t update_bn(Module& module, const std::function<void()>& run_batches) {
  std::vector<std::pair<BatchNormBase*, std::optional<double>>> norms;
  for (const auto& [name, m] : module.named_modules())
    if (auto* bn = dynamic_cast<BatchNormBase*>(m); bn && bn->options().track_running_stats) {
      norms.emplace_back(bn, bn->options().momentum);
      bn->reset_running_stats();
      bn->set_momentum(std::nullopt);
    }
  if (norms.empty()) return 0;
  // Momenta and mode come back however run_batches ends.
  struct Restore {
    Module& module;
    bool was_training;
    std::vector<std::pair<BatchNormBase*, std::optional<double>>>& norms;
    ~Restore() {
      for (auto& [bn, momentum] : norms) bn->set_momentum(momentum);
      module.train(was_training);
    }
  } restore{module, module.is_training(), norms};
  module.train();
  run_batches();
  return static_cast<int64_t>(norms.size());
}

}  // namespace harnet::nn
