#include "nn/recurrent.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "nn/init.h"

namespace harnet::nn {

namespace {

std::string python_float(double v) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  std::string s = buffer;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

RecurrentBase::RecurrentBase(const char* type, int64_t input_size, int64_t hidden_size,
                             const RecurrentOptions& options, Generator& gen, bool lstm)
    : type_(type), input_size_(input_size), hidden_size_(hidden_size), options_(options) {
  HARNET_CHECK(input_size > 0, type, ": input_size must be positive, got ", input_size);
  HARNET_CHECK(hidden_size > 0, type, ": hidden_size must be positive, got ", hidden_size);
  HARNET_CHECK(options.num_layers > 0, type, ": num_layers must be positive, got ", options.num_layers);
  HARNET_CHECK(options.dropout >= 0.0 && options.dropout <= 1.0, type, ": dropout must be in [0, 1], got ",
               options.dropout);
  const std::vector<std::string> names = lstm ? lstm_weight_names(options.num_layers, options.bidirectional, options.bias)
                                              : gru_weight_names(options.num_layers, options.bidirectional, options.bias);
  const std::vector<Shape> shapes =
      lstm ? lstm_weight_shapes(input_size, hidden_size, options.num_layers, options.bidirectional, options.bias)
           : gru_weight_shapes(input_size, hidden_size, options.num_layers, options.bidirectional, options.bias);
  flat_weights_.resize(names.size());
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (size_t i = 0; i < names.size(); ++i) {
    flat_weights_[i] = empty(shapes[i]);
    init::uniform_(flat_weights_[i], gen, -bound, bound);
    register_parameter(names[i], flat_weights_[i]);
  }
  dropout_gen_.manual_seed(gen.next_u64());
}

RnnOptions RecurrentBase::rnn_options() {
  return RnnOptions{.num_layers = options_.num_layers,
                    .bias = options_.bias,
                    .batch_first = options_.batch_first,
                    .dropout = options_.dropout,
                    .bidirectional = options_.bidirectional,
                    .training = is_training(),
                    .generator = &dropout_gen_};
}

void RecurrentBase::check_input(const Tensor& input) const {
  HARNET_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3) && input.size(-1) == input_size_, type_,
               "(", input_size_, ", ", hidden_size_, "): expected input ",
               options_.batch_first ? "[N, T, " : "[T, N, ", input_size_, "] or [T, ", input_size_, "], got ",
               input.defined() ? shape_str(input.shape()) : std::string("an undefined tensor"));
}

std::string RecurrentBase::extra_repr() const {
  std::string s = str_cat(input_size_, ", ", hidden_size_);
  if (options_.num_layers != 1) s += str_cat(", num_layers=", options_.num_layers);
  if (!options_.bias) s += ", bias=False";
  if (options_.batch_first) s += ", batch_first=True";
  if (options_.dropout != 0.0) s += ", dropout=" + python_float(options_.dropout);
  if (options_.bidirectional) s += ", bidirectional=True";
  return s;
}

// ---------------------------------------------------------------- LSTM

LSTM::LSTM(int64_t input_size, int64_t hidden_size, const RecurrentOptions& options, Generator& gen)
    : RecurrentBase("LSTM", input_size, hidden_size, options, gen, /*lstm=*/true) {}

LstmResult LSTM::forward(const Tensor& input, const Tensor& h0, const Tensor& c0) {
  check_input(input);
  return lstm(input, flat_weights(), rnn_options(), h0, c0);
}

LstmResult LSTM::operator()(const Tensor& input, const Tensor& h0, const Tensor& c0) {
  LstmResult result = forward(input, h0, c0);
  report_forward({result.output, result.h_n, result.c_n});
  return result;
}

// ---------------------------------------------------------------- GRU

GRU::GRU(int64_t input_size, int64_t hidden_size, const RecurrentOptions& options, Generator& gen)
    : RecurrentBase("GRU", input_size, hidden_size, options, gen, /*lstm=*/false) {}

GruResult GRU::forward(const Tensor& input, const Tensor& h0) {
  check_input(input);
  return gru(input, flat_weights(), rnn_options(), h0);
}

GruResult GRU::operator()(const Tensor& input, const Tensor& h0) {
  GruResult result = forward(input, h0);
  report_forward({result.output, result.h_n});
  return result;
}

}  // namespace harnet::nn
