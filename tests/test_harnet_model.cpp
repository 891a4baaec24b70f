// The HARNet model (harnet/lib/model.h): parameter counts of the specification, output shapes
// over configurations, the generic module checks in float64, the configuration's JSON form and
// its errors, input checks, reproducibility and the train/eval behaviour of dropout; the
// `harnet summary` command.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

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

// ---------------------------------------------------------------- generic checks

TEST(HarnetModel, PassesTheModuleChecksInFloat64) {
  nn::ModuleCheckSpec spec;
  spec.name = "HARNet(tiny)";
  spec.make = [](Generator& g) { return std::make_shared<HARNet>(tiny_config(), g); };
  spec.input_shapes = {{2, 3, 5, 2}};
  spec.mode_behaviour = nn::ModeBehaviour::Differs;  // BatchNorm: batch vs running statistics
  spec.random_in_train = true;                       // the dropouts
  nn::ModuleCheckResult r = nn::check_module(spec);
  EXPECT_TRUE(r.passed()) << r.report();
}

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
                          "attention_heads", "attention_dropout", "classifier_hidden", "classifier_dropout"})
    EXPECT_NE(c.to_json().find(str_cat("\"", key, "\"")), std::string::npos) << key;
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
