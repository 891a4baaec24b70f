#include "tests/parity_harness.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace harnet::parity {

Fixture load_fixture(const std::string& file_name, const std::string& regenerate_hint) {
  Fixture f;
  f.path = std::string(HARNET_FIXTURE_DIR) + "/" + file_name;
  f.regenerate_hint = regenerate_hint;
  std::ifstream in(f.path);
  if (!in) {
    f.error = str_cat("missing fixture file ", f.path, ": ", f.regenerate_hint);
    return f;
  }
  try {
    json doc = json::parse(in);
    json cases = doc.at("cases");
    const size_t declared = doc.at("case_count").get<size_t>();
    if (!cases.is_array() || cases.size() != declared) {
      f.error = str_cat("fixture file ", f.path, " declares ", declared, " cases but holds ", cases.size(),
                        " (truncated or edited by hand?): ", f.regenerate_hint);
      return f;
    }
    f.cases = std::move(cases);
  } catch (const std::exception& e) {
    f.error = str_cat("cannot read fixture file ", f.path, ": ", e.what(), "; ", f.regenerate_hint);
  }
  return f;
}

// JSON has no literal for non-finite numbers: the script writes them as strings.
double json_double(const json& v) {
  if (v.is_number()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  throw Error(str_cat("fixture: unexpected number ", v.dump()));
}

DType parse_dtype(const std::string& name) {
  if (name == "float32") return kFloat32;
  if (name == "float64") return kFloat64;
  if (name == "int64") return kInt64;
  if (name == "bool") return kBool;
  throw Error(str_cat("fixture: unknown dtype \"", name, "\""));
}

// A contiguous tensor holding the row-major values. Float values are exact: float32 ones are
// stored as the doubles equal to them, so the conversion loses nothing.
Tensor tensor_from_json(const json& values, const Shape& shape, DType dtype) {
  switch (dtype) {
    case DType::Float32:
    case DType::Float64: {
      std::vector<double> v;
      for (const json& x : values) v.push_back(json_double(x));
      return from_vector(v, shape, dtype);
    }
    case DType::Int64:
      return from_vector(values.get<std::vector<int64_t>>(), shape, dtype);
    case DType::Bool:
      return from_vector(values.get<std::vector<bool>>(), shape, dtype);
  }
  throw Error("fixture: unknown dtype");
}

// The logical tensor t rebuilt as a non-contiguous view, so that operators meet strided inputs:
//   "transposed": the last two dimensions are swapped in memory;
//   "strided":    every stride doubled, starting at offset 1 of a larger buffer whose unused
//                 slots hold a poison value (NaN, or an out-of-range index) that an operator
//                 ignoring the strides would read.
Tensor with_layout(const Tensor& t, const std::string& layout) {
  if (layout == "contiguous") return t;
  const Shape& shape = t.shape();
  const size_t n = shape.size();
  Tensor view;
  if (layout == "transposed") {
    HARNET_CHECK(n >= 2, "fixture: layout \"transposed\" needs 2 or more dimensions, got ", shape);
    Shape memory_shape = shape;
    std::swap(memory_shape[n - 1], memory_shape[n - 2]);
    Shape strides = contiguous_strides(memory_shape);
    std::swap(strides[n - 1], strides[n - 2]);
    view = empty(memory_shape, t.dtype()).as_strided(shape, strides, 0);
  } else if (layout == "strided") {
    Shape strides = contiguous_strides(shape);
    for (int64_t& s : strides) s *= 2;
    Tensor buffer = empty({2 * t.numel() + 1}, t.dtype());
    buffer.fill_(is_floating(t.dtype()) ? std::numeric_limits<double>::quiet_NaN() : -1000003.0);
    view = buffer.as_strided(shape, strides, 1);
  } else {
    throw Error(str_cat("fixture: unknown layout \"", layout, "\""));
  }
  view.copy_from(t);
  return view;
}

Shape shape_of(const json& spec) { return spec.at("shape").get<Shape>(); }
DType dtype_of_spec(const json& spec) { return parse_dtype(spec.at("dtype").get<std::string>()); }

// ---------------------------------------------------------------- comparison

// Mixed absolute/relative tolerance: |actual - expected| <= tol * (1 + |expected|), i.e. absolute
// for values below 1 in magnitude and relative above; tol is 1e-10 for float64 and 1e-4 for
// float32. NaN matches only NaN and an infinity only the same infinity.
double tolerance(DType dtype) { return dtype == kFloat64 ? 1e-10 : 1e-4; }

bool within_tolerance(double actual, double expected, double tol) {
  if (std::isnan(expected)) return std::isnan(actual);
  if (std::isinf(expected)) return actual == expected;
  return std::abs(actual - expected) <= tol * (1.0 + std::abs(expected));
}

// actual against expected values of the given shape and dtype; what names the tensor in messages.
// tol < 0: the dtype's tolerance; 0: bit-for-bit (up to the sign of zero).
::testing::AssertionResult matches(const Tensor& actual, const json& expected_values, const Shape& shape, DType dtype,
                                   const std::string& what, double tol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << what << " is undefined";
  if (actual.dtype() != dtype)
    return ::testing::AssertionFailure() << what << ": dtype " << dtype_name(actual.dtype()) << ", PyTorch has "
                                         << dtype_name(dtype);
  if (actual.shape() != shape)
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(actual.shape()) << ", PyTorch has "
                                         << shape_str(shape);
  if (tol < 0) tol = tolerance(dtype);
  std::ostringstream report;
  report.precision(17);
  int64_t mismatches = 0;
  auto mismatch = [&](size_t i, auto got, auto expected) {
    if (mismatches++ < 5) report << "\n  [" << i << "] harnet " << got << ", PyTorch " << expected;
  };
  if (is_floating(dtype)) {
    const std::vector<double> got = actual.to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i) {
      const double expected = json_double(expected_values.at(i));
      if (!within_tolerance(got[i], expected, tol)) mismatch(i, got[i], expected);
    }
  } else if (dtype == kInt64) {
    const std::vector<int64_t> got = actual.to_vector<int64_t>();
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != expected_values.at(i).get<int64_t>()) mismatch(i, got[i], expected_values.at(i).get<int64_t>());
  } else {
    const std::vector<bool> got = actual.to_vector<bool>();
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != expected_values.at(i).get<bool>()) mismatch(i, got[i], expected_values.at(i).get<bool>());
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  const std::string rule =
      is_floating(dtype) ? str_cat("tolerance ", tol, " * (1 + |PyTorch|)") : std::string("compared exactly");
  return ::testing::AssertionFailure() << what << " " << shape_str(shape) << " " << dtype_name(dtype) << ": "
                                       << mismatches << " of " << actual.numel() << " values differ (" << rule << ")"
                                       << report.str();
}

void run_parity_case(const json& c, const OpTable& ops) {
  const std::string name = c.value("name", "<unnamed case>");
  const std::string op = c.value("op", "<no op>");
  auto entry = ops.find(op);
  ASSERT_NE(entry, ops.end()) << name << ": unknown op \"" << op << "\" (add it to ops)";

  // 1. Inputs, as the case lays them out; the floating ones PyTorch differentiated are leaves
  //    that require grad.
  std::vector<Tensor> inputs;
  try {
    for (const json& spec : c.at("inputs")) {
      Tensor t = tensor_from_json(spec.at("values"), shape_of(spec), dtype_of_spec(spec));
      t = with_layout(t, spec.value("layout", "contiguous"));
      if (spec.at("requires_grad").get<bool>()) t.set_requires_grad(true);
      inputs.push_back(t);
    }
  } catch (const std::exception& e) {
    FAIL() << name << ": malformed fixture inputs: " << e.what();
  }

  // 2. Forward, and every output against PyTorch's.
  const Options options(c.at("options"));
  std::vector<Tensor> outputs;
  try {
    outputs = entry->second(inputs, options);
  } catch (const std::exception& e) {
    FAIL() << name << ": " << op << " threw: " << e.what();
  }
  EXPECT_TRUE(options.unread().empty()) << name << ": options not used by the harnet call: "
                                        << ::testing::PrintToString(options.unread());
  const json& expected_outputs = c.at("outputs");
  ASSERT_EQ(outputs.size(), expected_outputs.size()) << name << ": number of outputs";
  for (size_t k = 0; k < outputs.size(); ++k) {
    const json& spec = expected_outputs[k];
    EXPECT_TRUE(matches(outputs[k], spec.at("values"), shape_of(spec), dtype_of_spec(spec),
                        str_cat(name, ": output ", k)));
  }

  // 3. Backward: out_k.backward(upstream_k) for every differentiable output; the graph is kept
  //    until the last one, so the leaves' gradients sum over the outputs as in
  //    torch.autograd.backward(outputs, upstreams).
  std::vector<std::pair<Tensor, Tensor>> seeds;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const json& spec = expected_outputs[k];
    if (spec.at("upstream").is_null()) continue;
    seeds.emplace_back(outputs[k], tensor_from_json(spec.at("upstream"), shape_of(spec), dtype_of_spec(spec)));
  }
  try {
    for (size_t k = 0; k < seeds.size(); ++k)
      seeds[k].first.backward(seeds[k].second, /*retain_graph=*/k + 1 < seeds.size());
  } catch (const std::exception& e) {
    FAIL() << name << ": backward threw: " << e.what();
  }
  const json& input_specs = c.at("inputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const json& spec = input_specs[i];
    const std::string input_name = spec.value("name", std::to_string(i));
    if (spec.contains("grad")) {
      EXPECT_TRUE(matches(inputs[i].grad(), spec.at("grad"), shape_of(spec), dtype_of_spec(spec),
                          str_cat(name, ": gradient of input '", input_name, "'")));
    }
    // Operators must not write into their inputs.
    EXPECT_TRUE(matches(inputs[i], spec.at("values"), shape_of(spec), dtype_of_spec(spec),
                        str_cat(name, ": input '", input_name, "' after the op"), /*tol=*/0.0));
  }
}


std::string case_test_name(const Fixture& fixture, size_t i) {
  std::string name = fixture.cases.at(i).value("name", "case_" + std::to_string(i));
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

void check_fixture_loads(const Fixture& fixture) {
  EXPECT_TRUE(fixture.error.empty()) << fixture.error;
  EXPECT_FALSE(fixture.cases.empty()) << fixture.path << " has no cases: " << fixture.regenerate_hint;
}

void check_cases_name_known_ops(const Fixture& fixture, const OpTable& ops) {
  ASSERT_TRUE(fixture.error.empty()) << fixture.error;
  std::set<std::string> names;
  for (const json& c : fixture.cases) {
    const std::string name = c.value("name", "");
    EXPECT_TRUE(ops.count(c.value("op", ""))) << name << ": unknown op \"" << c.value("op", "") << "\"";
    EXPECT_TRUE(names.insert(name).second) << "duplicate case name \"" << name << "\"";
  }
}

void check_every_op_has_cases(const Fixture& fixture, const OpTable& ops, bool need_float32) {
  ASSERT_TRUE(fixture.error.empty()) << fixture.error;
  std::map<std::string, std::set<std::string>> dtypes_by_op;
  for (const json& c : fixture.cases) dtypes_by_op[c.value("op", "")].insert(c.value("dtype", ""));
  for (const auto& [op, fn] : ops) {
    EXPECT_TRUE(dtypes_by_op[op].count("float64"))
        << "no float64 case for op \"" << op << "\"; " << fixture.regenerate_hint;
    if (need_float32) {
      EXPECT_TRUE(dtypes_by_op[op].count("float32"))
          << "no float32 case for op \"" << op << "\"; " << fixture.regenerate_hint;
    }
  }
}

}  // namespace harnet::parity
