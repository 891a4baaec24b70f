// End-to-end golden test of HARNet against PyTorch: tools/make_harnet_fixtures.py builds the
// reference model (small sizes, dropouts 0) and records its initial state, one batch, the
// logits, the cross-entropy loss, every parameter gradient, the BatchNorm buffers after the
// forward and the losses of 5 steps of Adam + clip_grad_norm_ (plus the final state in train
// mode), in train mode (batch statistics) and eval mode (running statistics). Here the same
// state is loaded into harnet::HARNet (strict) and everything is reproduced in float32. Two
// files: the model with the mean over time (the default) and with attention pooling.
//
// Tolerances, mixed absolute/relative as in tests/parity_harness.h:
//   |harnet - PyTorch| <= tol * (|PyTorch| + scale),  tol = 1e-4
// with scale = 1 for logits, losses and buffers. Gradients span many magnitudes (an absolute
// 1e-4 would accept any gradient below it), so a gradient's scale is its tensor's largest
// |value|, but at least 1e-3 of the total gradient norm: in train mode the conv biases feed
// BatchNorm, which removes them, so their exact gradient is 0 and both frameworks give float32
// noise (~1e-9). The weight updates of the optimizer steps are compared as changes from the
// initial state (an update of ~lr per step is small against the weights), with tol = 1e-3
// and the tensor's largest change as scale: Adam normalises each gradient element, so those
// noise-level gradients (plus weight decay) still move their biases by ~lr, as precisely as
// their float32 noise allows (about 1e-4 relative).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harnet/lib/model.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {

using nlohmann::json;

const char* const kRegenerate = "regenerate with /usr/bin/python3 tools/make_harnet_fixtures.py";
constexpr double kTolerance = 1e-4;
constexpr double kUpdateTolerance = 1e-3;

// A fixture file, read once.
const json& golden(const std::string& file) {
  static std::map<std::string, json> documents;
  auto it = documents.find(file);
  if (it == documents.end()) {
    const std::string path = std::string(HARNET_FIXTURE_DIR) + "/" + file;
    std::ifstream in(path);
    if (!in) throw Error(str_cat("missing fixture file ", path, ": ", kRegenerate));
    it = documents.emplace(file, json::parse(in)).first;
  }
  return it->second;
}

Tensor tensor_of(const json& record) {
  return parity::tensor_from_json(record.at("values"), parity::shape_of(record), parity::dtype_of_spec(record));
}

// A list of {"key", "dtype", "shape", "values"} records as a state dict, in the file's order.
nn::StateDict state_of(const json& records) {
  nn::StateDict dict;
  for (const json& r : records) dict.insert(r.at("key").get<std::string>(), tensor_of(r));
  return dict;
}

double largest_magnitude(const json& record) {
  double largest = 0.0;
  for (const json& v : record.at("values")) largest = std::max(largest, std::abs(parity::json_double(v)));
  return largest;
}

// actual against the record's values: |a - e| <= tol * (|e| + scale).
::testing::AssertionResult close_to(const Tensor& actual, const json& record, const std::string& what,
                                    double tol = kTolerance, double scale = 1.0) {
  const Shape shape = parity::shape_of(record);
  if (actual.shape() != shape)
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(actual.shape()) << ", PyTorch has "
                                         << shape_str(shape);
  const std::vector<double> got = actual.to_vector<double>();
  int64_t mismatches = 0;
  std::ostringstream report;
  report.precision(9);
  for (size_t i = 0; i < got.size(); ++i) {
    const double expected = parity::json_double(record.at("values")[i]);
    if (std::abs(got[i] - expected) <= tol * (std::abs(expected) + scale)) continue;
    if (mismatches++ < 5) report << "\n  [" << i << "] harnet " << got[i] << ", PyTorch " << expected;
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << " " << shape_str(shape) << ": " << mismatches << " of "
                                       << got.size() << " values differ (tolerance " << tol << " * (|PyTorch| + "
                                       << scale << "))" << report.str();
}

::testing::AssertionResult close_to(double actual, const json& expected, const std::string& what) {
  const double e = parity::json_double(expected);
  if (std::abs(actual - e) <= kTolerance * (std::abs(e) + 1.0)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": harnet " << actual << ", PyTorch " << e;
}

// The parameter: the fixture file (mean pooling, the default, or attention pooling).
class HarnetGolden : public ::testing::TestWithParam<std::string> {
 protected:
  const json& golden() const { return harnet::golden(GetParam()); }

  void SetUp() override {
    const json& doc = golden();
    config = HARNetConfig::from_json(doc.at("config").dump());
    Generator gen(0);
    model = std::make_shared<HARNet>(config, gen);
    initial = state_of(doc.at("state_dict"));
    model->load_state_dict(initial);  // strict
    x = tensor_of(doc.at("x"));
    labels = tensor_of(doc.at("labels"));
  }

  Tensor loss_of_batch() { return cross_entropy((*model)(x), labels); }

  // One forward and backward from the initial state in the mode, against the record.
  void check_forward_backward(const std::string& mode) {
    const json& expected = golden().at(mode);
    model->load_state_dict(initial);
    model->train(mode == "train");
    model->zero_grad();
    Tensor logits = (*model)(x);
    Tensor loss = cross_entropy(logits, labels);
    EXPECT_TRUE(close_to(logits, expected.at("logits"), mode + " logits"));
    EXPECT_TRUE(close_to(loss.item(), expected.at("loss"), mode + " loss"));
    loss.backward();

    const double grad_norm = parity::json_double(expected.at("grad_norm"));
    const auto named = model->named_parameters();
    ASSERT_EQ(named.size(), expected.at("grads").size());
    for (size_t i = 0; i < named.size(); ++i) {
      const json& record = expected.at("grads")[i];
      const std::string key = record.at("key").get<std::string>();
      ASSERT_EQ(named[i].first, key);
      ASSERT_TRUE(named[i].second.grad().defined()) << mode << ": no gradient for " << key;
      const double scale = std::max(largest_magnitude(record), 1e-3 * grad_norm);
      EXPECT_TRUE(close_to(named[i].second.grad(), record, mode + " grad " + key, kTolerance, scale));
    }
    // clip_grad_norm_ with an infinite bound only measures the total norm.
    EXPECT_TRUE(close_to(clip_grad_norm_(model->parameters(), INFINITY), expected.at("grad_norm"), mode + " grad norm"));

    const nn::StateDict after = model->state_dict();
    for (const json& record : expected.at("buffers_after")) {
      const std::string key = record.at("key").get<std::string>();
      EXPECT_TRUE(close_to(after.at(key).cast(kFloat64), record, mode + " buffer " + key));
    }
  }

  // The recorded optimisation: steps of Adam with clipping from the initial state.
  void check_optimizer_steps(const std::string& mode) {
    const json& expected = golden().at(mode);
    const json& recipe = golden().at("optimizer");
    model->load_state_dict(initial);
    model->train(mode == "train");
    model->zero_grad();
    AdamOptions options;
    options.lr = recipe.at("lr").get<double>();
    options.weight_decay = recipe.at("weight_decay").get<double>();
    Adam optimizer(model->parameters(), options);
    const json& losses = expected.at("step_losses");
    ASSERT_EQ(losses.size(), recipe.at("steps").get<size_t>());
    for (size_t step = 0; step < losses.size(); ++step) {
      optimizer.zero_grad();
      Tensor loss = loss_of_batch();
      loss.backward();
      clip_grad_norm_(model->parameters(), recipe.at("max_norm").get<double>());
      optimizer.step();
      EXPECT_TRUE(close_to(loss.item(), losses[step], str_cat(mode, " loss of step ", step)));
    }
  }

  HARNetConfig config;
  std::shared_ptr<HARNet> model;
  nn::StateDict initial;
  Tensor x, labels;
};

TEST_P(HarnetGolden, StateDictKeysAndShapesEqualPyTorch) {
  const json& records = golden().at("state_dict");
  const nn::StateDict ours = model->state_dict();
  ASSERT_EQ(ours.size(), records.size());
  size_t i = 0;
  for (const auto& [key, value] : ours) {
    EXPECT_EQ(key, records[i].at("key").get<std::string>());
    EXPECT_EQ(value.shape(), parity::shape_of(records[i]));
    EXPECT_EQ(value.dtype(), parity::dtype_of_spec(records[i])) << key;
    ++i;
  }
}

TEST_P(HarnetGolden, DefaultModelMatchesPyTorchKeyForKey) {
  const json& reference = golden().at("default_model");
  const HARNetConfig default_config = HARNetConfig::from_json(reference.at("config").dump());
  EXPECT_EQ(default_config.to_json(), HARNetConfig{}.to_json());  // the fixture's defaults are ours
  Generator gen(0);
  HARNet full(default_config, gen);
  EXPECT_EQ(full.num_parameters(), reference.at("num_parameters").get<int64_t>());
  const nn::StateDict ours = full.state_dict();
  const json& records = reference.at("state_dict");
  ASSERT_EQ(ours.size(), records.size());
  size_t i = 0;
  for (const auto& [key, value] : ours) {
    EXPECT_EQ(key, records[i].at("key").get<std::string>());
    EXPECT_EQ(value.shape(), parity::shape_of(records[i])) << key;
    EXPECT_EQ(value.dtype(), parity::dtype_of_spec(records[i])) << key;
    ++i;
  }
}

TEST_P(HarnetGolden, TrainModeLogitsLossAndEveryGradient) { check_forward_backward("train"); }

TEST_P(HarnetGolden, EvalModeLogitsLossAndEveryGradient) { check_forward_backward("eval"); }

TEST_P(HarnetGolden, TrainModeAdamStepsAndFinalState) {
  check_optimizer_steps("train");
  // The final state, as the change from the initial one (see the tolerances above).
  for (const json& record : golden().at("train").at("final_state")) {
    const std::string key = record.at("key").get<std::string>();
    const Tensor ours = model->state_dict().at(key);
    if (ours.dtype() == kInt64) {
      EXPECT_TRUE(parity::matches(ours, record.at("values"), parity::shape_of(record), kInt64, key));
      continue;
    }
    json change = record;
    const std::vector<double> start = initial.at(key).to_vector<double>();
    for (size_t i = 0; i < start.size(); ++i) change["values"][i] = parity::json_double(record["values"][i]) - start[i];
    EXPECT_TRUE(close_to(ours.cast(kFloat64) - initial.at(key).cast(kFloat64), change, "final change of " + key,
                         kUpdateTolerance, largest_magnitude(change)));
  }
}

TEST_P(HarnetGolden, EvalModeAdamSteps) { check_optimizer_steps("eval"); }

INSTANTIATE_TEST_SUITE_P(Pooling, HarnetGolden,
                         ::testing::Values("harnet_golden.json", "harnet_golden_attention.json"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "harnet_golden.json" ? std::string("Mean") : std::string("Attention");
                         });

}  // namespace
}  // namespace harnet
