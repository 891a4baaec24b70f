// The trainer end to end on tiny synthetic data and a tiny model: the run directory's files,
// exact resumption (at an epoch boundary and mid-epoch), early stopping, carved validation,
// the h5py-written fixture, and the errors of a bad --out or a mismatched checkpoint.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "harnet/lib/checkpoint.h"
#include "harnet/lib/inference.h"
#include "harnet/lib/trainer.h"
#include "harnet/lib/training_log.h"
#include "ops/blas.h"
#include "test_util.h"
#include "trainer_test_data.h"
#include "xml_check.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::ScopedThreads;
using testing::TempDir;

std::string write_small_dataset(const TempDir& dir, int64_t classes = 3) {
  return test::write_small_synthetic(dir.file(str_cat("synth", classes, ".h5")), classes);
}

RunConfig tiny_config(const std::string& data, int64_t epochs) {
  RunConfig c;
  c.data = data;
  test::use_tiny_model(c, 2);  // batches of 5: 12 training sequences make batches of 5, 5, 2
  c.epochs = epochs;
  c.optimizer.lr = 3e-3;
  c.schedule.warmup = 0;  // the schedule checks below start at the full lr
  return c;
}

// A quiet run: no output.
TrainOptions quiet(std::function<bool()> stop = {}) {
  TrainOptions o;
  o.out = std::tmpfile();
  o.stop_requested = std::move(stop);
  return o;
}

// Every metrics.csv column but the timings.
std::vector<std::string> results_of(const std::string& metrics_csv) {
  std::vector<std::string> rows;
  for (const EpochRecord& r : read_metrics_csv(metrics_csv)) {
    EpochRecord untimed = r;
    untimed.seconds = untimed.samples_per_s = 0.0;
    rows.push_back(metrics_csv_row(untimed));
  }
  return rows;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  const Checkpoint ca = load_checkpoint(a), cb = load_checkpoint(b);
  ASSERT_EQ(ca.model.keys(), cb.model.keys());
  for (const auto& [key, tensor] : ca.model)
    EXPECT_EQ(tensor.to_vector<double>(), cb.model.at(key).to_vector<double>()) << key;
  EXPECT_EQ(ca.rng, cb.rng);
  EXPECT_EQ(ca.counters, cb.counters);
}

TEST(Trainer, NewRunWritesConfigMetricsCheckpointsAndReport) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir), run = dir.file("run");
  const TrainResult result = train_new_run(tiny_config(data, 2), run, quiet());
  EXPECT_EQ(result.outcome, TrainOutcome::Completed);
  EXPECT_EQ(result.epochs_done, 2);
  for (const char* file :
       {"config.json", "metrics.csv", "best.h5", "last.h5", "report.md", "curves.svg", "confusion.svg"})
    EXPECT_TRUE(fs::exists(fs::path(run) / file)) << file;

  const std::vector<EpochRecord> rows = read_metrics_csv(run + "/metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const EpochRecord& r : rows) {
    EXPECT_GT(r.train_loss, 0.0);
    EXPECT_GT(r.val_loss, 0.0);
    EXPECT_GE(r.val_acc, 0.0);
    EXPECT_LE(r.val_acc, 1.0);
    EXPECT_GT(r.samples_per_s, 0.0);
  }
  EXPECT_DOUBLE_EQ(rows[0].lr, 3e-3);
  EXPECT_LT(rows[1].lr, rows[0].lr);  // cosine over 2 epochs

  const RunConfig saved = RunConfig::load(run + "/config.json");
  EXPECT_EQ(saved.class_names, (std::vector<std::string>{"wave", "punch", "kick"}));
  EXPECT_EQ(saved.model.joints, 25);
  EXPECT_EQ(saved.model.classes, 3);
  EXPECT_TRUE(fs::path(saved.data).is_absolute());

  const std::string report = read_text_file(run + "/report.md");
  for (const char* part : {"| accuracy |", "| macro-F1 |", "| 1 | wave |", "| 3 | kick |", "true \\ predicted",
                           "curves.svg", "confusion.svg", "held-out part, 12 sequences"})
    EXPECT_NE(report.find(part), std::string::npos) << part;
  // What the numbers were computed with: the run's threads and OpenBLAS's kernel set.
  EXPECT_NE(report.find("| computed with | 2 threads, OpenBLAS kernels " + blas_kernels() + " |"), std::string::npos)
      << report;
  EXPECT_NE(report.find("mixup alpha 0.4"), std::string::npos);  // the default
  EXPECT_EQ(result.held_out.samples, 12);
  EXPECT_NO_THROW(testing::parse_xml(read_text_file(run + "/curves.svg")));
  EXPECT_NO_THROW(testing::parse_xml(read_text_file(run + "/confusion.svg")));

  // The checkpoint rebuilds the model on its own, and it predicts what the report says.
  const TrainedModel trained = load_trained_model(run + "/last.h5");
  EXPECT_EQ(trained.counters.at("epoch"), 2.0);
  EXPECT_EQ(trained.config.to_json(), saved.to_json());
}

// An ensemble's first member takes exactly the steps of a single network trained alone (same
// seed: the same initial weights, dropout masks, batches and augmentation), also with
// clipping active: the members' losses are summed, and each member's gradient is clipped on
// its own. The second member trains too, from other weights.
TEST(Trainer, EnsembleMembersTrainAsTheyWouldAlone) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir);
  RunConfig single = tiny_config(data, 2), ensemble = tiny_config(data, 2);
  single.clip = ensemble.clip = 0.05;  // below the gradients' norms: every step clips
  single.model.members = 1;
  ensemble.model.members = 2;
  train_new_run(single, dir.file("single"), quiet());
  train_new_run(ensemble, dir.file("ensemble"), quiet());
  const Checkpoint one = load_checkpoint(dir.file("single") + "/last.h5");
  const Checkpoint two = load_checkpoint(dir.file("ensemble") + "/last.h5");
  const Checkpoint start = [&] {
    RunConfig c = ensemble;
    c.epochs = 1;
    train_new_run(c, dir.file("ensemble1"), quiet());
    return load_checkpoint(dir.file("ensemble1") + "/last.h5");
  }();
  ASSERT_EQ(two.model.size(), 2 * one.model.size());
  for (const auto& [key, tensor] : one.model) {
    EXPECT_EQ(two.model.at(key).to_vector<double>(), tensor.to_vector<double>()) << key;
    EXPECT_TRUE(two.model.contains("member1." + key)) << key;
  }
  EXPECT_NE(two.model.at("member1.head.3.weight").to_vector<double>(),
            two.model.at("head.3.weight").to_vector<double>());
  EXPECT_NE(two.model.at("member1.head.3.weight").to_vector<double>(),
            start.model.at("member1.head.3.weight").to_vector<double>());

  // The report describes the ensemble; its metrics are those of the mean probabilities.
  const std::string report = read_text_file(dir.file("ensemble") + "/report.md");
  EXPECT_NE(report.find("HARNet ensemble of 2 members"), std::string::npos) << report;
  const TrainedModel trained = load_trained_model(dir.file("ensemble") + "/last.h5");
  EXPECT_EQ(trained.config.model.members, 2);
  EXPECT_EQ(trained.model->other_members.size(), 1u);
}

TEST(Trainer, ResumedRunEqualsUninterruptedRun) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir);
  const std::string whole = dir.file("whole"), boundary = dir.file("boundary"), middle = dir.file("middle");
  train_new_run(tiny_config(data, 4), whole, quiet());

  // Stopped after epoch 2 (3 batches per epoch), then resumed.
  int64_t steps = 0;
  const TrainResult stopped = train_new_run(tiny_config(data, 4), boundary, quiet([&] { return ++steps == 6; }));
  EXPECT_EQ(stopped.outcome, TrainOutcome::Interrupted);
  EXPECT_EQ(read_metrics_csv(boundary + "/metrics.csv").size(), 2u);
  EXPECT_FALSE(fs::exists(boundary + "/report.md"));
  EXPECT_EQ(resume_run(boundary, 0, quiet()).outcome, TrainOutcome::Completed);

  // Stopped in the middle of epoch 3, then resumed.
  steps = 0;
  EXPECT_EQ(train_new_run(tiny_config(data, 4), middle, quiet([&] { return ++steps == 7; })).outcome,
            TrainOutcome::Interrupted);
  EXPECT_EQ(load_checkpoint(middle + "/last.h5").counters.at("batch"), 1.0);
  resume_run(middle, 0, quiet());

  const std::vector<std::string> expected = results_of(whole + "/metrics.csv");
  ASSERT_EQ(expected.size(), 4u);
  EXPECT_EQ(results_of(boundary + "/metrics.csv"), expected);
  EXPECT_EQ(results_of(middle + "/metrics.csv"), expected);
  expect_same_weights(whole + "/last.h5", boundary + "/last.h5");
  expect_same_weights(whole + "/last.h5", middle + "/last.h5");
  expect_same_weights(whole + "/best.h5", middle + "/best.h5");
}

// Mixup blends each training batch: the run differs from one without it, repeats exactly,
// and a run stopped in the middle of an epoch and resumed ends with the same weights and
// metrics (the blend's weight comes from the seed, epoch and batch, not from a running stream).
TEST(Trainer, MixupChangesTrainingAndResumesExactly) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir);
  RunConfig config = tiny_config(data, 3);
  config.mixup = 0.0;
  const std::string plain = dir.file("plain"), mixed = dir.file("mixed"), again = dir.file("again"),
                    stopped = dir.file("stopped");
  train_new_run(config, plain, quiet());
  config.mixup = 1.0;
  train_new_run(config, mixed, quiet());
  train_new_run(config, again, quiet());
  int64_t steps = 0;
  EXPECT_EQ(train_new_run(config, stopped, quiet([&] { return ++steps == 4; })).outcome, TrainOutcome::Interrupted);
  resume_run(stopped, 0, quiet());

  const std::vector<EpochRecord> without = read_metrics_csv(plain + "/metrics.csv");
  const std::vector<EpochRecord> with = read_metrics_csv(mixed + "/metrics.csv");
  ASSERT_EQ(with.size(), 3u);
  ASSERT_EQ(without.size(), 3u);
  EXPECT_NE(with[0].train_loss, without[0].train_loss);
  EXPECT_NE(with[2].val_loss, without[2].val_loss);
  EXPECT_EQ(results_of(again + "/metrics.csv"), results_of(mixed + "/metrics.csv"));
  EXPECT_EQ(results_of(stopped + "/metrics.csv"), results_of(mixed + "/metrics.csv"));
  expect_same_weights(mixed + "/last.h5", again + "/last.h5");
  expect_same_weights(mixed + "/last.h5", stopped + "/last.h5");
  EXPECT_DOUBLE_EQ(RunConfig::load(mixed + "/config.json").mixup, 1.0);
  EXPECT_NE(read_text_file(mixed + "/report.md").find("batch 5, mixup alpha 1, seed 0"), std::string::npos);
}

// --average-last 0.5 over 4 epochs: averaged.h5's parameters are the mean of epochs 3 and 4,
// its BatchNorm statistics are recomputed (one pass of 3 batches), the report says so and
// evaluates them, and a run stopped after epoch 3 and resumed ends with the same files.
TEST(Trainer, WeightAveragingAveragesTheLastEpochsAndResumes) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir), whole = dir.file("whole"), stopped = dir.file("stopped");
  RunConfig config = tiny_config(data, 4);
  config.average_last = 0.5;
  const TrainResult result = train_new_run(config, whole, quiet());
  EXPECT_NE(result.report.find("averaged.h5: the average of epochs 3-4, BatchNorm statistics recomputed"),
            std::string::npos)
      << result.report;

  int64_t steps = 0;
  EXPECT_EQ(train_new_run(config, stopped, quiet([&] { return ++steps == 9; })).outcome, TrainOutcome::Interrupted);
  EXPECT_FALSE(fs::exists(stopped + "/averaged.h5"));
  const Checkpoint epoch3 = load_checkpoint(stopped + "/last.h5");
  ASSERT_TRUE(epoch3.average.has_value());
  EXPECT_EQ(epoch3.average->at("n_averaged").to_vector<int64_t>(), (std::vector<int64_t>{1}));
  EXPECT_EQ(resume_run(stopped, 0, quiet()).report, result.report);
  expect_same_weights(whole + "/last.h5", stopped + "/last.h5");
  const Checkpoint a = load_checkpoint(whole + "/averaged.h5"), b = load_checkpoint(stopped + "/averaged.h5");
  EXPECT_FALSE(a.optimizer.has_value());  // weights only
  EXPECT_EQ(a.config, load_checkpoint(whole + "/last.h5").config);
  for (const auto& [key, tensor] : a.model) EXPECT_EQ(tensor.to_vector<double>(), b.model.at(key).to_vector<double>());

  const Checkpoint last = load_checkpoint(whole + "/last.h5");
  ASSERT_TRUE(last.average.has_value());
  EXPECT_EQ(last.average->at("n_averaged").to_vector<int64_t>(), (std::vector<int64_t>{2}));
  int64_t parameters = 0, norms = 0;
  for (const auto& [key, tensor] : a.model) {
    const std::vector<double> got = tensor.to_vector<double>();
    if (last.average->contains(key)) {
      ++parameters;
      const std::vector<double> at3 = epoch3.model.at(key).to_vector<double>();
      const std::vector<double> at4 = last.model.at(key).to_vector<double>();
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], (at3[i] + at4[i]) / 2, 1e-6) << key << i;
    } else if (key.find("num_batches_tracked") != std::string::npos) {
      ++norms;
      EXPECT_EQ(got, (std::vector<double>{3.0})) << key;
    } else if (key.find("running_mean") != std::string::npos) {
      EXPECT_NE(got, last.model.at(key).to_vector<double>()) << key;
    }
  }
  EXPECT_GT(parameters, 0);
  EXPECT_GT(norms, 0);
}

TEST(Trainer, ResumeDropsMetricsRowsAfterTheCheckpoint) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir), run = dir.file("run");
  int64_t steps = 0;
  train_new_run(tiny_config(data, 3), run, quiet([&] { return ++steps == 3; }));  // stops after epoch 1
  // A row written after the checkpoint (a crash between the two) is dropped on resume.
  EpochRecord stray;
  stray.epoch = 2;
  append_metrics_csv(run + "/metrics.csv", stray);
  resume_run(run, 0, quiet());
  const std::vector<EpochRecord> rows = read_metrics_csv(run + "/metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_GT(rows[1].train_loss, 0.0);
}

TEST(Trainer, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir), run = dir.file("run");
  RunConfig c = tiny_config(data, 12);
  c.optimizer.lr = 0.05;  // large steps: the validation loss soon stops falling
  c.schedule.name = "none";
  c.early_stopping = 2;
  const TrainResult result = train_new_run(c, run, quiet());
  const std::vector<EpochRecord> rows = read_metrics_csv(run + "/metrics.csv");
  ASSERT_EQ(result.outcome, TrainOutcome::EarlyStopped);
  ASSERT_LT(rows.size(), 12u);
  // The last two epochs did not beat the best before them; every earlier stretch did within 2.
  double best = rows[0].val_loss;
  int64_t bad = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LT(bad, 2) << "training went on after 2 epochs without improvement, at epoch " << i + 1;
    if (rows[i].val_loss < best) {
      best = rows[i].val_loss;
      bad = 0;
    } else {
      ++bad;
    }
  }
  EXPECT_EQ(bad, 2);
  EXPECT_DOUBLE_EQ(rows[0].lr, rows.back().lr);  // schedule "none"
  EXPECT_NE(result.report.find("early stopping"), std::string::npos);
}

TEST(Trainer, CarvedValidationAndOtherSchedulesAndOptimizers) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir);
  RunConfig c = tiny_config(data, 2);
  c.validation = "carve:1";
  c.optimizer.name = "sgd";
  c.schedule.name = "plateau";
  c.velocities = c.bones = true;
  const TrainResult carved = train_new_run(c, dir.file("carved"), quiet());
  EXPECT_EQ(carved.held_out.samples, 12);  // the final report: the held-out part
  EXPECT_NE(carved.report.find("carve:1 (6 sequences"), std::string::npos) << carved.report;

  c = tiny_config(data, 3);
  c.optimizer.name = "adamw";
  c.schedule.name = "step";
  c.schedule.step_size = 1;
  c.schedule.gamma = 0.5;
  c.schedule.warmup = 1;
  train_new_run(c, dir.file("warm"), quiet());
  const std::vector<EpochRecord> rows = read_metrics_csv(dir.file("warm") + "/metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(rows[0].lr, 3e-3 / 2);  // warm-up from lr / 2
  EXPECT_DOUBLE_EQ(rows[1].lr, 3e-3);
  EXPECT_DOUBLE_EQ(rows[2].lr, 1.5e-3);
}

TEST(Trainer, TrainsOnTheFileWrittenByH5py) {
  ScopedThreads threads(2);
  TempDir dir;
  RunConfig c = tiny_config(HARNET_FIXTURE_DIR "/h5py_contract.h5", 2);
  c.split = "subjects:7";  // the fixture's subjects are 3, 7, 7, 11
  c.model.conv_channels = {4, 4};
  const TrainResult result = train_new_run(c, dir.file("run"), quiet());
  EXPECT_EQ(result.outcome, TrainOutcome::Completed);
  EXPECT_EQ(read_metrics_csv(dir.file("run") + "/metrics.csv").size(), 2u);
  EXPECT_EQ(result.held_out.samples, 2);
  EXPECT_EQ(RunConfig::load(dir.file("run") + "/config.json").model.joints, 4);
}

TEST(Trainer, RefusesBadRunDirectoriesAndData) {
  ScopedThreads threads(2);
  TempDir dir;
  const std::string data = write_small_dataset(dir);
  write_text_file(dir.file("plain"), "x");
  expect_error([&] { train_new_run(tiny_config(data, 1), dir.file("plain") + "/run", quiet()); },
               "cannot create the run directory");
  expect_error([&] { train_new_run(tiny_config(data, 1), dir.file("plain"), quiet()); },
               "exists and is not a directory");
  expect_error([&] { train_new_run(tiny_config(dir.file("absent.h5"), 1), dir.file("r"), quiet()); },
               "--data " + dir.file("absent.h5") + " does not exist");
  EXPECT_FALSE(fs::exists(dir.file("r")));  // nothing created for a run that cannot start
  expect_error([&] { train_new_run(tiny_config("", 1), dir.file("r"), quiet()); }, "--data is required");

  const std::string run = dir.file("run");
  train_new_run(tiny_config(data, 1), run, quiet());
  expect_error([&] { train_new_run(tiny_config(data, 1), run, quiet()); },
               "already holds a run (config.json); continue it with --resume");
  expect_error([&] { resume_run(dir.file("nothing"), 0, quiet()); }, "it has no config.json");

  // A config.json that is not the one last.h5 was trained with.
  RunConfig other = RunConfig::load(run + "/config.json");
  other.optimizer.lr = 0.5;
  write_text_file(run + "/config.json", other.to_json());
  expect_error([&] { resume_run(run, 0, quiet()); }, "was written by another configuration than");
}

}  // namespace
}  // namespace harnet
