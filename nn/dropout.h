// Dropout: torch.nn.Dropout over ops/dropout.h (inverted dropout; the identity in eval).
#pragma once

#include <string>

#include "autograd/generator.h"
#include "nn/module.h"

namespace harnet::nn {

// The module owns the generator its masks are drawn from, seeded at construction with one
// draw from the generator it is given (the one the model's initialisation uses), so the
// masks of a run are reproducible from the model's seed and the module outlives no
// generator. generator() exposes it (e.g. to save or restore its state with a checkpoint).
class Dropout : public UnaryModule {
 public:
  // p in [0, 1], else an error naming p.
  Dropout(double p, Generator& gen);

  // training: each element kept with probability 1 - p and scaled by 1 / (1 - p);
  // eval: the input itself.
  Tensor forward(const Tensor& input) override;

  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;  // "p=0.3, inplace=False"

  double p() const { return p_; }
  Generator& generator() { return gen_; }

 private:
  double p_;
  Generator gen_;
};

}  // namespace harnet::nn
