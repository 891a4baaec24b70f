// `harnet convert`: a raw skeleton dataset (MSR Action3D text files, AIR-Act2Act .joint JSON)
// into one harnet-skeleton-v1 HDF5 file. Prints one summary line; draws a progress bar on
// stderr only when stderr is a terminal, so logs and pipes stay clean.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "autograd/error.h"
#include "data/air_act2act.h"
#include "data/dataset_io.h"
#include "data/msr_action3d.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"

namespace harnet {

namespace {

// "[##########          ] 278/557 files", redrawn in place.
ConversionProgress terminal_progress_bar() {
  if (!isatty(STDERR_FILENO)) return {};
  return [](int64_t done, int64_t total) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / std::max<int64_t>(total, 1));
    std::fprintf(stderr, "\r[%s%s] %lld/%lld files", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done == total) std::fprintf(stderr, "\r\033[K");  // clear the bar once finished
    std::fflush(stderr);
  };
}

}  // namespace

int convert_command(const std::vector<std::string>& args) {
  CLI::App app{"Converts a raw skeleton dataset into a harnet-skeleton-v1 HDF5 file.", "convert"};
  std::string format, directory, output;
  MsrAction3dOptions msr;
  AirAct2ActOptions air;
  app.add_option("--format", format, "Raw format of DIR")
      ->required()
      ->check(CLI::IsMember({"msr-action3d", "air-act2act"}));
  app.add_option("directory", directory, "Folder of the raw files")->required();
  app.add_option("-o,--output", output, "The HDF5 file to write (replaced atomically)")->required();
  app.add_flag("--all", msr.all_files,
               "msr-action3d: every sequence file (567), not only the 557 of files_used_in_cvpr12_paper.txt");
  app.add_option("--camera", air.camera, "air-act2act: the camera whose view is converted (C001, C002, C003)")
      ->capture_default_str();
  app.add_option("--fps", air.fps, "air-act2act: output frame rate; keeps every (30/fps)-th frame")
      ->capture_default_str();
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  const bool msr_format = format == "msr-action3d";
  HARNET_CHECK(!msr_format || (app.count("--camera") == 0 && app.count("--fps") == 0),
               "--camera and --fps apply to --format air-act2act only");
  HARNET_CHECK(msr_format || !msr.all_files, "--all applies to --format msr-action3d only");

  const ConversionProgress progress = terminal_progress_bar();
  const ConvertedDataset converted =
      msr_format ? read_msr_action3d(directory, msr, progress) : read_air_act2act(directory, air, progress);
  write_dataset(output, converted.dataset);

  std::string dropped = str_cat(converted.frames_dropped, " untracked frames dropped");
  if (!converted.sequences_dropped.empty()) {
    const size_t count = converted.sequences_dropped.size();
    dropped += str_cat("; ", count, count == 1 ? " sequence" : " sequences", " without a tracked frame left out (");
    for (size_t i = 0; i < converted.sequences_dropped.size(); ++i)
      dropped += str_cat(i ? ", " : "", converted.sequences_dropped[i]);
    dropped += ")";
  }
  std::printf("wrote %s: %s; %s\n", output.c_str(), dataset_summary(converted.dataset).c_str(), dropped.c_str());
  return 0;
}

}  // namespace harnet
