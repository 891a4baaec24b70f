// The HARNet model (harnet/lib/model.h): parameter counts of the specification, output shapes
// over configurations, the generic module checks in float64, attention pooling against a hand
// computation, the configuration's JSON form and its errors, input checks, reproducibility and
// the train/eval behaviour of dropout; the `harnet summary` command.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "harnet/lib/commands.h"
#include "harnet/lib/model.h"
#include "nn/module_check.h"
#include "ops/ops.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

// A model small enough for gradcheck: 2 blocks (one pooling), 1 LSTM layer.
HARNetConfig tiny_config() {
  HARNetConfig c;
  c.joints = 5;
  c.in_channels = 2;
  c.classes = 3;
  c.conv_channels = {3, 4};
  c.conv_pool = {false, true};
  c.lstm_layers = 1;
  c.lstm_hidden = 4;
  c.attention_heads = 2;
  c.classifier_hidden = 5;
  return c;
}

HARNetConfig without_dropout(HARNetConfig c) {
  c.input_dropout = c.lstm_dropout = c.attention_dropout = c.classifier_dropout = 0.0;
  return c;
}

HARNetConfig with_attention_pooling(HARNetConfig c) {
  c.pooling = "attention";
  return c;
}

// ---------------------------------------------------------------- sizes

TEST(HarnetModel, DefaultConfigHasTheSpecifiedParameterCount) {
  Generator gen(0);
  HARNet model(HARNetConfig{}, gen);
  EXPECT_EQ(model.num_parameters(), 770826);
  EXPECT_EQ(HARNetConfig{}.pooled_joints(), 7);
  EXPECT_EQ(HARNetConfig{}.frame_features(), 128 * 7);
}

TEST(HarnetModel, KinectV1ConfigParameterCount) {
  HARNetConfig c;
  c.joints = 20;
  c.classes = 20;
  EXPECT_EQ(c.pooled_joints(), 5);
  Generator gen(0);
  HARNet model(c, gen);
  // 770,826 - LSTM inputs 128 * (7 - 5) times 4 * 128 gates + 10 more classes of 64 + 1
  EXPECT_EQ(model.num_parameters(), 770826 - 128 * 2 * 512 + 10 * 65);
  EXPECT_EQ(model.num_parameters(), 640404);
}

struct ShapeCase {
  std::string name;
  HARNetConfig config;
  int64_t batch, frames;
};

std::vector<ShapeCase> shape_cases() {
  std::vector<ShapeCase> cases;
  HARNetConfig base = tiny_config();
  cases.push_back({"tiny", base, 2, 6});
  HARNetConfig bi = base;
  bi.bidirectional = true;
  bi.lstm_layers = 2;
  cases.push_back({"bidirectional", bi, 3, 4});
  HARNetConfig odd = base;
  odd.joints = 7;
  odd.conv_channels = {6, 5, 4};
  odd.conv_pool = {true, true, true};
  odd.conv_kernel = 5;
  cases.push_back({"odd_joints_three_pools", odd, 2, 3});
  HARNetConfig one_frame = base;
  cases.push_back({"one_frame", one_frame, 2, 1});
  HARNetConfig no_blocks = base;
  no_blocks.conv_channels = {};
  no_blocks.conv_pool = {};
  cases.push_back({"no_spatial_blocks", no_blocks, 1, 3});
  HARNetConfig velocities = base;
  velocities.in_channels = 6;
  velocities.attention_heads = 4;
  cases.push_back({"six_channels_four_heads", velocities, 1, 2});
  cases.push_back({"attention_pooling", with_attention_pooling(base), 2, 6});
  cases.push_back({"attention_pooling_one_frame", with_attention_pooling(base), 3, 1});
  cases.push_back({"bidirectional_attention_pooling", with_attention_pooling(bi), 2, 4});
  return cases;
}

TEST(HarnetModel, OutputShapesOverConfigurations) {
  for (const ShapeCase& c : shape_cases()) {
    SCOPED_TRACE(c.name);
    Generator gen(1);
    HARNet model(c.config, gen);
    const int64_t width = c.config.attention_width();
    EXPECT_EQ(model.lstm->input_size(), c.config.frame_features());
    EXPECT_EQ(model.mha->embed_dim(), width);
    for (bool training : {true, false}) {
      model.train(training);
      Tensor x = randn({c.batch, c.frames, c.config.joints, c.config.in_channels}, gen);
      Tensor logits = model(x);
      EXPECT_EQ(logits.shape(), (Shape{c.batch, c.config.classes}));
      EXPECT_EQ(logits.dtype(), kFloat32);
      for (float v : logits.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
    }
  }
}

TEST(HarnetModel, ChildrenAndStateDictFollowTheReference) {
  Generator gen(0);
  HARNet model(HARNetConfig{}, gen);
  std::vector<std::string> children;
  for (const auto& [name, child] : model.named_children()) children.push_back(name);
  EXPECT_EQ(children, (std::vector<std::string>{"spatial", "drop_in", "lstm", "mha", "norm", "head"}));
  const std::vector<std::string> keys = model.state_dict().keys();
  ASSERT_FALSE(keys.empty());
  EXPECT_EQ(keys.front(), "spatial.0.weight");
  EXPECT_EQ(keys.back(), "head.3.bias");
  EXPECT_EQ(model.spatial->size(), 3u * 3u + 2u);  // 3 blocks of conv, norm, relu; 2 pools
}

// ---------------------------------------------------------------- attention pooling

TEST(HarnetModel, AttentionPoolingAddsAFrameScorerBetweenNormAndHead) {
  Generator gen(0);
  HARNet mean_model(HARNetConfig{}, gen);
  HARNet model(with_attention_pooling(HARNetConfig{}), gen);
  EXPECT_EQ(HARNetConfig{}.pooling, "mean");
  EXPECT_EQ(mean_model.pool, nullptr);
  ASSERT_NE(model.pool, nullptr);
  std::vector<std::string> children;
  for (const auto& [name, child] : model.named_children()) children.push_back(name);
  EXPECT_EQ(children, (std::vector<std::string>{"spatial", "drop_in", "lstm", "mha", "norm", "pool", "head"}));
  // One Linear(D * H, 1): D * H + 1 parameters more than the mean-pooling model.
  EXPECT_EQ(model.num_parameters(), mean_model.num_parameters() + 128 + 1);
  const nn::StateDict state = model.state_dict();
  EXPECT_EQ(state.at("pool.weight").shape(), (Shape{1, 128}));
  EXPECT_EQ(state.at("pool.bias").shape(), (Shape{1}));
  for (const std::string& key : mean_model.state_dict().keys()) EXPECT_NE(key.rfind("pool.", 0), 0u) << key;
  // PyTorch's Linear initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
  const double bound = 1.0 / std::sqrt(128.0);
  std::vector<float> values = state.at("pool.weight").to_vector<float>();
  values.push_back(static_cast<float>(state.at("pool.bias").item()));
  for (float v : values) EXPECT_LE(std::abs(v), bound);
  EXPECT_NE(values.front(), values.back());
}

// Records the output of one module (the LayerNorm, whose output attention pooling pools).
struct OutputOf : nn::ForwardObserver {
  explicit OutputOf(const nn::Module& module) : module(&module) {}
  void on_forward(const nn::Module& m, const std::vector<Tensor>& outputs) override {
    if (&m == module) output = outputs.at(0);
  }
  const nn::Module* module;
  Tensor output;
};

// s_t = w . h_t + b, a = softmax_t(s), pooled = sum_t a_t h_t, computed here in double from
// the module's parameters and the frames it pooled; the model's logits are the head on it.
TEST(HarnetModel, AttentionPoolingIsTheSoftmaxWeightedSumOfTheFrames) {
  constexpr int64_t kBatch = 2, kFrames = 3, kWidth = 4;  // tiny_config: lstm_hidden 4
  Generator gen(11);
  HARNet model(with_attention_pooling(without_dropout(tiny_config())), gen);
  model.to(kFloat64);
  model.eval();
  // Scores a few units apart, so that the weights are far from uniform (far from the mean).
  const std::vector<double> w{1.5, -2.0, 0.5, 1.0};
  const double bias = 0.25;
  model.pool->weight.copy_from(from_vector<double>(w, {1, kWidth}));
  model.pool->bias.copy_from(tensor({bias}, kFloat64));
  const Tensor x = randn({kBatch, kFrames, 5, 2}, gen, kFloat64);

  OutputOf norm_output(*model.norm);
  Tensor logits;
  {
    nn::ScopedForwardObserver observe(norm_output);
    logits = model(x);
  }
  ASSERT_TRUE(norm_output.output.defined());
  ASSERT_EQ(norm_output.output.shape(), (Shape{kBatch, kFrames, kWidth}));
  const std::vector<double> h = norm_output.output.to_vector<double>();
  auto frame = [&](int64_t b, int64_t t, int64_t d) { return h[static_cast<size_t>((b * kFrames + t) * kWidth + d)]; };

  std::vector<double> pooled(kBatch * kWidth, 0.0);
  for (int64_t b = 0; b < kBatch; ++b) {
    std::vector<double> weights(kFrames);
    for (int64_t t = 0; t < kFrames; ++t) {
      double score = bias;
      for (int64_t d = 0; d < kWidth; ++d) score += w[static_cast<size_t>(d)] * frame(b, t, d);
      weights[static_cast<size_t>(t)] = std::exp(score);
    }
    double total = 0.0;
    for (double e : weights) total += e;
    for (double& a : weights) a /= total;
    const auto [lightest, heaviest] = std::minmax_element(weights.begin(), weights.end());
    EXPECT_GT(*heaviest - *lightest, 0.1) << "batch " << b << ": the weights are nearly uniform";
    for (int64_t t = 0; t < kFrames; ++t)
      for (int64_t d = 0; d < kWidth; ++d)
        pooled[static_cast<size_t>(b * kWidth + d)] += weights[static_cast<size_t>(t)] * frame(b, t, d);
  }

  const std::vector<double> by_model = model.pool_over_time(norm_output.output).to_vector<double>();
  ASSERT_EQ(by_model.size(), pooled.size());
  for (size_t i = 0; i < pooled.size(); ++i) EXPECT_NEAR(by_model[i], pooled[i], 1e-12) << i;
  const std::vector<double> expected_logits = (*model.head)(from_vector<double>(pooled, {kBatch, kWidth})).to_vector<double>();
  const std::vector<double> got_logits = logits.to_vector<double>();
  ASSERT_EQ(got_logits.size(), expected_logits.size());
  for (size_t i = 0; i < got_logits.size(); ++i) EXPECT_NEAR(got_logits[i], expected_logits[i], 1e-12) << i;
}

// ---------------------------------------------------------------- generic checks

// The generic module checks (gradcheck in float64 among them) of a model with its dropouts.
void expect_module_checks_pass(const std::string& name, const HARNetConfig& config) {
  nn::ModuleCheckSpec spec;
  spec.name = name;
  spec.make = [config](Generator& g) { return std::make_shared<HARNet>(config, g); };
  spec.input_shapes = {{2, 3, 5, 2}};
  spec.mode_behaviour = nn::ModeBehaviour::Differs;  // BatchNorm: batch vs running statistics
  spec.random_in_train = true;                       // the dropouts
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(r.passed()) << r.report();
}

TEST(HarnetModel, PassesTheModuleChecksInFloat64) { expect_module_checks_pass("HARNet(tiny)", tiny_config()); }

TEST(HarnetModel, BidirectionalPassesTheModuleChecksWithoutDropout) {
  nn::ModuleCheckSpec spec;
  spec.name = "HARNet(tiny, bidirectional, 2 layers, no dropout)";
  spec.make = [](Generator& g) {
    HARNetConfig c = without_dropout(tiny_config());
    c.bidirectional = true;
    c.lstm_layers = 2;
    c.lstm_hidden = 3;
    c.attention_heads = 3;
    return std::make_shared<HARNet>(c, g);
  };
  spec.input_shapes = {{2, 2, 5, 2}};
  spec.mode_behaviour = nn::ModeBehaviour::Differs;  // BatchNorm only: train mode is deterministic
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(r.passed()) << r.report();
}

TEST(HarnetModel, AttentionPoolingPassesTheModuleChecksInFloat64) {
  nn::ModuleCheckSpec spec;
  spec.name = "HARNet(tiny, attention pooling, no dropout)";
  spec.make = [](Generator& g) {
    return std::make_shared<HARNet>(with_attention_pooling(without_dropout(tiny_config())), g);
  };
  spec.input_shapes = {{2, 3, 5, 2}};
  spec.mode_behaviour = nn::ModeBehaviour::Differs;  // BatchNorm only: both modes are gradchecked
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(r.passed()) << r.report();
}

// ---------------------------------------------------------------- ensembles

HARNetConfig with_members(HARNetConfig c, int64_t members) {
  c.members = members;
  return c;
}

// The first member is the network a single HARNet draws from the same generator; the others
// follow it, named member1 ...; the parameters split into the members' without overlap.
TEST(HarnetEnsemble, FirstMemberIsTheSingleNetworkAndTheOthersFollow) {
  Generator a(11), b(11);
  HARNet single(tiny_config(), a), ensemble(with_members(tiny_config(), 3), b);
  EXPECT_EQ(ensemble.num_parameters(), 3 * single.num_parameters());
  ASSERT_EQ(ensemble.other_members.size(), 2u);
  const nn::StateDict s = single.state_dict(), e = ensemble.state_dict();
  EXPECT_EQ(e.size(), 3 * s.size());
  for (const auto& [key, value] : s) {
    ASSERT_TRUE(e.contains(key)) << key;
    EXPECT_EQ(e.at(key).to_vector<float>(), value.to_vector<float>()) << key;
    ASSERT_TRUE(e.contains("member1." + key) && e.contains("member2." + key)) << key;
  }
  // The later members are initialised differently (drawn after the first).
  EXPECT_NE(e.at("member1.head.3.weight").to_vector<float>(), e.at("head.3.weight").to_vector<float>());
  EXPECT_NE(e.at("member2.head.3.weight").to_vector<float>(), e.at("member1.head.3.weight").to_vector<float>());

  std::vector<const void*> all, split;
  for (const Tensor& p : ensemble.parameters()) all.push_back(p.raw_data());
  for (int64_t k = 0; k < 3; ++k) {
    const std::vector<Tensor> member = ensemble.member_parameters(k);
    EXPECT_EQ(member.size(), single.parameters().size()) << k;
    for (const Tensor& p : member) split.push_back(p.raw_data());
  }
  EXPECT_EQ(split, all);
  expect_error([&] { ensemble.member_parameters(3); }, "member 3 of an ensemble of 3");
  expect_error([&] { single.member_parameters(1); }, "member 1 of an ensemble of 1");
}

// forward is the log of the members' mean softmax; member_logits are the networks' logits.
TEST(HarnetEnsemble, ForwardIsTheLogOfTheMeanProbabilities) {
  Generator gen(12), again(12);
  HARNet ensemble(with_members(tiny_config(), 2), gen), single(tiny_config(), again);
  ensemble.eval();
  single.eval();
  Generator data(1);
  const Tensor x = randn({4, 3, 5, 2}, data);
  const std::vector<Tensor> logits = ensemble.member_logits(x);
  ASSERT_EQ(logits.size(), 2u);
  EXPECT_EQ(logits[0].to_vector<float>(), single(x).to_vector<float>());
  const std::vector<float> p0 = softmax(logits[0], 1).to_vector<float>(), p1 = softmax(logits[1], 1).to_vector<float>();
  const std::vector<float> out = ensemble(x).to_vector<float>();
  ASSERT_EQ(out.size(), p0.size());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], std::log(0.5 * (p0[i] + p1[i])), 1e-5) << i;
  const std::vector<float> probabilities = softmax(ensemble(x), 1).to_vector<float>();
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(probabilities[i], 0.5 * (p0[i] + p1[i]), 1e-6) << i;
}

// Logits far apart (a class at probability e^-1000 in every member) stay finite: the
// log-sum-exp is shifted, not log(mean(softmax)) computed directly.
TEST(HarnetEnsemble, CombineIsFiniteForFarApartLogits) {
  const Tensor a = from_vector<double>({0.0, 1000.0, -1000.0, 2.0, 2.0, 2.0}, {2, 3});
  const Tensor b = from_vector<double>({0.0, 999.0, -1000.0, 0.0, 1.0, 2.0}, {2, 3});
  const std::vector<double> out = HARNet::combine_members({a, b}).to_vector<double>();
  for (double v : out) EXPECT_TRUE(std::isfinite(v));
  // Row 0: class 1 has probability 1 in a and 1 in b (up to e^-999): log 1.
  EXPECT_NEAR(out[1], 0.0, 1e-12);
  // Class 0: log-probabilities -1000 (a) and -999 (b); class 2: -2000 and -1999.
  const double half_sum = std::log(0.5 * (std::exp(-1.0) + 1.0));
  EXPECT_NEAR(out[0], -999.0 + half_sum, 1e-9);
  EXPECT_NEAR(out[2], -1999.0 + half_sum, 1e-9);
  // Row 1: uniform in a; softmax(0, 1, 2) in b.
  const double z = std::exp(0.0) + std::exp(1.0) + std::exp(2.0);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(out[3 + c], std::log(0.5 * (1.0 / 3.0 + std::exp(c) / z)), 1e-12) << c;
  // One member: its logits unchanged.
  EXPECT_EQ(HARNet::combine_members({a}).to_vector<double>(), a.to_vector<double>());
}

TEST(HarnetEnsemble, CombineGradcheck) {
  Generator gen(5);
  std::vector<Tensor> inputs;
  for (int k = 0; k < 3; ++k) inputs.push_back(randn({2, 4}, gen, kFloat64, 0.0, 2.0).set_requires_grad(true));
  const GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return HARNet::combine_members(in); }, inputs);
  EXPECT_TRUE(r.passed) << r.message;
}

TEST(HarnetEnsemble, PassesTheModuleChecksInFloat64) {
  expect_module_checks_pass("HARNet(tiny, 2 members)", with_members(tiny_config(), 2));
}

TEST(HarnetEnsemble, MembersRoundTripAndReadAsOneWhenMissing) {
  EXPECT_EQ(HARNetConfig{}.members, 1);
  const HARNetConfig three = with_members(tiny_config(), 3);
  EXPECT_NE(three.to_json().find(R"("members": 3)"), std::string::npos) << three.to_json();
  EXPECT_EQ(HARNetConfig::from_json(three.to_json()).members, 3);
  EXPECT_EQ(HARNetConfig::from_json(R"({"joints": 7})").members, 1);
  expect_error([] { HARNetConfig::from_json(R"({"members": 0})"); }, "members must be positive, got 0");
}

// ---------------------------------------------------------------- reproducibility, modes

TEST(HarnetModel, SameSeedGivesIdenticalWeightsAndOutputs) {
  Generator a(7), b(7), c(8);
  HARNet first(tiny_config(), a), second(tiny_config(), b), other(tiny_config(), c);
  const nn::StateDict sa = first.state_dict(), sb = second.state_dict(), sc = other.state_dict();
  bool any_differs_from_other = false;
  for (const auto& [key, value] : sa) {
    EXPECT_EQ(value.to_vector<float>(), sb.at(key).to_vector<float>()) << key;
    if (value.to_vector<float>() != sc.at(key).to_vector<float>()) any_differs_from_other = true;
  }
  EXPECT_TRUE(any_differs_from_other);
  Generator data(3);
  Tensor x = randn({2, 4, 5, 2}, data);
  // Train mode too: the dropout generators are seeded from the model's generator.
  EXPECT_EQ(first(x).to_vector<float>(), second(x).to_vector<float>());
}

TEST(HarnetModel, EvalIsDeterministicAndTrainDropoutIsNot) {
  Generator gen(4);
  HARNet model(tiny_config(), gen);
  Tensor x = randn({3, 4, 5, 2}, gen);
  model.eval();
  const std::vector<float> first = model(x).to_vector<float>();
  EXPECT_EQ(model(x).to_vector<float>(), first);
  model.train();
  const std::vector<float> train_a = model(x).to_vector<float>();
  const std::vector<float> train_b = model(x).to_vector<float>();
  EXPECT_NE(train_a, train_b);  // new dropout masks each call
  model.eval();
  // Running statistics were updated by the train-mode calls, so compare eval with itself.
  const std::vector<float> again = model(x).to_vector<float>();
  EXPECT_EQ(model(x).to_vector<float>(), again);
}

TEST(HarnetModel, TrainModeWithoutDropoutIsDeterministic) {
  Generator gen(5);
  HARNet model(without_dropout(tiny_config()), gen);
  Tensor x = randn({3, 4, 5, 2}, gen);
  EXPECT_EQ(model(x).to_vector<float>(), model(x).to_vector<float>());
}

// The spatial blocks run each BatchNorm2d + ReLU as one fused operation, except under a
// forward observer (module by module, so each reports): both give bit-identical outputs,
// running statistics and gradients, in training and in evaluation.
TEST(HarnetModel, FusedSpatialBlocksMatchModuleByModule) {
  struct NoOpObserver : nn::ForwardObserver {
    void on_forward(const nn::Module&, const std::vector<Tensor>&) override {}
  };
  for (bool training : {true, false}) {
    std::vector<std::vector<float>> results[2];
    for (int observed = 0; observed < 2; ++observed) {
      Generator gen(7);
      HARNet model(without_dropout(tiny_config()), gen);
      model.train(training);
      const Tensor x = randn({3, 4, 5, 2}, gen);
      NoOpObserver observer;
      std::unique_ptr<nn::ScopedForwardObserver> scope;
      if (observed) scope = std::make_unique<nn::ScopedForwardObserver>(observer);
      sum(model(x)).backward();
      results[observed].push_back(model(x).to_vector<float>());
      for (const auto& [name, t] : model.state_dict()) results[observed].push_back(t.to_vector<float>());
      for (const Tensor& p : model.parameters()) results[observed].push_back(p.grad().to_vector<float>());
    }
    EXPECT_TRUE(results[0] == results[1]) << (training ? "training" : "evaluation");
  }
}

TEST(HarnetModel, RunsInFloat64) {
  Generator gen(6);
  HARNet model(tiny_config(), gen);
  Tensor x = randn({2, 3, 5, 2}, gen);
  model.eval();
  const std::vector<float> in_float32 = model(x).to_vector<float>();
  model.to(kFloat64);
  Tensor logits = model(x.cast(kFloat64));
  EXPECT_EQ(logits.dtype(), kFloat64);
  const std::vector<double> in_float64 = logits.to_vector<double>();
  ASSERT_EQ(in_float64.size(), in_float32.size());
  for (size_t i = 0; i < in_float32.size(); ++i) EXPECT_NEAR(in_float64[i], in_float32[i], 1e-5);
}

// ---------------------------------------------------------------- input errors

TEST(HarnetModel, WrongInputsNameTheExpectedShape) {
  Generator gen(0);
  HARNet model(tiny_config(), gen);
  const std::string expected = "HARNet: expected x [B, T, J=5, C_in=2]";
  expect_error([&] { model(randn({2, 3, 4, 2}, gen)); }, expected + " with B, T >= 1, got [2, 3, 4, 2]");
  expect_error([&] { model(randn({2, 3, 5, 3}, gen)); }, "got [2, 3, 5, 3]");
  expect_error([&] { model(randn({3, 5, 2}, gen)); }, "got [3, 5, 2]");
  expect_error([&] { model(randn({2, 0, 5, 2}, gen)); }, "got [2, 0, 5, 2]");
  expect_error([&] { model(Tensor()); }, "an undefined tensor");
  expect_error([&] { model(randn({2, 3, 5, 2}, gen, kFloat64)); }, "x is float64 but the model is float32");
}

// ---------------------------------------------------------------- configuration

TEST(HarnetConfig, JsonRoundTrip) {
  HARNetConfig c = tiny_config();
  c.bidirectional = true;
  c.input_dropout = 0.125;
  c.lstm_dropout = 0.3;
  c.conv_kernel = 5;
  const HARNetConfig back = HARNetConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.conv_channels, c.conv_channels);
  EXPECT_EQ(back.conv_pool, c.conv_pool);
  EXPECT_EQ(back.bidirectional, true);
  EXPECT_EQ(back.lstm_dropout, 0.3);
  EXPECT_EQ(back.conv_kernel, 5);
  // Every field is written.
  for (const char* key : {"joints", "in_channels", "classes", "conv_channels", "conv_pool", "conv_kernel",
                          "input_dropout", "lstm_layers", "lstm_hidden", "bidirectional", "lstm_dropout",
                          "attention_heads", "attention_dropout", "pooling", "classifier_hidden",
                          "classifier_dropout", "members"})
    EXPECT_NE(c.to_json().find(str_cat("\"", key, "\"")), std::string::npos) << key;
}

TEST(HarnetConfig, PoolingRoundTripsAndReadsAsMeanWhenMissing) {
  const HARNetConfig attention = with_attention_pooling(tiny_config());
  EXPECT_NE(attention.to_json().find(R"("pooling": "attention")"), std::string::npos) << attention.to_json();
  EXPECT_EQ(HARNetConfig::from_json(attention.to_json()).pooling, "attention");
  EXPECT_EQ(HARNetConfig::from_json(attention.to_json()).to_json(), attention.to_json());
  EXPECT_NE(HARNetConfig{}.to_json().find(R"("pooling": "mean")"), std::string::npos);
  // A configuration written before the setting existed (no "pooling" key) is mean pooling.
  const HARNetConfig old = HARNetConfig::from_json(
      R"({"joints": 7, "in_channels": 3, "classes": 4, "conv_channels": [8, 8, 16], "lstm_hidden": 12,
          "attention_heads": 2, "classifier_hidden": 8})");
  EXPECT_EQ(old.pooling, "mean");
  Generator gen(0);
  EXPECT_EQ(HARNet(old, gen).pool, nullptr);
}

TEST(HarnetConfig, MissingKeysKeepTheirDefaults) {
  const HARNetConfig c = HARNetConfig::from_json(R"({"joints": 20, "classes": 20})");
  EXPECT_EQ(c.joints, 20);
  EXPECT_EQ(c.classes, 20);
  EXPECT_EQ(c.to_json(), [] {
    HARNetConfig d;
    d.joints = 20;
    d.classes = 20;
    return d.to_json();
  }());
  EXPECT_EQ(HARNetConfig::from_json("{}").to_json(), HARNetConfig{}.to_json());
}

TEST(HarnetConfig, JsonErrorsNameTheKey) {
  expect_error([] { HARNetConfig::from_json(R"({"joint": 20})"); }, "HARNetConfig: unknown key \"joint\"");
  expect_error([] { HARNetConfig::from_json(R"({"joints": "20"})"); }, "\"joints\" must be an integer, got \"20\"");
  expect_error([] { HARNetConfig::from_json(R"({"joints": 2.5})"); }, "\"joints\" must be an integer, got 2.5");
  expect_error([] { HARNetConfig::from_json(R"({"input_dropout": true})"); }, "\"input_dropout\" must be a number");
  expect_error([] { HARNetConfig::from_json(R"({"bidirectional": 1})"); }, "\"bidirectional\" must be true or false");
  expect_error([] { HARNetConfig::from_json(R"({"pooling": 1})"); }, "\"pooling\" must be a string, got 1");
  expect_error([] { HARNetConfig::from_json(R"({"pooling": "max"})"); },
               "HARNetConfig: pooling must be \"mean\" or \"attention\", got \"max\"");
  expect_error([] { HARNetConfig::from_json(R"({"conv_channels": [8, "x"]})"); },
               "\"conv_channels[1]\" must be an integer, got \"x\"");
  expect_error([] { HARNetConfig::from_json(R"({"conv_channels": 8})"); }, "\"conv_channels\" must be an array, got 8");
  expect_error([] { HARNetConfig::from_json(R"({"conv_pool": [true, 0, 1]})"); },
               "\"conv_pool[1]\" must be true or false, got 0");
  expect_error([] { HARNetConfig::from_json("[1, 2]"); }, "expected a JSON object, got array");
  expect_error([] { HARNetConfig::from_json("{\"joints\": "); }, "HARNetConfig: not valid JSON");
  // Well-formed but invalid values: validate() runs.
  expect_error([] { HARNetConfig::from_json(R"({"lstm_hidden": 0})"); }, "lstm_hidden must be positive, got 0");
}

TEST(HarnetConfig, ValidateNamesTheSetting) {
  auto with = [](auto change) {
    HARNetConfig c;
    change(c);
    return c;
  };
  expect_error([&] { with([](HARNetConfig& c) { c.joints = 0; }).validate(); }, "joints must be positive, got 0");
  expect_error([&] { with([](HARNetConfig& c) { c.in_channels = -1; }).validate(); }, "in_channels must be positive");
  expect_error([&] { with([](HARNetConfig& c) { c.classes = 0; }).validate(); }, "classes must be positive");
  expect_error([&] { with([](HARNetConfig& c) { c.conv_channels[1] = 0; }).validate(); },
               "conv_channels[1] must be positive, got 0");
  expect_error([&] { with([](HARNetConfig& c) { c.conv_pool.pop_back(); }).validate(); },
               "conv_pool has 2 entries but conv_channels has 3");
  expect_error([&] { with([](HARNetConfig& c) { c.conv_kernel = 4; }).validate(); },
               "conv_kernel must be odd and positive, got 4");
  expect_error([&] { with([](HARNetConfig& c) { c.input_dropout = 1.0; }).validate(); },
               "input_dropout must be in [0, 1), got 1");
  expect_error([&] { with([](HARNetConfig& c) { c.lstm_dropout = -0.1; }).validate(); }, "lstm_dropout must be in [0, 1)");
  expect_error([&] { with([](HARNetConfig& c) { c.lstm_layers = 0; }).validate(); }, "lstm_layers must be positive");
  expect_error([&] { with([](HARNetConfig& c) { c.attention_heads = 3; }).validate(); },
               "attention_heads (3) must divide the attention width 128 (lstm_hidden)");
  expect_error(
      [&] {
        with([](HARNetConfig& c) {
          c.bidirectional = true;
          c.attention_heads = 5;
        }).validate();
      },
      "attention_heads (5) must divide the attention width 256 (2 * lstm_hidden)");
  expect_error([&] { with([](HARNetConfig& c) { c.attention_dropout = 2; }).validate(); },
               "attention_dropout must be in [0, 1)");
  expect_error([&] { with([](HARNetConfig& c) { c.pooling = "Attention"; }).validate(); },
               "pooling must be \"mean\" or \"attention\", got \"Attention\"");
  expect_error([&] { with([](HARNetConfig& c) { c.classifier_hidden = 0; }).validate(); },
               "classifier_hidden must be positive");
  expect_error([&] { with([](HARNetConfig& c) { c.classifier_dropout = 1.5; }).validate(); },
               "classifier_dropout must be in [0, 1)");
  Generator gen(0);
  expect_error([&] { HARNet(with([](HARNetConfig& c) { c.joints = 0; }), gen); }, "joints must be positive");
}

TEST(HarnetConfig, PooledJointsRoundUp) {
  HARNetConfig c;
  for (auto [joints, pooled] : std::vector<std::pair<int64_t, int64_t>>{{25, 7}, {20, 5}, {7, 2}, {1, 1}, {4, 1}}) {
    c.joints = joints;
    EXPECT_EQ(c.pooled_joints(), pooled) << joints;
  }
  c.conv_pool = {true, true, true};
  c.joints = 25;
  EXPECT_EQ(c.pooled_joints(), 4);
}

// ---------------------------------------------------------------- harnet summary

std::string summary_output(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  const int code = summary_command(args);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0) << printed;
  return printed;
}

TEST(HarnetSummary, DefaultModelTable) {
  const std::string printed = summary_output({});
  for (const char* expected : {"input [1, 60, 25, 3]", "spatial.0", "Conv2d", "[1, 64, 60, 25]", "spatial.4",
                               "[1, 64, 60, 13]", "[1, 128, 60, 7]", "lstm", "[1, 60, 128]", "mha", "norm",
                               "head.3", "[1, 10]", "total params: 770826"})
    EXPECT_NE(printed.find(expected), std::string::npos) << expected << " not in\n" << printed;
}

TEST(HarnetSummary, SizesFromOptionsAndConfigFile) {
  EXPECT_NE(summary_output({"--joints", "20", "--classes", "20", "--frames", "8"}).find("total params: 640404"),
            std::string::npos);
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "harnet-summary-command";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "config.json").string();
  HARNetConfig c = tiny_config();
  c.bidirectional = true;
  std::ofstream(path) << c.to_json();
  // The file's sizes, with the classes overridden on the command line.
  const std::string printed = summary_output({"--config", path, "--classes", "6", "--frames", "3"});
  c.classes = 6;
  Generator gen(0);
  EXPECT_NE(printed.find(str_cat("total params: ", HARNet(c, gen).num_parameters())), std::string::npos) << printed;
  EXPECT_NE(printed.find("[1, 3, 8]"), std::string::npos) << printed;  // bidirectional LSTM: 2 x 4
  EXPECT_NE(printed.find("[1, 6]"), std::string::npos) << printed;

  std::ofstream(path) << R"({"joints": 5, "hidden": 3})";
  expect_error([&] { summary_command({"--config", path}); }, path + ": HARNetConfig: unknown key \"hidden\"");
  std::filesystem::remove_all(dir);
}

// The summary line of the layer named `name` ("" when there is none).
std::string summary_row(const std::string& printed, const std::string& name) {
  std::istringstream lines(printed);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(name + " ", 0) == 0) return line;
  return "";
}

TEST(HarnetSummary, MembersListEveryNetwork) {
  const std::string printed = summary_output({"--members", "2"});
  EXPECT_NE(printed.find("total params: 1541652"), std::string::npos) << printed;
  EXPECT_NE(summary_row(printed, "member1.spatial.0"), "") << printed;
  EXPECT_EQ(summary_row(summary_output({}), "member1.spatial.0"), "");
}

// --bidirectional (the default recipe's LSTM) doubles the LSTM's outputs and the widths after it,
// as a model built with it; --no-bidirectional overrides a configuration file's.
TEST(HarnetSummary, BidirectionalDoublesTheLstmWidth) {
  const std::string printed = summary_output({"--bidirectional"});
  HARNetConfig c;
  c.bidirectional = true;
  Generator gen(0);
  EXPECT_NE(printed.find(str_cat("total params: ", HARNet(c, gen).num_parameters())), std::string::npos) << printed;
  EXPECT_NE(summary_row(printed, "lstm").find("[1, 60, 256]"), std::string::npos) << printed;
  EXPECT_NE(summary_row(summary_output({}), "lstm").find("[1, 60, 128]"), std::string::npos);
  EXPECT_NE(summary_output({"--no-bidirectional"}).find("total params: 770826"), std::string::npos);
}

TEST(HarnetSummary, ATourLaysTwiceTheJointsLessOne) {
  const std::string printed = summary_output({"--joints", "20", "--classes", "20", "--joint-walk", "tour"});
  EXPECT_NE(printed.find("HARNet: 20 joints as a tour of 39 positions x 3 channels"), std::string::npos) << printed;
  EXPECT_NE(printed.find("input [1, 60, 39, 3]"), std::string::npos) << printed;
  HARNetConfig c;
  c.joints = 39;
  c.classes = 20;
  Generator gen(0);
  EXPECT_NE(printed.find(str_cat("total params: ", HARNet(c, gen).num_parameters())), std::string::npos) << printed;
  expect_error([] { summary_command({"--joint-walk", "bfs"}); }, "--joint-walk: 'bfs' is not a joint walk");
}

TEST(HarnetSummary, AttentionPoolingRowAndParameterCount) {
  EXPECT_EQ(summary_row(summary_output({}), "pool"), "");
  const std::string printed = summary_output({"--pooling", "attention"});
  const std::string row = summary_row(printed, "pool");
  for (const char* expected : {"Linear", "[1, 60, 1]", " 129"})
    EXPECT_NE(row.find(expected), std::string::npos) << expected << " not in the row '" << row << "' of\n" << printed;
  EXPECT_NE(printed.find("total params: 770955"), std::string::npos) << printed;  // 770826 + D + 1

  // From a configuration file; --pooling overrides it.
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "harnet-summary-pooling";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "config.json").string();
  std::ofstream(path) << with_attention_pooling(tiny_config()).to_json();
  const std::string tiny = summary_output({"--config", path, "--frames", "3"});
  EXPECT_NE(summary_row(tiny, "pool").find("[1, 3, 1]"), std::string::npos) << tiny;
  Generator gen(0);
  const int64_t tiny_mean = HARNet(tiny_config(), gen).num_parameters();
  EXPECT_NE(tiny.find(str_cat("total params: ", tiny_mean + 4 + 1)), std::string::npos) << tiny;
  const std::string overridden = summary_output({"--config", path, "--pooling", "mean"});
  EXPECT_EQ(summary_row(overridden, "pool"), "");
  EXPECT_NE(overridden.find(str_cat("total params: ", tiny_mean)), std::string::npos) << overridden;
  std::filesystem::remove_all(dir);
  expect_error([] { summary_command({"--pooling", "max"}); }, "pooling must be \"mean\" or \"attention\", got \"max\"");
}

TEST(HarnetSummary, BadSettingsAreOneError) {
  expect_error([] { summary_command({"--frames", "0"}); }, "--frames must be at least 1, got 0");
  expect_error([] { summary_command({"--frames", "x"}); }, "--frames");
  expect_error([] { summary_command({"--layers", "3"}); }, "--layers");
  expect_error([] { summary_command({"--joints", "0"}); }, "joints must be positive, got 0");
  expect_error([] { summary_command({"--config", "no-such-dir/config.json"}); },
               "no-such-dir/config.json: cannot open the configuration file");
}

}  // namespace
}  // namespace harnet
