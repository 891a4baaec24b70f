// RunConfig: the recipe's defaults, config.json round trips and refusals, option validation
// (one message naming the option), the run's split, and matching a dataset.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "data/joint_order.h"
#include "data/synthetic_skeletons.h"
#include "harnet/lib/run_config.h"
#include "test_util.h"

namespace harnet {
namespace {

using testing::expect_error;

SkeletonDataset small_dataset(int64_t classes = 3) {
  SyntheticSkeletonOptions o;
  o.classes = classes;
  o.subjects = 6;
  o.repetitions = 1;
  o.frames = 12;
  return make_synthetic_skeletons(o);
}

// The spec's recipe except batch 16 with 5 warm-up epochs, and random bone lengths and motion
// amplitude added to the augmentation (each chosen on validation subjects).
TEST(RunConfig, DefaultsAreTheSpecRecipeWithSmallerBatches) {
  const RunConfig c;
  EXPECT_EQ(c.optimizer.name, "adam");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 1e-4);
  EXPECT_EQ(c.batch, 16);
  EXPECT_EQ(c.schedule.warmup, 5);
  EXPECT_EQ(c.epochs, 200);
  EXPECT_EQ(c.schedule.name, "cosine");
  EXPECT_DOUBLE_EQ(c.clip, 1.0);
  EXPECT_DOUBLE_EQ(c.label_smoothing, 0.0);
  EXPECT_DOUBLE_EQ(c.mixup, 0.4);
  EXPECT_TRUE(c.augment.tilt);
  EXPECT_DOUBLE_EQ(c.augment.max_tilt_degrees, 10.0);
  EXPECT_TRUE(c.augment.shear);
  EXPECT_DOUBLE_EQ(c.augment.max_shear, 0.2);
  EXPECT_EQ(c.frames, 60);
  EXPECT_EQ(c.split, "odd-even");
  EXPECT_EQ(c.validation, "held-out");
  EXPECT_EQ(c.early_stopping, 0);
  EXPECT_EQ(c.tta, 20);
  EXPECT_DOUBLE_EQ(c.average_last, 0.5);
  EXPECT_EQ(c.averaged_epochs(), 100);
  EXPECT_TRUE(c.augment.rotate && c.augment.scale && c.augment.jitter && c.augment.temporal_crop);
  EXPECT_TRUE(c.augment.bone_scale && c.augment.motion_scale);
  EXPECT_DOUBLE_EQ(c.augment.bone_scale_range, 0.3);
  EXPECT_DOUBLE_EQ(c.augment.motion_scale_range, 0.3);
  EXPECT_FALSE(c.augment.mirror);
  EXPECT_DOUBLE_EQ(c.augment.min_crop_fraction, 0.6);
  EXPECT_DOUBLE_EQ(c.augment.max_rotation_degrees, 15.0);
  EXPECT_EQ(c.model.conv_channels, (std::vector<int64_t>{64, 64, 128}));
  EXPECT_EQ(c.joint_walk, "depth-first");
  EXPECT_NO_THROW(c.validate());
}

TEST(RunConfig, JsonRoundTripKeepsEverySetting) {
  RunConfig c;
  c.data = "/data/x.h5";
  c.split = "subjects:1,3";
  c.validation = "carve:1";
  c.frames = 32;
  c.velocities = true;
  c.joint_walk = "tour";
  c.smooth = {7, 3};
  c.normalize.rotate = false;
  c.normalize.upright = true;
  c.augment.jitter = false;
  c.augment.max_rotation_degrees = 10;
  c.augment.motion_scale = false;
  c.augment.bone_scale_range = 0.35;
  c.augment.mirror = true;
  c.augment.mirror_probability = 0.3;
  c.model.conv_channels = {8, 16};
  c.model.conv_pool = {false, true};
  c.model.lstm_hidden = 24;
  c.model.attention_heads = 3;
  c.model.in_channels = 6;
  c.epochs = 7;
  c.batch = 5;
  c.optimizer = {"sgd", 0.05, 0.0, 0.8};
  c.schedule.name = "step";
  c.schedule.warmup = 2;
  c.clip = 0.0;
  c.label_smoothing = 0.1;
  c.mixup = 0.2;
  c.early_stopping = 3;
  c.average_last = 0.25;
  c.tta = 3;
  c.seed = 42;
  c.threads = 2;
  c.class_names = {"a", "b"};
  c.joint_names = {"x", "y"};
  c.joint_order = {1, 0};
  const std::string json = c.to_json();
  const RunConfig back = RunConfig::from_json(json);
  EXPECT_EQ(back.to_json(), json);
  EXPECT_EQ(back.optimizer.name, "sgd");
  EXPECT_DOUBLE_EQ(back.optimizer.momentum, 0.8);
  EXPECT_EQ(back.model.conv_channels, (std::vector<int64_t>{8, 16}));
  EXPECT_FALSE(back.normalize.rotate);
  EXPECT_TRUE(back.normalize.upright);
  EXPECT_TRUE(back.augment.bone_scale);
  EXPECT_FALSE(back.augment.motion_scale);
  EXPECT_DOUBLE_EQ(back.augment.bone_scale_range, 0.35);
  EXPECT_TRUE(back.augment.mirror);
  EXPECT_DOUBLE_EQ(back.augment.mirror_probability, 0.3);
  EXPECT_EQ(back.joint_order, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(back.joint_walk, "tour");
  EXPECT_EQ(back.smooth.window, 7);
  EXPECT_EQ(back.smooth.order, 3);
  EXPECT_EQ(back.seed, 42u);
  EXPECT_DOUBLE_EQ(back.average_last, 0.25);
  EXPECT_DOUBLE_EQ(back.mixup, 0.2);
  EXPECT_EQ(back.tta, 3);
}

TEST(RunConfig, MissingKeysKeepDefaultsAndBadOnesAreRefused) {
  const RunConfig partial = RunConfig::from_json(R"({"format": "harnet-run-v1", "optimizer": {"lr": 0.01}})");
  EXPECT_DOUBLE_EQ(partial.optimizer.lr, 0.01);
  EXPECT_EQ(partial.optimizer.name, "adam");
  EXPECT_EQ(partial.epochs, 200);
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "optimizer": {"lr": 0.01, "mom": 1}})"); },
               "unknown key 'optimizer.mom'");
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"epochs": "ten"}})"); },
               "'training.epochs' must be an integer, got string");
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"epochs": 2.5}})"); },
               "'training.epochs' must be an integer");
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "seed": -1})"); },
               "'seed' must be a non-negative integer");
  expect_error([] { RunConfig::from_json(R"({"format": "other"})"); }, "format is 'other'");
  expect_error([] { RunConfig::from_json("{"); }, "not valid JSON");
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"heads": 2}})"); }, "config: model:");
  expect_error([] { RunConfig::load("/nonexistent/config.json"); }, "does not exist");
}

// The model's pooling travels in config.json's "model" object; a config.json written before
// the setting existed reads as mean pooling, and an unknown pooling is refused naming it.
TEST(RunConfig, ModelPoolingRoundTripsAndOldConfigsReadAsMean) {
  RunConfig c;
  EXPECT_EQ(c.model.pooling, "mean");
  c.model.pooling = "attention";
  const std::string json = c.to_json();
  const RunConfig back = RunConfig::from_json(json);
  EXPECT_EQ(back.model.pooling, "attention");
  EXPECT_EQ(back.to_json(), json);
  const RunConfig old = RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"lstm_hidden": 64}})");
  EXPECT_EQ(old.model.pooling, "mean");
  EXPECT_EQ(old.model.lstm_hidden, 64);
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"pooling": "max"}})"); },
               "config: model: HARNetConfig: pooling must be \"mean\" or \"attention\", got \"max\"");
  c.model.pooling = "sum";
  expect_error([&] { c.validate(); }, "pooling must be \"mean\" or \"attention\", got \"sum\"");
}

// The training loader's augmentation of a config whose augment object is `augment`, after checking
// that the config reads back from its own JSON unchanged and that evaluation does not augment.
AugmentOptions training_augment_of(const std::string& augment) {
  const RunConfig c = RunConfig::from_json(R"({"format": "harnet-run-v1", "augment": )" + augment + "}");
  EXPECT_EQ(RunConfig::from_json(c.to_json()).to_json(), c.to_json());
  EXPECT_FALSE(c.loader_options(false).augment.any());
  return c.loader_options(true).augment;
}
void expect_augment_refused(const std::string& augment, const std::string& message) {
  expect_error([&] { RunConfig::from_json(R"({"format": "harnet-run-v1", "augment": )" + augment + "}").validate(); },
               message);
}

// A config.json written before bone_scale, motion_scale and mirror existed has an augment
// object without them: it repeats its run, so they read as off. Without an augment object at all, the
// defaults (on) apply like any other missing key.
TEST(RunConfig, OldAugmentObjectsReadWithoutBoneScaleMotionScaleAndMirror) {
  const RunConfig old = RunConfig::from_json(
      R"({"format": "harnet-run-v1", "augment": {"rotate": true, "jitter": false, "min_crop_fraction": 0.8}})");
  EXPECT_TRUE(old.augment.rotate && old.augment.scale && old.augment.temporal_crop);
  EXPECT_FALSE(old.augment.jitter);
  EXPECT_FALSE(old.augment.bone_scale);
  EXPECT_FALSE(old.augment.motion_scale);
  EXPECT_FALSE(old.augment.mirror);
  EXPECT_FALSE(old.augment.tilt);
  const RunConfig none = RunConfig::from_json(R"({"format": "harnet-run-v1"})");
  EXPECT_TRUE(none.augment.bone_scale && none.augment.motion_scale && none.augment.tilt);
  const RunConfig on = RunConfig::from_json(R"({"format": "harnet-run-v1", "augment": {"motion_scale": true}})");
  EXPECT_TRUE(on.augment.motion_scale);
  EXPECT_FALSE(on.augment.bone_scale);
  expect_error(
      [] { RunConfig::from_json(R"({"format": "harnet-run-v1", "augment": {"bone_scale_range": 1.5}})").validate(); },
               "bone_scale_range must be in [0, 1), got 1.5");
  EXPECT_TRUE(RunConfig::from_json(R"({"format": "harnet-run-v1", "augment": {"mirror": true}})").augment.mirror);
  expect_error(
      [] {
        RunConfig::from_json(R"({"format": "harnet-run-v1", "augment": {"mirror_probability": -0.5}})").validate();
      },
      "augment: mirror_probability must be in [0, 1], got -0.5");
  const AugmentOptions tilted = training_augment_of(R"({"tilt": true, "max_tilt_degrees": 7.5})");
  EXPECT_TRUE(tilted.tilt);
  EXPECT_DOUBLE_EQ(tilted.max_tilt_degrees, 7.5);
  expect_augment_refused(R"({"max_tilt_degrees": 95})", "augment: max_tilt_degrees must be in [0, 90], got 95");
  EXPECT_FALSE(old.augment.shear);
  EXPECT_TRUE(RunConfig::from_json(R"({"format": "harnet-run-v1"})").augment.shear);
  const AugmentOptions sheared = training_augment_of(R"({"shear": true, "max_shear": 0.35})");
  EXPECT_TRUE(sheared.shear);
  EXPECT_DOUBLE_EQ(sheared.max_shear, 0.35);
  expect_augment_refused(R"({"max_shear": -0.1})", "augment: max_shear must be in [0, 1], got -0.1");
}

// A config.json written before the evaluation settings existed has a training object and no
// evaluation object: its final report was the plain view's, so tta reads as 1. A file without
// either (hand-written) gets the default like any other missing key.
TEST(RunConfig, OldConfigsReadWithoutTestTimeAugmentation) {
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"epochs": 3}})").tta, 1);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").tta, 20);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {}, "evaluation": {"tta": 4}})").tta, 4);
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "evaluation": {"views": 4}})"); },
               "unknown key 'evaluation.views'");
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "evaluation": {"tta": 0}})").validate(); },
               "--tta must be >= 1 (1: no test-time augmentation), got 0");
}

// The default recipe trains an ensemble of three of the spec's networks; a model object written
// before the setting existed (no "members") is one network, as it was trained.
TEST(RunConfig, TheDefaultModelIsAnEnsembleOfThreeAndOldModelsAreSingle) {
  EXPECT_EQ(RunConfig{}.model.members, 3);
  EXPECT_EQ(RunConfig::from_json(RunConfig{}.to_json()).model.members, 3);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").model.members, 3);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"joints": 20}})").model.members, 1);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"members": 3}})").model.members, 3);
  // Apart from the members and the bidirectional LSTM, the default model is the spec's network.
  HARNetConfig spec = RunConfig{}.model;
  EXPECT_TRUE(spec.bidirectional);
  spec.members = 1;
  spec.bidirectional = false;
  EXPECT_EQ(spec.to_json(), HARNetConfig{}.to_json());
}

// The default recipe's LSTMs are bidirectional; a model object without the key (written before
// the default changed, or by hand) keeps the spec's one direction, as the model it describes.
TEST(RunConfig, TheDefaultLstmIsBidirectionalAndModelObjectsWithoutItAreNot) {
  EXPECT_TRUE(RunConfig::from_json(RunConfig{}.to_json()).model.bidirectional);
  EXPECT_TRUE(RunConfig::from_json(R"({"format": "harnet-run-v1"})").model.bidirectional);
  EXPECT_FALSE(RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"members": 3}})").model.bidirectional);
  EXPECT_FALSE(
      RunConfig::from_json(R"({"format": "harnet-run-v1", "model": {"bidirectional": false}})").model.bidirectional);
}

// The default averages the second half of the epochs; a share rounds up to whole epochs (at
// least one when on). A training object written before averaging existed (no "average_last")
// ended with the last epoch's weights, so it reads as 0; a file without one gets the default.
TEST(RunConfig, WeightAveragingSharesAndOldFilesWithoutIt) {
  RunConfig c;
  c.epochs = 5;
  EXPECT_EQ(c.averaged_epochs(), 3);
  c.average_last = 1.0;
  EXPECT_EQ(c.averaged_epochs(), 5);
  c.average_last = 0.01;
  EXPECT_EQ(c.averaged_epochs(), 1);
  c.average_last = 0.0;
  EXPECT_EQ(c.averaged_epochs(), 0);
  c.epochs = 50;
  c.average_last = 0.14;  // 0.14 * 50 is 7.000000000000001 in doubles: still 7
  EXPECT_EQ(c.averaged_epochs(), 7);
  EXPECT_DOUBLE_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"epochs": 3}})").average_last,
                   0.0);
  EXPECT_DOUBLE_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").average_last, 0.5);
  EXPECT_DOUBLE_EQ(
      RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"average_last": 0.25}})").average_last, 0.25);
}

// Runs written before mixup existed trained without it: a training object without "mixup"
// reads as 0; a file without a training object gets the default.
TEST(RunConfig, MixupIsReadAndOldFilesHaveNone) {
  EXPECT_DOUBLE_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"epochs": 3}})").mixup, 0.0);
  EXPECT_DOUBLE_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "training": {"mixup": 0.2}})").mixup, 0.2);
  EXPECT_DOUBLE_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").mixup, 0.4);
}

// Runs written before smoothing existed did not smooth: an input object without "smoothing"
// reads as off; the loader options carry the setting.
TEST(RunConfig, SmoothingIsReadAndOldFilesHaveNone) {
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "input": {"frames": 60}})").smooth.window, 0);
  const RunConfig c = RunConfig::from_json(
      R"({"format": "harnet-run-v1", "input": {"smoothing": {"window": 9, "order": 4}}})");
  EXPECT_EQ(c.smooth.window, 9);
  EXPECT_EQ(c.smooth.order, 4);
  EXPECT_EQ(c.loader_options(false).preprocess.smooth.window, 9);
  EXPECT_EQ(c.loader_options(true).preprocess.smooth.order, 4);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").smooth.window, RunConfig{}.smooth.window);
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "input": {"smoothing": {"width": 5}}})"); },
               "width");
}

// Runs written before the upright step existed did not stand the spine upright: a normalize
// object without "upright" reads as off; the loader options carry the setting.
TEST(RunConfig, UprightIsReadAndOldFilesHaveNone) {
  const RunConfig old = RunConfig::from_json(
      R"({"format": "harnet-run-v1", "input": {"normalize": {"translate": true, "rotate": true, "scale": true}}})");
  EXPECT_FALSE(old.normalize.upright);
  EXPECT_TRUE(old.normalize.rotate);
  const RunConfig c = RunConfig::from_json(R"({"format": "harnet-run-v1", "input": {"normalize": {"upright": true}}})");
  EXPECT_TRUE(c.normalize.upright);
  EXPECT_TRUE(c.loader_options(false).preprocess.normalize.upright);
  EXPECT_TRUE(c.loader_options(true).preprocess.normalize.upright);
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").normalize.upright, RunConfig{}.normalize.upright);
}

// Runs written before the joint walk existed laid their joints depth-first, the default: a
// file without the key reads so.
TEST(RunConfig, TheJointWalkIsReadAndOldFilesAreDepthFirst) {
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1"})").joint_walk, "depth-first");
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "input": {"frames": 60}})").joint_walk, "depth-first");
  EXPECT_EQ(RunConfig::from_json(R"({"format": "harnet-run-v1", "input": {"joint_walk": "tour"}})").joint_walk, "tour");
  expect_error([] { RunConfig::from_json(R"({"format": "harnet-run-v1", "input": {"joint_walk": 3}})"); },
               "'input.joint_walk' must be a string");
}

TEST(RunConfig, WarmupIsCappedBelowTheEpochs) {
  RunConfig c;
  EXPECT_EQ(c.warmup_epochs(), 5);
  c.epochs = 3;
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(c.warmup_epochs(), 2);
  c.epochs = 1;
  EXPECT_EQ(c.warmup_epochs(), 0);
  c.schedule.warmup = 0;
  c.epochs = 100;
  EXPECT_EQ(c.warmup_epochs(), 0);
}

TEST(RunConfig, InvalidSettingsNameTheirOption) {
  const std::vector<std::pair<std::function<void(RunConfig&)>, std::string>> cases{
      {[](RunConfig& c) { c.optimizer.lr = -1; }, "--lr must be a positive number"},
      {[](RunConfig& c) { c.optimizer.name = "adagrad"; }, "--optimizer: expected adam, adamw, sgd or rmsprop"},
      {[](RunConfig& c) { c.schedule.name = "linear"; }, "--schedule: expected cosine"},
      {[](RunConfig& c) { c.epochs = 0; }, "--epochs must be >= 1"},
      {[](RunConfig& c) { c.batch = 0; }, "--batch must be >= 1"},
      {[](RunConfig& c) { c.frames = 0; }, "--frames must be >= 1"},
      {[](RunConfig& c) { c.schedule.warmup = -1; }, "--warmup must be >= 0"},
      {[](RunConfig& c) { c.schedule.name = "plateau", c.schedule.warmup = 2; }, "--warmup does not combine"},
      {[](RunConfig& c) { c.clip = -1; }, "--clip must be >= 0"},
      {[](RunConfig& c) { c.label_smoothing = 1.0; }, "--label-smoothing must be in [0, 1)"},
      {[](RunConfig& c) { c.mixup = -0.5; }, "--mixup must be >= 0 (Beta(alpha, alpha); 0: off), got -0.5"},
      {[](RunConfig& c) { c.early_stopping = -2; }, "--early-stopping must be >= 0"},
      {[](RunConfig& c) { c.average_last = -0.1; }, "--average-last must be a share of the epochs in [0, 1]"},
      {[](RunConfig& c) { c.average_last = 2; }, "--average-last must be a share of the epochs in [0, 1] (0: off), got 2"},
      {[](RunConfig& c) { c.optimizer.weight_decay = -1e-4; }, "--weight-decay must be >= 0"},
      {[](RunConfig& c) { c.optimizer.momentum = 1.0; }, "--momentum must be in [0, 1)"},
      {[](RunConfig& c) { c.split = "cross-view"; }, "--split: expected odd-even, subjects:1,3,5 or random:0.8"},
      {[](RunConfig& c) { c.split = "subjects:1,x"; }, "--split: 'x' is not a subject id"},
      {[](RunConfig& c) { c.split = "random:1.5"; }, "--split: the training share must be a number in (0, 1)"},
      {[](RunConfig& c) { c.validation = "carve:0"; }, "--validation: expected carve:K with K >= 1"},
      {[](RunConfig& c) { c.validation = "test"; }, "--validation: expected held-out or carve:K"},
      {[](RunConfig& c) { c.augment.min_scale = 2.0; }, "augment: the scale range"},
      {[](RunConfig& c) { c.velocities = true; }, "in_channels is 3 but the features"},
      {[](RunConfig& c) { c.smooth.window = 4; }, "--smooth-window must be an odd number of frames >= 3 (0: off), got 4"},
      {[](RunConfig& c) { c.smooth.window = 1; }, "--smooth-window must be an odd number of frames >= 3 (0: off), got 1"},
      {[](RunConfig& c) { c.smooth = {5, 5}; }, "--smooth-order must be in [0, --smooth-window) = [0, 5), got 5"},
      {[](RunConfig& c) { c.smooth = {5, -1}; }, "--smooth-order must be in [0, --smooth-window) = [0, 5), got -1"},
      {[](RunConfig& c) { c.joint_walk = "bfs"; }, "--joint-walk: 'bfs' is not a joint walk (expected depth-first or tour)"},
      {[](RunConfig& c) { c.joint_order = {0, 1, 0}; }, "model: joints is 25 but the joint order has 3 positions"},
  };
  for (const auto& [change, message] : cases) {
    RunConfig c;
    change(c);
    expect_error([&] { c.validate(); }, message);
  }
}

TEST(RunConfig, AdoptDatasetTakesShapesNamesAndJointOrder) {
  const SkeletonDataset d = small_dataset();
  RunConfig c;
  c.velocities = c.bones = true;
  c.adopt_dataset(d);  // the default walk: depth-first, one position per joint
  EXPECT_EQ(c.model.joints, 25);
  EXPECT_EQ(c.joint_order, depth_first_joint_order(d.parents));
  EXPECT_EQ(c.model.classes, 3);
  EXPECT_EQ(c.model.in_channels, 9);
  EXPECT_EQ(c.class_names, d.class_names);
  EXPECT_EQ(c.joint_names, d.joint_names);
  EXPECT_NO_THROW(c.check_dataset(d, "same.h5"));
  RunConfig tour = c;
  tour.joint_walk = "tour";
  tour.adopt_dataset(d);  // 25 joints, 49 positions
  EXPECT_EQ(tour.model.joints, 49);
  EXPECT_EQ(tour.joint_order, tour_joint_order(d.parents));
  EXPECT_NO_THROW(tour.check_dataset(d, "same.h5"));
  expect_error([&] { c.check_dataset(small_dataset(4), "other.h5"); },
               "other.h5 has 4 classes (wave, punch, kick, bend) but the model was trained on 3");
  SkeletonDataset renamed = d;
  renamed.joint_names[0] = "Pelvis";
  expect_error([&] { c.check_dataset(renamed, "renamed.h5"); }, "renamed.h5 has 25 joints (Pelvis");
  const LoaderOptions training = c.loader_options(true), evaluation = c.loader_options(false);
  EXPECT_TRUE(training.shuffle && training.augment.any());
  EXPECT_FALSE(evaluation.shuffle || evaluation.augment.any());
  EXPECT_EQ(evaluation.preprocess.joint_order, c.joint_order);
  EXPECT_EQ(evaluation.preprocess.features.channels(), 9);
}

std::set<int32_t> subjects_of(const SkeletonDataset& d, const std::vector<int64_t>& sequences) {
  std::set<int32_t> out;
  for (const int64_t i : sequences) out.insert(d.subjects[static_cast<size_t>(i)]);
  return out;
}

TEST(RunConfig, RunSplitsHoldOutAndCarve) {
  const SkeletonDataset d = small_dataset();  // subjects 1..6
  RunConfig c;
  RunSplit s = make_run_split(d, c);
  EXPECT_EQ(subjects_of(d, s.train), (std::set<int32_t>{1, 3, 5}));
  EXPECT_EQ(s.validation, s.held_out);
  EXPECT_EQ(subjects_of(d, s.held_out), (std::set<int32_t>{2, 4, 6}));
  EXPECT_FALSE(s.carved);

  c.validation = "carve:1";
  s = make_run_split(d, c);
  EXPECT_TRUE(s.carved);
  EXPECT_EQ(subjects_of(d, s.validation).size(), 1u);
  EXPECT_EQ(subjects_of(d, s.train).size(), 2u);
  EXPECT_EQ(subjects_of(d, s.held_out), (std::set<int32_t>{2, 4, 6}));
  c.validation = "carve:3";
  expect_error([&] { make_run_split(d, c); }, "carve:3 needs more than 3 training subjects, the split has 3");

  c.validation = "held-out";
  c.split = "subjects:1,2";
  s = make_run_split(d, c);
  EXPECT_EQ(subjects_of(d, s.train), (std::set<int32_t>{1, 2}));
  EXPECT_EQ(subjects_of(d, s.held_out), (std::set<int32_t>{3, 4, 5, 6}));
  c.split = "subjects:9";
  expect_error([&] { make_run_split(d, c); }, "9");
  c.split = "random:0.5";
  s = make_run_split(d, c);
  EXPECT_EQ(s.train.size() + s.held_out.size(), static_cast<size_t>(d.num_sequences()));

  EXPECT_EQ(held_out_sequences(d, "all", 0).size(), static_cast<size_t>(d.num_sequences()));
  EXPECT_EQ(subjects_of(d, held_out_sequences(d, "odd-even", 0)), (std::set<int32_t>{2, 4, 6}));
  EXPECT_NO_THROW(check_split_spec("all", true));
  expect_error([] { check_split_spec("all", false); }, "--split: expected");
}

}  // namespace
}  // namespace harnet
