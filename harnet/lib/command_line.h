// Parsing a subcommand's arguments with CLI11, the same way in every command.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "autograd/error.h"

namespace harnet {

// Parses args into app. Returns false when --help ends the command (the help is printed and
// exit_code is 0). A malformed, unknown or missing option throws Error with CLI11's message,
// so that it reaches the user as one line and exit code 1, like every other error.
inline bool parse_command_line(CLI::App& app, const std::vector<std::string>& args, int& exit_code) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::Success& e) {  // --help (CallForHelp, CallForAllHelp)
    exit_code = app.exit(e);
    return false;
  } catch (const CLI::ParseError& e) {
    throw Error(str_cat(e.what(), " (see --help)"));
  }
  return true;
}

}  // namespace harnet
