// Value parity with PyTorch for the core operators.
//
// tests/fixtures/core_ops.json is written by tools/make_core_fixtures.py with PyTorch 1.13: per
// case, an operator name, its options, the input tensors, the outputs and, for a stored random
// upstream gradient, the gradient of every differentiable input. Each case is its own test
// (AllCases/ParityCore.MatchesPyTorch/<case name>): it rebuilds the inputs (as non-contiguous views
// where the case says so), runs the harnet function that kParityOps maps the op name to, compares
// the outputs, calls backward(upstream) on every differentiable output and compares the input
// gradients. Further tests check that the file loads, that every case names an operator of the
// table, and that every operator of the table has float64 and float32 cases.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/ops.h"

namespace harnet {
namespace {

using json = nlohmann::json;

const char* const kFixturePath = HARNET_FIXTURE_DIR "/core_ops.json";
const char* const kRegenerateHint =
    "regenerate it from the repository root with `/usr/bin/python3 tools/make_core_fixtures.py` "
    "(needs PyTorch, e.g. Debian's python3-torch)";

// ---------------------------------------------------------------- the fixture file

struct Fixture {
  json cases = json::array();
  std::string error;  // why the file is unusable; empty when it loaded
};

// Parsed once; a missing or malformed file leaves no cases and an error that
// ParityCoreFixture.FileLoads reports (a failure, not a skip).
const Fixture& fixture() {
  static const Fixture loaded = [] {
    Fixture f;
    std::ifstream in(kFixturePath);
    if (!in) {
      f.error = str_cat("missing fixture file ", kFixturePath, ": ", kRegenerateHint);
      return f;
    }
    try {
      json doc = json::parse(in);
      json cases = doc.at("cases");
      const size_t declared = doc.at("case_count").get<size_t>();
      if (!cases.is_array() || cases.size() != declared) {
        f.error = str_cat("fixture file ", kFixturePath, " declares ", declared, " cases but holds ",
                          cases.size(), " (truncated or edited by hand?): ", kRegenerateHint);
        return f;
      }
      f.cases = std::move(cases);
    } catch (const std::exception& e) {
      f.error = str_cat("cannot read fixture file ", kFixturePath, ": ", e.what(), "; ", kRegenerateHint);
    }
    return f;
  }();
  return loaded;
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
                                   const std::string& what, double tol = -1.0) {
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

// ---------------------------------------------------------------- the operator table

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

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

// Reductions with an optional "dims" option: absent means the all-dimensions overload.
template <class All, class Dims>
ParityOp reduction_op(All all, Dims dims) {
  return [all, dims](const Inputs& in, const Options& o) {
    if (!o.has("dims")) return one(all(in.at(0)));
    return one(dims(in.at(0), o.integers("dims"), o.boolean("keepdim", false)));
  };
}

// argmax/argmin with an optional "dim": absent means an index into the flattened tensor.
template <class All, class Dim>
ParityOp index_op(All all, Dim along) {
  return [all, along](const Inputs& in, const Options& o) {
    if (!o.has("dim")) return one(all(in.at(0)));
    return one(along(in.at(0), o.integer("dim"), o.boolean("keepdim", false)));
  };
}

CrossEntropyOptions cross_entropy_options(const Inputs& in, const Options& o) {
  CrossEntropyOptions options;  // harnet's defaults must be PyTorch's: absent options stay default
  if (o.has("reduction")) options.reduction = o.reduction();
  if (o.has("ignore_index")) options.ignore_index = o.integer("ignore_index");
  if (o.has("label_smoothing")) options.label_smoothing = o.number("label_smoothing");
  if (in.size() > 2) options.weight = in.at(2);
  return options;
}

NllLossOptions nll_loss_options(const Inputs& in, const Options& o) {
  NllLossOptions options;
  if (o.has("reduction")) options.reduction = o.reduction();
  if (o.has("ignore_index")) options.ignore_index = o.integer("ignore_index");
  if (in.size() > 2) options.weight = in.at(2);
  return options;
}

// Op name (as in the fixture and tools/make_core_fixtures.py) -> the harnet call. Inputs come
// in the fixture's order; options are described next to each entry where not obvious.
const std::map<std::string, ParityOp>& parity_ops() {
  static const std::map<std::string, ParityOp> ops = {
      // ---- elementwise, broadcasting: inputs (a, b)
      {"add", [](const Inputs& in, const Options&) { return one(add(in.at(0), in.at(1))); }},
      {"sub", [](const Inputs& in, const Options&) { return one(sub(in.at(0), in.at(1))); }},
      {"mul", [](const Inputs& in, const Options&) { return one(mul(in.at(0), in.at(1))); }},
      {"div", [](const Inputs& in, const Options&) { return one(div(in.at(0), in.at(1))); }},
      {"pow", [](const Inputs& in, const Options&) { return one(pow(in.at(0), in.at(1))); }},
      // tensor-scalar forms: option "scalar"; rsub/rdiv are scalar - x and scalar / x (operators)
      {"add_scalar", [](const Inputs& in, const Options& o) { return one(add(in.at(0), o.number("scalar"))); }},
      {"sub_scalar", [](const Inputs& in, const Options& o) { return one(sub(in.at(0), o.number("scalar"))); }},
      {"mul_scalar", [](const Inputs& in, const Options& o) { return one(mul(in.at(0), o.number("scalar"))); }},
      {"div_scalar", [](const Inputs& in, const Options& o) { return one(div(in.at(0), o.number("scalar"))); }},
      {"pow_scalar", [](const Inputs& in, const Options& o) { return one(pow(in.at(0), o.number("scalar"))); }},
      {"rsub_scalar", [](const Inputs& in, const Options& o) { return one(o.number("scalar") - in.at(0)); }},
      {"rdiv_scalar", [](const Inputs& in, const Options& o) { return one(o.number("scalar") / in.at(0)); }},
      // ---- unary
      {"neg", [](const Inputs& in, const Options&) { return one(neg(in.at(0))); }},
      {"exp", [](const Inputs& in, const Options&) { return one(exp(in.at(0))); }},
      {"log", [](const Inputs& in, const Options&) { return one(log(in.at(0))); }},
      {"sqrt", [](const Inputs& in, const Options&) { return one(sqrt(in.at(0))); }},
      {"abs", [](const Inputs& in, const Options&) { return one(abs(in.at(0))); }},
      {"tanh", [](const Inputs& in, const Options&) { return one(tanh(in.at(0))); }},
      {"sigmoid", [](const Inputs& in, const Options&) { return one(sigmoid(in.at(0))); }},
      {"relu", [](const Inputs& in, const Options&) { return one(relu(in.at(0))); }},
      {"gelu", [](const Inputs& in, const Options& o) { return one(gelu(in.at(0), o.string("approximate"))); }},
      // "min", "max": a number or null (no bound)
      {"clamp",
       [](const Inputs& in, const Options& o) {
         return one(clamp(in.at(0), o.optional_number("min"), o.optional_number("max")));
       }},
      // ---- selection: where(cond, a, b); masked_fill(x, mask) with option "value"
      {"where", [](const Inputs& in, const Options&) { return one(where(in.at(0), in.at(1), in.at(2))); }},
      {"masked_fill",
       [](const Inputs& in, const Options& o) { return one(masked_fill(in.at(0), in.at(1), o.number("value"))); }},
      // ---- comparisons (bool outputs, compared exactly)
      {"eq", [](const Inputs& in, const Options&) { return one(eq(in.at(0), in.at(1))); }},
      {"ne", [](const Inputs& in, const Options&) { return one(ne(in.at(0), in.at(1))); }},
      {"lt", [](const Inputs& in, const Options&) { return one(lt(in.at(0), in.at(1))); }},
      {"le", [](const Inputs& in, const Options&) { return one(le(in.at(0), in.at(1))); }},
      {"gt", [](const Inputs& in, const Options&) { return one(gt(in.at(0), in.at(1))); }},
      {"ge", [](const Inputs& in, const Options&) { return one(ge(in.at(0), in.at(1))); }},
      {"eq_scalar", [](const Inputs& in, const Options& o) { return one(eq(in.at(0), o.number("scalar"))); }},
      {"lt_scalar", [](const Inputs& in, const Options& o) { return one(lt(in.at(0), o.number("scalar"))); }},
      {"gt_scalar", [](const Inputs& in, const Options& o) { return one(gt(in.at(0), o.number("scalar"))); }},
      {"isfinite", [](const Inputs& in, const Options&) { return one(isfinite(in.at(0))); }},
      // ---- linear algebra: linear(x, weight[, bias])
      {"matmul", [](const Inputs& in, const Options&) { return one(matmul(in.at(0), in.at(1))); }},
      {"bmm", [](const Inputs& in, const Options&) { return one(bmm(in.at(0), in.at(1))); }},
      {"linear",
       [](const Inputs& in, const Options&) {
         return one(in.size() > 2 ? linear(in.at(0), in.at(1), in.at(2)) : linear(in.at(0), in.at(1)));
       }},
      // ---- shape and indexing
      {"reshape", [](const Inputs& in, const Options& o) { return one(reshape(in.at(0), o.integers("shape"))); }},
      {"view", [](const Inputs& in, const Options& o) { return one(view(in.at(0), o.integers("shape"))); }},
      // no options: flatten(x) with its defaults
      {"flatten",
       [](const Inputs& in, const Options& o) {
         if (!o.has("start_dim") && !o.has("end_dim")) return one(flatten(in.at(0)));
         return one(flatten(in.at(0), o.integer("start_dim", 0), o.integer("end_dim", -1)));
       }},
      {"squeeze", [](const Inputs& in, const Options& o) { return one(squeeze(in.at(0), o.integer("dim"))); }},
      {"unsqueeze", [](const Inputs& in, const Options& o) { return one(unsqueeze(in.at(0), o.integer("dim"))); }},
      {"transpose",
       [](const Inputs& in, const Options& o) {
         return one(transpose(in.at(0), o.integer("dim0"), o.integer("dim1")));
       }},
      {"permute", [](const Inputs& in, const Options& o) { return one(permute(in.at(0), o.integers("dims"))); }},
      {"expand", [](const Inputs& in, const Options& o) { return one(expand(in.at(0), o.integers("shape"))); }},
      {"contiguous", [](const Inputs& in, const Options&) { return one(contiguous(in.at(0))); }},
      {"clone", [](const Inputs& in, const Options&) { return one(clone(in.at(0))); }},
      {"to", [](const Inputs& in, const Options& o) { return one(to(in.at(0), parse_dtype(o.string("dtype")))); }},
      // cat / stack: every input is one operand
      {"cat", [](const Inputs& in, const Options& o) { return one(cat(in, o.integer("dim", 0))); }},
      {"stack", [](const Inputs& in, const Options& o) { return one(stack(in, o.integer("dim", 0))); }},
      // "split_size" (one size) or "sizes" (a list); one output per piece
      {"split",
       [](const Inputs& in, const Options& o) {
         if (o.has("split_size")) return split(in.at(0), o.integer("split_size"), o.integer("dim", 0));
         return split(in.at(0), o.integers("sizes"), o.integer("dim", 0));
       }},
      {"chunk",
       [](const Inputs& in, const Options& o) { return chunk(in.at(0), o.integer("chunks"), o.integer("dim", 0)); }},
      {"narrow",
       [](const Inputs& in, const Options& o) {
         return one(narrow(in.at(0), o.integer("dim"), o.integer("start"), o.integer("length")));
       }},
      {"slice",
       [](const Inputs& in, const Options& o) {
         return one(slice(in.at(0), o.integer("dim"), o.integer("start"), o.integer("end"), o.integer("step", 1)));
       }},
      // inputs (x, index)
      {"index_select",
       [](const Inputs& in, const Options& o) { return one(index_select(in.at(0), o.integer("dim"), in.at(1))); }},
      {"gather", [](const Inputs& in, const Options& o) { return one(gather(in.at(0), o.integer("dim"), in.at(1))); }},
      {"sum_to", [](const Inputs& in, const Options& o) { return one(sum_to(in.at(0), o.integers("shape"))); }},
      // ---- reductions: "dims" absent = the all-dimensions overload; amax/amin are max/min
      {"sum", reduction_op([](const Tensor& x) { return sum(x); },
                           [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return sum(x, d, k); })},
      {"mean", reduction_op([](const Tensor& x) { return mean(x); },
                            [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return mean(x, d, k); })},
      {"amax", reduction_op([](const Tensor& x) { return max(x); },
                            [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return max(x, d, k); })},
      {"amin", reduction_op([](const Tensor& x) { return min(x); },
                            [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return min(x, d, k); })},
      {"var",
       [](const Inputs& in, const Options& o) {
         if (!o.has("dims")) return one(var(in.at(0), o.integer("correction")));
         return one(var(in.at(0), o.integers("dims"), o.integer("correction"), o.boolean("keepdim", false)));
       }},
      // outputs (values, int64 indices)
      {"max_with_indices",
       [](const Inputs& in, const Options& o) {
         auto [values, indices] = max_with_indices(in.at(0), o.integer("dim"), o.boolean("keepdim", false));
         return std::vector<Tensor>{values, indices};
       }},
      {"min_with_indices",
       [](const Inputs& in, const Options& o) {
         auto [values, indices] = min_with_indices(in.at(0), o.integer("dim"), o.boolean("keepdim", false));
         return std::vector<Tensor>{values, indices};
       }},
      {"argmax", index_op([](const Tensor& x) { return argmax(x); },
                          [](const Tensor& x, int64_t d, bool k) { return argmax(x, d, k); })},
      {"argmin", index_op([](const Tensor& x) { return argmin(x); },
                          [](const Tensor& x, int64_t d, bool k) { return argmin(x, d, k); })},
      // ---- softmax and losses: inputs (input, target[, weight]); absent options keep harnet's defaults
      {"softmax", [](const Inputs& in, const Options& o) { return one(softmax(in.at(0), o.integer("dim"))); }},
      {"log_softmax", [](const Inputs& in, const Options& o) { return one(log_softmax(in.at(0), o.integer("dim"))); }},
      {"cross_entropy",
       [](const Inputs& in, const Options& o) {
         return one(cross_entropy(in.at(0), in.at(1), cross_entropy_options(in, o)));
       }},
      {"nll_loss",
       [](const Inputs& in, const Options& o) { return one(nll_loss(in.at(0), in.at(1), nll_loss_options(in, o))); }},
      {"mse_loss",
       [](const Inputs& in, const Options& o) {
         if (!o.has("reduction")) return one(mse_loss(in.at(0), in.at(1)));
         return one(mse_loss(in.at(0), in.at(1), o.reduction()));
       }},
  };
  return ops;
}

// ---------------------------------------------------------------- one test per case

class ParityCore : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityCore, MatchesPyTorch) {
  const json& c = fixture().cases.at(GetParam());
  const std::string name = c.value("name", "<unnamed case>");
  const std::string op = c.value("op", "<no op>");
  auto entry = parity_ops().find(op);
  ASSERT_NE(entry, parity_ops().end()) << name << ": unknown op \"" << op << "\" (add it to parity_ops())";

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

// The test name is the case name ("add/broadcast_row/f64" -> add_broadcast_row_f64).
std::string case_test_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name = fixture().cases.at(info.param).value("name", "case_" + std::to_string(info.param));
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllCases, ParityCore, ::testing::Range<size_t>(0, fixture().cases.size()),
                         case_test_name);
// With no fixture there are no instances; FileLoads below fails instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityCore);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityCoreFixture, FileLoads) {
  EXPECT_TRUE(fixture().error.empty()) << fixture().error;
  EXPECT_FALSE(fixture().cases.empty()) << kFixturePath << " has no cases: " << kRegenerateHint;
}

TEST(ParityCoreFixture, EveryCaseNamesAKnownOpAndAUniqueName) {
  ASSERT_TRUE(fixture().error.empty()) << fixture().error;
  std::set<std::string> names;
  for (const json& c : fixture().cases) {
    const std::string name = c.value("name", "");
    EXPECT_TRUE(parity_ops().count(c.value("op", ""))) << name << ": unknown op \"" << c.value("op", "") << "\"";
    EXPECT_TRUE(names.insert(name).second) << "duplicate case name \"" << name << "\"";
  }
}

// Deleting an operator's cases from the fixture (or adding an operator to the table without
// cases) fails here.
TEST(ParityCoreFixture, EveryOpHasFloat64AndFloat32Cases) {
  ASSERT_TRUE(fixture().error.empty()) << fixture().error;
  std::map<std::string, std::set<std::string>> dtypes_by_op;
  for (const json& c : fixture().cases) dtypes_by_op[c.value("op", "")].insert(c.value("dtype", ""));
  for (const auto& [op, fn] : parity_ops()) {
    EXPECT_TRUE(dtypes_by_op[op].count("float64")) << "no float64 case for op \"" << op << "\"; " << kRegenerateHint;
    EXPECT_TRUE(dtypes_by_op[op].count("float32")) << "no float32 case for op \"" << op << "\"; " << kRegenerateHint;
  }
}

}  // namespace
}  // namespace harnet
