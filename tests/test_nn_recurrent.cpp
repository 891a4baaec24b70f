// LSTM and GRU modules: the generic module checker on several configurations, PyTorch's
// printed form and parameter names, default initialisation bounds, PyTorch's outputs for its
// own weights, dropout between layers, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/module_check.h"
#include "nn/recurrent.h"
#include "ops/ops.h"
#include "tests/nn_layer_fixture.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::GRU;
using nn::LSTM;
using nn::RecurrentOptions;

// The configurations of tools/make_nn_layer_fixtures.py, by name.
std::shared_ptr<nn::RecurrentBase> make_named(const std::string& name, Generator& gen) {
  if (name == "lstm") return std::make_shared<LSTM>(3, 4, gen);
  if (name == "lstm_deep")
    return std::make_shared<LSTM>(3, 4, RecurrentOptions{.num_layers = 2, .batch_first = true, .bidirectional = true},
                                  gen);
  if (name == "lstm_nobias")
    return std::make_shared<LSTM>(2, 3, RecurrentOptions{.num_layers = 2, .bias = false, .dropout = 0.5}, gen);
  if (name == "gru") return std::make_shared<GRU>(3, 4, gen);
  if (name == "gru_deep")
    return std::make_shared<GRU>(3, 4, RecurrentOptions{.num_layers = 2, .bidirectional = true}, gen);
  throw Error("test_nn_recurrent: unknown configuration " + name);
}

// Every output of the module, flattened into one tensor.
Tensor run_flat(nn::Module& m, const std::vector<Tensor>& in) {
  const Tensor h0 = in.size() > 1 ? in[1] : Tensor();
  if (auto* lstm = dynamic_cast<LSTM*>(&m)) {
    const Tensor c0 = in.size() > 2 ? in[2] : Tensor();
    LstmResult r = (*lstm)(in[0], h0, c0);
    return cat({flatten(r.output), flatten(r.h_n), flatten(r.c_n)});
  }
  GruResult r = dynamic_cast<GRU&>(m)(in[0], h0);
  return cat({flatten(r.output), flatten(r.h_n)});
}

TEST(NnRecurrent, PassesTheModuleChecker) {
  struct Case {
    std::string name;
    std::vector<Shape> inputs;
    bool random_in_train;
  };
  const std::vector<Case> cases = {
      {"lstm", {{4, 2, 3}}, false},
      {"lstm", {{4, 3}, {1, 4}, {1, 4}}, false},  // unbatched, with initial states
      {"lstm_deep", {{2, 3, 3}, {4, 2, 4}, {4, 2, 4}}, false},
      {"lstm_nobias", {{3, 2, 2}}, true},  // dropout between the layers in training
      {"gru", {{4, 2, 3}, {1, 2, 4}}, false},
      {"gru_deep", {{3, 2, 3}}, false},
  };
  for (const Case& c : cases) {
    nn::ModuleCheckSpec spec;
    spec.name = c.name + str_cat(" on ", c.inputs[0]);
    spec.make = [name = c.name](Generator& g) { return make_named(name, g); };
    spec.input_shapes = c.inputs;
    spec.forward = run_flat;
    spec.random_in_train = c.random_in_train;
    spec.mode_behaviour = c.random_in_train ? nn::ModeBehaviour::Differs : nn::ModeBehaviour::Same;
    nn::ModuleCheckResult r = nn::check_module(spec);
    EXPECT_TRUE(r.passed()) << r.report();
  }
}

TEST(NnRecurrent, PrintsAndNamesItsParametersLikePyTorch) {
  for (const std::string name : {"lstm", "lstm_deep", "lstm_nobias", "gru", "gru_deep"}) {
    Generator gen(0);
    nn_fixture::expect_like_pytorch(*make_named(name, gen), name);
  }
}

TEST(NnRecurrent, LstmMatchesPyTorchWithItsWeights) {
  Generator gen(0);
  auto m = make_named("lstm_deep", gen);
  nn_fixture::load_pytorch_weights(*m, "lstm_deep");
  const std::vector<Tensor> in = nn_fixture::parity_inputs("lstm_deep");
  for (bool training : {true, false}) {  // no dropout: the modes agree
    m->train(training);
    LstmResult r = static_cast<LSTM&>(*m)(in[0], in[1], in[2]);
    nn_fixture::expect_outputs({r.output, r.h_n, r.c_n}, "lstm_deep");
  }
}

TEST(NnRecurrent, GruMatchesPyTorchWithItsWeights) {
  Generator gen(0);
  auto m = make_named("gru_deep", gen);
  nn_fixture::load_pytorch_weights(*m, "gru_deep");
  const std::vector<Tensor> in = nn_fixture::parity_inputs("gru_deep");
  GruResult r = static_cast<GRU&>(*m)(in[0], in[1]);
  nn_fixture::expect_outputs({r.output, r.h_n}, "gru_deep");
}

TEST(NnRecurrent, InitialisationIsUniformInOneOverSqrtHidden) {
  Generator gen(2);
  LSTM lstm(5, 16, RecurrentOptions{.num_layers = 2}, gen);  // bound 1/4
  for (const auto& [name, p] : lstm.named_parameters()) {
    double largest = 0.0;
    for (double v : p.to_vector<double>()) largest = std::max(largest, std::fabs(v));
    EXPECT_LE(largest, 0.25) << name;
    EXPECT_GT(largest, 0.2) << name;  // at least 64 draws each
  }
  EXPECT_EQ(lstm.flat_weights().size(), 8u);
  EXPECT_EQ(lstm.flat_weights()[0].impl(), lstm.named_parameters()[0].second.impl());
}

TEST(NnRecurrent, DropoutBetweenLayersIsReproducibleAndOffInEval) {
  Generator a(3), b(3);
  RecurrentOptions options{.num_layers = 2, .dropout = 0.5};
  LSTM la(2, 3, options, a), lb(2, 3, options, b);
  Generator data(9);
  Tensor x = randn({5, 2, 2}, data);
  const std::vector<float> first = la(x).output.to_vector<float>();
  EXPECT_EQ(lb(x).output.to_vector<float>(), first);    // same seed, same masks
  EXPECT_NE(la(x).output.to_vector<float>(), first);    // the next call, other masks
  la.eval();
  lb.eval();
  EXPECT_EQ(la(x).output.to_vector<float>(), lb(x).output.to_vector<float>());
  EXPECT_EQ(la(x).output.to_vector<float>(), la(x).output.to_vector<float>());
}

TEST(NnRecurrent, CallsAreSeenBySummary) {
  Generator gen(1);
  LSTM lstm(3, 4, gen);  // 4 * 4 * (3 + 4 + 2) = 144 parameters
  const std::string text = nn::summary(lstm, [&] { lstm(zeros({5, 2, 3})); });
  EXPECT_NE(text.find("LSTM"), std::string::npos) << text;
  EXPECT_NE(text.find("[5, 2, 4]"), std::string::npos) << text;
  EXPECT_NE(text.find("total params: 144"), std::string::npos) << text;
}

TEST(NnRecurrent, RefusesBadArgumentsAndInputs) {
  Generator gen(0);
  expect_error([&] { LSTM(0, 4, gen); }, "LSTM: input_size must be positive, got 0");
  expect_error([&] { GRU(3, -1, gen); }, "GRU: hidden_size must be positive, got -1");
  expect_error([&] { LSTM(3, 4, RecurrentOptions{.num_layers = 0}, gen); }, "LSTM: num_layers must be positive, got 0");
  expect_error([&] { GRU(3, 4, RecurrentOptions{.dropout = 1.5}, gen); }, "GRU: dropout must be in [0, 1], got 1.5");
  LSTM lstm(3, 4, gen);
  expect_error([&] { lstm(zeros({5, 2, 2})); }, "LSTM(3, 4): expected input [T, N, 3] or [T, 3], got [5, 2, 2]");
  expect_error([&] { lstm(zeros({5})); }, "got [5]");
  expect_error([&] { lstm(Tensor()); }, "got an undefined tensor");
  GRU gru(3, 4, RecurrentOptions{.batch_first = true}, gen);
  expect_error([&] { gru(zeros({2, 5, 4})); }, "GRU(3, 4): expected input [N, T, 3] or [T, 3], got [2, 5, 4]");
}

}  // namespace
}  // namespace harnet
