// `harnet summary`: builds a HARNet from a configuration (defaults, a JSON file as written by
// HARNetConfig::to_json, command-line sizes and pooling on top) and prints its layer table
// (every layer's output shape and parameter count for a batch of 1) and the total parameter count.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "autograd/error.h"
#include "data/joint_order.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"
#include "harnet/lib/model.h"

namespace harnet {

namespace {

HARNetConfig read_config_file(const std::string& path) {
  std::ifstream in(path);
  HARNET_CHECK(in.good(), path, ": cannot open the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return HARNetConfig::from_json(text.str());
  } catch (const Error& e) {
    throw Error(str_cat(path, ": ", e.what()));
  }
}

}  // namespace

int summary_command(const std::vector<std::string>& args) {
  CLI::App app{"Prints the HARNet layer table (output shapes for a batch of 1, parameters) and the total.", "summary"};
  HARNetConfig defaults;
  int64_t joints = defaults.joints, classes = defaults.classes, channels = defaults.in_channels, frames = 60;
  std::string config_path, pooling = defaults.pooling;
  app.add_option("--config", config_path, "A model configuration (JSON, HARNetConfig keys); the options below "
                                          "override its sizes and pooling");
  app.add_option("--joints", joints, "Joints per frame (J)")->capture_default_str();
  app.add_option("--classes", classes, "Classes (C)")->capture_default_str();
  app.add_option("--channels", channels, "Input channels per joint (3 positions, +3 velocities, +3 bones)")
      ->capture_default_str();
  app.add_option("--frames", frames, "Frames per sequence (T)")->capture_default_str();
  app.add_option("--pooling", pooling, "Pooling over time: mean or attention")->capture_default_str();
  int64_t members = defaults.members;
  app.add_option("--members", members, "Networks of the ensemble (1: the spec's single network; harnet train's "
                                        "default recipe trains 3)")
      ->capture_default_str();
  bool bidirectional = defaults.bidirectional;
  app.add_flag("--bidirectional,!--no-bidirectional", bidirectional,
               "Bidirectional LSTM (the spec's is not; harnet train's default recipe's is)");
  std::string walk = "depth-first";
  app.add_option("--joint-walk", walk, "Joints along the convolution's axis: depth-first (J positions, the spec's "
                                       "layout and harnet train's default) or tour (2J-1 positions)")
      ->capture_default_str();
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;

  HARNetConfig config = config_path.empty() ? defaults : read_config_file(config_path);
  if (app.count("--joints")) config.joints = joints;
  if (app.count("--classes")) config.classes = classes;
  if (app.count("--channels")) config.in_channels = channels;
  if (app.count("--pooling")) config.pooling = pooling;
  if (app.count("--members")) config.members = members;
  if (app.count("--bidirectional") || app.count("--no-bidirectional")) config.bidirectional = bidirectional;
  const int64_t skeleton_joints = config.joints;
  const bool tour = parse_joint_walk(walk, "--joint-walk") == JointWalk::Tour;
  if (tour) config.joints = 2 * skeleton_joints - 1;  // an Euler tour's length for any tree
  config.validate();
  HARNET_CHECK(frames >= 1, "--frames must be at least 1, got ", frames);

  Generator gen(0);
  HARNet model(config, gen);
  const Tensor x = zeros({1, frames, config.joints, config.in_channels});
  const std::string layout = tour ? str_cat(skeleton_joints, " joints as a tour of ", config.joints, " positions")
                                  : str_cat(config.joints, " joints");
  std::printf("HARNet: %s x %lld channels, %lld frames, %lld classes; input [1, %lld, %lld, %lld]\n\n",
              layout.c_str(), static_cast<long long>(config.in_channels),
              static_cast<long long>(frames), static_cast<long long>(config.classes), static_cast<long long>(frames),
              static_cast<long long>(config.joints), static_cast<long long>(config.in_channels));
  std::fputs(model.summary(x).c_str(), stdout);
  return 0;
}

}  // namespace harnet
