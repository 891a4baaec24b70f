// PyTorch parity of the module machinery: tools/make_module_fixtures.py builds models with
// torch.nn and records what PyTorch says about them (tests/fixtures/nn_modules.json); here
// their harnet twins must print the same, name every parameter, buffer and module the same,
// count the same, and, loaded with PyTorch's state dict, compute the same outputs and
// gradients (float32 within 1e-4, float64 within 1e-10, mixed absolute/relative).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/activation.h"
#include "nn/container.h"
#include "nn/flatten.h"
#include "nn/linear.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {

using parity::json;
using namespace nn;

const char* const kRegenerate = "regenerate with /usr/bin/python3 tools/make_module_fixtures.py";

// ---------------------------------------------------------------- the twins of the Python models

using Modules = std::vector<std::shared_ptr<UnaryModule>>;

std::shared_ptr<Sequential> make_mlp(Generator& gen) {
  return std::make_shared<Sequential>(Modules{std::make_shared<Linear>(5, 4, gen), std::make_shared<ReLU>(),
                                              std::make_shared<Linear>(4, 6, gen), std::make_shared<GELU>(),
                                              std::make_shared<Linear>(6, 3, gen), std::make_shared<Sigmoid>()});
}

class Nested : public Module {
 public:
  explicit Nested(Generator& gen) {
    spatial = register_module(
        "spatial", std::make_shared<Sequential>(Modules{
                       std::make_shared<Flatten>(), std::make_shared<Linear>(6, 8, gen), std::make_shared<GELU>("tanh"),
                       std::make_shared<Sequential>(
                           Modules{std::make_shared<Linear>(8, 8, false, gen), std::make_shared<Sigmoid>()})}));
    blocks = register_module("blocks", std::make_shared<ModuleList>());
    blocks->push_back(std::make_shared<Linear>(8, 8, gen));
    blocks->push_back(std::make_shared<Sequential>(
        Modules{std::make_shared<Identity>(), std::make_shared<Linear>(8, 8, gen), std::make_shared<Tanh>()}));
    head = register_module("head", std::make_shared<Sequential>(
                                       Modules{std::make_shared<Linear>(8, 5, gen), std::make_shared<ReLU>(),
                                               std::make_shared<Identity>(), std::make_shared<Linear>(5, 3, gen)}));
    temperature = full({1}, 0.75);
    scale = tensor({0.5, 1.0, 2.0});
    step = zeros({}, kInt64);
    cache = zeros({3});
    register_parameter("temperature", temperature);
    register_buffer("scale", scale);
    register_buffer("step", step);
    register_buffer("cache", cache, /*persistent=*/false);
  }
  std::string type_name() const override { return "Nested"; }

  Tensor forward(const Tensor& x) {  // x [B, 2, 3] -> [B, 3]
    Tensor h = (*spatial)(x);
    for (const auto& block : *blocks) h = h + (*std::dynamic_pointer_cast<UnaryModule>(block))(h);
    return (*head)(h)*scale * temperature;
  }

  std::shared_ptr<Sequential> spatial, head;
  std::shared_ptr<ModuleList> blocks;
  Tensor temperature, scale, step, cache;
};

struct Twin {
  std::shared_ptr<Module> module;
  std::function<Tensor(const Tensor&)> forward;
};

Twin make_twin(const std::string& name, Generator& gen) {
  if (name == "mlp") {
    auto m = make_mlp(gen);
    return {m, [m](const Tensor& x) { return (*m)(x); }};
  }
  if (name == "nested") {
    auto m = std::make_shared<Nested>(gen);
    return {m, [m](const Tensor& x) { return m->forward(x); }};
  }
  throw Error("test_module_parity: no twin for the fixture model \"" + name + "\"");
}

const std::vector<std::string> kTwins = {"mlp", "nested"};

// ---------------------------------------------------------------- fixture

json load_models() {
  const std::string path = std::string(HARNET_FIXTURE_DIR) + "/nn_modules.json";
  std::ifstream in(path);
  if (!in) throw Error("missing fixture file " + path + ": " + kRegenerate);
  return json::parse(in).at("models");
}

Tensor tensor_of(const json& record) {
  return parity::tensor_from_json(record.at("values"), parity::shape_of(record), parity::dtype_of_spec(record));
}

::testing::AssertionResult matches(const Tensor& actual, const json& record, const std::string& what) {
  return parity::matches(actual, record.at("values"), parity::shape_of(record), parity::dtype_of_spec(record), what);
}

TEST(ModuleParity, FixtureHoldsEveryTwin) {
  json models = load_models();
  std::vector<std::string> names;
  for (const json& m : models) names.push_back(m.at("name").get<std::string>());
  EXPECT_EQ(names, kTwins) << kRegenerate;
}

TEST(ModuleParity, StructureAndNamesAreThoseOfPyTorch) {
  for (const json& record : load_models()) {
    const std::string name = record.at("name").get<std::string>();
    SCOPED_TRACE(name);
    Generator gen(0);
    Twin twin = make_twin(name, gen);
    const Module& m = *twin.module;
    EXPECT_EQ(m.to_string(), record.at("repr").get<std::string>());
    EXPECT_EQ(m.num_parameters(), record.at("num_parameters").get<int64_t>());

    std::vector<std::pair<std::string, Shape>> params, buffers, expected_params, expected_buffers;
    for (const auto& [n, t] : m.named_parameters()) params.emplace_back(n, t.shape());
    for (const auto& [n, t] : m.named_buffers()) buffers.emplace_back(n, t.shape());
    for (const json& p : record.at("named_parameters")) expected_params.emplace_back(p[0], p[1].get<Shape>());
    for (const json& b : record.at("named_buffers")) expected_buffers.emplace_back(b[0], b[1].get<Shape>());
    EXPECT_EQ(params, expected_params);
    EXPECT_EQ(buffers, expected_buffers);

    std::vector<std::pair<std::string, std::string>> modules, expected_modules;
    for (const auto& [n, module] : m.named_modules()) modules.emplace_back(n, module->type_name());
    for (const json& e : record.at("named_modules")) expected_modules.emplace_back(e[0], e[1]);
    EXPECT_EQ(modules, expected_modules);

    StateDict state = m.state_dict();
    const json& expected_state = record.at("state_dict");
    ASSERT_EQ(state.size(), expected_state.size());
    size_t i = 0;
    for (const auto& [key, t] : state) {
      const json& e = expected_state[i++];
      EXPECT_EQ(key, e[0].get<std::string>());
      EXPECT_EQ(t.shape(), parity::shape_of(e[1])) << key;
      EXPECT_EQ(t.dtype(), parity::dtype_of_spec(e[1])) << key;
    }
  }
}

TEST(ModuleParity, PyTorchWeightsGiveItsOutputsAndGradients) {
  for (const json& record : load_models()) {
    const std::string name = record.at("name").get<std::string>();
    SCOPED_TRACE(name);
    Generator gen(0);
    Twin twin = make_twin(name, gen);
    StateDict torch_state;
    for (const json& e : record.at("state_dict")) torch_state.insert(e[0].get<std::string>(), tensor_of(e[1]));
    LoadReport report = twin.module->load_state_dict(torch_state);
    ASSERT_TRUE(report.complete()) << report.to_string();

    const Tensor x = tensor_of(record.at("input"));
    EXPECT_TRUE(matches(twin.forward(x), record.at("output_float32"), "float32 output"));

    twin.module->to(kFloat64);
    Tensor x64 = x.cast(kFloat64).set_requires_grad(true);
    Tensor out = twin.forward(x64);
    EXPECT_TRUE(matches(out, record.at("output_float64"), "float64 output"));
    out.backward(tensor_of(record.at("upstream")));
    EXPECT_TRUE(matches(x64.grad(), record.at("input_grad"), "input gradient"));
    std::map<std::string, Tensor> params;
    for (const auto& [n, p] : twin.module->named_parameters()) params[n] = p;
    for (const json& g : record.at("parameter_grads")) {
      const std::string key = g[0].get<std::string>();
      ASSERT_TRUE(params.count(key)) << key;
      EXPECT_TRUE(matches(params[key].grad(), g[1], "gradient of " + key));
    }
  }
}

}  // namespace
}  // namespace harnet
