#include "nn/module.h"

#include <algorithm>
#include <ostream>
#include <sstream>
#include <type_traits>
#include <unordered_set>

#include "autograd/autograd.h"
#include "ops/elementwise.h"

namespace harnet::nn {

// ---------------------------------------------------------------- state dict

void StateDict::insert(const std::string& key, const Tensor& value) {
  HARNET_CHECK(!contains(key), "StateDict: key \"", key, "\" is already present");
  HARNET_CHECK(value.defined(), "StateDict: the tensor for key \"", key, "\" is undefined");
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, value);
}

const Tensor& StateDict::at(const std::string& key) const {
  auto it = index_.find(key);
  HARNET_CHECK(it != index_.end(), "StateDict: no key \"", key, "\"");
  return entries_[it->second].second;
}

void StateDict::set(const std::string& key, const Tensor& value) {
  auto it = index_.find(key);
  HARNET_CHECK(it != index_.end(), "StateDict: no key \"", key, "\" to replace");
  HARNET_CHECK(value.defined(), "StateDict: the tensor for key \"", key, "\" is undefined");
  entries_[it->second].second = value;
}

void StateDict::erase(const std::string& key) {
  auto it = index_.find(key);
  HARNET_CHECK(it != index_.end(), "StateDict: no key \"", key, "\" to erase");
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> keys;
  keys.reserve(entries_.size());
  for (const Entry& e : entries_) keys.push_back(e.first);
  return keys;
}

namespace {

std::string quoted_list(const std::vector<std::string>& keys) {
  std::string s;
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", \"" : "\"") + keys[i] + "\"";
  return s;
}

}  // namespace

std::string LoadReport::to_string() const {
  if (complete()) return "complete";
  std::vector<std::string> parts;
  if (!missing_keys.empty()) parts.push_back("missing key(s) " + quoted_list(missing_keys));
  if (!unexpected_keys.empty()) parts.push_back("unexpected key(s) " + quoted_list(unexpected_keys));
  for (const Mismatch& m : mismatched) {
    const char* kind = m.model_shape != m.checkpoint_shape ? "shape" : "dtype";
    parts.push_back(str_cat(kind, " mismatch for \"", m.key, "\": the checkpoint has ", shape_str(m.checkpoint_shape),
                            " ", dtype_name(m.checkpoint_dtype), ", the model has ", shape_str(m.model_shape), " ",
                            dtype_name(m.model_dtype)));
  }
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "; " : "") + parts[i];
  return s;
}

// ---------------------------------------------------------------- observers

namespace {
thread_local ForwardObserver* t_forward_observer = nullptr;
}  // namespace

ScopedForwardObserver::ScopedForwardObserver(ForwardObserver& observer) : previous_(t_forward_observer) {
  t_forward_observer = &observer;
}
ScopedForwardObserver::~ScopedForwardObserver() { t_forward_observer = previous_; }

bool forward_observer_installed() { return t_forward_observer != nullptr; }

void Module::report_forward(const std::vector<Tensor>& outputs) const {
  if (t_forward_observer != nullptr) t_forward_observer->on_forward(*this, outputs);
}

// ---------------------------------------------------------------- registration

void Module::check_new_name(const std::string& name, const char* what) const {
  HARNET_CHECK(!name.empty(), type_name(), ": ", what, " name must not be empty");
  HARNET_CHECK(name.find('.') == std::string::npos, type_name(), ": ", what, " name \"", name,
               "\" must not contain '.' (dots separate the levels of qualified names)");
  auto taken = [&](const auto& entries) {
    return std::any_of(entries.begin(), entries.end(), [&](const auto& e) {
      if constexpr (std::is_same_v<std::decay_t<decltype(e)>, BufferSlot>)
        return e.name == name;
      else
        return e.first == name;
    });
  };
  HARNET_CHECK(!taken(parameters_), type_name(), ": cannot register ", what, " \"", name,
               "\": a parameter of that name exists");
  HARNET_CHECK(!taken(buffers_), type_name(), ": cannot register ", what, " \"", name,
               "\": a buffer of that name exists");
  HARNET_CHECK(!taken(children_), type_name(), ": cannot register ", what, " \"", name,
               "\": a child module of that name exists");
}

void Module::register_parameter(const std::string& name, Tensor& slot) {
  check_new_name(name, "parameter");
  HARNET_CHECK(slot.defined(), type_name(), ": parameter \"", name, "\" is an undefined tensor");
  HARNET_CHECK(is_floating(slot.dtype()), type_name(), ": parameter \"", name, "\" must be floating, got ",
               dtype_name(slot.dtype()));
  HARNET_CHECK(slot.is_leaf(), type_name(), ": parameter \"", name,
               "\" must be a leaf tensor (it was computed by an operation; detach() it)");
  slot.set_requires_grad(true);
  parameters_.emplace_back(name, &slot);
}

void Module::register_buffer(const std::string& name, Tensor& slot, bool persistent) {
  check_new_name(name, "buffer");
  HARNET_CHECK(slot.defined(), type_name(), ": buffer \"", name, "\" is an undefined tensor");
  buffers_.push_back(BufferSlot{name, &slot, persistent});
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "child module");
  HARNET_CHECK(module != nullptr, type_name(), ": child module \"", name, "\" is null");
  children_.emplace_back(name, std::move(module));
}

// ---------------------------------------------------------------- walking the tree

namespace {

// Depth-first, registration order, each module once (PyTorch's memo).
template <class ModulePtr>
void walk_modules(ModulePtr module, const std::string& prefix, std::unordered_set<const Module*>& seen,
                  std::vector<std::pair<std::string, ModulePtr>>& out) {
  if (!seen.insert(module).second) return;
  out.emplace_back(prefix, module);
  for (const auto& [name, child] : module->named_children())
    walk_modules<ModulePtr>(child.get(), prefix.empty() ? name : prefix + "." + name, seen, out);
}

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const { return children_; }

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  std::unordered_set<const Module*> seen;
  walk_modules<const Module*>(this, "", seen, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  std::unordered_set<const Module*> seen;
  walk_modules<Module*>(this, "", seen, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& [prefix, module] : named_modules())
    for (const auto& [name, slot] : module->parameters_)
      if (seen.insert(slot->impl()).second) out.emplace_back(join_name(prefix, name), *slot);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& [prefix, module] : named_modules())
    for (const BufferSlot& b : module->buffers_)
      if (seen.insert(b.slot->impl()).second) out.emplace_back(join_name(prefix, b.name), *b.slot);
  return out;
}

std::vector<Tensor> Module::buffers() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

// ---------------------------------------------------------------- state

// PyTorch's state_dict order: own parameters, own persistent buffers, then each child. No
// deduplication: a shared module appears under each of its names.
void Module::collect_state(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const {
  for (const auto& [name, slot] : parameters_) out.emplace_back(prefix + name, slot);
  for (const BufferSlot& b : buffers_)
    if (b.persistent) out.emplace_back(prefix + b.name, b.slot);
  for (const auto& [name, child] : children_) child->collect_state(prefix + name + ".", out);
}

StateDict Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect_state("", slots);
  StateDict dict;
  for (const auto& [key, slot] : slots) dict.insert(key, slot->detach());
  return dict;
}

LoadReport Module::load_state_dict(const StateDict& dict, bool strict) {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect_state("", slots);

  LoadReport report;
  std::vector<std::pair<Tensor*, const Tensor*>> to_copy;  // model slot <- dict value
  std::unordered_set<std::string> model_keys;
  for (const auto& [key, slot] : slots) {
    model_keys.insert(key);
    if (!dict.contains(key)) {
      report.missing_keys.push_back(key);
      continue;
    }
    const Tensor& value = dict.at(key);
    HARNET_CHECK(!is_floating(value.dtype()) || all_finite(value), "load_state_dict: the checkpoint value of \"", key,
                 "\" (shape ", value.shape(), ") holds NaN or infinite values");
    if (value.shape() != slot->shape() || value.dtype() != slot->dtype()) {
      report.mismatched.push_back({key, slot->shape(), slot->dtype(), value.shape(), value.dtype()});
      continue;
    }
    to_copy.emplace_back(slot, &value);
  }
  for (const auto& [key, value] : dict)
    if (!model_keys.count(key)) report.unexpected_keys.push_back(key);

  if (strict && !report.complete())
    throw Error(str_cat("load_state_dict (strict) into ", type_name(), ": ", report.to_string()));
  NoGradGuard no_grad;
  for (auto& [slot, value] : to_copy) slot->copy_from(*value);
  return report;
}

// ---------------------------------------------------------------- mode, gradients, dtype

void Module::train(bool on) {
  for (auto& [name, module] : named_modules()) module->training_ = on;
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

void Module::to(DType dtype) {
  HARNET_CHECK(is_floating(dtype), type_name(), ".to: modules convert to floating dtypes only, got ",
               dtype_name(dtype));
  std::unordered_set<const TensorImpl*> done;
  auto convert = [&](Tensor& t) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype || !done.insert(t.impl()).second) return;
    // Rewrites the tensor's own implementation (not the slot) so that every handle to it,
    // e.g. an optimizer's, sees the converted values: PyTorch's `param.data = ...`.
    Tensor converted = t.cast(dtype);
    TensorImpl& impl = *t.impl();
    impl.storage = converted.storage();
    impl.strides = converted.strides();
    impl.offset = 0;
    impl.dtype = dtype;
    if (impl.grad.defined()) impl.grad = impl.grad.cast(dtype);
  };
  for (auto& [prefix, module] : named_modules()) {
    for (auto& [name, slot] : module->parameters_) convert(*slot);
    for (BufferSlot& b : module->buffers_) convert(*b.slot);
  }
}

// ---------------------------------------------------------------- printing

namespace {

// PyTorch's _addindent: every line but the first indented by `spaces`.
std::string add_indent(const std::string& text, int spaces) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out += std::string(static_cast<size_t>(spaces), ' ');
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

// PyTorch's Module.__repr__, line for line.
std::string Module::to_string() const {
  const std::string extra = extra_repr();
  std::vector<std::string> extra_lines = extra.empty() ? std::vector<std::string>{} : split_lines(extra);
  std::vector<std::string> child_lines;
  for (const auto& [name, child] : children_)
    child_lines.push_back("(" + name + "): " + add_indent(child->to_string(), 2));
  std::string s = type_name() + "(";
  if (extra_lines.size() == 1 && child_lines.empty()) {
    s += extra_lines[0];
  } else if (!extra_lines.empty() || !child_lines.empty()) {
    std::vector<std::string> lines = extra_lines;
    lines.insert(lines.end(), child_lines.begin(), child_lines.end());
    for (const std::string& line : lines) s += "\n  " + line;
    s += "\n";
  }
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.to_string(); }

// ---------------------------------------------------------------- unary modules

Tensor UnaryModule::operator()(const Tensor& input) {
  Tensor output = forward(input);
  report_forward({output});
  return output;
}

std::string UnaryModule::summary(const Tensor& example_input) {
  return nn::summary(*this, [&] { (*this)(example_input); });
}

// ---------------------------------------------------------------- summary

namespace {

// Records one row per module call; rows() keeps those of the innermost modules called.
class SummaryRecorder : public ForwardObserver {
 public:
  struct Row {
    const Module* module;
    std::string name, type, output_shapes;
    int64_t params;
  };

  explicit SummaryRecorder(const Module& model) {
    for (const auto& [name, module] : model.named_modules()) names_.emplace(module, name.empty() ? "(model)" : name);
  }

  void on_forward(const Module& module, const std::vector<Tensor>& outputs) override {
    auto it = names_.find(&module);
    std::string shapes;
    for (size_t i = 0; i < outputs.size(); ++i)
      shapes += (i ? ", " : "") + (outputs[i].defined() ? shape_str(outputs[i].shape()) : std::string("None"));
    calls_.push_back({&module, it != names_.end() ? it->second : "<unregistered>", module.type_name(), shapes,
                      module.num_parameters()});
  }

  // The calls of modules none of whose descendants was called: a container's leaves have
  // their own rows, while a module that computes with its children's parameters itself
  // (MultiheadAttention and its out_proj) is a row of its own.
  std::vector<Row> rows() const {
    std::unordered_set<const Module*> called;
    for (const Row& call : calls_) called.insert(call.module);
    std::vector<Row> out;
    for (const Row& call : calls_) {
      const auto descendants = call.module->named_modules();
      const bool container = std::any_of(descendants.begin() + 1, descendants.end(),
                                         [&](const auto& named) { return called.count(named.second) != 0; });
      if (!container) out.push_back(call);
    }
    return out;
  }

 private:
  std::unordered_map<const Module*, std::string> names_;
  std::vector<Row> calls_;
};

// Puts every module of a model in eval mode and restores each one's own mode afterwards.
class ScopedEvalMode {
 public:
  explicit ScopedEvalMode(Module& model) {
    for (auto& [name, module] : model.named_modules()) saved_.emplace_back(module, module->is_training());
    model.eval();
  }
  ~ScopedEvalMode() {
    // train() is recursive: restore parents first, then let each child's own flag win.
    for (auto& [module, training] : saved_) module->train(training);
  }
  ScopedEvalMode(const ScopedEvalMode&) = delete;
  ScopedEvalMode& operator=(const ScopedEvalMode&) = delete;

 private:
  std::vector<std::pair<Module*, bool>> saved_;
};

}  // namespace

std::string summary(Module& model, const std::function<void()>& forward) {
  SummaryRecorder recorder(model);
  {
    ScopedEvalMode eval_mode(model);
    NoGradGuard no_grad;
    ScopedForwardObserver observe(recorder);
    forward();
  }
  const std::vector<SummaryRecorder::Row> rows = recorder.rows();

  const std::string name_head = "name", type_head = "type", shape_head = "output shape", params_head = "params";
  size_t name_w = name_head.size(), type_w = type_head.size(), shape_w = shape_head.size(),
         params_w = params_head.size();
  for (const auto& r : rows) {
    name_w = std::max(name_w, r.name.size());
    type_w = std::max(type_w, r.type.size());
    shape_w = std::max(shape_w, r.output_shapes.size());
    params_w = std::max(params_w, std::to_string(r.params).size());
  }
  auto pad = [](const std::string& s, size_t w) { return s + std::string(w - s.size(), ' '); };
  auto pad_left = [](const std::string& s, size_t w) { return std::string(w - s.size(), ' ') + s; };
  const std::string rule(name_w + type_w + shape_w + params_w + 6, '-');

  std::ostringstream os;
  os << pad(name_head, name_w) << "  " << pad(type_head, type_w) << "  " << pad(shape_head, shape_w) << "  "
     << pad_left(params_head, params_w) << "\n"
     << rule << "\n";
  for (const auto& r : rows)
    os << pad(r.name, name_w) << "  " << pad(r.type, type_w) << "  " << pad(r.output_shapes, shape_w) << "  "
       << pad_left(std::to_string(r.params), params_w) << "\n";
  os << rule << "\n"
     << "total params: " << model.num_parameters() << "\n";
  return os.str();
}

}  // namespace harnet::nn
