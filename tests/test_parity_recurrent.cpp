// Value parity with PyTorch for the recurrent operators (torch.nn.LSTM / torch.nn.GRU).
//
// tests/fixtures/recurrent.json is written by tools/make_recurrent_fixtures.py with PyTorch 1.13:
// per case the options, the input, every weight (PyTorch's _flat_weights order, each a
// differentiated input, some as transposed views), the optional initial states, the outputs
// (output, h_n[, c_n]) and, for stored random upstream gradients, the gradients of the input,
// the states and every weight. Each case is its own test; further tests check that the file
// loads, that every case names an operator of the table, and that every operator has float64
// and float32 cases (tests/parity_harness.h).
#include "ops/recurrent.h"
#include "tests/parity_harness.h"

namespace harnet {
namespace {
using namespace harnet::parity;

const Fixture& fixture() {
  static const Fixture loaded =
      load_fixture("recurrent.json",
                   "regenerate it from the repository root with `/usr/bin/python3 tools/make_recurrent_fixtures.py` "
                   "(needs PyTorch, e.g. Debian's python3-torch)");
  return loaded;
}

// torch.nn.LSTM's keyword arguments; absent ones keep harnet's defaults, which must be PyTorch's.
RnnOptions rnn_options(const Options& o) {
  RnnOptions options;
  options.num_layers = o.integer("num_layers", options.num_layers);
  options.bias = o.boolean("bias", options.bias);
  options.batch_first = o.boolean("batch_first", options.batch_first);
  options.bidirectional = o.boolean("bidirectional", options.bidirectional);
  options.training = o.boolean("training", options.training);
  if (o.has("dropout")) options.dropout = o.number("dropout");
  return options;
}

// Inputs: input, the weights (as many as the options imply), then the states if present.
struct RnnInputs {
  Tensor input;
  std::vector<Tensor> weights, states;
};
RnnInputs split_inputs(const Inputs& in, const RnnOptions& options, size_t state_count) {
  const size_t n_weights = lstm_weight_names(options.num_layers, options.bidirectional, options.bias).size();
  HARNET_CHECK(in.size() == 1 + n_weights || in.size() == 1 + n_weights + state_count, "fixture: ", in.size(),
               " inputs for ", n_weights, " weights");
  RnnInputs r;
  r.input = in.at(0);
  r.weights.assign(in.begin() + 1, in.begin() + 1 + static_cast<std::ptrdiff_t>(n_weights));
  r.states.assign(in.begin() + 1 + static_cast<std::ptrdiff_t>(n_weights), in.end());
  r.states.resize(state_count);  // absent states stay undefined (zeros)
  return r;
}

// Op name (as in the fixture and tools/make_recurrent_fixtures.py) -> the harnet call.
const OpTable& parity_ops() {
  static const OpTable ops = {
      {"lstm",
       [](const Inputs& in, const Options& o) {
         const RnnOptions options = rnn_options(o);
         const RnnInputs r = split_inputs(in, options, 2);
         const LstmResult out = lstm(r.input, r.weights, options, r.states[0], r.states[1]);
         return std::vector<Tensor>{out.output, out.h_n, out.c_n};
       }},
      {"gru",
       [](const Inputs& in, const Options& o) {
         const RnnOptions options = rnn_options(o);
         const RnnInputs r = split_inputs(in, options, 1);
         const GruResult out = gru(r.input, r.weights, options, r.states[0]);
         return std::vector<Tensor>{out.output, out.h_n};
       }},
  };
  return ops;
}

// ---------------------------------------------------------------- one test per case

class ParityRecurrent : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityRecurrent, MatchesPyTorch) { run_parity_case(fixture().cases.at(GetParam()), parity_ops()); }

INSTANTIATE_TEST_SUITE_P(AllCases, ParityRecurrent, ::testing::Range<size_t>(0, fixture().cases.size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return case_test_name(fixture(), info.param);
                         });
// With no fixture there are no instances; FileLoads below fails instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParityRecurrent);

// ---------------------------------------------------------------- the fixture as a whole

TEST(ParityRecurrentFixture, FileLoads) { check_fixture_loads(fixture()); }
TEST(ParityRecurrentFixture, EveryCaseNamesAKnownOpAndAUniqueName) {
  check_cases_name_known_ops(fixture(), parity_ops());
}
TEST(ParityRecurrentFixture, EveryOpHasFloat64AndFloat32Cases) { check_every_op_has_cases(fixture(), parity_ops()); }

}  // namespace
}  // namespace harnet
