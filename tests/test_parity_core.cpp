// Value parity with PyTorch for the core operators.
//
// tests/fixtures/core_ops.json is written by tools/make_core_fixtures.py with PyTorch 1.13: per
// case, an operator name, its options, the input tensors, the outputs and, for a stored random
// upstream gradient, the gradient of every differentiable input. Each case is its own test
// (AllCases/ParityCore.MatchesPyTorch/<case name>): it rebuilds the inputs (as non-contiguous views
// where the case says so), runs the harnet function that parity_ops() maps the op name to, compares
// the outputs, calls backward(upstream) on every differentiable output and compares the input
// gradients (tests/parity_harness.h). Further tests check that the file loads, that every case names an operator of the
// table, and that every operator of the table has float64 and float32 cases.
#include "tests/parity_harness.h"

namespace harnet {
namespace {
using namespace harnet::parity;

const Fixture& fixture() {
  static const Fixture loaded =
      load_fixture("core_ops.json",
                   "regenerate it from the repository root with `/usr/bin/python3 tools/make_core_fixtures.py` "
                   "(needs PyTorch, e.g. Debian's python3-torch)");
  return loaded;
}

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
         if (!o.has("dims")) return one(var(in.at(0), {}, o.integer("correction")));
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

TEST_P(ParityCore, MatchesPyTorch) { run_parity_case(fixture().cases.at(GetParam()), parity_ops()); }

INSTANTIATE_TEST_SUITE_P(AllCases, ParityCore, ::testing::Range<size_t>(0, fixture().cases.size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_name(fixture(), info.param); });
// With no fixture there are no instances; FileLoads below fails instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityCore);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityCoreFixture, FileLoads) { check_fixture_loads(fixture()); }
TEST(ParityCoreFixture, EveryCaseNamesAKnownOpAndAUniqueName) { check_cases_name_known_ops(fixture(), parity_ops()); }
// Deleting an operator's cases from the fixture (or adding an operator to the table without
// cases) fails here.
TEST(ParityCoreFixture, EveryOpHasFloat64AndFloat32Cases) { check_every_op_has_cases(fixture(), parity_ops()); }

}  // namespace
}  // namespace harnet
