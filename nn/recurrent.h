// Recurrent modules: torch.nn.LSTM and torch.nn.GRU over ops/recurrent.h.
//
// Parameters, per layer l and direction (PyTorch's names and order, G = 4 gates for the LSTM,
// 3 for the GRU, H = hidden_size, D = 2 if bidirectional else 1):
//   weight_ih_l{l}[_reverse] [G*H, I_l]   (I_0 = input_size, I_l = D*H above)
//   weight_hh_l{l}[_reverse] [G*H, H]
//   bias_ih_l{l}[_reverse]   [G*H]        (only with bias)
//   bias_hh_l{l}[_reverse]   [G*H]
// all initialised as PyTorch does: U(-1/sqrt(H), 1/sqrt(H)), in that order, from the
// generator given to the constructor.
//
// Dropout between layers (training only, dropout > 0, num_layers > 1) draws from a generator
// the module owns, seeded at construction with one draw from the given generator (after the
// weights), so masks are reproducible from the model's seed; generator() exposes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/generator.h"
#include "nn/module.h"
#include "ops/recurrent.h"

namespace harnet::nn {

// torch.nn.LSTM / GRU keyword arguments (proj_size is not supported).
struct RecurrentOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // in [0, 1]
  bool bidirectional = false;
};

// What LSTM and GRU share: construction, the flat weights, checks and the printed form.
class RecurrentBase : public Module {
 public:
  // "3, 4, num_layers=2, batch_first=True, bidirectional=True": the non-default arguments,
  // in PyTorch's order.
  std::string extra_repr() const override;

  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  const RecurrentOptions& options() const { return options_; }
  // The parameters in PyTorch's _flat_weights order (the operator's weight list).
  const std::vector<Tensor>& flat_weights() const { return flat_weights_; }
  Generator& generator() { return dropout_gen_; }

 protected:
  // names / shapes: lstm_ or gru_weight_names / _shapes for these arguments.
  RecurrentBase(const char* type, int64_t input_size, int64_t hidden_size, const RecurrentOptions& options,
                Generator& gen, bool lstm);
  // The operator's options for the current mode.
  RnnOptions rnn_options();
  // Throws, naming the module, unless input is [T, N, input_size] / [N, T, input_size] / [T, input_size].
  void check_input(const Tensor& input) const;

 private:
  std::string type_;
  int64_t input_size_, hidden_size_;
  RecurrentOptions options_;
  std::vector<Tensor> flat_weights_;  // sized before registration: the registry points into it
  Generator dropout_gen_;
};

class LSTM : public RecurrentBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const RecurrentOptions& options, Generator& gen);
  LSTM(int64_t input_size, int64_t hidden_size, Generator& gen) : LSTM(input_size, hidden_size, {}, gen) {}

  // input [T, N, I] ([N, T, I] batch_first, [T, I] unbatched); h0, c0 [L*D, N, H]
  // ([L*D, H] unbatched), absent = zeros -> {output [T, N, D*H], h_n, c_n [L*D, N, H]}
  // (see ops/recurrent.h).
  LstmResult forward(const Tensor& input, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());
  // forward, reported to the thread's ForwardObserver.
  LstmResult operator()(const Tensor& input, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

  std::string type_name() const override { return "LSTM"; }
};

class GRU : public RecurrentBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const RecurrentOptions& options, Generator& gen);
  GRU(int64_t input_size, int64_t hidden_size, Generator& gen) : GRU(input_size, hidden_size, {}, gen) {}

  // As LSTM::forward without the cell state -> {output, h_n}.
  GruResult forward(const Tensor& input, const Tensor& h0 = Tensor());
  GruResult operator()(const Tensor& input, const Tensor& h0 = Tensor());

  std::string type_name() const override { return "GRU"; }
};

}  // namespace harnet::nn
