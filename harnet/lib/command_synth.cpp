// `harnet synth`: writes a synthetic skeleton dataset (data/synthetic_skeletons.h) in the
// harnet-skeleton-v1 contract, for smoke tests and demos without real data.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "data/dataset_io.h"
#include "data/synthetic_skeletons.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"

namespace harnet {

int synth_command(const std::vector<std::string>& args) {
  CLI::App app{"Writes a synthetic dataset of procedurally animated Kinect-v2-like skeletons.", "synth"};
  SyntheticSkeletonOptions options;
  std::string output;
  app.add_option("-o,--output", output, "The HDF5 file to write (replaced atomically)")->required();
  app.add_option("--classes", options.classes, "Classes: the first K of wave, punch, kick, bend, raise arms, clap, "
                                               "squat, jump, turn around, side step")
      ->check(CLI::Range(2, kSyntheticClassCount))
      ->capture_default_str();
  app.add_option("--subjects", options.subjects, "Performers")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--repetitions", options.repetitions, "Sequences per performer and class")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--frames", options.frames, "Mean sequence length (each varies by +-20%)")
      ->check(CLI::Range(10, 100000))
      ->capture_default_str();
  app.add_option("--noise", options.noise, "Joint jitter, standard deviation in metres")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Seed; the same seed writes the same data")->capture_default_str();
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  const SkeletonDataset dataset = make_synthetic_skeletons(options);
  write_dataset(output, dataset);
  std::printf("wrote %s: %s\n", output.c_str(), dataset_summary(dataset).c_str());
  return 0;
}

}  // namespace harnet
