// What the recurrent operators share: argument checks, PyTorch's weight names and shapes, and
// the dropout mask between layers (see ops/recurrent.h, ops/recurrent_impl.h).
#include <cmath>

#include "ops/recurrent_impl.h"
#include "ops/shape.h"

namespace harnet {

namespace rnn_detail {

std::vector<std::string> rnn_weight_names(int64_t num_layers, bool bidirectional, bool bias) {
  std::vector<std::string> names;
  for (int64_t l = 0; l < num_layers; ++l)
    for (int d = 0; d < (bidirectional ? 2 : 1); ++d) {
      const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      names.push_back("weight_ih" + suffix);
      names.push_back("weight_hh" + suffix);
      if (bias) {
        names.push_back("bias_ih" + suffix);
        names.push_back("bias_hh" + suffix);
      }
    }
  return names;
}

std::vector<Shape> rnn_weight_shapes(int64_t gates, int64_t input_size, int64_t hidden_size, int64_t num_layers,
                                     bool bidirectional, bool bias) {
  const int64_t D = bidirectional ? 2 : 1;
  std::vector<Shape> shapes;
  for (int64_t l = 0; l < num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      shapes.push_back({gates * hidden_size, l == 0 ? input_size : D * hidden_size});
      shapes.push_back({gates * hidden_size, hidden_size});
      if (bias) {
        shapes.push_back({gates * hidden_size});
        shapes.push_back({gates * hidden_size});
      }
    }
  return shapes;
}

RnnShape check_rnn_arguments(const char* op, int64_t gates, const Tensor& input, const std::vector<Tensor>& weights,
                             const RnnOptions& options, const std::vector<const char*>& state_names,
                             const std::vector<Tensor>& states) {
  RnnShape s;
  s.op = op;
  s.gates = gates;
  HARNET_CHECK(input.defined(), op, ": input is an undefined tensor");
  HARNET_CHECK(is_floating(input.dtype()), op, ": expected a floating input (float32 or float64), got ",
               dtype_name(input.dtype()));
  HARNET_CHECK(input.dim() == 2 || input.dim() == 3, op,
               ": input must be 3-d ([T, N, I], or [N, T, I] with batch_first) or 2-d ([T, I], unbatched), got shape ",
               input.shape());
  HARNET_CHECK(options.num_layers >= 1, op, ": num_layers must be at least 1, got ", options.num_layers);
  HARNET_CHECK(options.dropout >= 0.0 && options.dropout <= 1.0, op, ": dropout must be in [0, 1], got ",
               options.dropout);
  HARNET_CHECK(!(options.training && options.dropout > 0.0 && options.num_layers > 1 && options.generator == nullptr),
               op, ": dropout=", options.dropout, " with num_layers=", options.num_layers,
               " in training needs options.generator");

  s.batched = input.dim() == 3;
  s.D = options.bidirectional ? 2 : 1;
  s.L = options.num_layers;
  s.bias = options.bias;
  if (s.batched) {
    s.T = input.shape()[options.batch_first ? 1 : 0];
    s.N = input.shape()[options.batch_first ? 0 : 1];
  } else {
    s.T = input.shape()[0];
    s.N = 1;
  }
  s.I = input.shape().back();
  HARNET_CHECK(s.T >= 1, op, ": input of shape ", input.shape(), " has no time steps");
  HARNET_CHECK(s.N >= 1, op, ": input of shape ", input.shape(), " has an empty batch");

  const std::vector<std::string> names = rnn_weight_names(s.L, options.bidirectional, s.bias);
  HARNET_CHECK(weights.size() == names.size(), op, ": expected ", names.size(), " weights for num_layers=", s.L,
               ", bidirectional=", options.bidirectional ? "true" : "false", ", bias=", s.bias ? "true" : "false", " (",
               names.front(), ", ", names[1], ", ...), got ", weights.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    HARNET_CHECK(weights[k].defined(), op, ": ", names[k], " is an undefined tensor");
    HARNET_CHECK(weights[k].dtype() == input.dtype(), op, ": ", names[k], " is ", dtype_name(weights[k].dtype()),
                 " but input is ", dtype_name(input.dtype()));
  }
  // The hidden size comes from weight_hh_l0 [G*H, H].
  const Shape& hh = weights[1].shape();
  HARNET_CHECK(hh.size() == 2 && hh[1] >= 1 && hh[0] == gates * hh[1], op, ": weight_hh_l0 must have shape [", gates,
               "*hidden_size, hidden_size] with hidden_size >= 1, got ", hh);
  s.H = hh[1];
  const std::vector<Shape> shapes = rnn_weight_shapes(gates, s.I, s.H, s.L, options.bidirectional, s.bias);
  for (size_t k = 0; k < weights.size(); ++k)
    HARNET_CHECK(weights[k].shape() == shapes[k], op, ": ", names[k], " must have shape ", shapes[k], " (input size ",
                 s.I, ", hidden size ", s.H, "), got ", weights[k].shape());

  if (s.batched) {
    s.output_shape = options.batch_first ? Shape{s.N, s.T, s.D * s.H} : Shape{s.T, s.N, s.D * s.H};
    s.state_shape = {s.L * s.D, s.N, s.H};
  } else {
    s.output_shape = {s.T, s.D * s.H};
    s.state_shape = {s.L * s.D, s.H};
  }
  for (size_t k = 0; k < states.size(); ++k) {
    const Tensor& st = states[k];
    if (!st.defined()) continue;
    HARNET_CHECK(st.dtype() == input.dtype(), op, ": ", state_names[k], " is ", dtype_name(st.dtype()),
                 " but input is ", dtype_name(input.dtype()));
    HARNET_CHECK(st.shape() == s.state_shape, op, ": ", state_names[k], " must have shape ", s.state_shape,
                 " ([num_layers*directions, ", s.batched ? "N, " : "", "hidden_size]) for input of shape ",
                 input.shape(), ", got ", st.shape());
  }

  // Row (t, n) of the caller's [T, N, .] or [N, T, .] memory.
  s.layout.T = s.T;
  s.layout.N = s.N;
  const bool batch_major = s.batched && options.batch_first;
  s.layout.step_rows = batch_major ? 1 : s.N;
  s.layout.batch_rows = batch_major ? s.T : 1;
  return s;
}

Tensor initial_state(const Tensor& states, int64_t k, const RnnShape& s, DType dtype) {
  if (!states.defined()) return zeros({s.N, s.H}, dtype);
  return reshape(narrow(states, 0, k, 1), {s.N, s.H});
}

Tensor to_time_major(const Tensor& x, const RnnShape& s, bool batch_first) {
  if (!s.batched) return unsqueeze(x, 1);
  return batch_first ? transpose(x, 0, 1) : x;
}

Tensor from_time_major(const Tensor& x, const RnnShape& s, bool batch_first) {
  if (!s.batched) return squeeze(x, 1);
  return batch_first ? transpose(x, 0, 1) : x;
}

}  // namespace rnn_detail

Tensor rnn_dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype) {
  HARNET_CHECK(p >= 0.0 && p <= 1.0, "rnn_dropout_mask: p must be in [0, 1], got ", p);
  Tensor mask = empty(shape, dtype);
  dispatch_floating(dtype, "rnn_dropout_mask", [&](auto tag) {
    using T = decltype(tag);
    const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    T* m = mask.data<T>();
    const int64_t n = mask.numel();
    for (int64_t i = 0; i < n; ++i) m[i] = gen.uniform() >= p ? scale : T(0);  // kept with probability 1 - p
  });
  return mask;
}

}  // namespace harnet
