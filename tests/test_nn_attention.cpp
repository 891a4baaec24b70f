// The MultiheadAttention module: the generic module checker (self- and cross-attention,
// batch_first, unbatched, masks, dropout), PyTorch's printed form and parameter names,
// initialisation, PyTorch's outputs for its own weights, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/attention.h"
#include "nn/module_check.h"
#include "ops/ops.h"
#include "tests/nn_layer_fixture.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::MultiheadAttention;
using nn::MultiheadAttentionOptions;

// The configurations of tools/make_nn_layer_fixtures.py, by name.
std::shared_ptr<MultiheadAttention> make_named(const std::string& name, Generator& gen) {
  if (name == "mha") return std::make_shared<MultiheadAttention>(8, 2, gen);
  if (name == "mha_nobias")
    return std::make_shared<MultiheadAttention>(
        6, 3, MultiheadAttentionOptions{.dropout = 0.1, .bias = false, .batch_first = true}, gen);
  throw Error("test_nn_attention: unknown configuration " + name);
}

// in: query[, key, value[, key_padding_mask[, attn_mask]]]; self-attention with one input.
// The output and the per-head weights, flattened into one tensor.
Tensor run_flat(nn::Module& m, const std::vector<Tensor>& in) {
  auto& mha = static_cast<MultiheadAttention&>(m);
  const Tensor& k = in.size() > 1 ? in[1] : in[0];
  const Tensor& v = in.size() > 2 ? in[2] : in[0];
  const Tensor padding = in.size() > 3 ? in[3] : Tensor();
  const Tensor attn_mask = in.size() > 4 ? in[4] : Tensor();
  MhaResult r = mha(in[0], k, v, padding, true, attn_mask, false);
  return cat({flatten(r.output), flatten(r.attn_weights)});
}

TEST(NnAttention, PassesTheModuleChecker) {
  struct Case {
    std::string label;
    std::function<std::shared_ptr<nn::Module>(Generator&)> make;
    std::function<std::vector<Tensor>(Generator&)> inputs;
    bool dropout;
  };
  const std::vector<Case> cases = {
      {"self-attention E=4 H=2", [](Generator& g) { return std::make_shared<MultiheadAttention>(4, 2, g); },
       [](Generator& g) { return std::vector<Tensor>{randn({3, 2, 4}, g, kFloat64)}; }, false},
      {"cross-attention with masks, E=8 H=2",
       [](Generator& g) { return make_named("mha", g); },
       [](Generator& g) {
         Tensor padding = from_vector(std::vector<bool>{false, false, true, false, true, false}, {2, 3}, kBool);
         // Floating masks would be differentiated by the checker: bool ones here (the
         // float attn_mask is held to PyTorch below). Key 0 stays allowed for every query.
         Tensor attn_mask = from_vector(std::vector<bool>{false, true, false, false, false, true}, {2, 3}, kBool);
         return std::vector<Tensor>{randn({2, 2, 8}, g, kFloat64), randn({3, 2, 8}, g, kFloat64),
                                    randn({3, 2, 8}, g, kFloat64), padding, attn_mask};
       },
       false},
      {"unbatched, 1 head", [](Generator& g) { return std::make_shared<MultiheadAttention>(3, 1, g); },
       [](Generator& g) {
         return std::vector<Tensor>{randn({2, 3}, g, kFloat64), randn({4, 3}, g, kFloat64), randn({4, 3}, g, kFloat64)};
       },
       false},
      {"batch_first, no bias, dropout", [](Generator& g) { return make_named("mha_nobias", g); },
       [](Generator& g) { return std::vector<Tensor>{randn({2, 3, 6}, g, kFloat64)}; }, true},
  };
  for (const Case& c : cases) {
    nn::ModuleCheckSpec spec;
    spec.name = c.label;
    spec.make = c.make;
    spec.make_inputs = c.inputs;
    spec.forward = run_flat;
    spec.random_in_train = c.dropout;
    spec.mode_behaviour = c.dropout ? nn::ModeBehaviour::Differs : nn::ModeBehaviour::Same;
    nn::ModuleCheckResult r = nn::check_module(spec);
    EXPECT_TRUE(r.passed()) << r.report();
  }
}

TEST(NnAttention, PrintsAndNamesItsParametersLikePyTorch) {
  for (const std::string name : {"mha", "mha_nobias"}) {
    Generator gen(0);
    nn_fixture::expect_like_pytorch(*make_named(name, gen), name);
  }
}

TEST(NnAttention, MatchesPyTorchWithItsWeights) {
  Generator gen(0);
  auto m = make_named("mha", gen);
  nn_fixture::load_pytorch_weights(*m, "mha");
  m->eval();
  const std::vector<Tensor> in = nn_fixture::parity_inputs("mha");
  MhaResult r = (*m)(in[0], in[1], in[2], in[3], true, in[4], false);
  nn_fixture::expect_outputs({r.output, r.attn_weights}, "mha");
  // Averaged weights are the mean over the heads; need_weights false gives none.
  MhaResult averaged = (*m)(in[0], in[1], in[2], in[3], true, in[4]);
  EXPECT_EQ(averaged.attn_weights.shape(), (Shape{2, 4, 5}));
  const std::vector<double> per_head = r.attn_weights.to_vector<double>(), mean = averaged.attn_weights.to_vector<double>();
  for (size_t n = 0; n < 2; ++n)
    for (size_t i = 0; i < 20; ++i)
      EXPECT_NEAR(mean[n * 20 + i], (per_head[n * 40 + i] + per_head[n * 40 + 20 + i]) / 2, 1e-14);
  EXPECT_FALSE((*m)(in[0], in[1], in[2], in[3], false, in[4]).attn_weights.defined());
}

TEST(NnAttention, InitialisationFollowsPyTorch) {
  Generator gen(1);
  MultiheadAttention mha(16, 4, gen);
  // xavier_uniform on [48, 16]: bound sqrt(6 / 64).
  const double bound = std::sqrt(6.0 / 64.0);
  double largest = 0.0;
  for (double w : mha.in_proj_weight.to_vector<double>()) largest = std::max(largest, std::fabs(w));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.9 * bound);
  EXPECT_EQ(mha.in_proj_bias.to_vector<float>(), std::vector<float>(48, 0.0f));
  EXPECT_EQ(mha.out_proj->bias.to_vector<float>(), std::vector<float>(16, 0.0f));
  double out_largest = 0.0;  // Linear's default: bound 1/4
  for (double w : mha.out_proj->weight.to_vector<double>()) out_largest = std::max(out_largest, std::fabs(w));
  EXPECT_LE(out_largest, 0.25);
  EXPECT_GT(out_largest, 0.2);
}

TEST(NnAttention, DropoutIsReproducibleAndOffInEval) {
  Generator a(4), b(4), data(5);
  MultiheadAttentionOptions options{.dropout = 0.5};
  MultiheadAttention ma(4, 2, options, a), mb(4, 2, options, b);
  Tensor x = randn({3, 2, 4}, data);
  const std::vector<float> first = ma(x, x, x).output.to_vector<float>();
  EXPECT_EQ(mb(x, x, x).output.to_vector<float>(), first);
  EXPECT_NE(ma(x, x, x).output.to_vector<float>(), first);
  ma.eval();
  mb.eval();
  EXPECT_EQ(ma(x, x, x).output.to_vector<float>(), mb(x, x, x).output.to_vector<float>());
}

TEST(NnAttention, RefusesBadArgumentsAndInputs) {
  Generator gen(0);
  expect_error([&] { MultiheadAttention(6, 4, gen); }, "MultiheadAttention: embed_dim (6) must be divisible by num_heads (4)");
  expect_error([&] { MultiheadAttention(0, 1, gen); }, "MultiheadAttention: embed_dim must be positive, got 0");
  expect_error([&] { MultiheadAttention(4, 0, gen); }, "MultiheadAttention: num_heads must be positive, got 0");
  expect_error([&] { MultiheadAttention(4, 2, MultiheadAttentionOptions{.dropout = 2}, gen); },
               "MultiheadAttention: dropout must be in [0, 1], got 2");
  MultiheadAttention mha(4, 2, gen);
  Tensor x = zeros({3, 2, 4});
  expect_error([&] { mha(zeros({3, 2, 5}), x, x); },
               "MultiheadAttention(embed_dim=4): expected query [length, N, 4] or [length, 4], got [3, 2, 5]");
  expect_error([&] { mha(x, Tensor(), x); }, "expected key [length, N, 4] or [length, 4], got an undefined tensor");
  expect_error([&] { mha(x, x, zeros({4})); }, "expected value [length, N, 4] or [length, 4], got [4]");
}

TEST(NnMultiheadAttention, SummaryListsItAsOneLayer) {
  // It computes with its out_proj's parameters itself, without calling out_proj: the
  // summary gives it a row of its own rather than treating it as a container.
  Generator gen(0);
  MultiheadAttention mha(8, 2, {.batch_first = true}, gen);
  Tensor x = randn({1, 5, 8}, gen);
  const std::string text = nn::summary(mha, [&] { mha(x, x, x, Tensor(), false); });
  EXPECT_NE(text.find("(model)  MultiheadAttention  [1, 5, 8]"), std::string::npos) << text;
  EXPECT_NE(text.find("total params: 288"), std::string::npos) << text;  // 3 * 8 * 8 + 24 + 8 * 8 + 8
}

}  // namespace
}  // namespace harnet
