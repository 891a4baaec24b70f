// nn::Module: registration and PyTorch's qualified names (containers in containers, an
// LSTM-like per-layer parameter layout, BatchNorm-like buffers), state dicts (round trip,
// strict errors, non-strict report), modes, gradients, dtype conversion, printing, summary,
// forward observers; and the generic module checker run on every module, plus broken
// modules it must reject.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "nn/activation.h"
#include "nn/container.h"
#include "nn/flatten.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/module_check.h"
#include "ops/ops.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

using nn::Flatten;
using nn::GELU;
using nn::Identity;
using nn::Linear;
using nn::Module;
using nn::ModuleList;
using nn::ReLU;
using nn::Sequential;
using nn::Sigmoid;
using nn::StateDict;
using nn::Tanh;
using nn::UnaryModule;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

template <class Pairs>
std::vector<std::string> names_of(const Pairs& pairs) {
  std::vector<std::string> names;
  for (const auto& p : pairs) names.push_back(p.first);
  return names;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_vector<double>() == b.to_vector<double>();
}

// ---------------------------------------------------------------- stand-ins for the heavy modules

// The parameter layout of torch.nn.LSTM (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
// then layer 1): per-layer slots kept in a vector sized before registration.
class StackedCells : public Module {
 public:
  StackedCells(int64_t num_layers, int64_t input_size, int64_t hidden_size, Generator& gen)
      : layers_(static_cast<size_t>(num_layers)) {
    for (int64_t l = 0; l < num_layers; ++l) {
      Layer& layer = layers_[static_cast<size_t>(l)];
      const int64_t in = l == 0 ? input_size : hidden_size;
      layer.weight_ih = rand({4 * hidden_size, in}, gen, kFloat32, -0.1, 0.1);
      layer.weight_hh = rand({4 * hidden_size, hidden_size}, gen, kFloat32, -0.1, 0.1);
      layer.bias_ih = rand({4 * hidden_size}, gen, kFloat32, -0.1, 0.1);
      layer.bias_hh = rand({4 * hidden_size}, gen, kFloat32, -0.1, 0.1);
      const std::string suffix = "_l" + std::to_string(l);
      register_parameter("weight_ih" + suffix, layer.weight_ih);
      register_parameter("weight_hh" + suffix, layer.weight_hh);
      register_parameter("bias_ih" + suffix, layer.bias_ih);
      register_parameter("bias_hh" + suffix, layer.bias_hh);
    }
  }
  std::string type_name() const override { return "StackedCells"; }

 private:
  struct Layer {
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;
  };
  std::vector<Layer> layers_;
};

// BatchNorm1d's registry and mode behaviour over [N, C]: batch statistics in train mode
// (updating the running ones), running statistics in eval mode.
class NormLike : public UnaryModule {
 public:
  explicit NormLike(int64_t channels, bool persistent_stats = true) {
    weight = ones({channels});
    bias = zeros({channels});
    running_mean = zeros({channels});
    running_var = ones({channels});
    num_batches_tracked = zeros({}, kInt64);
    register_parameter("weight", weight);
    register_parameter("bias", bias);
    register_buffer("running_mean", running_mean, persistent_stats);
    register_buffer("running_var", running_var, persistent_stats);
    register_buffer("num_batches_tracked", num_batches_tracked);
  }
  Tensor forward(const Tensor& x) override {
    if (!is_training()) return (x - running_mean) / sqrt(running_var + 1e-5) * weight + bias;
    Tensor m = mean(x, {0}), v = var(x, {0}, /*correction=*/0);
    {
      NoGradGuard no_grad;
      running_mean.copy_from(running_mean * 0.9 + m.detach() * 0.1);
      running_var.copy_from(running_var * 0.9 + var(x.detach(), {0}) * 0.1);
      num_batches_tracked.data<int64_t>()[0] += 1;
    }
    return (x - m) / sqrt(v + 1e-5) * weight + bias;
  }
  std::string type_name() const override { return "NormLike"; }

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

// A model shaped like HARNet's: containers in containers, a ModuleList, a recurrent-like
// child and a normalisation-like child. Input [B, 6] -> [B, 2].
class TinyHar : public Module {
 public:
  explicit TinyHar(Generator& gen) {
    spatial = register_module("spatial", std::make_shared<Sequential>());
    spatial->push_back(std::make_shared<Linear>(6, 8, gen));
    spatial->push_back(std::make_shared<NormLike>(8));
    spatial->push_back(std::make_shared<ReLU>());
    spatial->push_back(std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
        std::make_shared<Linear>(8, 8, false, gen), std::make_shared<Tanh>()}));
    lstm = register_module("lstm", std::make_shared<StackedCells>(2, 8, 3, gen));
    blocks = register_module("blocks", std::make_shared<ModuleList>());
    blocks->push_back(std::make_shared<Linear>(8, 8, gen));
    blocks->push_back(std::make_shared<Sequential>(
        std::vector<std::shared_ptr<UnaryModule>>{std::make_shared<Identity>(), std::make_shared<Linear>(8, 8, gen)}));
    head = register_module("head", std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
                                       std::make_shared<Linear>(8, 4, gen), std::make_shared<ReLU>(),
                                       std::make_shared<Identity>(), std::make_shared<Linear>(4, 2, gen)}));
  }
  std::string type_name() const override { return "TinyHar"; }

  Tensor forward(const Tensor& x) {
    Tensor h = (*spatial)(x);
    for (const auto& block : *blocks) h = h + (*std::static_pointer_cast<UnaryModule>(block))(h);
    Tensor out = (*head)(h);
    report_forward({out});
    return out;
  }

  std::shared_ptr<Sequential> spatial, head;
  std::shared_ptr<StackedCells> lstm;
  std::shared_ptr<ModuleList> blocks;
};

const std::vector<std::string> kTinyHarParameters = {
    "spatial.0.weight", "spatial.0.bias", "spatial.1.weight", "spatial.1.bias", "spatial.3.0.weight",
    "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
    "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
    "blocks.0.weight", "blocks.0.bias", "blocks.1.1.weight", "blocks.1.1.bias",
    "head.0.weight", "head.0.bias", "head.3.weight", "head.3.bias"};

// ---------------------------------------------------------------- names

TEST(Module, QualifiedNamesAreThoseOfPyTorch) {
  Generator gen(1);
  TinyHar model(gen);
  EXPECT_EQ(names_of(model.named_parameters()), kTinyHarParameters);
  EXPECT_EQ(
      names_of(model.named_buffers()),
      (std::vector<std::string>{"spatial.1.running_mean", "spatial.1.running_var", "spatial.1.num_batches_tracked"}));
  // state_dict: each module's parameters, then its buffers, then its children.
  std::vector<std::string> expected_state = kTinyHarParameters;
  expected_state.insert(expected_state.begin() + 4,
                        {"spatial.1.running_mean", "spatial.1.running_var", "spatial.1.num_batches_tracked"});
  EXPECT_EQ(model.state_dict().keys(), expected_state);
  EXPECT_EQ(names_of(model.named_modules()),
            (std::vector<std::string>{"", "spatial", "spatial.0", "spatial.1", "spatial.2", "spatial.3", "spatial.3.0",
                                      "spatial.3.1", "lstm", "blocks", "blocks.0", "blocks.1", "blocks.1.0",
                                      "blocks.1.1", "head", "head.0", "head.1", "head.2", "head.3"}));
  EXPECT_EQ(names_of(model.named_children()), (std::vector<std::string>{"spatial", "lstm", "blocks", "head"}));
  for (const auto& [name, p] : model.named_parameters()) EXPECT_TRUE(p.requires_grad()) << name;
}

TEST(Module, ParameterCountsAddUp) {
  Generator gen(0);
  Linear fc(128, 64, gen);
  EXPECT_EQ(fc.num_parameters(), 128 * 64 + 64);
  Linear no_bias(128, 64, false, gen);
  EXPECT_EQ(no_bias.num_parameters(), 128 * 64);
  TinyHar model(gen);
  const int64_t expected = (6 * 8 + 8)                    // spatial.0
                           + (8 + 8)                      // spatial.1 (NormLike)
                           + 8 * 8                        // spatial.3.0, no bias
                           + (12 * 8 + 12 * 3 + 12 + 12)  // lstm layer 0
                           + (12 * 3 + 12 * 3 + 12 + 12)  // lstm layer 1
                           + (8 * 8 + 8) * 2              // blocks.0, blocks.1.1
                           + (8 * 4 + 4) + (4 * 2 + 2);   // head.0, head.3
  EXPECT_EQ(model.num_parameters(), expected);
  int64_t by_hand = 0;
  for (const Tensor& p : model.parameters()) by_hand += p.numel();
  EXPECT_EQ(model.num_parameters(), by_hand);
}

TEST(Module, SharedModulesAreListedOnceButSavedUnderEachName) {
  Generator gen(0);
  auto shared = std::make_shared<Linear>(3, 3, gen);
  Sequential seq({shared, std::make_shared<ReLU>(), shared});
  EXPECT_EQ(names_of(seq.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias"}));
  EXPECT_EQ(seq.num_parameters(), 12);
  EXPECT_EQ(seq.state_dict().keys(), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(names_of(seq.named_modules()), (std::vector<std::string>{"", "0", "1"}));
}

// ---------------------------------------------------------------- registration errors

class Registrar : public Module {
 public:
  std::string type_name() const override { return "Registrar"; }
  void param(const std::string& name, Tensor& t) { register_parameter(name, t); }
  void buffer(const std::string& name, Tensor& t) { register_buffer(name, t); }
  void child(const std::string& name, std::shared_ptr<Module> m) { register_module(name, std::move(m)); }
  Tensor a = zeros({2}), b = zeros({2}), c = zeros({2});
};

TEST(Module, RegistrationRefusesBadNamesAndTensors) {
  Registrar r;
  r.param("a", r.a);
  expect_error([&] { r.param("a", r.b); }, "cannot register parameter \"a\": a parameter of that name exists");
  expect_error([&] { r.buffer("a", r.b); }, "cannot register buffer \"a\": a parameter of that name exists");
  r.buffer("b", r.b);
  expect_error([&] { r.child("b", std::make_shared<ReLU>()); }, "child module \"b\": a buffer of that name exists");
  r.child("relu", std::make_shared<ReLU>());
  expect_error([&] { r.param("relu", r.c); }, "a child module of that name exists");
  expect_error([&] { r.param("", r.c); }, "Registrar: parameter name must not be empty");
  expect_error([&] { r.param("x.y", r.c); }, "name \"x.y\" must not contain '.'");
  Tensor undefined;
  expect_error([&] { r.param("u", undefined); }, "parameter \"u\" is an undefined tensor");
  expect_error([&] { r.buffer("u", undefined); }, "buffer \"u\" is an undefined tensor");
  Tensor integers = zeros({2}, kInt64);
  expect_error([&] { r.param("i", integers); }, "parameter \"i\" must be floating, got int64");
  Tensor leaf = zeros({2}, kFloat64);
  leaf.set_requires_grad(true);
  Tensor computed = leaf * 2.0;
  expect_error([&] { r.param("computed", computed); }, "parameter \"computed\" must be a leaf tensor");
  expect_error([&] { r.child("null", nullptr); }, "child module \"null\" is null");
  r.buffer("c", r.c);  // a buffer may be any tensor
  EXPECT_EQ(names_of(r.named_buffers()), (std::vector<std::string>{"b", "c"}));
}

// ---------------------------------------------------------------- state dict

TEST(StateDictTest, KeepsInsertionOrderAndRefusesBadKeys) {
  StateDict d;
  d.insert("b", zeros({1}));
  d.insert("a", ones({2}));
  d.insert("c", zeros({3}));
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a", "c"}));
  expect_error([&] { d.insert("a", zeros({1})); }, "StateDict: key \"a\" is already present");
  expect_error([&] { d.insert("z", Tensor()); }, "the tensor for key \"z\" is undefined");
  expect_error([&] { d.at("zz"); }, "StateDict: no key \"zz\"");
  expect_error([&] { d.erase("zz"); }, "no key \"zz\" to erase");
  expect_error([&] { d.set("zz", zeros({1})); }, "no key \"zz\" to replace");
  d.erase("b");
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(d.at("c").shape(), (Shape{3}));
  d.set("a", zeros({5}));
  EXPECT_EQ(d.at("a").shape(), (Shape{5}));
  EXPECT_TRUE(d.contains("c"));
  EXPECT_FALSE(d.contains("b"));
}

TEST(Module, StateDictSharesMemoryWithoutAutogradState) {
  Generator gen(0);
  Linear fc(3, 2, gen);
  StateDict d = fc.state_dict();
  EXPECT_FALSE(d.at("weight").requires_grad());
  EXPECT_EQ(d.at("weight").storage(), fc.weight.storage());
}

TEST(Module, StateDictRoundTripGivesBitIdenticalOutputs) {
  Generator gen_a(1), gen_b(2), gen_x(3);
  TinyHar a(gen_a), b(gen_b);
  Tensor x = randn({5, 6}, gen_x);
  a.forward(x);  // train mode: moves NormLike's running statistics away from their initial values
  a.eval();
  b.eval();
  const Tensor out_a = a.forward(x);
  EXPECT_FALSE(bit_identical(out_a, b.forward(x)));
  // Handles held elsewhere (an optimizer's) stay valid: the tensors are loaded in place.
  Tensor b_weight = b.head->at<Linear>(3)->weight;
  nn::LoadReport report = b.load_state_dict(a.state_dict());
  EXPECT_TRUE(report.complete()) << report.to_string();
  EXPECT_TRUE(bit_identical(out_a, b.forward(x)));
  EXPECT_TRUE(bit_identical(b_weight, a.head->at<Linear>(3)->weight));
  EXPECT_EQ(b.spatial->at<NormLike>(1)->num_batches_tracked.item(), 1.0);
}

TEST(Module, StrictLoadNamesEveryProblemAndLoadsNothing) {
  Generator gen_a(1), gen_b(2);
  TinyHar a(gen_a), b(gen_b);
  StateDict good = a.state_dict();
  const std::vector<float> before = b.head->at<Linear>(0)->weight.to_vector<float>();
  auto loads_nothing = [&] { EXPECT_EQ(b.head->at<Linear>(0)->weight.to_vector<float>(), before); };

  StateDict missing = good;
  missing.erase("head.3.bias");
  expect_error([&] { b.load_state_dict(missing); },
               "load_state_dict (strict) into TinyHar: missing key(s) \"head.3.bias\"");
  loads_nothing();

  StateDict unexpected = good;
  unexpected.insert("head.4.weight", zeros({2, 2}));
  expect_error([&] { b.load_state_dict(unexpected); }, "unexpected key(s) \"head.4.weight\"");
  loads_nothing();

  StateDict wrong_shape = good;
  wrong_shape.set("head.3.weight", zeros({3, 4}));
  expect_error([&] { b.load_state_dict(wrong_shape); },
               "shape mismatch for \"head.3.weight\": the checkpoint has [3, 4] float32, the model has [2, 4] float32");
  loads_nothing();

  StateDict wrong_dtype = good;
  wrong_dtype.set("lstm.weight_ih_l0", zeros({12, 8}, kFloat64));
  expect_error(
      [&] { b.load_state_dict(wrong_dtype); },
      "dtype mismatch for \"lstm.weight_ih_l0\": the checkpoint has [12, 8] float64, the model has [12, 8] float32");
  loads_nothing();

  StateDict several = good;
  several.erase("spatial.0.weight");
  several.erase("spatial.1.running_var");
  several.insert("extra", zeros({1}));
  expect_error([&] { b.load_state_dict(several); },
               "missing key(s) \"spatial.0.weight\", \"spatial.1.running_var\"; unexpected key(s) \"extra\"");
  loads_nothing();
}

TEST(Module, NonStrictLoadReportsWhatItDidNotLoad) {
  Generator gen_a(1), gen_b(2);
  TinyHar a(gen_a), b(gen_b);
  StateDict d = a.state_dict();
  d.erase("head.3.bias");
  d.insert("unknown.weight", zeros({1}));
  d.set("head.0.weight", zeros({5, 8}));
  const std::vector<float> kept = b.head->at<Linear>(0)->weight.to_vector<float>();
  nn::LoadReport report = b.load_state_dict(d, /*strict=*/false);
  EXPECT_FALSE(report.complete());
  EXPECT_EQ(report.missing_keys, (std::vector<std::string>{"head.3.bias"}));
  EXPECT_EQ(report.unexpected_keys, (std::vector<std::string>{"unknown.weight"}));
  ASSERT_EQ(report.mismatched.size(), 1u);
  EXPECT_EQ(report.mismatched[0].key, "head.0.weight");
  EXPECT_EQ(report.mismatched[0].checkpoint_shape, (Shape{5, 8}));
  EXPECT_EQ(report.mismatched[0].model_shape, (Shape{4, 8}));
  EXPECT_TRUE(contains(report.to_string(), "shape mismatch for \"head.0.weight\""));
  // The rest was loaded; the mismatched tensor was left alone.
  EXPECT_TRUE(bit_identical(b.spatial->at<Linear>(0)->weight, a.spatial->at<Linear>(0)->weight));
  EXPECT_TRUE(bit_identical(b.head->at<Linear>(3)->weight, a.head->at<Linear>(3)->weight));
  EXPECT_EQ(b.head->at<Linear>(0)->weight.to_vector<float>(), kept);
  EXPECT_EQ(nn::LoadReport().to_string(), "complete");
}

TEST(Module, LoadRefusesNonFiniteValuesInEitherMode) {
  Generator gen(0);
  Linear fc(3, 2, gen);
  StateDict d = fc.state_dict();
  Tensor bad = d.at("bias").contiguous_copy();
  bad.data<float>()[1] = std::nanf("");
  d.set("bias", bad);
  expect_error([&] { fc.load_state_dict(d); },
               "the checkpoint value of \"bias\" (shape [2]) holds NaN or infinite values");
  expect_error([&] { fc.load_state_dict(d, false); }, "holds NaN or infinite values");
}

TEST(Module, NonPersistentBuffersStayOutOfTheStateDict) {
  Generator gen(0);
  NormLike persistent(3), transient(3, /*persistent_stats=*/false);
  EXPECT_EQ(persistent.state_dict().keys(),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(transient.state_dict().keys(), (std::vector<std::string>{"weight", "bias", "num_batches_tracked"}));
  EXPECT_EQ(names_of(transient.named_buffers()),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
}

// ---------------------------------------------------------------- modes, gradients, dtype

TEST(Module, TrainAndEvalReachEveryDescendant) {
  Generator gen(0);
  TinyHar model(gen);
  for (const auto& [name, m] : model.named_modules()) EXPECT_TRUE(m->is_training()) << name;
  model.eval();
  for (const auto& [name, m] : model.named_modules()) EXPECT_FALSE(m->is_training()) << name;
  model.head->train();  // a subtree only
  EXPECT_FALSE(model.is_training());
  EXPECT_FALSE(model.spatial->at<NormLike>(1)->is_training());
  EXPECT_TRUE(model.head->at<Linear>(3)->is_training());
  model.train(true);
  for (const auto& [name, m] : model.named_modules()) EXPECT_TRUE(m->is_training()) << name;
}

TEST(Module, ZeroGradDropsEveryGradient) {
  Generator gen(0);
  TinyHar model(gen);
  sum(model.forward(randn({4, 6}, gen))).backward();
  int64_t with_grad = 0;
  for (const auto& [name, p] : model.named_parameters()) with_grad += p.grad().defined();
  EXPECT_EQ(with_grad, 13);  // all but the 8 recurrent-like weights, which forward does not use
  model.zero_grad();
  for (const auto& [name, p] : model.named_parameters()) EXPECT_FALSE(p.grad().defined()) << name;
}

TEST(Module, ToConvertsFloatingTensorsInPlace) {
  Generator gen(0);
  TinyHar model(gen);
  Tensor x = randn({4, 6}, gen);
  sum(model.forward(x)).backward();
  Tensor weight = model.head->at<Linear>(0)->weight;  // a handle taken before
  const std::vector<double> values = weight.to_vector<double>(), grad = weight.grad().to_vector<double>();
  model.to(kFloat64);
  for (const auto& [name, p] : model.named_parameters()) EXPECT_EQ(p.dtype(), kFloat64) << name;
  auto* norm = model.spatial->at<NormLike>(1).get();
  EXPECT_EQ(norm->running_mean.dtype(), kFloat64);
  EXPECT_EQ(norm->num_batches_tracked.dtype(), kInt64);  // integer buffers stay
  EXPECT_EQ(weight.dtype(), kFloat64);
  EXPECT_EQ(weight.to_vector<double>(), values);
  ASSERT_TRUE(weight.grad().defined());
  EXPECT_EQ(weight.grad().dtype(), kFloat64);
  EXPECT_EQ(weight.grad().to_vector<double>(), grad);
  EXPECT_TRUE(weight.requires_grad());
  EXPECT_EQ(model.forward(x.cast(kFloat64)).dtype(), kFloat64);
  model.to(kFloat32);
  EXPECT_EQ(weight.dtype(), kFloat32);
  EXPECT_EQ(weight.to_vector<double>(), values);  // float32 -> float64 -> float32 is exact
  expect_error([&] { model.to(kInt64); }, "TinyHar.to: modules convert to floating dtypes only, got int64");
}

// ---------------------------------------------------------------- printing

TEST(Module, PrintsLikePyTorch) {
  Generator gen(0);
  std::ostringstream os;
  os << Linear(128, 64, gen);
  EXPECT_EQ(os.str(), "Linear(in_features=128, out_features=64, bias=True)");
  Sequential seq(
      {std::make_shared<Linear>(4, 3, false, gen), std::make_shared<ReLU>(),
       std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{std::make_shared<GELU>("tanh")}),
       std::make_shared<Sequential>()});
  EXPECT_EQ(seq.to_string(),
            "Sequential(\n"
            "  (0): Linear(in_features=4, out_features=3, bias=False)\n"
            "  (1): ReLU()\n"
            "  (2): Sequential(\n"
            "    (0): GELU(approximate='tanh')\n"
            "  )\n"
            "  (3): Sequential()\n"
            ")");
}

// extra_repr with children: the extra lines come first, as in PyTorch.
class Annotated : public Module {
 public:
  explicit Annotated(Generator& gen) { register_module("fc", std::make_shared<Linear>(2, 2, gen)); }
  std::string type_name() const override { return "Annotated"; }
  std::string extra_repr() const override { return "hidden=2\nlayers=1"; }
};

TEST(Module, PrintsExtraLinesBeforeChildren) {
  Generator gen(0);
  EXPECT_EQ(Annotated(gen).to_string(),
            "Annotated(\n  hidden=2\n  layers=1\n  (fc): Linear(in_features=2, out_features=2, bias=True)\n)");
}

// ---------------------------------------------------------------- summary and observers

TEST(Module, SummaryListsLeafLayersWithShapesAndCounts) {
  Generator gen(0);
  TinyHar model(gen);
  model.blocks->eval();  // a mixed state that the summary must restore
  Tensor x = randn({4, 6}, gen);
  const std::string text = nn::summary(model, [&] { model.forward(x); });
  for (const char* row : {"spatial.0  ", "spatial.1  ", "spatial.3.0", "spatial.3.1", "blocks.0  ", "blocks.1.0",
                          "blocks.1.1", "head.3  "})
    EXPECT_TRUE(contains(text, row)) << row << "\n" << text;
  EXPECT_TRUE(contains(text, "NormLike")) << text;
  EXPECT_TRUE(contains(text, "[4, 8]")) << text;
  EXPECT_TRUE(contains(text, "[4, 2]")) << text;
  EXPECT_TRUE(contains(text, "   56\n")) << text;  // spatial.0: 6 * 8 + 8
  EXPECT_TRUE(contains(text, "total params: " + std::to_string(model.num_parameters()))) << text;
  EXPECT_FALSE(contains(text, "lstm")) << "the recurrent stand-in is never called\n" << text;
  EXPECT_FALSE(contains(text, "Sequential")) << "containers have no rows of their own\n" << text;
  // Modes restored module by module; eval mode during the run (NormLike's statistics untouched).
  EXPECT_TRUE(model.is_training());
  EXPECT_TRUE(model.spatial->at<NormLike>(1)->is_training());
  EXPECT_FALSE(model.blocks->is_training());
  EXPECT_FALSE(model.blocks->at<Linear>(0)->is_training());
  EXPECT_EQ(model.spatial->at<NormLike>(1)->num_batches_tracked.item(), 0.0);
  // One row per line between the rules: 12 leaf calls.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 12 + 4);
}

TEST(Module, UnarySummaryNamesTheModelItselfAndUnregisteredModules) {
  Generator gen(0);
  Linear fc(3, 5, gen);
  const std::string text = fc.summary(randn({2, 3}, gen));
  EXPECT_TRUE(contains(text, "(model)  Linear  [2, 5]")) << text;
  EXPECT_TRUE(contains(text, "total params: 20")) << text;

  Linear stray(5, 1, gen);  // called by forward but not registered: a bug the summary shows
  const std::string with_stray = nn::summary(fc, [&] { stray(fc(randn({2, 3}, gen))); });
  EXPECT_TRUE(contains(with_stray, "<unregistered>")) << with_stray;
}

TEST(Module, SummaryRestoresModesWhenForwardThrows) {
  Generator gen(0);
  Linear fc(3, 5, gen);
  expect_error([&] { fc.summary(randn({2, 4}, gen)); }, "Linear(in_features=3): expected input [..., 3], got [2, 4]");
  EXPECT_TRUE(fc.is_training());
}

class CallLog : public nn::ForwardObserver {
 public:
  void on_forward(const Module& module, const std::vector<Tensor>& outputs) override {
    calls.push_back(module.type_name() + " " + shape_str(outputs.at(0).shape()));
  }
  std::vector<std::string> calls;
};

TEST(Module, ObserversSeeCallsInOrderAndNest) {
  Generator gen(0);
  Sequential seq({std::make_shared<Linear>(3, 4, gen), std::make_shared<Tanh>()});
  Tensor x = randn({2, 3}, gen);
  CallLog outer, inner;
  {
    nn::ScopedForwardObserver observe_outer(outer);
    seq(x);
    {
      nn::ScopedForwardObserver observe_inner(inner);
      seq[1]->operator()(x);
    }
    seq[0]->forward(x);  // forward() itself is not observed: call modules through operator()
    seq[1]->operator()(x);
  }
  seq(x);  // no observer any more
  EXPECT_EQ(outer.calls,
            (std::vector<std::string>{"Linear [2, 4]", "Tanh [2, 4]", "Sequential [2, 4]", "Tanh [2, 3]"}));
  EXPECT_EQ(inner.calls, (std::vector<std::string>{"Tanh [2, 3]"}));
}

// ---------------------------------------------------------------- the module checker on every module

nn::ModuleCheckSpec unary_spec(std::string name, std::function<std::shared_ptr<Module>(Generator&)> make, Shape input) {
  nn::ModuleCheckSpec spec;
  spec.name = std::move(name);
  spec.make = std::move(make);
  spec.input_shapes = {std::move(input)};
  return spec;
}

void expect_passes(const nn::ModuleCheckSpec& spec) {
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(r.passed()) << r.report();
}

TEST(ModuleCheck, LinearPasses) {
  expect_passes(unary_spec("Linear(4, 3)", [](Generator& g) { return std::make_shared<Linear>(4, 3, g); }, {2, 4}));
  expect_passes(unary_spec("Linear(3, 2, bias=false) on 3-d input",
                           [](Generator& g) { return std::make_shared<Linear>(3, 2, false, g); }, {2, 2, 3}));
}

TEST(ModuleCheck, ActivationsAndFlattenPass) {
  expect_passes(unary_spec("Identity", [](Generator&) { return std::make_shared<Identity>(); }, {2, 3}));
  expect_passes(unary_spec("ReLU", [](Generator&) { return std::make_shared<ReLU>(); }, {3, 4}));
  expect_passes(unary_spec("GELU", [](Generator&) { return std::make_shared<GELU>(); }, {3, 4}));
  expect_passes(unary_spec("GELU(tanh)", [](Generator&) { return std::make_shared<GELU>("tanh"); }, {3, 4}));
  expect_passes(unary_spec("Tanh", [](Generator&) { return std::make_shared<Tanh>(); }, {2, 5}));
  expect_passes(unary_spec("Sigmoid", [](Generator&) { return std::make_shared<Sigmoid>(); }, {2, 5}));
  expect_passes(unary_spec("Flatten", [](Generator&) { return std::make_shared<Flatten>(); }, {2, 3, 2}));
  expect_passes(unary_spec("Flatten(0, 1)", [](Generator&) { return std::make_shared<Flatten>(0, 1); }, {2, 3, 2}));
}

TEST(ModuleCheck, ContainersPass) {
  expect_passes(unary_spec("Sequential(Flatten, Linear, GELU, Linear, Sigmoid)",
                           [](Generator& g) {
                             return std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
                                 std::make_shared<Flatten>(), std::make_shared<Linear>(6, 4, g),
                                 std::make_shared<GELU>(), std::make_shared<Linear>(4, 3, g),
                                 std::make_shared<Sigmoid>()});
                           },
                           {2, 3, 2}));
  expect_passes(unary_spec("empty Sequential", [](Generator&) { return std::make_shared<Sequential>(); }, {2, 2}));
  // A model with its own forward signature (and a ModuleList) through spec.forward.
  nn::ModuleCheckSpec spec;
  spec.name = "TinyHar";
  spec.make = [](Generator& g) { return std::make_shared<TinyHar>(g); };
  spec.input_shapes = {{3, 6}};
  spec.forward = [](Module& m, const std::vector<Tensor>& in) { return static_cast<TinyHar&>(m).forward(in[0]); };
  spec.mode_behaviour = nn::ModeBehaviour::Differs;  // NormLike
  nn::ModuleCheckResult r = nn::check_module(spec);
  // The recurrent stand-in is not used by forward: its parameters receive no gradient.
  ASSERT_FALSE(r.passed());
  for (const std::string& f : r.failures)
    EXPECT_TRUE(contains(f, "lstm.")) << "only the unused recurrent weights may fail: " << f;
  EXPECT_TRUE(contains(r.report(), "lstm.weight_ih_l0 received no gradient")) << r.report();
}

TEST(ModuleCheck, ModeDependentModulesPassWhenDeclared) {
  nn::ModuleCheckSpec spec =
      unary_spec("NormLike(3)", [](Generator&) { return std::make_shared<NormLike>(3); }, {4, 3});
  spec.mode_behaviour = nn::ModeBehaviour::Differs;
  expect_passes(spec);
  spec.mode_behaviour = nn::ModeBehaviour::Same;
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_FALSE(r.passed());
  EXPECT_TRUE(contains(r.report(), "NormLike(3): train vs eval: declared ModeBehaviour::Same, but the outputs differ"))
      << r.report();
}

// Dropout-like: random noise in train mode only, from its own generator.
class NoisyInTrain : public UnaryModule {
 public:
  explicit NoisyInTrain(Generator& gen) : noise_(gen.next_u64()) {}
  Tensor forward(const Tensor& x) override {
    if (!is_training()) return x * 2.0;
    return x * 2.0 + randn(x.shape(), noise_, x.dtype(), 0.0, 0.1);
  }
  std::string type_name() const override { return "NoisyInTrain"; }

 private:
  Generator noise_;
};

TEST(ModuleCheck, RandomTrainModesAreCheckedInEvalOnly) {
  nn::ModuleCheckSpec spec =
      unary_spec("NoisyInTrain", [](Generator& g) { return std::make_shared<NoisyInTrain>(g); }, {2, 3});
  spec.mode_behaviour = nn::ModeBehaviour::Differs;
  spec.random_in_train = true;
  expect_passes(spec);
  spec.random_in_train = false;  // then train mode must repeat itself, and it does not
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(contains(r.report(), "NoisyInTrain: determinism (train mode): two forwards differ")) << r.report();
}

// ---------------------------------------------------------------- the checker must be able to fail

// y = x * w with a configurable defect.
enum class Defect {
  None,
  UnusedBias,
  WrongGradient,
  WrongWeightGradient,
  EvalDiffers,
  RandomInEval,
  Float32Constant,
  UnsavedState,
  NaNOutput
};

class Defective : public UnaryModule {
 public:
  Defective(Defect defect, Generator& gen) : defect_(defect), noise_(gen.next_u64()) {
    weight = randn({3}, gen);
    bias = randn({3}, gen);
    hidden_offset = randn({3}, gen);  // state the module uses but does not register
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
  Tensor forward(const Tensor& x) override {
    switch (defect_) {
      case Defect::UnusedBias:
        return x * weight;
      case Defect::WrongGradient:
        return scaled_gradient(x * weight + bias);
      case Defect::WrongWeightGradient:
        return x * scaled_gradient(weight) + bias;
      case Defect::EvalDiffers:
        return is_training() ? x * weight + bias : x * weight;
      case Defect::RandomInEval:
        return x * weight + bias + randn(x.shape(), noise_, x.dtype(), 0.0, 1e-3);
      case Defect::Float32Constant:
        return x * weight + bias + ones({3});
      case Defect::UnsavedState:
        return x * weight + bias + hidden_offset.cast(x.dtype());
      case Defect::NaNOutput:
        return log(x * weight + bias);
      case Defect::None:
        break;
    }
    return x * weight + bias;
  }
  std::string type_name() const override { return "Defective"; }
  Tensor weight, bias, hidden_offset;

 private:
  // Identity forward whose backward returns 1.5 times the gradient.
  static Tensor scaled_gradient(const Tensor& x) {
    return record_op("scaled_gradient", {x}, x.detach().contiguous_copy(),
                     [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g * 1.5}; });
  }
  Defect defect_;
  Generator noise_;
};

nn::ModuleCheckResult check_defect(Defect defect) {
  return nn::check_module(
      unary_spec("Defective", [defect](Generator& g) { return std::make_shared<Defective>(defect, g); }, {2, 3}));
}

TEST(ModuleCheck, AcceptsTheIntactModule) {
  EXPECT_TRUE(check_defect(Defect::None).passed()) << check_defect(Defect::None).report();
}

TEST(ModuleCheck, RejectsAnUnusedParameter) {
  nn::ModuleCheckResult r = check_defect(Defect::UnusedBias);
  EXPECT_TRUE(contains(r.report(), "Defective: gradients (train mode): bias received no gradient")) << r.report();
}

TEST(ModuleCheck, RejectsAWrongGradientNamingTheInputs) {
  nn::ModuleCheckResult r = check_defect(Defect::WrongGradient);
  EXPECT_TRUE(contains(r.report(), "Defective: gradcheck (train mode): input 0: Jacobian mismatch")) << r.report();
  EXPECT_TRUE(contains(r.report(), "[gradcheck inputs: 0 = input 0 [2, 3], 1 = weight [3], 2 = bias [3]]"))
      << r.report();
}

// Only the parameter's gradient is wrong: gradcheck must differentiate w.r.t. the parameters.
TEST(ModuleCheck, RejectsAWrongParameterGradient) {
  nn::ModuleCheckResult r = check_defect(Defect::WrongWeightGradient);
  EXPECT_TRUE(contains(r.report(), "Defective: gradcheck (train mode): input 1: Jacobian mismatch")) << r.report();
  EXPECT_EQ(r.failures.size(), 1u) << r.report();
}

TEST(ModuleCheck, RejectsUndeclaredModeDependence) {
  nn::ModuleCheckResult r = check_defect(Defect::EvalDiffers);
  EXPECT_TRUE(contains(r.report(), "train vs eval: declared ModeBehaviour::Same, but the outputs differ: 6 of 6"))
      << r.report();
}

TEST(ModuleCheck, RejectsDeclaredModeDependenceThatIsAbsent) {
  nn::ModuleCheckSpec spec =
      unary_spec("Linear", [](Generator& g) { return std::make_shared<Linear>(2, 2, g); }, {2, 2});
  spec.mode_behaviour = nn::ModeBehaviour::Differs;
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(contains(r.report(), "declared ModeBehaviour::Differs, but train and eval outputs are identical"))
      << r.report();
}

TEST(ModuleCheck, RejectsNondeterministicEval) {
  nn::ModuleCheckResult r = check_defect(Defect::RandomInEval);
  EXPECT_TRUE(contains(r.report(), "determinism (eval mode): two forwards differ")) << r.report();
}

TEST(ModuleCheck, RejectsTensorsThatDoNotFollowTheModuleDtype) {
  nn::ModuleCheckResult r = check_defect(Defect::Float32Constant);
  EXPECT_TRUE(
      contains(r.report(), "eval forward: threw: add: operands must have the same dtype, got float64 and float32"))
      << r.report();
}

TEST(ModuleCheck, RejectsStateMissingFromTheStateDict) {
  nn::ModuleCheckResult r = check_defect(Defect::UnsavedState);
  EXPECT_TRUE(
      contains(r.report(), "state_dict round trip: a fresh module loaded with the state dict computes another output"))
      << r.report();
}

TEST(ModuleCheck, RejectsNonFiniteOutputs) {
  nn::ModuleCheckResult r = check_defect(Defect::NaNOutput);
  EXPECT_TRUE(contains(r.report(), "float32 forward: output element")) << r.report();
  EXPECT_TRUE(contains(r.report(), "is nan")) << r.report();
}

TEST(ModuleCheck, ReportsSpecMistakes) {
  nn::ModuleCheckSpec spec;
  spec.name = "nothing";
  EXPECT_EQ(nn::check_module(spec).report(), "nothing: spec: no factory (spec.make)");
  spec.make = [](Generator& g) { return std::make_shared<StackedCells>(1, 2, 2, g); };
  spec.input_shapes = {{2, 2}};
  EXPECT_TRUE(contains(nn::check_module(spec).report(), "not a one-tensor module (UnaryModule): set spec.forward"))
      << nn::check_module(spec).report();
  spec.make = [](Generator& g) { return std::make_shared<Linear>(2, 2, g); };
  spec.input_shapes = {};
  EXPECT_TRUE(contains(nn::check_module(spec).report(), "construction: threw: the spec gives no inputs"));
  spec.make_inputs = [](Generator& g) { return std::vector<Tensor>{randn({2, 2}, g)}; };
  EXPECT_TRUE(contains(nn::check_module(spec).report(), "input 0 must be float64"));
}

}  // namespace
}  // namespace harnet
