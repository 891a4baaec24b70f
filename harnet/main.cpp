// harnet: one executable, several subcommands.
#include <cstring>
#include <iostream>

#include "harnet/lib/commands.h"

namespace {

void usage(std::ostream& os) {
  os << "usage: harnet <command> [options]\n\n"
        "commands:\n"
        "  train       train HARNet on a skeleton dataset (see harnet train --help)\n"
        "  eval        evaluate a checkpoint on a dataset: accuracy, macro-F1, confusion matrix\n"
        "  predict     top-k classes of every sequence of a dataset\n"
        "  convert     convert a raw skeleton dataset (MSR Action3D, AIR-Act2Act) to HDF5\n"
        "  info        summarise and validate a skeleton dataset file\n"
        "  synth       write a synthetic skeleton dataset\n"
        "  summary     print the model's layers, output shapes and parameter counts\n"
        "  gradcheck   check every operator's gradient in float64\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "train") return harnet::run_command(command, [&] { return harnet::train_command(args); });
  if (command == "eval") return harnet::run_command(command, [&] { return harnet::eval_command(args); });
  if (command == "predict") return harnet::run_command(command, [&] { return harnet::predict_command(args); });
  if (command == "convert") return harnet::run_command(command, [&] { return harnet::convert_command(args); });
  if (command == "info") return harnet::run_command(command, [&] { return harnet::info_command(args); });
  if (command == "synth") return harnet::run_command(command, [&] { return harnet::synth_command(args); });
  if (command == "summary") return harnet::run_command(command, [&] { return harnet::summary_command(args); });
  if (command == "gradcheck") return harnet::run_command(command, [&] { return harnet::gradcheck_command(args); });
  std::cerr << "harnet: unknown command '" << command << "'\n";
  usage(std::cerr);
  return 2;
}
