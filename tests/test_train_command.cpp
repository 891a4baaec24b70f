// `harnet train`, `harnet eval` and `harnet predict` through their command functions: the
// options reach the configuration, --config repeats a run exactly, eval and predict read a
// checkpoint on their own, and every bad input is one error naming it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/dataset_io.h"
#include "data/joint_order.h"
#include "harnet/lib/checkpoint.h"
#include "harnet/lib/commands.h"
#include "harnet/lib/inference.h"
#include "harnet/lib/run_config.h"
#include "harnet/lib/training_log.h"
#include "test_util.h"
#include "trainer_test_data.h"
#include "xml_check.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::expect_error;
using testing::TempDir;

std::string write_synthetic(const TempDir& dir, int64_t classes) {
  return test::write_small_synthetic(dir.file(str_cat("synth", classes, ".h5")), classes);
}

// The tiny model and schedule of these tests, as options.
std::vector<std::string> tiny_options() {
  return {"--frames", "12", "--batch", "6", "--conv-channels",     "6,8", "--lstm-layers", "1",
          "--hidden", "8",  "--heads", "2", "--classifier-hidden", "8",   "--threads",     "2"};
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs a command with its standard output captured; returns {exit code, output}.
std::pair<int, std::string> run_captured(int (*command)(const std::vector<std::string>&),
                                         const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  int code = -1;
  try {
    code = command(args);
  } catch (...) {
    ::testing::internal::GetCapturedStdout();
    throw;
  }
  return {code, ::testing::internal::GetCapturedStdout()};
}

std::vector<std::string> untimed_rows(const std::string& metrics_csv) {
  std::vector<std::string> rows;
  for (EpochRecord r : read_metrics_csv(metrics_csv)) {
    r.seconds = r.samples_per_s = 0.0;
    rows.push_back(metrics_csv_row(r));
  }
  return rows;
}

// One network for one epoch of the tiny model with two test-time views, plus `extra`.
std::pair<int, std::string> train_one_network(const std::string& data, const std::string& run,
                                              const std::vector<std::string>& extra) {
  return run_captured(train_command,
                      concat(concat({"--data", data, "--out", run, "--epochs", "1", "--tta", "2", "--members", "1"},
                                    extra),
                             tiny_options()));
}

class TrainCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data_ = write_synthetic(*dir_, 3);
    run_ = dir_->file("run");
    const auto [code, output] = run_captured(train_command, concat({"--data", data_, "--out", run_, "--epochs", "2",
                                                                    "--no-augment", "--velocities", "--seed", "3"},
                                                                   tiny_options()));
    ASSERT_EQ(code, 0) << output;
    train_output_ = output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static std::string data_, run_, train_output_;
};
TempDir* TrainCommand::dir_ = nullptr;
std::string TrainCommand::data_, TrainCommand::run_, TrainCommand::train_output_;

TEST_F(TrainCommand, OptionsReachTheConfigurationAndTheReportIsPrinted) {
  const RunConfig c = RunConfig::load(run_ + "/config.json");
  EXPECT_EQ(c.epochs, 2);
  EXPECT_EQ(c.seed, 3u);
  EXPECT_TRUE(c.velocities);
  EXPECT_EQ(c.model.in_channels, 6);
  EXPECT_FALSE(c.augment.rotate || c.augment.scale || c.augment.jitter || c.augment.temporal_crop);
  EXPECT_EQ(c.model.conv_channels, (std::vector<int64_t>{6, 8}));
  EXPECT_EQ(c.model.conv_pool, (std::vector<bool>{false, true}));  // the spec's pattern for 2 blocks
  EXPECT_EQ(c.model.lstm_layers, 1);
  EXPECT_EQ(c.threads, 2);
  // Plain log lines (not a terminal), then the report. The default warm-up (5 epochs) is
  // capped at 1 in a 2-epoch run: epoch 1 trains at lr / 2.
  EXPECT_EQ(c.schedule.warmup, 5);
  EXPECT_NE(train_output_.find("epoch 1/2  lr 5.00e-04"), std::string::npos) << train_output_;
  EXPECT_NE(train_output_.find("epoch 2/2"), std::string::npos);
  EXPECT_EQ(train_output_.find('\r'), std::string::npos);
  EXPECT_NE(train_output_.find("| macro-F1 |"), std::string::npos);
  EXPECT_NE(train_output_.find("report.md, curves.svg, confusion.svg, metrics.csv, best.h5, last.h5, averaged.h5"),
            std::string::npos)
      << train_output_;
  // The first line names the ensemble and mixup (both the default).
  EXPECT_NE(train_output_.find("parameters, an ensemble of 3) on "), std::string::npos) << train_output_;
  EXPECT_NE(train_output_.find("cosine schedule, mixup alpha 0.4, 2 threads"), std::string::npos) << train_output_;
  EXPECT_NE(train_output_.find("| input | 12 frames; positions, velocities; joints depth-first; no smoothing |"),
            std::string::npos)
      << train_output_;
}

TEST_F(TrainCommand, ConfigFileRepeatsTheRunExactly) {
  const std::string again = dir_->file("again");
  const auto [code, output] = run_captured(train_command, {"--config", run_ + "/config.json", "--out", again});
  ASSERT_EQ(code, 0) << output;
  EXPECT_EQ(untimed_rows(again + "/metrics.csv"), untimed_rows(run_ + "/metrics.csv"));
  EXPECT_EQ(read_text_file(again + "/config.json"), read_text_file(run_ + "/config.json"));
  // Options after --config override it.
  const std::string longer = dir_->file("longer");
  ASSERT_EQ(run_captured(train_command, {"--out", longer, "--config", run_ + "/config.json", "--epochs", "1"}).first,
            0);
  EXPECT_EQ(RunConfig::load(longer + "/config.json").epochs, 1);
  EXPECT_TRUE(RunConfig::load(longer + "/config.json").velocities);
}

TEST_F(TrainCommand, ResumeOfAFinishedRunOnlyReports) {
  const auto [code, output] = run_captured(train_command, {"--resume", run_});
  EXPECT_EQ(code, 0);
  EXPECT_NE(output.find("| accuracy |"), std::string::npos);
  EXPECT_EQ(read_metrics_csv(run_ + "/metrics.csv").size(), 2u);
  expect_error(
      [&] {
        train_command({"--resume", run_, "--lr", "0.1"});
      },
      "--resume continues a run with its own config.json; drop --lr");
  expect_error([&] { train_command({"--resume"}); }, "--resume needs the run directory");
}

TEST_F(TrainCommand, EvalPrintsAndWritesTheReport) {
  const std::string out = dir_->file("eval");
  const auto [code, output] =
      run_captured(eval_command, {"--checkpoint", run_ + "/last.h5", "--data", data_, "--out", out, "--threads", "1"});
  ASSERT_EQ(code, 0) << output;
  for (const char* part : {"held-out part, 12 sequences", "| accuracy |", "| 2 | punch |", "(epoch 2)",
                           "| computed with | 1 thread, OpenBLAS kernels "})
    EXPECT_NE(output.find(part), std::string::npos) << part << "\n" << output;
  EXPECT_NO_THROW(testing::parse_xml(read_text_file(out + "/confusion.svg")));
  EXPECT_EQ(read_text_file(out + "/report.md").substr(0, 40), output.substr(0, 40));
  // The held-out evaluation of the final weights (averaged.h5; last.h5 holds the last epoch's,
  // whose BatchNorm statistics were not recomputed) is the training run's final report.
  const auto [final_code, final_output] =
      run_captured(eval_command, {"--checkpoint", run_ + "/averaged.h5", "--data", data_, "--threads", "1"});
  ASSERT_EQ(final_code, 0) << final_output;
  const std::string trained_report = read_text_file(run_ + "/report.md");
  for (const char* row : {"| accuracy |", "| macro-F1 |", "| loss |"})
    EXPECT_EQ(final_output.substr(final_output.find(row), 40), trained_report.substr(trained_report.find(row), 40))
        << row;

  const auto [all_code, all_output] =
      run_captured(eval_command, {"--checkpoint", run_ + "/best.h5", "--data", data_, "--split", "all"});
  EXPECT_EQ(all_code, 0);
  EXPECT_NE(all_output.find("every sequence, 24 sequences"), std::string::npos) << all_output;
  EXPECT_EQ(all_output.find("confusion.svg"), std::string::npos);
}

TEST_F(TrainCommand, PredictGivesTopKWithProbabilities) {
  const auto [code, output] =
      run_captured(predict_command, {"--checkpoint", run_ + "/last.h5", "--data", data_, "--top-k", "2", "--json"});
  ASSERT_EQ(code, 0);
  const nlohmann::json j = nlohmann::json::parse(output);
  const auto& predictions = j.at("predictions");
  ASSERT_EQ(predictions.size(), 24u);
  const SkeletonDataset d = read_dataset(data_);
  for (const auto& p : predictions) {
    const auto s = p.at("sequence").get<size_t>();
    EXPECT_EQ(p.at("name"), d.names[s]);
    EXPECT_EQ(p.at("label"), d.class_names[static_cast<size_t>(d.labels[s])]);
    ASSERT_EQ(p.at("top").size(), 2u);
    const double first = p.at("top")[0].at("probability"), second = p.at("top")[1].at("probability");
    EXPECT_GE(first, second);
    EXPECT_LE(first + second, 1.0 + 1e-6);
    EXPECT_GT(second, 0.0);
    EXPECT_EQ(p.at("top")[0].at("class"), d.class_names[p.at("top")[0].at("index").get<size_t>()]);
  }
  const auto [text_code, text] = run_captured(predict_command, {"--checkpoint", run_ + "/last.h5", "--data", data_});
  EXPECT_EQ(text_code, 0);
  EXPECT_NE(text.find("top 3 (probability)"), std::string::npos);
  EXPECT_NE(text.find(d.names[0]), std::string::npos);
  EXPECT_NE(text.find("24 sequences: the label is the top class for"), std::string::npos);
}

TEST_F(TrainCommand, EvalAndPredictRefuseMismatchedDataAndCheckpoints) {
  const std::string last = run_ + "/last.h5";
  const std::string four_classes = write_synthetic(*dir_, 4);
  expect_error(
      [&] {
        eval_command({"--checkpoint", last, "--data", four_classes});
      },
      "has 4 classes (wave, punch, kick, bend) but the model was trained on 3");
  expect_error(
      [&] {
        predict_command({"--checkpoint", last, "--data", HARNET_FIXTURE_DIR "/h5py_contract.h5"});
      },
      "has 4 joints (hip, spine, neck, head) but the model was trained on 25");
  expect_error(
      [&] {
        eval_command({"--checkpoint", dir_->file("none.h5"), "--data", data_});
      },
      "checkpoint " + dir_->file("none.h5") + " does not exist");
  expect_error(
      [&] {
        eval_command({"--checkpoint", last, "--data", dir_->file("none.h5")});
      },
      "--data " + dir_->file("none.h5") + " does not exist");
  expect_error(
      [&] {
        eval_command({"--checkpoint", last, "--data", data_, "--split", "halves"});
      },
      "--split: expected");
  write_text_file(dir_->file("file"), "x");
  expect_error(
      [&] {
        eval_command({"--checkpoint", last, "--data", data_, "--out", dir_->file("file") + "/r"});
      },
      "cannot create the --out directory");
  expect_error(
      [&] {
        predict_command({"--checkpoint", last, "--data", data_, "--top-k", "0"});
      },
      "--top-k must be >= 1, got 0");

  // A checkpoint whose configuration describes another model than its weights.
  Checkpoint c = load_checkpoint(last);
  RunConfig other = RunConfig::from_json(c.config);
  other.model.lstm_hidden = 12;
  c.config = other.to_json();
  save_checkpoint(dir_->file("mismatch.h5"), c);
  expect_error(
      [&] {
        eval_command({"--checkpoint", dir_->file("mismatch.h5"), "--data", data_});
      },
      "the weights do not fit the model its configuration describes");
  c.config = "";
  save_checkpoint(dir_->file("bare.h5"), c);
  expect_error(
      [&] {
        predict_command({"--checkpoint", dir_->file("bare.h5"), "--data", data_});
      },
      "carries no run configuration");
}

// A run with attention pooling: --pooling reaches config.json and the report, the checkpoint
// rebuilds the model with its frame scorer, eval reproduces the run's final report, predict
// runs, and a checkpoint whose configuration names the other pooling is the clear error (both
// ways: the mean-pooling model has no pool.weight, the attention one needs it).
TEST(TrainCommandOptions, AttentionPoolingCheckpointsLoadForEvalAndPredict) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  const std::string run = dir.file("attention");
  const auto [code, output] = run_captured(
      train_command,
      concat({"--data", data, "--out", run, "--epochs", "1", "--no-augment", "--pooling", "attention"}, tiny_options()));
  ASSERT_EQ(code, 0) << output;
  EXPECT_EQ(RunConfig::load(run + "/config.json").model.pooling, "attention");
  EXPECT_NE(read_text_file(run + "/report.md").find("2 heads, attention pooling, classifier 8"), std::string::npos);

  const std::string last = run + "/last.h5";
  const Checkpoint checkpoint = load_checkpoint(last);
  const TrainedModel trained = load_trained_model(last);
  ASSERT_NE(trained.model->pool, nullptr);
  EXPECT_EQ(trained.model->state_dict().keys(), checkpoint.model.keys());
  for (const char* key : {"pool.weight", "pool.bias"})
    EXPECT_EQ(trained.model->state_dict().at(key).to_vector<float>(), checkpoint.model.at(key).to_vector<float>())
        << key;

  // The report evaluates the final weights: by default the average of the epochs' (averaged.h5).
  const auto [eval_code, evaluated] = run_captured(eval_command, {"--checkpoint", run + "/averaged.h5", "--data", data});
  ASSERT_EQ(eval_code, 0) << evaluated;
  const std::string trained_report = read_text_file(run + "/report.md");
  EXPECT_EQ(evaluated.substr(evaluated.find("| accuracy |"), 40),
            trained_report.substr(trained_report.find("| accuracy |"), 40));
  EXPECT_EQ(run_captured(predict_command, {"--checkpoint", last, "--data", data}).first, 0);

  auto with_pooling = [&](Checkpoint c, const std::string& pooling) {
    RunConfig config = RunConfig::from_json(c.config);
    config.model.pooling = pooling;
    c.config = config.to_json();
    const std::string path = dir.file(pooling + "-config.h5");
    save_checkpoint(path, c);
    return path;
  };
  const std::string mean_config = with_pooling(checkpoint, "mean");
  testing::expect_message_has(error_of([&] { eval_command({"--checkpoint", mean_config, "--data", data}); }),
                              {"the weights do not fit the model its configuration describes",
                               "unexpected key(s) \"pool.weight\", \"pool.bias\""});
  Checkpoint without_pool = checkpoint;  // mean-pooling weights under an attention configuration
  without_pool.model.erase("pool.weight");
  without_pool.model.erase("pool.bias");
  save_checkpoint(dir.file("mean.h5"), without_pool);
  testing::expect_message_has(
      error_of([&] { predict_command({"--checkpoint", dir.file("mean.h5"), "--data", data}); }),
      {"the weights do not fit the model its configuration describes", "missing key(s) \"pool.weight\", \"pool.bias\""});
  expect_error([&] { train_command(concat({"--data", data, "--out", dir.file("max")}, {"--pooling", "max"})); },
               "pooling must be \"mean\" or \"attention\", got \"max\"");
}

// --members: the default recipe trains three networks (config.json, the report's model row,
// eval of the checkpoint gives the report's figures); --members 1 trains one network; 0 is
// refused. Both are bidirectional, as the default recipe; --no-bidirectional is the spec's LSTM.
TEST(TrainCommandOptions, MembersReachTheConfigTheReportAndEval) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  for (const auto& [members, model_row] : std::vector<std::pair<std::string, std::string>>{
           {"", "| model | HARNet ensemble of 3 members, "}, {"1", "| model | HARNet, "}}) {
    const std::string run = dir.file("members" + members);
    std::vector<std::string> args =
        concat({"--data", data, "--out", run, "--epochs", "1", "--tta", "2"}, tiny_options());
    if (!members.empty()) args = concat(args, {"--members", members});
    const auto [code, output] = run_captured(train_command, args);
    ASSERT_EQ(code, 0) << output;
    EXPECT_EQ(RunConfig::load(run + "/config.json").model.members, members.empty() ? 3 : 1);
    EXPECT_TRUE(RunConfig::load(run + "/config.json").model.bidirectional);
    const std::string report = read_text_file(run + "/report.md");
    EXPECT_NE(report.find(model_row), std::string::npos) << report;
    EXPECT_NE(report.find("LSTM 1 x 8 bidirectional, "), std::string::npos) << report;
    const auto [eval_code, evaluated] =
        run_captured(eval_command, {"--checkpoint", run + "/averaged.h5", "--data", data});
    ASSERT_EQ(eval_code, 0) << evaluated;
    EXPECT_EQ(evaluated.substr(evaluated.find("| accuracy |"), 40), report.substr(report.find("| accuracy |"), 40));
    EXPECT_EQ(evaluated.substr(evaluated.find("| loss |"), 20), report.substr(report.find("| loss |"), 20));
  }
  expect_error([&] { train_command(concat({"--data", data, "--out", dir.file("none")}, {"--members", "0"})); },
               "members must be positive, got 0");
  const std::string one_way = dir.file("one-way");
  const auto [code, output] = run_captured(
      train_command, concat({"--data", data, "--out", one_way, "--epochs", "1", "--members", "1", "--no-bidirectional"},
                            tiny_options()));
  ASSERT_EQ(code, 0) << output;
  EXPECT_FALSE(RunConfig::load(one_way + "/config.json").model.bidirectional);
  EXPECT_NE(read_text_file(one_way + "/report.md").find("LSTM 1 x 8, "), std::string::npos);
}

// --joint-walk tour lays 2J - 1 positions along the convolution's axis: the model is built
// for them, the checkpoint's configuration keeps the order, and eval and predict of the run
// read the same dataset back through it.
TEST(TrainCommandOptions, JointWalkTourReachesTheModelEvalAndPredict) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  const std::string run = dir.file("tour");
  const auto [code, output] = train_one_network(data, run, {"--joint-walk", "tour"});
  ASSERT_EQ(code, 0) << output;
  const RunConfig config = RunConfig::load(run + "/config.json");
  const SkeletonDataset dataset = read_dataset(data);
  EXPECT_EQ(config.joint_walk, "tour");
  EXPECT_EQ(config.joint_order, tour_joint_order(dataset.parents));
  EXPECT_EQ(config.model.joints, 2 * dataset.num_joints() - 1);
  const std::string report = read_text_file(run + "/report.md");
  EXPECT_NE(report.find(str_cat("input ", 2 * dataset.num_joints() - 1, " joint positions x 3 channels")),
            std::string::npos)
      << report;
  const auto [eval_code, evaluated] =
      run_captured(eval_command, {"--checkpoint", run + "/averaged.h5", "--data", data});
  ASSERT_EQ(eval_code, 0) << evaluated;
  EXPECT_EQ(evaluated.substr(evaluated.find("| accuracy |"), 40), report.substr(report.find("| accuracy |"), 40));
  const auto [predict_code, predicted] =
      run_captured(predict_command, {"--checkpoint", run + "/averaged.h5", "--data", data, "--json"});
  ASSERT_EQ(predict_code, 0) << predicted;
  expect_error([&] { train_command(concat({"--data", data, "--out", dir.file("bad")}, {"--joint-walk", "bfs"})); },
               "--joint-walk: 'bfs' is not a joint walk (expected depth-first or tour)");
}

// Savitzky-Golay smoothing and the upright step reach the config and the report (smoothing the
// first line too), and eval of the checkpoint prepares its input the same way (it reproduces
// the training report).
TEST(TrainCommandOptions, SmoothingAndUprightReachTheConfigTheReportAndEval) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  const std::string run = dir.file("smooth");
  const auto [code, output] = train_one_network(data, run, {"--smooth-window", "5", "--smooth-order", "1", "--upright"});
  ASSERT_EQ(code, 0) << output;
  const RunConfig config = RunConfig::load(run + "/config.json");
  EXPECT_EQ(config.smooth.window, 5);
  EXPECT_EQ(config.smooth.order, 1);
  EXPECT_TRUE(config.normalize.upright);
  EXPECT_NE(output.find("mixup alpha 0.4, smoothing (window 5, order 1), 2 threads"), std::string::npos) << output;
  const std::string report = read_text_file(run + "/report.md");
  EXPECT_NE(report.find("| input | 12 frames; positions; joints depth-first; Savitzky-Golay smoothing (window 5, "
                        "order 1); spine stood upright |"),
            std::string::npos)
      << report;
  const auto [eval_code, evaluated] =
      run_captured(eval_command, {"--checkpoint", run + "/averaged.h5", "--data", data, "--threads", "2"});
  ASSERT_EQ(eval_code, 0) << evaluated;
  EXPECT_NE(evaluated.find("Savitzky-Golay smoothing (window 5, order 1); spine stood upright |"), std::string::npos)
      << evaluated;
  EXPECT_EQ(evaluated.substr(evaluated.find("| loss |"), 20), report.substr(report.find("| loss |"), 20));
  expect_error([&] { train_command(concat({"--data", data, "--out", dir.file("bad")}, {"--smooth-window", "4"})); },
               "--smooth-window must be an odd number of frames >= 3 (0: off), got 4");
  expect_error(
      [&] {
        train_command(concat({"--data", data, "--out", dir.file("bad")}, {"--smooth-window", "3", "--smooth-order", "3"}));
      },
      "--smooth-order must be in [0, --smooth-window) = [0, 3), got 3");
  EXPECT_FALSE(fs::exists(dir.file("bad")));
}

// With training augmentation the final report, eval and predict average the checkpoint's
// test-time views (--tta of train); eval and predict take --tta to override it.
TEST(TrainCommandOptions, TestTimeAugmentationReachesTheReportEvalAndPredict) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  const std::string run = dir.file("tta");
  const auto [code, output] =
      run_captured(train_command, concat({"--data", data, "--out", run, "--epochs", "1", "--tta", "3"}, tiny_options()));
  ASSERT_EQ(code, 0) << output;
  EXPECT_EQ(RunConfig::load(run + "/config.json").tta, 3);
  const std::string report = read_text_file(run + "/report.md");
  EXPECT_NE(report.find("| test-time augmentation | 3 views (the plain one and 2 with the training augmentation); "
                        "the plain view alone: accuracy "),
            std::string::npos)
      << report;

  const std::string last = run + "/averaged.h5";  // the report's weights
  const auto [eval_code, evaluated] = run_captured(eval_command, {"--checkpoint", last, "--data", data});
  ASSERT_EQ(eval_code, 0) << evaluated;
  EXPECT_EQ(evaluated.substr(evaluated.find("| accuracy |"), 40), report.substr(report.find("| accuracy |"), 40));
  EXPECT_EQ(evaluated.substr(evaluated.find("| loss |"), 20), report.substr(report.find("| loss |"), 20));
  const auto [plain_code, plain] = run_captured(eval_command, {"--checkpoint", last, "--data", data, "--tta", "1"});
  ASSERT_EQ(plain_code, 0);
  EXPECT_NE(plain.find("| test-time augmentation | none (the plain view) |"), std::string::npos) << plain;
  EXPECT_NE(plain.substr(plain.find("| loss |"), 20), report.substr(report.find("| loss |"), 20));

  auto predicted_views = [&](std::vector<std::string> extra) {
    const auto [predict_code, json] =
        run_captured(predict_command, concat({"--checkpoint", last, "--data", data, "--json"}, extra));
    EXPECT_EQ(predict_code, 0);
    return nlohmann::json::parse(json).at("tta").get<int64_t>();
  };
  EXPECT_EQ(predicted_views({}), 3);
  EXPECT_EQ(predicted_views({"--tta", "5"}), 5);
  expect_error([&] { eval_command({"--checkpoint", last, "--data", data, "--tta", "0"}); },
               "--tta must be >= 1 (1: no test-time augmentation), got 0");
  expect_error([&] { train_command(concat({"--data", data, "--out", dir.file("bad")}, {"--tta", "-2"})); },
               "--tta must be >= 1 (1: no test-time augmentation), got -2");
}

// --mirror and its probability reach the config; --augment switches every other augmentation
// on but leaves mirroring as it is (it needs Left/Right joint names), an explicit --mirror
// stands beside --no-augment; --tilt/--max-tilt and --shear/--max-shear reach the config, and
// --augment includes both.
TEST(TrainCommandOptions, MirroringReachesTheConfigAndAugmentLeavesIt) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  auto trained_augment = [&](const std::string& name, std::vector<std::string> extra) {
    const auto [code, output] = run_captured(
        train_command,
        concat(concat({"--data", data, "--out", dir.file(name), "--epochs", "1", "--members", "1"}, extra),
               tiny_options()));
    EXPECT_EQ(code, 0) << output;
    return RunConfig::load(dir.file(name) + "/config.json").augment;
  };
  const AugmentOptions mirrored = trained_augment("mirror", {"--mirror", "--mirror-probability", "0.25"});
  EXPECT_TRUE(mirrored.mirror);
  EXPECT_DOUBLE_EQ(mirrored.mirror_probability, 0.25);
  EXPECT_TRUE(mirrored.rotate && mirrored.bone_scale);
  const AugmentOptions all = trained_augment("all", {"--augment"});
  EXPECT_TRUE(all.rotate && all.scale && all.jitter && all.temporal_crop && all.bone_scale && all.motion_scale &&
              all.tilt && all.shear);
  EXPECT_FALSE(all.mirror);
  const AugmentOptions only = trained_augment("only", {"--no-augment", "--mirror"});
  EXPECT_TRUE(only.mirror);
  EXPECT_FALSE(only.rotate || only.scale || only.jitter || only.temporal_crop || only.bone_scale || only.motion_scale ||
               only.tilt || only.shear);
  const AugmentOptions tilt = trained_augment("tilt", {"--tilt", "--max-tilt", "8"});
  EXPECT_TRUE(tilt.tilt);
  EXPECT_DOUBLE_EQ(tilt.max_tilt_degrees, 8.0);
  EXPECT_TRUE(tilt.shear);  // on by default
  const AugmentOptions shear = trained_augment("shear", {"--no-augment", "--shear", "--max-shear", "0.3"});
  EXPECT_TRUE(shear.shear);
  EXPECT_FALSE(shear.tilt);
  EXPECT_DOUBLE_EQ(shear.max_shear, 0.3);
  EXPECT_FALSE(trained_augment("no-shear", {"--no-shear"}).shear);
}

TEST(TrainCommandOptions, InvalidValuesAreOneError) {
  TempDir dir;
  const std::string data = write_synthetic(dir, 3);
  auto train = [&](std::vector<std::string> extra) {
    return train_command(concat({"--data", data, "--out", dir.file("run")}, extra));
  };
  expect_error([&] { train({"--lr", "-1"}); }, "--lr must be a positive number, got -1");
  expect_error([&] { train({"--optimizer", "adagrad"}); }, "--optimizer: expected adam, adamw, sgd or rmsprop");
  expect_error([&] { train({"--schedule", "linear"}); }, "--schedule: expected cosine, plateau, step or none");
  expect_error([&] { train({"--split", "halves"}); }, "--split: expected");
  expect_error([&] { train({"--epochs", "0"}); }, "--epochs must be >= 1");
  expect_error([&] { train({"--heads", "3"}); }, "head");
  expect_error([&] { train({"--threads", "-2"}); }, "--threads must be >= 1");
  expect_error([&] { train({"--mirror", "--mirror-probability", "2"}); },
               "augment: mirror_probability must be in [0, 1], got 2");
  expect_error([&] { train_command({"--data", data}); }, "--out RUN_DIR is required");
  expect_error([&] { train_command({"--out", dir.file("run")}); }, "--data is required");
  expect_error(
      [&] {
        train_command({"--config", dir.file("absent.json"), "--out", dir.file("run")});
      },
      "config file " + dir.file("absent.json") + " does not exist");
  EXPECT_FALSE(fs::exists(dir.file("run")));
  // Malformed values and unknown options: CLI11's message, as an error like the others.
  expect_error([&] { train({"--epochs", "ten"}); }, "Could not convert: --epochs = ten (see --help)");
  expect_error([&] { train({"--no-such-option"}); }, "--no-such-option");
}

// Every command reports a malformed command line the same way: one line on stderr (CLI11's
// message: here the first required option missing, or the unknown option) and exit code 1;
// --help still prints the help and exits 0.
TEST(CommandLine, ParseErrorsAreOneLineAndExitCodeOne) {
  using Command = int (*)(const std::vector<std::string>&);
  const std::vector<std::pair<std::string, Command>> commands = {
      {"train", train_command},         {"eval", eval_command},           {"predict", predict_command},
      {"convert", convert_command},     {"info", info_command},           {"synth", synth_command},
      {"summary", summary_command},     {"gradcheck", gradcheck_command}};
  for (const auto& [name, command] : commands) {
    SCOPED_TRACE(name);
    ::testing::internal::CaptureStderr();
    const int code = run_command(name, [&] { return command({"--no-such-option"}); });
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 1);
    EXPECT_EQ(err.rfind("harnet " + name + ": error: ", 0), 0u) << err;
    EXPECT_NE(err.find("(see --help)"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

    ::testing::internal::CaptureStdout();
    EXPECT_EQ(run_command(name, [&] { return command({"--help"}); }), 0);
    EXPECT_NE(::testing::internal::GetCapturedStdout().find("--help"), std::string::npos);
  }
}

}  // namespace
}  // namespace harnet
