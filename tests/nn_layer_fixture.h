// PyTorch's word on the layer modules, from tests/fixtures/nn_layers.json (written by
// tools/make_nn_layer_fixtures.py): the repr and state-dict layout of named configurations,
// and, for some, float64 weights, inputs and outputs to hold a module loaded with those
// weights to.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "nn/module.h"
#include "tests/parity_harness.h"

namespace harnet::nn_fixture {

using parity::json;

inline const char* const kRegenerate = "regenerate with /usr/bin/python3 tools/make_nn_layer_fixtures.py";

inline const json& document() {
  static const json doc = [] {
    const std::string path = std::string(HARNET_FIXTURE_DIR) + "/nn_layers.json";
    std::ifstream in(path);
    if (!in) throw Error("missing fixture file " + path + ": " + kRegenerate);
    return json::parse(in);
  }();
  return doc;
}

// The record named `name` in the section "modules" or "parity".
inline const json& record(const std::string& section, const std::string& name) {
  for (const json& r : document().at(section))
    if (r.at("name") == name) return r;
  throw Error("nn_layers.json has no " + section + " record \"" + name + "\": " + kRegenerate);
}

inline Tensor tensor_of(const json& t) {
  return parity::tensor_from_json(t.at("values"), parity::shape_of(t), parity::dtype_of_spec(t));
}

// The module prints as PyTorch does and its state dict has PyTorch's keys, shapes and dtypes,
// in PyTorch's order, for the configuration `name`.
inline void expect_like_pytorch(const nn::Module& module, const std::string& name) {
  const json& r = record("modules", name);
  EXPECT_EQ(module.to_string(), r.at("repr").get<std::string>()) << name;
  std::vector<std::string> expected, actual;
  for (const json& e : r.at("state_dict"))
    expected.push_back(str_cat(e.at(0).get<std::string>(), " ", e.at(1).get<std::vector<int64_t>>(), " ",
                               e.at(2).get<std::string>()));
  for (const auto& [key, t] : module.state_dict())
    actual.push_back(str_cat(key, " ", t.shape(), " ", dtype_name(t.dtype())));
  EXPECT_EQ(actual, expected) << name;
}

// Loads the float64 state dict of parity record `name` into module (converted to float64).
inline void load_pytorch_weights(nn::Module& module, const std::string& name) {
  module.to(kFloat64);
  nn::StateDict dict;
  for (const json& e : record("parity", name).at("state_dict")) dict.insert(e.at(0).get<std::string>(), tensor_of(e.at(1)));
  module.load_state_dict(dict);
}

inline std::vector<Tensor> parity_inputs(const std::string& name) {
  std::vector<Tensor> inputs;
  for (const json& t : record("parity", name).at("inputs")) inputs.push_back(tensor_of(t));
  return inputs;
}

// outputs[i] equals PyTorch's i-th output within 1e-10 (mixed absolute / relative).
inline void expect_outputs(const std::vector<Tensor>& outputs, const std::string& name) {
  const json& expected = record("parity", name).at("outputs");
  ASSERT_EQ(outputs.size(), expected.size()) << name;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const json& e = expected[i];
    EXPECT_TRUE(parity::matches(outputs[i], e.at("values"), parity::shape_of(e), parity::dtype_of_spec(e),
                                str_cat(name, " output ", i), 1e-10));
  }
}

}  // namespace harnet::nn_fixture
