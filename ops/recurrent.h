// Recurrent operators with torch.nn.LSTM / torch.nn.GRU semantics, as functions of the input,
// the flat list of weights (PyTorch's _flat_weights order) and the optional initial states.
//
// Shapes (L = num_layers, D = 2 if bidirectional else 1, H = hidden size, read from the weights):
//   input   [T, N, I]            or [N, T, I] with batch_first, or [T, I] (unbatched)
//   h0, c0  [L*D, N, H]          ([L*D, H] unbatched); absent means zeros
//   output  [T, N, D*H]          (batch_first: [N, T, D*H]; unbatched: [T, D*H]); the last layer's h_t,
//                                the reverse direction in the second half of the features
//   h_n,c_n [L*D, N, H]          the final states, index l*D + d
// Weights per layer l and direction d, in this order (names from lstm_weight_names):
//   weight_ih_l{l}[_reverse] [G*H, I_l]  (I_0 = I, I_l = D*H above)
//   weight_hh_l{l}[_reverse] [G*H, H]
//   bias_ih_l{l}[_reverse]   [G*H]       (only with bias)
//   bias_hh_l{l}[_reverse]   [G*H]
// with G = 4 gates for the LSTM (i, f, g, o) and 3 for the GRU (r, z, n).
//
// Dropout (training only, p = dropout) multiplies the output of every layer but the last by a
// mask drawn from options.generator (rnn_dropout_mask), as PyTorch does; it needs a generator.
//
// The whole multi-layer network is one autograd node with outputs (output, h_n[, c_n]); its
// backward is backpropagation through time with GEMMs (ops/lstm.cpp, ops/gru.cpp).
#pragma once

#include <string>
#include <vector>

#include "autograd/generator.h"
#include "autograd/tensor.h"

namespace harnet {

// Options shared by lstm() and gru(): torch.nn.LSTM's keyword arguments (proj_size is not
// supported) plus training and the generator its dropout draws from.
struct RnnOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // in [0, 1]; between layers, training only
  bool bidirectional = false;
  bool training = true;
  Generator* generator = nullptr;  // required when training with dropout > 0 and num_layers > 1
};
using LstmOptions = RnnOptions;
using GruOptions = RnnOptions;

// ---------------------------------------------------------------- LSTM
//   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
//   c' = f * c + i * g                              h' = o * tanh(c')

struct LstmResult {
  Tensor output, h_n, c_n;
};

// The PyTorch parameter names in _flat_weights order: weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0, weight_ih_l0_reverse, ...
std::vector<std::string> lstm_weight_names(int64_t num_layers, bool bidirectional, bool bias);
// Their shapes, in the same order.
std::vector<Shape> lstm_weight_shapes(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bidirectional,
                                      bool bias);

// The optimised LSTM: per layer and direction one GEMM projects the inputs of all time steps,
// one GEMM per step runs the recurrence, gate nonlinearities are fused in one pass; directions
// and blocks of the batch run in parallel. Recorded as one autograd node.
LstmResult lstm(const Tensor& input, const std::vector<Tensor>& weights, const LstmOptions& options = {},
                const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

// The naive reference: plain loops per time step, no BLAS, no autograd (forward only).
LstmResult lstm_reference(const Tensor& input, const std::vector<Tensor>& weights, const LstmOptions& options = {},
                          const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

// The same network composed of the framework's differentiable primitives (matmul, sigmoid,
// tanh, mul, add, split, stack, cat, ...), one step at a time: its autograd gradients are the
// reference for lstm()'s fused backward. Slow; for tests.
LstmResult lstm_reference_autograd(const Tensor& input, const std::vector<Tensor>& weights,
                                   const LstmOptions& options = {}, const Tensor& h0 = Tensor(),
                                   const Tensor& c0 = Tensor());

// ---------------------------------------------------------------- GRU
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)     z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h

struct GruResult {
  Tensor output, h_n;
};

std::vector<std::string> gru_weight_names(int64_t num_layers, bool bidirectional, bool bias);
std::vector<Shape> gru_weight_shapes(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bidirectional,
                                     bool bias);

GruResult gru(const Tensor& input, const std::vector<Tensor>& weights, const GruOptions& options = {},
              const Tensor& h0 = Tensor());
GruResult gru_reference(const Tensor& input, const std::vector<Tensor>& weights, const GruOptions& options = {},
                        const Tensor& h0 = Tensor());
GruResult gru_reference_autograd(const Tensor& input, const std::vector<Tensor>& weights,
                                 const GruOptions& options = {}, const Tensor& h0 = Tensor());

// ---------------------------------------------------------------- dropout between layers

// The mask the recurrent operators multiply a layer's output by (shape of that output, in the
// caller's layout): each element independently 1 / (1 - p) with probability 1 - p, else 0,
// drawn in row-major order from gen (one uniform() per element). p = 1 gives zeros. The masks
// between layers 0-1, 1-2, ... are drawn in that order, so the optimised operators and the
// references drawing from equally seeded generators apply the same masks.
Tensor rnn_dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype);

}  // namespace harnet
