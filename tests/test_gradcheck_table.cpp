// Every row of the operator table (ops/op_cases.h) as its own test: the same table that
// `harnet-gradcheck` prints. Adding an operator means adding a row there.
#include <gtest/gtest.h>

#include "ops/op_cases.h"

namespace harnet {
namespace {

class GradcheckTable : public ::testing::TestWithParam<size_t> {};

TEST_P(GradcheckTable, AnalyticMatchesNumeric) {
  const OpCase& c = op_cases()[GetParam()];
  for (uint64_t seed : {0u, 1u}) {
    OpCaseResult r = run_op_case(c, seed);
    EXPECT_TRUE(r.error.empty()) << c.op << " " << c.shapes << " threw: " << r.error;
    EXPECT_TRUE(r.result.passed) << c.op << " " << c.shapes << " seed " << seed << ": " << r.result.message;
  }
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name = op_cases()[info.param].op + "_" + std::to_string(info.param);
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradcheckTable, ::testing::Range<size_t>(0, op_cases().size()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GradcheckTable);

TEST(GradcheckTable, EveryRowHasAName) {
  for (const OpCase& c : op_cases()) {
    EXPECT_FALSE(c.op.empty());
    EXPECT_FALSE(c.shapes.empty()) << c.op;
  }
}

}  // namespace
}  // namespace harnet
