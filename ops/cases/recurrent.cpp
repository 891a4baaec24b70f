// Gradcheck rows of the recurrent family: lstm (and gru) with one and two layers, both
// directions, with and without initial states, batch_first, unbatched, without bias, with
// dropout (a fixed generator inside fn, so every evaluation draws the same masks) and a strided
// input. Every output (output, h_n[, c_n]) enters the checked function, flattened and
// concatenated, so each Jacobian covers all of them. T=3, N=2, I=3, H=2 keeps them small.
#include "ops/recurrent.h"

#include <cmath>

#include "ops/op_cases.h"
#include "ops/shape.h"

namespace harnet {

namespace {

struct RnnCase {
  const char* description;
  int64_t T = 3, N = 2, I = 3, H = 2, layers = 1;
  bool bidirectional = false, batch_first = false, bias = true, states = false, batched = true;
  double dropout = 0.0;
  bool transposed_input = false;  // the input is a transposed view of [N, T, I] memory
};

RnnOptions options_of(const RnnCase& c) {
  RnnOptions o;
  o.num_layers = c.layers;
  o.bias = c.bias;
  o.batch_first = c.batch_first;
  o.dropout = c.dropout;
  o.bidirectional = c.bidirectional;
  return o;
}

// Inputs: input, the weights, then the initial states (h0, and c0 for the LSTM) if the case has them.
std::function<std::vector<Tensor>(Generator&)> rnn_inputs(const RnnCase& c, int64_t gates, int64_t state_count) {
  return [c, gates, state_count](Generator& gen) {
    const int64_t D = c.bidirectional ? 2 : 1;
    Shape input_shape = c.batch_first ? Shape{c.N, c.T, c.I} : Shape{c.T, c.N, c.I};
    if (!c.batched) input_shape = {c.T, c.I};
    std::vector<Tensor> inputs{randn(input_shape, gen, kFloat64).set_requires_grad(true)};
    const double k = 1.0 / std::sqrt(static_cast<double>(c.H));
    const std::vector<Shape> shapes = gates == 4 ? lstm_weight_shapes(c.I, c.H, c.layers, c.bidirectional, c.bias)
                                                 : gru_weight_shapes(c.I, c.H, c.layers, c.bidirectional, c.bias);
    for (const Shape& s : shapes) inputs.push_back(rand(s, gen, kFloat64, -k, k).set_requires_grad(true));
    if (c.states) {
      const Shape state = c.batched ? Shape{c.layers * D, c.N, c.H} : Shape{c.layers * D, c.H};
      for (int64_t k = 0; k < state_count; ++k) inputs.push_back(randn(state, gen, kFloat64).set_requires_grad(true));
    }
    return inputs;
  };
}

// The first input as the case passes it: a transposed view if asked.
Tensor input_of(const RnnCase& c, const Tensor& x) {
  if (!c.transposed_input) return x;
  // x [T, N, I] contiguous -> the same values read through a view of [N, T, I] memory.
  return transpose(contiguous(transpose(x, 0, 1)), 0, 1);
}

Tensor flat_concat(const std::vector<Tensor>& outputs) {
  std::vector<Tensor> flat;
  for (const Tensor& t : outputs) flat.push_back(reshape(t, {-1}));
  return cat(flat, 0);
}

GradcheckFn lstm_fn(const RnnCase& c) {
  return [c](const std::vector<Tensor>& in) {
    const size_t n_weights = in.size() - (c.states ? 3 : 1);
    const std::vector<Tensor> weights(in.begin() + 1, in.begin() + 1 + static_cast<std::ptrdiff_t>(n_weights));
    Generator gen(99);  // the same dropout masks at every evaluation
    RnnOptions o = options_of(c);
    o.generator = &gen;
    const LstmResult r = c.states ? lstm(input_of(c, in[0]), weights, o, in[n_weights + 1], in[n_weights + 2])
                                  : lstm(input_of(c, in[0]), weights, o);
    return flat_concat({r.output, r.h_n, r.c_n});
  };
}

GradcheckFn gru_fn(const RnnCase& c) {
  return [c](const std::vector<Tensor>& in) {
    const size_t n_weights = in.size() - (c.states ? 2 : 1);
    const std::vector<Tensor> weights(in.begin() + 1, in.begin() + 1 + static_cast<std::ptrdiff_t>(n_weights));
    Generator gen(99);
    RnnOptions o = options_of(c);
    o.generator = &gen;
    const GruResult r =
        c.states ? gru(input_of(c, in[0]), weights, o, in[n_weights + 1]) : gru(input_of(c, in[0]), weights, o);
    return flat_concat({r.output, r.h_n});
  };
}

std::vector<RnnCase> rnn_cases() {
  std::vector<RnnCase> cases;
  auto add = [&](const char* description, auto edit) {
    RnnCase c;
    c.description = description;
    edit(c);
    cases.push_back(c);
  };
  add("T=3 N=2 I=3 H=2, 1 layer", [](RnnCase&) {});
  add("T=3 N=2 I=3 H=2, 1 layer, initial states", [](RnnCase& c) { c.states = true; });
  add("T=3 N=2 I=3 H=2, 2 layers", [](RnnCase& c) { c.layers = 2; });
  add("T=3 N=2 I=3 H=2, 2 layers, initial states", [](RnnCase& c) {
    c.layers = 2;
    c.states = true;
  });
  add("T=3 N=2 I=3 H=2, bidirectional, initial states", [](RnnCase& c) {
    c.bidirectional = true;
    c.states = true;
  });
  add("T=2 N=2 I=2 H=2, 2 layers bidirectional", [](RnnCase& c) {
    c.T = 2;
    c.I = 2;
    c.layers = 2;
    c.bidirectional = true;
  });
  add("N=2 T=3 I=3 H=2, batch_first, initial states", [](RnnCase& c) {
    c.batch_first = true;
    c.states = true;
  });
  add("N=3 T=2 I=2 H=2, batch_first bidirectional", [](RnnCase& c) {
    c.N = 3;
    c.T = 2;
    c.I = 2;
    c.batch_first = true;
    c.bidirectional = true;
  });
  add("T=3 N=2 I=3 H=2, 2 layers, no bias", [](RnnCase& c) {
    c.layers = 2;
    c.bias = false;
  });
  add("T=3 N=2 I=3 H=2, 2 layers, dropout 0.5 (fixed generator)", [](RnnCase& c) {
    c.layers = 2;
    c.dropout = 0.5;
  });
  add("T=4 I=3 H=3, unbatched, initial states", [](RnnCase& c) {
    c.T = 4;
    c.H = 3;
    c.batched = false;
    c.states = true;
  });
  add("T=3 N=2 I=3 H=2, transposed input", [](RnnCase& c) { c.transposed_input = true; });
  add("T=5 N=1 I=1 H=1, 1 layer, initial states", [](RnnCase& c) {
    c.T = 5;
    c.N = 1;
    c.I = 1;
    c.H = 1;
    c.states = true;
  });
  return cases;
}

}  // namespace

void add_recurrent_cases(std::vector<OpCase>& cases) {
  for (const RnnCase& c : rnn_cases()) cases.push_back({"lstm", c.description, rnn_inputs(c, 4, 2), lstm_fn(c)});
  for (const RnnCase& c : rnn_cases()) cases.push_back({"gru", c.description, rnn_inputs(c, 3, 1), gru_fn(c)});
}

}  // namespace harnet
