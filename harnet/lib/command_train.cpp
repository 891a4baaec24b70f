// `harnet train`: trains HARNet on a harnet-skeleton-v1 file into a run directory
// (harnet/lib/trainer.h), or continues an interrupted run (--resume). Every option maps to
// one RunConfig setting; --config FILE.json gives the starting values the other options
// override. The defaults are RunConfig's (harnet/lib/run_config.h).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "autograd/error.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"
#include "harnet/lib/interrupt.h"
#include "harnet/lib/trainer.h"

namespace harnet {

namespace {

// The value of --config in args ("--config F" or "--config=F"), read before the other
// options so that they override it; "" when absent.
std::string config_argument(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) return args[i].substr(9);
  }
  return "";
}

// The four augmentations' switches: --augment/--no-augment sets those not given one by one.
struct AugmentSwitches {
  bool all = true;
  CLI::Option* all_option = nullptr;
  std::vector<std::pair<CLI::Option*, bool*>> each;
  // Switched off by --no-augment but left alone by --augment: mirroring needs the dataset's
  // joint names to tell left from right, which not every dataset has.
  std::vector<std::pair<CLI::Option*, bool*>> off_only;

  void apply() const {
    if (all_option->count() == 0) return;
    for (const auto& [option, value] : each)
      if (option->count() == 0) *value = all;
    for (const auto& [option, value] : off_only)
      if (option->count() == 0 && !all) *value = false;
  }
};

// A switch's help text with its current value (CLI11 shows only the negation's value).
std::string switch_help(const std::string& text, bool value) {
  return text + (value ? " (default: on)" : " (default: off)");
}

void add_data_options(CLI::App& app, RunConfig& c) {
  app.add_option("--data", c.data, "The harnet-skeleton-v1 dataset file (.h5)");
  app.add_option("--split", c.split, "odd-even (cross-subject), subjects:1,3,5 (those train), random:0.8")
      ->capture_default_str();
  app.add_option("--validation", c.validation,
                 "held-out (validate on the held-out part each epoch) or carve:K (K training subjects)")
      ->capture_default_str();
  app.add_option("--frames", c.frames, "Frames per sample (T)")->capture_default_str();
  app.add_flag("--velocities,!--no-velocities", c.velocities,
               switch_help("Velocity channels (frame t minus t-1)", c.velocities));
  app.add_flag("--bones,!--no-bones", c.bones, switch_help("Bone-vector channels (joint minus parent)", c.bones));
  app.add_flag("--upright,!--no-upright", c.normalize.upright,
               switch_help("Stand each sequence's spine upright: the rotation turning the first frame's centre->neck "
                           "vector to vertical (undoes camera pitch and roll)",
                           c.normalize.upright));
  app.add_option("--smooth-window", c.smooth.window,
                 "Savitzky-Golay smoothing of the joints along time: frames per fit (odd, >= 3; 0: off)")
      ->capture_default_str();
  app.add_option("--smooth-order", c.smooth.order, "Savitzky-Golay smoothing: degree of the fitted polynomial")
      ->capture_default_str();
  app.add_option("--joint-walk", c.joint_walk,
                 "Joints along the convolution's axis: depth-first (J positions) or tour (2J-1 positions, every "
                 "neighbour pair a bone)")
      ->capture_default_str();
}

AugmentSwitches add_augment_options(CLI::App& app, AugmentOptions& a) {
  AugmentSwitches s;
  s.all_option = app.add_flag("--augment,!--no-augment", s.all,
                              "Every training augmentation below on / off (--augment leaves --mirror as it is)");
  s.each = {
      {app.add_flag("--rotate,!--no-rotate", a.rotate, switch_help("Rotation about the vertical axis", a.rotate)),
       &a.rotate},
      {app.add_flag("--scale,!--no-scale", a.scale, switch_help("Uniform scaling", a.scale)), &a.scale},
      {app.add_flag("--jitter,!--no-jitter", a.jitter, switch_help("Gaussian joint jitter", a.jitter)), &a.jitter},
      {app.add_flag("--temporal-crop,!--no-temporal-crop", a.temporal_crop,
                    switch_help("Random temporal crop", a.temporal_crop)),
       &a.temporal_crop},
      {app.add_flag("--bone-scale,!--no-bone-scale", a.bone_scale,
                    switch_help("Random bone lengths (body proportions)", a.bone_scale)),
       &a.bone_scale},
      {app.add_flag("--motion-scale,!--no-motion-scale", a.motion_scale,
                    switch_help("Random motion amplitude", a.motion_scale)),
       &a.motion_scale},
      {app.add_flag("--tilt,!--no-tilt", a.tilt,
                    switch_help("Random tilt forward/back and sideways (camera pitch and roll, leaning)", a.tilt)),
       &a.tilt},
      {app.add_flag("--shear,!--no-shear", a.shear,
                    switch_help("Random shear (each coordinate gains a share of the other two)", a.shear)),
       &a.shear}};
  s.off_only = {{app.add_flag("--mirror,!--no-mirror", a.mirror,
                              switch_help("Left/right mirroring (needs Left/Right in the joint names)", a.mirror)),
                 &a.mirror}};
  app.add_option("--max-rotation", a.max_rotation_degrees, "Rotation range, +- degrees")->capture_default_str();
  app.add_option("--min-scale", a.min_scale, "Smallest scale factor")->capture_default_str();
  app.add_option("--max-scale", a.max_scale, "Largest scale factor")->capture_default_str();
  app.add_option("--jitter-sigma", a.jitter_sigma, "Jitter standard deviation (spine lengths)")->capture_default_str();
  app.add_option("--min-crop", a.min_crop_fraction, "Smallest share of frames a temporal crop keeps")
      ->capture_default_str();
  app.add_option("--bone-scale-range", a.bone_scale_range, "Bone length factors in [1 - range, 1 + range]")
      ->capture_default_str();
  app.add_option("--motion-scale-range", a.motion_scale_range, "Motion amplitude factor in [1 - range, 1 + range]")
      ->capture_default_str();
  app.add_option("--mirror-probability", a.mirror_probability, "Share of the samples mirrored")
      ->capture_default_str();
  app.add_option("--max-tilt", a.max_tilt_degrees, "Tilt range, +- degrees about each horizontal axis")
      ->capture_default_str();
  app.add_option("--max-shear", a.max_shear, "Shear factors in [-max, +max]")->capture_default_str();
  return s;
}

CLI::Option* add_model_options(CLI::App& app, HARNetConfig& m) {
  CLI::Option* channels = app.add_option("--conv-channels", m.conv_channels, "Output channels of the spatial blocks")
                              ->delimiter(',')
                              ->capture_default_str();
  app.add_option("--conv-kernel", m.conv_kernel, "Joint-axis kernel size (odd)")->capture_default_str();
  app.add_option("--lstm-layers", m.lstm_layers, "LSTM layers")->capture_default_str();
  app.add_option("--hidden", m.lstm_hidden, "LSTM hidden size")->capture_default_str();
  app.add_flag("--bidirectional,!--no-bidirectional", m.bidirectional,
               switch_help("Bidirectional LSTM", m.bidirectional));
  app.add_option("--heads", m.attention_heads, "Attention heads")->capture_default_str();
  app.add_option("--pooling", m.pooling, "Pooling over time: mean or attention")->capture_default_str();
  app.add_option("--classifier-hidden", m.classifier_hidden, "Hidden units of the classifier")->capture_default_str();
  app.add_option("--input-dropout", m.input_dropout, "Dropout before the LSTM")->capture_default_str();
  app.add_option("--lstm-dropout", m.lstm_dropout, "Dropout between LSTM layers")->capture_default_str();
  app.add_option("--attention-dropout", m.attention_dropout, "Dropout of the attention weights")->capture_default_str();
  app.add_option("--classifier-dropout", m.classifier_dropout, "Dropout in the classifier")->capture_default_str();
  app.add_option("--members", m.members,
                 "Networks trained side by side whose class probabilities are averaged (an ensemble; 1: one)")
      ->capture_default_str();
  return channels;
}

void add_optimisation_options(CLI::App& app, RunConfig& c) {
  app.add_option("--epochs", c.epochs, "Epochs")->capture_default_str();
  app.add_option("--batch", c.batch, "Batch size")->capture_default_str();
  app.add_option("--optimizer", c.optimizer.name, "adam, adamw, sgd or rmsprop")->capture_default_str();
  app.add_option("--lr", c.optimizer.lr, "Learning rate")->capture_default_str();
  app.add_option("--weight-decay", c.optimizer.weight_decay, "Weight decay")->capture_default_str();
  app.add_option("--momentum", c.optimizer.momentum, "Momentum (sgd, rmsprop)")->capture_default_str();
  app.add_option("--schedule", c.schedule.name, "Per-epoch lr schedule: cosine, plateau, step or none")
      ->capture_default_str();
  app.add_option("--warmup", c.schedule.warmup, "Epochs of linear lr warm-up (at most epochs - 1; 0 for plateau)")->capture_default_str();
  app.add_option("--step-size", c.schedule.step_size, "step: epochs between decays")->capture_default_str();
  app.add_option("--gamma", c.schedule.gamma, "step: decay factor")->capture_default_str();
  app.add_option("--plateau-patience", c.schedule.plateau_patience, "plateau: epochs without improvement")
      ->capture_default_str();
  app.add_option("--plateau-factor", c.schedule.plateau_factor, "plateau: decay factor")->capture_default_str();
  app.add_option("--min-lr", c.schedule.min_lr, "Lowest lr of cosine and plateau")->capture_default_str();
  app.add_option("--clip", c.clip, "Max gradient norm (0: no clipping)")->capture_default_str();
  app.add_option("--label-smoothing", c.label_smoothing, "Label smoothing of the cross-entropy")->capture_default_str();
  app.add_option("--mixup", c.mixup,
                 "Mixup alpha: each training batch blended with itself rolled by one, weight ~ Beta(alpha, alpha) "
                 "(0: off)")
      ->capture_default_str();
  app.add_option("--average-last", c.average_last,
                 "Average the weights of this share of the epochs, the last ones (stochastic weight averaging; "
                 "BatchNorm statistics are then recomputed on the training part); 0: off")
      ->capture_default_str();
  app.add_option("--early-stopping", c.early_stopping,
                 "Stop after this many epochs without a lower validation loss "
                 "(0: off)")
      ->capture_default_str();
  app.add_option("--tta", c.tta,
                 "Test-time augmentation of the final report: views averaged per sequence "
                 "(1: the plain view alone)")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Seed of initialisation, dropout, order, augmentation, random split")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "Threads (default: HARNET_NUM_THREADS or every core)");
}

// The spec's pooling pattern for any number of blocks: none after the first, one after each other.
std::vector<bool> default_pooling(size_t blocks) {
  std::vector<bool> pool(blocks, true);
  if (!pool.empty()) pool[0] = false;
  return pool;
}

// With --resume the run's config.json decides everything but the thread count.
void check_resume_options(const CLI::App& app) {
  static const std::set<std::string> allowed{"--resume", "--out", "--threads", "--help"};
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() == 0 || allowed.count(option->get_name())) continue;
    throw Error(str_cat("--resume continues a run with its own config.json; drop ", option->get_name()));
  }
}

int report_outcome(const TrainResult& result, const std::string& run_dir) {
  if (result.outcome == TrainOutcome::Interrupted) {
    std::fprintf(stderr,
                 "harnet train: interrupted after %lld finished epochs; saved %s/last.h5; resume with: "
                 "harnet train --resume %s\n",
                 static_cast<long long>(result.epochs_done), run_dir.c_str(), run_dir.c_str());
    return 130;
  }
  const bool averaged = std::filesystem::exists(std::filesystem::path(run_dir) / "averaged.h5");
  std::printf("\n%s\nwritten to %s: report.md, curves.svg, confusion.svg, metrics.csv, best.h5, last.h5%s\n",
              result.report.c_str(), run_dir.c_str(), averaged ? ", averaged.h5" : "");
  return 0;
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  RunConfig config;
  const std::string config_file = config_argument(args);
  if (!config_file.empty()) config = RunConfig::load(config_file);

  CLI::App app{
      "Trains HARNet on a skeleton dataset; writes config.json, metrics.csv, best.h5, last.h5 and a report "
      "into --out.",
      "train"};
  std::string out, resume_dir, config_option;
  app.add_option("--config", config_option, "A config.json whose settings the other options override");
  app.add_option("--out", out, "The run directory to create (or, with --resume, to continue)");
  CLI::Option* resume =
      app.add_option("--resume", resume_dir, "Continue the run in RUN_DIR (or --out) from last.h5")->expected(0, 1);
  add_data_options(app, config);
  const AugmentSwitches augment = add_augment_options(app, config.augment);
  const CLI::Option* conv_channels = add_model_options(app, config.model);
  add_optimisation_options(app, config);
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  augment.apply();
  if (conv_channels->count() > 0 && config.model.conv_pool.size() != config.model.conv_channels.size())
    config.model.conv_pool = default_pooling(config.model.conv_channels.size());
  HARNET_CHECK(config.threads >= 0, "--threads must be >= 1, got ", config.threads);

  TrainOptions options;
  options.progress_bar = isatty(STDOUT_FILENO) != 0;
  options.stop_requested = [] { return ScopedInterruptFlag::requested(); };
  ScopedInterruptFlag interrupt_flag;
  if (resume->count() > 0) {
    check_resume_options(app);
    const std::string run_dir = resume_dir.empty() ? out : resume_dir;
    HARNET_CHECK(!run_dir.empty(), "--resume needs the run directory: --resume RUN_DIR or --out RUN_DIR");
    HARNET_CHECK(out.empty() || resume_dir.empty() || out == resume_dir, "--resume ", resume_dir, " and --out ", out,
                 " name different run directories");
    return report_outcome(resume_run(run_dir, config.threads, options), run_dir);
  }
  HARNET_CHECK(!out.empty(), "--out RUN_DIR is required");
  return report_outcome(train_new_run(config, out, options), out);
}

}  // namespace harnet
