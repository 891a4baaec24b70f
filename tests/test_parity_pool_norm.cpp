// Value parity with PyTorch for pooling, normalisation and dropout.
//
// tests/fixtures/pool_norm.json is written by tools/make_pool_norm_fixtures.py with PyTorch 1.13:
// per case, an operator name, its options, the input tensors, the outputs and, for a stored
// random upstream gradient, the gradient of every differentiable input. Each case is its own
// test (AllCases/ParityPoolNorm.MatchesPyTorch/<case name>), replayed by tests/parity_harness.h:
// max pool indices are compared exactly, and batch_norm in training returns the running
// statistics it updated as extra outputs, so they are compared with PyTorch's too. Further
// tests check that the file loads, that every case names an operator of the table, and that
// every operator of the table has float64 and float32 cases.
#include "ops/dropout.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {
using namespace harnet::parity;

const Fixture& fixture() {
  static const Fixture loaded =
      load_fixture("pool_norm.json",
                   "regenerate it from the repository root with `/usr/bin/python3 tools/make_pool_norm_fixtures.py` "
                   "(needs PyTorch, e.g. Debian's python3-torch)");
  return loaded;
}

// A pooling argument given as one number or an [h, w] list (PyTorch accepts both).
Pool2dParam pair(const Options& o, const std::string& key) {
  try {
    const std::vector<int64_t> v = o.integers(key);
    HARNET_CHECK(v.size() == 2, "fixture: ", key, " must be a number or a list of two, got ", v.size(), " values");
    return Pool2dParam(v[0], v[1]);
  } catch (const json::exception&) {  // not a list: a number
    return Pool2dParam(o.integer(key));
  }
}

MaxPool2dOptions max_pool2d_options(const Options& o) {
  MaxPool2dOptions options;
  if (o.has("stride")) options.stride = pair(o, "stride");
  if (o.has("padding")) options.padding = pair(o, "padding");
  if (o.has("dilation")) options.dilation = pair(o, "dilation");
  options.ceil_mode = o.boolean("ceil_mode", false);
  return options;
}

MaxPool1dOptions max_pool1d_options(const Options& o) {
  MaxPool1dOptions options;
  if (o.has("stride")) options.stride = o.integer("stride");
  options.padding = o.integer("padding", 0);
  options.dilation = o.integer("dilation", 1);
  options.ceil_mode = o.boolean("ceil_mode", false);
  return options;
}

AvgPool2dOptions avg_pool2d_options(const Options& o) {
  AvgPool2dOptions options;
  if (o.has("stride")) options.stride = pair(o, "stride");
  if (o.has("padding")) options.padding = pair(o, "padding");
  options.ceil_mode = o.boolean("ceil_mode", false);
  options.count_include_pad = o.boolean("count_include_pad", true);
  if (o.has("divisor_override")) options.divisor_override = o.integer("divisor_override");
  return options;
}

AvgPool1dOptions avg_pool1d_options(const Options& o) {
  AvgPool1dOptions options;
  if (o.has("stride")) options.stride = o.integer("stride");
  options.padding = o.integer("padding", 0);
  options.ceil_mode = o.boolean("ceil_mode", false);
  options.count_include_pad = o.boolean("count_include_pad", true);
  return options;
}

std::vector<Tensor> both(const std::pair<Tensor, Tensor>& values_and_indices) {
  return {values_and_indices.first, values_and_indices.second};
}

// batch_norm's inputs: input, then weight, bias, running_mean, running_var as the has_*
// options say. The running statistics are copied before the call (the fixture's inputs must
// stay untouched) and, in training, returned after the output as PyTorch's script does.
std::vector<Tensor> batch_norm_case(const Inputs& in, const Options& o) {
  size_t next = 1;
  const Tensor weight = o.boolean("has_weight", false) ? in.at(next++) : Tensor();
  const Tensor bias = o.boolean("has_bias", false) ? in.at(next++) : Tensor();
  Tensor running_mean, running_var;
  if (o.boolean("has_running", false)) {
    running_mean = in.at(next++).contiguous_copy();
    running_var = in.at(next++).contiguous_copy();
  }
  const bool training = o.boolean("training", false);
  Tensor out = batch_norm(in.at(0), running_mean, running_var, weight, bias, training, o.number("momentum"),
                          o.number("eps"));
  if (training && running_mean.defined()) return {out, running_mean, running_var};
  return {out};
}

std::vector<Tensor> layer_norm_case(const Inputs& in, const Options& o) {
  size_t next = 1;
  const Tensor weight = o.boolean("has_weight", false) ? in.at(next++) : Tensor();
  const Tensor bias = o.boolean("has_bias", false) ? in.at(next++) : Tensor();
  return one(layer_norm(in.at(0), o.integers("normalized_shape"), weight, bias, o.number("eps")));
}

// Op name (as in the fixture and tools/make_pool_norm_fixtures.py) -> the harnet call.
const std::map<std::string, ParityOp>& parity_ops() {
  static const std::map<std::string, ParityOp> ops = {
      // ---- pools: options are PyTorch's keyword arguments (numbers or [h, w] pairs)
      {"max_pool2d",
       [](const Inputs& in, const Options& o) {
         return one(max_pool2d(in.at(0), pair(o, "kernel_size"), max_pool2d_options(o)));
       }},
      {"max_pool1d",
       [](const Inputs& in, const Options& o) {
         return one(max_pool1d(in.at(0), o.integer("kernel_size"), max_pool1d_options(o)));
       }},
      // outputs (values, int64 indices)
      {"max_pool2d_with_indices",
       [](const Inputs& in, const Options& o) {
         return both(max_pool2d_with_indices(in.at(0), pair(o, "kernel_size"), max_pool2d_options(o)));
       }},
      {"max_pool1d_with_indices",
       [](const Inputs& in, const Options& o) {
         return both(max_pool1d_with_indices(in.at(0), o.integer("kernel_size"), max_pool1d_options(o)));
       }},
      {"avg_pool2d",
       [](const Inputs& in, const Options& o) {
         return one(avg_pool2d(in.at(0), pair(o, "kernel_size"), avg_pool2d_options(o)));
       }},
      {"avg_pool1d",
       [](const Inputs& in, const Options& o) {
         return one(avg_pool1d(in.at(0), o.integer("kernel_size"), avg_pool1d_options(o)));
       }},
      {"adaptive_avg_pool2d",
       [](const Inputs& in, const Options& o) { return one(adaptive_avg_pool2d(in.at(0), pair(o, "output_size"))); }},
      {"adaptive_avg_pool1d",
       [](const Inputs& in, const Options& o) {
         return one(adaptive_avg_pool1d(in.at(0), o.integer("output_size")));
       }},
      // ---- normalisation: options training, momentum, eps, has_weight, has_bias, has_running;
      // outputs (out[, running_mean after, running_var after])
      {"batch_norm", batch_norm_case},
      // options normalized_shape, eps, has_weight, has_bias
      {"layer_norm", layer_norm_case},
      // ---- dropout in its deterministic regimes (evaluation, p = 0, p = 1): options p, training
      {"dropout",
       [](const Inputs& in, const Options& o) {
         Generator gen(0);
         return one(dropout(in.at(0), o.number("p"), o.boolean("training", true), gen));
       }},
  };
  return ops;
}

// ---------------------------------------------------------------- one test per case

class ParityPoolNorm : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityPoolNorm, MatchesPyTorch) { run_parity_case(fixture().cases.at(GetParam()), parity_ops()); }

INSTANTIATE_TEST_SUITE_P(AllCases, ParityPoolNorm, ::testing::Range<size_t>(0, fixture().cases.size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_name(fixture(), info.param); });
// With no fixture there are no instances; FileLoads below fails instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityPoolNorm);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityPoolNormFixture, FileLoads) { check_fixture_loads(fixture()); }
TEST(ParityPoolNormFixture, EveryCaseNamesAKnownOpAndAUniqueName) {
  check_cases_name_known_ops(fixture(), parity_ops());
}
// Deleting an operator's cases from the fixture (or adding an operator to the table without
// cases) fails here.
TEST(ParityPoolNormFixture, EveryOpHasFloat64AndFloat32Cases) { check_every_op_has_cases(fixture(), parity_ops()); }

}  // namespace
}  // namespace harnet
