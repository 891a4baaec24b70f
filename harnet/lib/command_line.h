// Parsing a subcommand's arguments with CLI11, the same way in every command.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace harnet {

// Parses args into app. Returns false when parsing ends the command (--help, or a malformed
// or unknown option, which CLI11 reports on stderr), with the exit code in exit_code.
inline bool parse_command_line(CLI::App& app, const std::vector<std::string>& args, int& exit_code) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return false;
  }
  return true;
}

}  // namespace harnet
