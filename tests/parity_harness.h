// The machinery behind the PyTorch value-parity tests: fixture files written by the dev-only
// scripts in tools/ (format documented in tools/fixturelib.py) are replayed through harnet.
// A parity test file declares its operator table (op name -> harnet call) and instantiates
// one test per case with run_parity_case; see tests/test_parity_core.cpp.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/ops.h"

namespace harnet::parity {

using json = nlohmann::json;

struct Fixture {
  std::string path;
  std::string regenerate_hint;
  json cases = json::array();
  std::string error;  // why the file is unusable; empty when it loaded
};

// Reads HARNET_FIXTURE_DIR/file_name. A missing or malformed file leaves no cases and an
// error that check_fixture_loads reports (a failure, not a skip).
Fixture load_fixture(const std::string& file_name, const std::string& regenerate_hint);

double json_double(const json& v);
DType parse_dtype(const std::string& name);
Tensor tensor_from_json(const json& values, const Shape& shape, DType dtype);
Tensor with_layout(const Tensor& t, const std::string& layout);
Shape shape_of(const json& spec);
DType dtype_of_spec(const json& spec);

double tolerance(DType dtype);
bool within_tolerance(double actual, double expected, double tol);
::testing::AssertionResult matches(const Tensor& actual, const json& expected_values, const Shape& shape, DType dtype,
                                   const std::string& what, double tol = -1.0);


// A case's options, read by the table's lambdas. Every key the fixture gives must be read, so
// an option the mapping forgets (or the script misspells) fails the case instead of being
// silently ignored.
class Options {
 public:
  explicit Options(const json& options) : options_(options) {}

  bool has(const std::string& key) const { return options_.contains(key); }
  int64_t integer(const std::string& key) const { return at(key).get<int64_t>(); }
  int64_t integer(const std::string& key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  bool boolean(const std::string& key, bool fallback) const { return has(key) ? at(key).get<bool>() : fallback; }
  double number(const std::string& key) const { return json_double(at(key)); }
  // A JSON null is an absent bound (clamp).
  std::optional<double> optional_number(const std::string& key) const {
    const json& v = at(key);
    return v.is_null() ? std::nullopt : std::optional<double>(json_double(v));
  }
  std::string string(const std::string& key) const { return at(key).get<std::string>(); }
  std::vector<int64_t> integers(const std::string& key) const { return at(key).get<std::vector<int64_t>>(); }
  Reduction reduction() const {
    const std::string r = string("reduction");
    if (r == "none") return Reduction::None;
    if (r == "mean") return Reduction::Mean;
    if (r == "sum") return Reduction::Sum;
    throw Error(str_cat("fixture: unknown reduction \"", r, "\""));
  }

  std::vector<std::string> unread() const {
    std::vector<std::string> keys;
    for (const auto& [key, value] : options_.items())
      if (!read_.count(key)) keys.push_back(key);
    return keys;
  }

 private:
  const json& at(const std::string& key) const {
    read_.insert(key);
    return options_.at(key);
  }
  const json& options_;
  mutable std::set<std::string> read_;
};


using Inputs = std::vector<Tensor>;
using ParityOp = std::function<std::vector<Tensor>(const Inputs& in, const Options& o)>;
using OpTable = std::map<std::string, ParityOp>;

inline std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

// Replays one case: inputs, forward, outputs against PyTorch's, backward, input gradients.
void run_parity_case(const json& c, const OpTable& ops);

// The gtest name of case i ("add/broadcast_row/f64" -> add_broadcast_row_f64).
std::string case_test_name(const Fixture& fixture, size_t i);

// Whole-fixture checks: the file loads; every case names a known op, uniquely; every op of
// the table has float64 and float32 cases (so deleting cases fails a test).
void check_fixture_loads(const Fixture& fixture);
void check_cases_name_known_ops(const Fixture& fixture, const OpTable& ops);
void check_every_op_has_cases(const Fixture& fixture, const OpTable& ops, bool need_float32 = true);

}  // namespace harnet::parity
