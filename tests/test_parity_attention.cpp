// Value parity with PyTorch for the attention operators.
//
// tests/fixtures/attention.json is written by tools/make_attention_fixtures.py with PyTorch 1.13:
// torch.nn.functional.multi_head_attention_forward (called as nn.MultiheadAttention calls it) in
// self- and cross-attention, sequence-first, batch_first and unbatched, with every kind of mask,
// the weights averaged, per head or not returned, and a fully masked row (NaN); and scaled
// dot-product attention. Each case is its own test (AllCases/ParityAttention.MatchesPyTorch/<case>):
// outputs, then the gradients of query / key / value and of all four projection parameters for
// stored upstream gradients (tests/parity_harness.h). The composed reference is replayed on the
// multi_head_attention cases too, so both implementations are tied to PyTorch.
#include "ops/attention.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {
using namespace harnet::parity;

const Fixture& fixture() {
  static const Fixture loaded =
      load_fixture("attention.json",
                   "regenerate it from the repository root with `/usr/bin/python3 tools/make_attention_fixtures.py` "
                   "(needs PyTorch, e.g. Debian's python3-torch)");
  return loaded;
}

using MhaImpl = MhaResult (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                              const Tensor&, const Tensor&, const MhaOptions&, const Tensor&, const Tensor&);

// Inputs in the fixture's order: query, key (unless kind "self"), value (kind "cross" only),
// in_proj_weight, in_proj_bias (biases), out_proj_weight, out_proj_bias (biases), attn_mask
// (has_attn_mask), key_padding_mask (has_key_padding_mask). Options as MhaOptions; dropout 0.
ParityOp mha_op(MhaImpl impl) {
  return [impl](const Inputs& in, const Options& o) {
    size_t i = 0;
    const std::string kind = o.string("kind");
    const Tensor query = in.at(i++);
    const Tensor key = kind == "self" ? query : in.at(i++);
    const Tensor value = kind == "cross" ? in.at(i++) : key;
    const bool biases = o.boolean("biases", true);
    const Tensor w_in = in.at(i++);
    const Tensor b_in = biases ? in.at(i++) : Tensor();
    const Tensor w_out = in.at(i++);
    const Tensor b_out = biases ? in.at(i++) : Tensor();
    const Tensor attn_mask = o.boolean("has_attn_mask", false) ? in.at(i++) : Tensor();
    const Tensor padding = o.boolean("has_key_padding_mask", false) ? in.at(i++) : Tensor();
    HARNET_CHECK(i == in.size(), "fixture: ", in.size() - i, " unused inputs");
    MhaOptions options;
    options.num_heads = o.integer("num_heads");
    options.batch_first = o.boolean("batch_first", false);
    options.need_weights = o.boolean("need_weights", true);
    options.average_attn_weights = o.boolean("average_attn_weights", true);
    const MhaResult r = impl(query, key, value, w_in, b_in, w_out, b_out, options, padding, attn_mask);
    if (!options.need_weights) return one(r.output);
    return std::vector<Tensor>{r.output, r.attn_weights};
  };
}

// Op name (as in tools/make_attention_fixtures.py) -> the harnet call.
const OpTable& parity_ops() {
  static const OpTable ops = {
      {"multi_head_attention", mha_op(multi_head_attention)},
      // inputs (q, k, v[, attn_mask]); option need_weights
      {"scaled_dot_product_attention",
       [](const Inputs& in, const Options& o) {
         const bool need_weights = o.boolean("need_weights", false);
         const SdpaResult r = scaled_dot_product_attention(in.at(0), in.at(1), in.at(2),
                                                           in.size() > 3 ? in.at(3) : Tensor(), 0.0, nullptr,
                                                           need_weights);
         if (!need_weights) return one(r.output);
         return std::vector<Tensor>{r.output, r.attn_weights};
       }},
  };
  return ops;
}

// The same multi_head_attention cases through the composed reference.
const OpTable& composed_ops() {
  static const OpTable ops = {{"multi_head_attention", mha_op(multi_head_attention_composed)}};
  return ops;
}

// ---------------------------------------------------------------- one test per case

class ParityAttention : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityAttention, MatchesPyTorch) { run_parity_case(fixture().cases.at(GetParam()), parity_ops()); }

INSTANTIATE_TEST_SUITE_P(AllCases, ParityAttention, ::testing::Range<size_t>(0, fixture().cases.size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_name(fixture(), info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityAttention);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityAttentionFixture, FileLoads) { check_fixture_loads(fixture()); }
TEST(ParityAttentionFixture, EveryCaseNamesAKnownOpAndAUniqueName) {
  check_cases_name_known_ops(fixture(), parity_ops());
}
TEST(ParityAttentionFixture, EveryOpHasFloat64AndFloat32Cases) { check_every_op_has_cases(fixture(), parity_ops()); }

// The composed reference, replayed on every multi_head_attention case.
TEST(ParityAttentionFixture, ComposedReferenceMatchesPyTorch) {
  ASSERT_TRUE(fixture().error.empty()) << fixture().error;
  int replayed = 0;
  for (const auto& c : fixture().cases) {
    if (c.value("op", "") != "multi_head_attention") continue;
    SCOPED_TRACE(c.value("name", ""));
    run_parity_case(c, composed_ops());
    ++replayed;
  }
  EXPECT_GT(replayed, 0);
}

}  // namespace
}  // namespace harnet
