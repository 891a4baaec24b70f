// Value parity with PyTorch for the convolutions.
//
// tests/fixtures/conv.json is written by tools/make_conv_fixtures.py with PyTorch 1.13 (F.conv2d,
// F.conv1d): per case the options, the input, weight and bias, the output and, for a stored random
// upstream gradient, the gradients of the input, the weight and the bias. Each case is its own test
// (AllCases/ParityConv.MatchesPyTorch/<case name>), replayed by tests/parity_harness.h; further tests
// check that the file loads, that every case names an operator of the table, and that every
// operator has float64 and float32 cases.
#include "ops/conv.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {
using namespace harnet::parity;

const Fixture& fixture() {
  static const Fixture loaded =
      load_fixture("conv.json",
                   "regenerate it from the repository root with `/usr/bin/python3 tools/make_conv_fixtures.py` "
                   "(needs PyTorch, e.g. Debian's python3-torch)");
  return loaded;
}

// Options as tools/make_conv_fixtures.py writes them: "stride", "dilation", "padding" (one size per
// spatial dimension), "padding_str" ("same" / "valid"), "groups"; absent ones keep the defaults.
Conv2dOptions conv2d_options(const Options& o) {
  Conv2dOptions options;
  auto pair = [&](const char* key) {
    const std::vector<int64_t> v = o.integers(key);
    HARNET_CHECK(v.size() == 2, "fixture: conv2d option ", key, " needs 2 values");
    return std::array<int64_t, 2>{v[0], v[1]};
  };
  if (o.has("stride")) options.stride = pair("stride");
  if (o.has("dilation")) options.dilation = pair("dilation");
  if (o.has("padding")) {
    const std::array<int64_t, 2> p = pair("padding");
    options.padding = Conv2dPadding(p[0], p[1]);
  }
  if (o.has("padding_str")) options.padding = Conv2dPadding(o.string("padding_str"));
  if (o.has("groups")) options.groups = o.integer("groups");
  return options;
}

Conv1dOptions conv1d_options(const Options& o) {
  Conv1dOptions options;
  auto single = [&](const char* key) {
    const std::vector<int64_t> v = o.integers(key);
    HARNET_CHECK(v.size() == 1, "fixture: conv1d option ", key, " needs 1 value");
    return v[0];
  };
  if (o.has("stride")) options.stride = single("stride");
  if (o.has("dilation")) options.dilation = single("dilation");
  if (o.has("padding")) options.padding = Conv1dPadding(single("padding"));
  if (o.has("padding_str")) options.padding = Conv1dPadding(o.string("padding_str"));
  if (o.has("groups")) options.groups = o.integer("groups");
  return options;
}

// Op name (as in the fixture) -> the harnet call; inputs (input, weight[, bias]).
const OpTable& parity_ops() {
  static const OpTable ops = {
      {"conv2d",
       [](const Inputs& in, const Options& o) {
         return one(conv2d(in.at(0), in.at(1), in.size() > 2 ? in.at(2) : Tensor(), conv2d_options(o)));
       }},
      {"conv1d",
       [](const Inputs& in, const Options& o) {
         return one(conv1d(in.at(0), in.at(1), in.size() > 2 ? in.at(2) : Tensor(), conv1d_options(o)));
       }},
  };
  return ops;
}

// ---------------------------------------------------------------- one test per case

class ParityConv : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityConv, MatchesPyTorch) { run_parity_case(fixture().cases.at(GetParam()), parity_ops()); }

INSTANTIATE_TEST_SUITE_P(AllCases, ParityConv, ::testing::Range<size_t>(0, fixture().cases.size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_name(fixture(), info.param); });
// With no fixture there are no instances; FileLoads below fails instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityConv);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityConvFixture, FileLoads) { check_fixture_loads(fixture()); }
TEST(ParityConvFixture, EveryCaseNamesAKnownOpAndAUniqueName) { check_cases_name_known_ops(fixture(), parity_ops()); }
TEST(ParityConvFixture, EveryOpHasFloat64AndFloat32Cases) { check_every_op_has_cases(fixture(), parity_ops()); }

}  // namespace
}  // namespace harnet
