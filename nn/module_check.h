// The generic module checker every module passes (dlib's test_layer idea): given how to build
// a module and what to feed it, it checks in float64 what any correct layer must satisfy.
//
//   1. forward runs in float32 as built, output float32 and finite; after to(kFloat64) every
//      floating parameter and buffer is float64 and the output matches the float32 one;
//   2. repeated forward in eval mode is bit-identical (in train mode too, unless the module
//      draws random numbers there, like Dropout);
//   3. train and eval agree bit for bit (ModeBehaviour::Same), or differ (::Differs: Dropout,
//      BatchNorm);
//   4. gradcheck (autograd/gradcheck.h: central differences, accumulation, non-zero) w.r.t.
//      every floating input and every parameter, in each mode whose forward is deterministic;
//   5. on the module's own parameters: one backward gives every parameter and floating input
//      a finite, not all-zero gradient; a second backward doubles it (accumulation);
//      zero_grad() drops them; no graph is recorded under NoGradGuard;
//   6. state_dict round trip: a module built from another seed, loaded with this one's
//      state dict, gives bit-identical outputs in eval mode.
// Exceptions inside a check become failures: the result lists every failure, readably.
//
// Usage, for a one-tensor module:
//   ModuleCheckSpec spec;
//   spec.name = "Linear(4, 3)";
//   spec.make = [](Generator& g) { return std::make_shared<Linear>(4, 3, g); };
//   spec.input_shapes = {{2, 4}};
//   ModuleCheckResult r = check_module(spec);
//   EXPECT_TRUE(r.passed()) << r.report();
// For other signatures set spec.forward, e.g. an LSTM:
//   spec.forward = [](Module& m, const std::vector<Tensor>& in) {
//     auto [out, state] = static_cast<LSTM&>(m)(in[0]);
//     return cat({flatten(out), flatten(state.h), flatten(state.c)});
//   };
// Keep modules and inputs small: gradcheck builds full Jacobians.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/generator.h"
#include "autograd/gradcheck.h"
#include "nn/module.h"

namespace harnet::nn {

// How a module's output depends on train() / eval().
enum class ModeBehaviour {
  Same,     // identical outputs in both modes (Linear, activations, LSTM without dropout)
  Differs,  // must differ for the checker's input (Dropout, BatchNorm)
};

struct ModuleCheckSpec {
  std::string name;  // names the module in every message, e.g. "Linear(4, 3, bias=false)"
  // Builds the module (float32, as a user would) from a generator.
  std::function<std::shared_ptr<Module>(Generator&)> make;
  // Floating inputs, standard normal float64 of these shapes ...
  std::vector<Shape> input_shapes;
  // ... or, when set, exactly these inputs (masks, lengths, non-normal values). Floating ones
  // must be float64; they are differentiated, other dtypes are passed as they are.
  std::function<std::vector<Tensor>(Generator&)> make_inputs;
  // Runs the module on the inputs and returns one floating tensor; default: the
  // UnaryModule call operator on the single input.
  std::function<Tensor(Module&, const std::vector<Tensor>&)> forward;
  ModeBehaviour mode_behaviour = ModeBehaviour::Same;
  // The train-mode forward draws random numbers (Dropout): train mode is then neither
  // gradchecked nor expected to repeat itself.
  bool random_in_train = false;
  GradcheckOptions gradcheck;
  uint64_t seed = 0;
};

struct ModuleCheckResult {
  std::vector<std::string> failures;  // each names the module, the check and what went wrong
  bool passed() const { return failures.empty(); }
  std::string report() const;  // one failure per line; "passed" when there is none
};

ModuleCheckResult check_module(const ModuleCheckSpec& spec);

}  // namespace harnet::nn
