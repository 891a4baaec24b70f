// Test-time augmentation (inference.h, Evaluator): one view is run_model exactly; more views
// average the softmax of the plain view and of views drawn with the training augmentation,
// computed here the long way from the loaders; a sequence's views do not depend on the other
// sequences evaluated with it; the loss is the cross-entropy of the mean, label smoothing
// included; without training augmentation there is one view whatever was asked.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "data/dataset_io.h"
#include "harnet/lib/inference.h"
#include "ops/ops.h"
#include "test_util.h"
#include "trainer_test_data.h"

namespace harnet {
namespace {

using testing::expect_error;
using testing::ScopedThreads;
using testing::TempDir;

struct Fixture {
  TempDir dir;
  SkeletonDataset dataset;
  RunConfig config;
  std::shared_ptr<HARNet> model;
  std::vector<int64_t> sequences;  // the held-out part

  Fixture() {
    dataset = read_dataset(test::write_small_synthetic(dir.file("synth.h5"), 3));
    test::use_tiny_model(config, 1);
    config.seed = 7;
    config.adopt_dataset(dataset);
    model = build_model(config);
    sequences = make_run_split(dataset, config).validation;
  }

  // Softmax of every sample of `loader`'s epoch, in order.
  std::vector<float> probabilities(SkeletonLoader& loader, int64_t epoch) {
    NoGradGuard no_grad;
    model->eval();
    std::vector<float> out;
    loader.start_epoch(epoch);
    while (std::optional<Batch> batch = loader.next()) {
      const std::vector<float> p = softmax((*model)(batch->x), 1).to_vector<float>();
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  }
};

TEST(Evaluator, OneViewIsRunModel) {
  ScopedThreads threads(2);
  Fixture f;
  f.config.label_smoothing = 0.2;
  Evaluator evaluator(f.dataset, f.sequences, f.config, 1);
  EXPECT_EQ(evaluator.views(), 1);
  EXPECT_EQ(evaluator.describe(), "none (the plain view)");
  const ModelOutputs tta = evaluator.run(*f.model, true);
  SkeletonLoader loader(f.dataset, f.sequences, f.config.loader_options(false));
  CrossEntropyOptions loss;
  loss.label_smoothing = 0.2;
  const ModelOutputs plain = run_model(*f.model, loader, loss, true);
  EXPECT_EQ(tta.sequences, plain.sequences);
  EXPECT_EQ(tta.predicted, plain.predicted);
  EXPECT_EQ(tta.probabilities, plain.probabilities);
  EXPECT_EQ(tta.loss_sum, plain.loss_sum);
  EXPECT_DOUBLE_EQ(evaluator.plain_metrics().accuracy, plain.metrics().accuracy);
}

TEST(Evaluator, ViewsAverageThePlainAndAugmentedSoftmax) {
  ScopedThreads threads(2);
  Fixture f;
  const int64_t views = 4, classes = f.config.model.classes;
  Evaluator evaluator(f.dataset, f.sequences, f.config, views, 3);  // batch 3: another batching
  ASSERT_EQ(evaluator.views(), views);
  const ModelOutputs out = evaluator.run(*f.model, true);

  // The long way: the plain loader, then epochs 1..3 of an augmenting loader keyed by sequence.
  SkeletonLoader plain(f.dataset, f.sequences, f.config.loader_options(false));
  LoaderOptions options = f.config.loader_options(false);
  options.augment = f.config.augment;
  options.seed_by_sequence = true;
  SkeletonLoader augmented(f.dataset, f.sequences, options);
  const std::vector<float> first = f.probabilities(plain, 0);
  std::vector<double> mean(first.begin(), first.end());
  bool views_differ = false;
  for (int64_t v = 1; v < views; ++v) {
    const std::vector<float> p = f.probabilities(augmented, v);
    ASSERT_EQ(p.size(), mean.size());
    for (size_t i = 0; i < p.size(); ++i) {
      mean[i] += p[i];
      views_differ = views_differ || std::abs(p[i] - first[i]) > 1e-4f;
    }
  }
  EXPECT_TRUE(views_differ) << "the augmented views must not be the plain one";
  ASSERT_EQ(out.probabilities.size(), mean.size());
  double loss = 0.0;
  for (int64_t i = 0; i < out.samples(); ++i) {
    int64_t best = 0;
    for (int64_t c = 0; c < classes; ++c) {
      const double m = mean[static_cast<size_t>(i * classes + c)] / views;
      EXPECT_NEAR(out.probabilities[static_cast<size_t>(i * classes + c)], m, 1e-6) << i << ", " << c;
      if (m > mean[static_cast<size_t>(i * classes + best)] / views) best = c;
    }
    EXPECT_EQ(out.predicted[static_cast<size_t>(i)], best) << i;
    loss -= std::log(mean[static_cast<size_t>(i * classes + out.truth[static_cast<size_t>(i)])] / views);
  }
  EXPECT_NEAR(out.loss_sum, loss, 1e-5 * std::abs(loss));
  EXPECT_NE(evaluator.describe().find("4 views (the plain one and 3 with the training augmentation); the plain "
                                      "view alone: accuracy "),
            std::string::npos)
      << evaluator.describe();

  // Without keep_probabilities the same predictions and loss, no probabilities.
  const ModelOutputs again = evaluator.run(*f.model);
  EXPECT_EQ(again.predicted, out.predicted);
  EXPECT_EQ(again.loss_sum, out.loss_sum);
  EXPECT_TRUE(again.probabilities.empty());
}

TEST(Evaluator, ASequenceGetsTheSameViewsWhateverElseIsEvaluated) {
  ScopedThreads threads(2);
  Fixture f;
  const int64_t classes = f.config.model.classes;
  const ModelOutputs all = Evaluator(f.dataset, f.sequences, f.config, 5).run(*f.model, true);
  const int64_t last = f.sequences.back();
  const ModelOutputs one = Evaluator(f.dataset, {last}, f.config, 5).run(*f.model, true);
  ASSERT_EQ(one.samples(), 1);
  const size_t at = static_cast<size_t>(all.samples() - 1) * static_cast<size_t>(classes);
  ASSERT_EQ(all.sequences.back(), last);
  for (int64_t c = 0; c < classes; ++c)
    EXPECT_FLOAT_EQ(one.probabilities[static_cast<size_t>(c)], all.probabilities[at + static_cast<size_t>(c)]) << c;
}

TEST(Evaluator, LabelSmoothingScoresTheMeanAgainstTheSmoothedTarget) {
  ScopedThreads threads(2);
  Fixture f;
  const double eps = 0.3;
  f.config.label_smoothing = eps;
  const int64_t classes = f.config.model.classes;
  const ModelOutputs out = Evaluator(f.dataset, f.sequences, f.config, 3).run(*f.model, true);
  double loss = 0.0;
  for (int64_t i = 0; i < out.samples(); ++i)
    for (int64_t c = 0; c < classes; ++c) {
      const double target = (c == out.truth[static_cast<size_t>(i)] ? 1.0 - eps : 0.0) + eps / classes;
      loss -= target * std::log(out.probabilities[static_cast<size_t>(i * classes + c)]);
    }
  EXPECT_NEAR(out.loss_sum, loss, 1e-5 * loss);
}

TEST(Evaluator, WithoutTrainingAugmentationThereIsOneView) {
  ScopedThreads threads(2);
  Fixture f;
  f.config.augment = AugmentOptions{};
  Evaluator evaluator(f.dataset, f.sequences, f.config, 10);
  EXPECT_EQ(evaluator.views(), 1);
  SkeletonLoader loader(f.dataset, f.sequences, f.config.loader_options(false));
  EXPECT_EQ(evaluator.run(*f.model, true).probabilities, run_model(*f.model, loader, {}, true).probabilities);
  expect_error([&] { Evaluator(f.dataset, f.sequences, f.config, 0); },
               "--tta must be >= 1 (1: no test-time augmentation), got 0");
}

}  // namespace
}  // namespace harnet
