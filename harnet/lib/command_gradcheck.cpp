// `harnet gradcheck` / `harnet-gradcheck`: runs the table of (operator, shapes) cases in
// float64 and prints one row per case.
#include <cstdio>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "autograd/parallel.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"
#include "ops/op_cases.h"

namespace harnet {

int gradcheck_command(const std::vector<std::string>& args) {
  CLI::App app{"Checks every operator's backward against central differences in float64.", "gradcheck"};
  std::string op;
  uint64_t seed = 0;
  bool list = false;
  int threads = 0;
  app.add_option("--op", op, "Only the cases of this operator (e.g. matmul)");
  app.add_option("--seed", seed, "Seed of the random inputs")->capture_default_str();
  app.add_option("--threads", threads, "Threads (default: HARNET_NUM_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--list", list, "List the operators and cases, run nothing");
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  if (threads > 0) set_num_threads(threads);

  std::vector<const OpCase*> selected;
  for (const OpCase& c : op_cases())
    if (op.empty() || c.op == op) selected.push_back(&c);
  if (selected.empty()) {
    std::cerr << "harnet gradcheck: error: no cases for operator '" << op << "' (see --list)\n";
    return 1;
  }
  if (list) {
    for (const OpCase* c : selected) std::printf("%-16s %s\n", c->op.c_str(), c->shapes.c_str());
    return 0;
  }

  std::printf("%-16s %-44s %12s %12s  %s\n", "op", "shapes", "max abs err", "max rel err", "result");
  int failures = 0;
  for (const OpCase* c : selected) {
    OpCaseResult r = run_op_case(*c, seed);
    const bool pass = r.error.empty() && r.result.passed;
    failures += pass ? 0 : 1;
    std::printf("%-16s %-44s %12.3e %12.3e  %s\n", c->op.c_str(), c->shapes.c_str(), r.result.max_abs_error,
                r.result.max_rel_error, pass ? "pass" : "FAIL");
    if (!pass) std::printf("    %s\n", r.error.empty() ? r.result.message.c_str() : r.error.c_str());
  }
  std::printf("%zu cases: %zu passed, %d failed\n", selected.size(), selected.size() - failures, failures);
  return failures == 0 ? 0 : 1;
}

int run_command(const std::string& name, const std::function<int()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    std::cerr << "harnet " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace harnet
