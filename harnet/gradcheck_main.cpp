// harnet-gradcheck: the same as `harnet gradcheck`.
#include "harnet/lib/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return harnet::run_command("gradcheck", [&] { return harnet::gradcheck_command(args); });
}
