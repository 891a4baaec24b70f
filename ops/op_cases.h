// The table of (operator, shapes) cases behind `harnet-gradcheck` and the gradcheck unit
// tests: one row per case. To add an operator, add rows in the ops/cases/ file of its
// family (or a new file with a new add_*_cases function listed in op_cases.cpp).
//
// A row makes its own float64 inputs from a seeded generator (marking with
// set_requires_grad(true) the ones to differentiate; index and mask inputs stay plain) and
// maps them to one output tensor. Ops with several outputs combine them in fn (e.g. by
// summing each output weighted by a fixed random tensor) so every output is checked.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/generator.h"
#include "autograd/gradcheck.h"

namespace harnet {

struct OpCase {
  std::string op;      // operator name, what --op selects: "add", "matmul", ...
  std::string shapes;  // human-readable description of the inputs: "[3,1,4] + [2,4]"
  std::function<std::vector<Tensor>(Generator&)> make_inputs;
  GradcheckFn fn;
  GradcheckOptions options = {};
};

// Every case, in a fixed order.
const std::vector<OpCase>& op_cases();

// The families, one per file in ops/cases/.
void add_elementwise_cases(std::vector<OpCase>& cases);
void add_shape_cases(std::vector<OpCase>& cases);
void add_reduce_cases(std::vector<OpCase>& cases);
void add_softmax_loss_cases(std::vector<OpCase>& cases);
void add_linalg_cases(std::vector<OpCase>& cases);
void add_conv_cases(std::vector<OpCase>& cases);
void add_pool_norm_cases(std::vector<OpCase>& cases);
void add_recurrent_cases(std::vector<OpCase>& cases);
void add_attention_cases(std::vector<OpCase>& cases);

struct OpCaseResult {
  const OpCase* op_case;
  GradcheckResult result;
  std::string error;  // an exception thrown by the case, if any (counts as a failure)
};

// Runs one case with inputs from Generator(seed).
OpCaseResult run_op_case(const OpCase& c, uint64_t seed);

}  // namespace harnet
