// The subcommands of the `harnet` executable, each a function from its arguments to an
// exit code. Errors inside a command are harnet::Error exceptions; run_command turns them
// into one line on stderr and exit code 1.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace harnet {

// harnet gradcheck [--op NAME] [--seed N] [--list]
int gradcheck_command(const std::vector<std::string>& args);
// harnet train [options]: see command_train.cpp
int train_command(const std::vector<std::string>& args);

// Runs fn, printing "harnet <name>: error: <message>" and returning 1 on an exception.
int run_command(const std::string& name, const std::function<int()>& fn);

}  // namespace harnet
