#include "ops/op_cases.h"

#include <exception>

namespace harnet {

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> all;
    add_elementwise_cases(all);
    add_shape_cases(all);
    add_reduce_cases(all);
    add_softmax_loss_cases(all);
    add_linalg_cases(all);
    add_conv_cases(all);
    add_pool_norm_cases(all);
    add_recurrent_cases(all);
    add_attention_cases(all);
    return all;
  }();
  return cases;
}

OpCaseResult run_op_case(const OpCase& c, uint64_t seed) {
  OpCaseResult r{&c, {}, {}};
  try {
    Generator gen(seed);
    r.result = gradcheck(c.fn, c.make_inputs(gen), c.options);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace harnet
