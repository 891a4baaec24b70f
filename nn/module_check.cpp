#include "nn/module_check.h"

#include <cmath>
#include <sstream>
#include <unordered_map>

#include "autograd/autograd.h"

namespace harnet::nn {

std::string ModuleCheckResult::report() const {
  if (failures.empty()) return "passed";
  std::string s;
  for (size_t i = 0; i < failures.size(); ++i) s += (i ? "\n" : "") + failures[i];
  return s;
}

namespace {

// Float32 forward against float64 forward of the same (float32-representable) weights.
constexpr double kFloat32Tolerance = 1e-4;  // |a - b| <= tol * (1 + |b|)
// A second backward adds the same gradient again: exact up to the last bit in practice.
constexpr double kAccumulationTolerance = 1e-12;

// Runs the module on inputs the way the spec says.
Tensor run_forward(const ModuleCheckSpec& spec, Module& module, const std::vector<Tensor>& inputs) {
  if (spec.forward) return spec.forward(module, inputs);
  auto* unary = dynamic_cast<UnaryModule*>(&module);
  HARNET_CHECK(unary != nullptr, "the module is a ", module.type_name(),
               ", not a one-tensor module (UnaryModule): set spec.forward");
  HARNET_CHECK(inputs.size() == 1, "a one-tensor module takes one input, the spec gives ", inputs.size(),
               ": set spec.forward");
  return (*unary)(inputs[0]);
}

std::vector<Tensor> make_inputs(const ModuleCheckSpec& spec, Generator& gen) {
  std::vector<Tensor> inputs;
  if (spec.make_inputs) {
    inputs = spec.make_inputs(gen);
  } else {
    for (const Shape& shape : spec.input_shapes) inputs.push_back(randn(shape, gen, kFloat64));
  }
  HARNET_CHECK(!inputs.empty(), "the spec gives no inputs (input_shapes or make_inputs)");
  for (size_t i = 0; i < inputs.size(); ++i) {
    HARNET_CHECK(inputs[i].defined(), "input ", i, " is undefined");
    HARNET_CHECK(!is_floating(inputs[i].dtype()) || inputs[i].dtype() == kFloat64, "input ", i,
                 " must be float64 (the checker casts to float32 itself), got ", dtype_name(inputs[i].dtype()));
  }
  return inputs;
}

// Floating inputs as float32 copies, the others as they are.
std::vector<Tensor> as_float32(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) out.push_back(is_floating(t.dtype()) ? t.cast(kFloat32) : t);
  return out;
}

// Fresh leaves: floating inputs require grad, so gradients reach them.
std::vector<Tensor> differentiable_copies(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    if (!is_floating(t.dtype())) {
      out.push_back(t);
      continue;
    }
    Tensor copy = t.contiguous_copy();
    copy.set_requires_grad(true);
    out.push_back(copy);
  }
  return out;
}

// "" when a and b have the same shape, dtype and bits; otherwise what differs.
std::string exact_difference(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return str_cat("shapes ", a.shape(), " and ", b.shape());
  if (a.dtype() != b.dtype()) return str_cat("dtypes ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  int64_t differing = 0;
  size_t first = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool same = x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]));
    if (!same && differing++ == 0) first = i;
  }
  if (differing == 0) return "";
  std::ostringstream os;
  os.precision(17);
  os << differing << " of " << x.size() << " elements differ, first at " << first << ": " << x[first] << " vs "
     << y[first];
  return os.str();
}

std::string non_finite(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return str_cat("element ", i, " is ", v[i]);
  return "";
}

// The parameter tensors of a module, each once, with every slot that holds it (a shared
// parameter sits in several) and its qualified name.
struct ParameterBinding {
  std::string name;
  Tensor original;
  std::vector<Tensor*> slots;
};

std::vector<ParameterBinding> parameter_bindings(Module& module) {
  std::vector<ParameterBinding> bindings;
  std::unordered_map<const TensorImpl*, size_t> index;
  for (auto& [prefix, m] : module.named_modules()) {
    for (const auto& [name, slot] : m->parameter_slots()) {
      auto [it, inserted] = index.emplace(slot->impl(), bindings.size());
      if (inserted) bindings.push_back({prefix.empty() ? name : prefix + "." + name, *slot, {}});
      bindings[it->second].slots.push_back(slot);
    }
  }
  return bindings;
}

// Points every parameter slot at the given tensors while it lives (so a forward uses them
// and gradients flow to them), then restores the originals.
class ScopedParameterRebind {
 public:
  ScopedParameterRebind(const std::vector<ParameterBinding>& bindings, const std::vector<Tensor>& tensors)
      : bindings_(bindings) {
    for (size_t i = 0; i < bindings_.size(); ++i)
      for (Tensor* slot : bindings_[i].slots) *slot = tensors[i];
  }
  ~ScopedParameterRebind() {
    for (const ParameterBinding& b : bindings_)
      for (Tensor* slot : b.slots) *slot = b.original;
  }
  ScopedParameterRebind(const ScopedParameterRebind&) = delete;
  ScopedParameterRebind& operator=(const ScopedParameterRebind&) = delete;

 private:
  const std::vector<ParameterBinding>& bindings_;
};

class Checker {
 public:
  explicit Checker(const ModuleCheckSpec& spec) : spec_(spec) {}

  void fail(const std::string& check, const std::string& what) {
    result.failures.push_back(spec_.name + ": " + check + ": " + what);
  }
  // Runs body; an exception becomes a failure of `check`. False when it threw.
  template <class F>
  bool attempt(const std::string& check, F&& body) {
    try {
      body();
      return true;
    } catch (const std::exception& e) {
      fail(check, std::string("threw: ") + e.what());
      return false;
    }
  }

  ModuleCheckResult result;

 private:
  const ModuleCheckSpec& spec_;
};

// Gradcheck w.r.t. the floating inputs and every parameter, in the module's current mode.
void gradcheck_module(const ModuleCheckSpec& spec, Module& module, const std::vector<Tensor>& inputs,
                      const std::string& mode, Checker& checker) {
  const std::vector<ParameterBinding> bindings = parameter_bindings(module);
  std::vector<Tensor> all = differentiable_copies(inputs);
  std::string legend;
  for (size_t i = 0; i < inputs.size(); ++i)
    legend += str_cat(i ? ", " : "", i, " = input ", i, " ", inputs[i].shape());
  for (size_t k = 0; k < bindings.size(); ++k) {
    all.push_back(bindings[k].original.detach().set_requires_grad(true));
    legend += str_cat(", ", inputs.size() + k, " = ", bindings[k].name, " ", bindings[k].original.shape());
  }
  const size_t n_inputs = inputs.size();
  GradcheckFn fn = [&](const std::vector<Tensor>& leaves) {
    ScopedParameterRebind rebind(
        bindings, std::vector<Tensor>(leaves.begin() + static_cast<std::ptrdiff_t>(n_inputs), leaves.end()));
    return run_forward(spec, module,
                       std::vector<Tensor>(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(n_inputs)));
  };
  const std::string check = "gradcheck (" + mode + " mode)";
  checker.attempt(check, [&] {
    GradcheckResult r = gradcheck(fn, all, spec.gradcheck);
    if (!r.passed) checker.fail(check, r.message + " [gradcheck inputs: " + legend + "]");
  });
}

// One backward gives every parameter and floating input a finite, non-zero gradient; a
// second one doubles it; zero_grad() drops the parameters' gradients.
void check_own_gradients(const ModuleCheckSpec& spec, Module& module, const std::vector<Tensor>& inputs,
                         Checker& checker) {
  const std::string check = "gradients (train mode)";
  checker.attempt(check, [&] {
    module.train();
    module.zero_grad();
    std::vector<Tensor> leaves = differentiable_copies(inputs);
    Tensor out = run_forward(spec, module, leaves);
    if (!out.requires_grad()) {
      checker.fail(check, "the output does not require grad: no graph was recorded");
      return;
    }
    // Everything that should receive a gradient, by name.
    std::vector<std::pair<std::string, Tensor>> targets = module.named_parameters();
    for (size_t i = 0; i < leaves.size(); ++i)
      if (is_floating(leaves[i].dtype())) targets.emplace_back(str_cat("input ", i), leaves[i]);

    Generator gen(spec.seed + 7);
    Tensor seed = randn(out.shape(), gen, out.dtype());
    out.backward(seed, /*retain_graph=*/true);
    std::vector<std::vector<double>> first(targets.size());
    for (size_t k = 0; k < targets.size(); ++k) {
      const auto& [name, t] = targets[k];
      if (!t.grad().defined()) {
        checker.fail(check, name + " received no gradient (is it used by forward?)");
        continue;
      }
      first[k] = t.grad().to_vector<double>();
      if (std::string bad = non_finite(t.grad()); !bad.empty()) checker.fail(check, name + "'s gradient: " + bad);
      bool any_nonzero = false;
      for (double g : first[k]) any_nonzero |= g != 0.0;
      if (!any_nonzero && t.numel() > 0) checker.fail(check, name + "'s gradient is all zero");
    }

    out.backward(seed);
    for (size_t k = 0; k < targets.size(); ++k) {
      const auto& [name, t] = targets[k];
      if (first[k].empty() || !t.grad().defined()) continue;
      const std::vector<double> second = t.grad().to_vector<double>();
      for (size_t e = 0; e < second.size(); ++e) {
        if (std::fabs(second[e] - 2 * first[k][e]) > kAccumulationTolerance * (1 + std::fabs(first[k][e]))) {
          checker.fail(check, str_cat(name, ": a second backward did not accumulate (element ", e, ": ", second[e],
                                      " after two passes, ", first[k][e], " after one)"));
          break;
        }
      }
    }

    module.zero_grad();
    for (const auto& [name, p] : module.named_parameters())
      if (p.grad().defined()) checker.fail(check, name + " still has a gradient after zero_grad()");
  });

  checker.attempt("no-grad mode", [&] {
    NoGradGuard no_grad;
    Tensor out = run_forward(spec, module, differentiable_copies(inputs));
    if (out.grad_fn()) checker.fail("no-grad mode", "forward recorded a graph under NoGradGuard");
  });
}

}  // namespace

ModuleCheckResult check_module(const ModuleCheckSpec& spec) {
  Checker checker(spec);
  if (!spec.make) {
    checker.fail("spec", "no factory (spec.make)");
    return checker.result;
  }
  Generator gen(spec.seed);
  std::shared_ptr<Module> module;
  std::vector<Tensor> inputs;
  const bool built = checker.attempt("construction", [&] {
    module = spec.make(gen);
    HARNET_CHECK(module != nullptr, "the factory returned null");
    inputs = make_inputs(spec, gen);
  });
  if (!built) return checker.result;
  auto forward = [&](Module& m, const std::vector<Tensor>& in) {
    NoGradGuard no_grad;
    return run_forward(spec, m, in);
  };

  // 1. float32 as built, then float64.
  Tensor out32;
  checker.attempt("float32 forward", [&] {
    module->eval();
    out32 = forward(*module, as_float32(inputs));
    if (out32.dtype() != kFloat32) checker.fail("float32 forward", str_cat("output is ", dtype_name(out32.dtype())));
    if (std::string bad = non_finite(out32); !bad.empty()) checker.fail("float32 forward", "output " + bad);
  });
  const bool converted = checker.attempt("to(float64)", [&] {
    module->to(kFloat64);
    std::vector<std::pair<std::string, Tensor>> tensors = module->named_parameters();
    for (auto& b : module->named_buffers()) tensors.push_back(b);
    for (const auto& [name, t] : tensors)
      if (is_floating(t.dtype()) && t.dtype() != kFloat64)
        checker.fail("to(float64)", name + " is still " + dtype_name(t.dtype()));
  });
  if (!converted) return checker.result;

  // 2. eval mode: deterministic, and close to the float32 output.
  Tensor eval_out;
  checker.attempt("eval forward", [&] {
    module->eval();
    eval_out = forward(*module, inputs);
    if (eval_out.dtype() != kFloat64)
      checker.fail("eval forward", str_cat("float64 inputs gave a ", dtype_name(eval_out.dtype()), " output"));
    if (std::string bad = non_finite(eval_out); !bad.empty()) checker.fail("eval forward", "output " + bad);
    Tensor again = forward(*module, inputs);
    if (std::string diff = exact_difference(eval_out, again); !diff.empty())
      checker.fail("determinism (eval mode)", "two forwards differ: " + diff);
    if (!out32.defined()) return;
    if (out32.shape() != eval_out.shape()) {
      checker.fail("float32 vs float64", str_cat("output shapes ", out32.shape(), " and ", eval_out.shape()));
      return;
    }
    const std::vector<double> a = out32.to_vector<double>(), b = eval_out.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) {
      if (!(std::fabs(a[i] - b[i]) <= kFloat32Tolerance * (1 + std::fabs(b[i])))) {
        checker.fail("float32 vs float64", str_cat("element ", i, ": ", a[i], " in float32, ", b[i], " in float64"));
        break;
      }
    }
  });

  // 3. train mode: deterministic unless random by design; agrees with eval or must not.
  checker.attempt("train forward", [&] {
    module->train();
    Tensor train_out = forward(*module, inputs);
    if (std::string bad = non_finite(train_out); !bad.empty()) checker.fail("train forward", "output " + bad);
    if (!spec.random_in_train) {
      Tensor again = forward(*module, inputs);
      if (std::string diff = exact_difference(train_out, again); !diff.empty())
        checker.fail("determinism (train mode)", "two forwards differ: " + diff);
    }
    if (!eval_out.defined()) return;
    const std::string diff = exact_difference(train_out, eval_out);
    if (spec.mode_behaviour == ModeBehaviour::Same && !diff.empty())
      checker.fail("train vs eval", "declared ModeBehaviour::Same, but the outputs differ: " + diff);
    if (spec.mode_behaviour == ModeBehaviour::Differs && diff.empty())
      checker.fail("train vs eval", "declared ModeBehaviour::Differs, but train and eval outputs are identical");
  });

  // 4. gradcheck in each mode whose forward is deterministic (one suffices when both agree).
  if (!spec.random_in_train) {
    module->train();
    gradcheck_module(spec, *module, inputs, "train", checker);
  }
  if (spec.random_in_train || spec.mode_behaviour == ModeBehaviour::Differs) {
    module->eval();
    gradcheck_module(spec, *module, inputs, "eval", checker);
  }

  // 5. the module's own parameters.
  check_own_gradients(spec, *module, inputs, checker);

  // 6. state dict round trip into a module built from another seed.
  checker.attempt("state_dict round trip", [&] {
    Generator other_gen(spec.seed + 1);
    std::shared_ptr<Module> fresh = spec.make(other_gen);
    fresh->to(kFloat64);
    fresh->load_state_dict(module->state_dict());
    module->eval();
    fresh->eval();
    if (std::string diff = exact_difference(forward(*module, inputs), forward(*fresh, inputs)); !diff.empty())
      checker.fail("state_dict round trip",
                   "a fresh module loaded with the state dict computes another output: " + diff);
  });
  return checker.result;
}

}  // namespace harnet::nn
