// Running a trained HARNet: building the model a RunConfig describes, loading one from a
// checkpoint (whose config carries everything: sizes, preprocessing, joint order, class and
// joint names), and passing a loader's batches through it without a graph.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "harnet/lib/metrics.h"
#include "harnet/lib/model.h"
#include "harnet/lib/run_config.h"
#include "ops/loss.h"

namespace harnet {

// The model of config, initialised from Generator(config.seed): the same weights for the
// same config, so a resumed run can rebuild it before loading its state.
std::shared_ptr<HARNet> build_model(const RunConfig& config);

// "HARNet, 770826 parameters: conv 64,64,128 (kernel 3), LSTM 2 x 128, 4 heads, classifier 64"
// (", attention pooling" after the heads when the model pools so; "HARNet ensemble of 2 members,
// 1541652 parameters (770826 each): ..." for an ensemble)
std::string describe_model(const HARNet& model);

// "60 frames; positions, velocities; joints depth-first; Savitzky-Golay smoothing (window 5,
// order 2); spine stood upright": the input pipeline of config ("no smoothing" when off; the
// last part only with NormalizeOptions::upright).
std::string describe_input(const RunConfig& config);

// "2 threads, OpenBLAS kernels SkylakeX": what the numbers were computed with (results depend
// on both, as on the CPU).
std::string describe_computation();

struct TrainedModel {
  RunConfig config;
  std::shared_ptr<HARNet> model;  // in eval mode
  std::map<std::string, double> counters;
};

// Loads a checkpoint written by `harnet train`; throws naming the file when it is missing,
// holds no run configuration, or its weights do not fit its configuration.
TrainedModel load_trained_model(const std::string& path);

// What a model made of a loader's samples, in the loader's order (one sample per sequence).
struct ModelOutputs {
  std::vector<int64_t> sequences;    // [N] dataset index of each sample
  std::vector<int64_t> truth;        // [N]
  std::vector<int64_t> predicted;    // [N] argmax of the logits
  std::vector<float> probabilities;  // [N, C] softmax, when asked for
  double loss_sum = 0.0;             // sum over samples of the cross-entropy
  int64_t classes = 0;

  int64_t samples() const { return static_cast<int64_t>(truth.size()); }
  double mean_loss() const { return samples() ? loss_sum / static_cast<double>(samples()) : 0.0; }
  ClassificationMetrics metrics() const { return classification_metrics(truth, predicted, classes); }
};

// Runs every batch of loader's epoch 0 through model in eval mode without a graph (the
// model's mode is restored afterwards). Throws when a loss is not finite.
ModelOutputs run_model(HARNet& model, SkeletonLoader& loader, const CrossEntropyOptions& loss,
                       bool keep_probabilities = false);

// A model applied to some sequences of a dataset the way a run's configuration says: its
// preprocessing, its batch size (unless `batch` > 0), its label smoothing, and its test-time
// augmentation (TTA): the class probabilities averaged over `views` views of every sequence,
// view 0 plain and view v >= 1 drawn with the configuration's training augmentation from
// (seed, v, dataset sequence), so a sequence gets the same views whatever else is evaluated
// with it. The prediction is the argmax of the mean, the loss the cross-entropy of the mean
// (with the smoothed target). One view, or a configuration without training augmentation
// (its views would all be plain): the plain view alone, exactly as run_model.
//
//   Evaluator evaluator(dataset, held_out, trained.config, trained.config.tta);
//   const ModelOutputs outputs = evaluator.run(*trained.model);
class Evaluator {
 public:
  Evaluator(const SkeletonDataset& dataset, const std::vector<int64_t>& sequences, const RunConfig& config,
            int64_t views, int64_t batch = 0);

  // The views averaged (1 without training augmentation, whatever was asked).
  int64_t views() const { return views_; }
  // For reports, after run: "10 views (the plain one and 9 with the training augmentation);
  // the plain view alone: accuracy 80.22%, macro-F1 0.783", or "none (the plain view)".
  std::string describe() const;

  // Runs every view through model in eval mode without a graph (the model's mode is restored).
  ModelOutputs run(HARNet& model, bool keep_probabilities = false);
  // The plain view's metrics in the last run (what the model gives without TTA).
  const ClassificationMetrics& plain_metrics() const { return plain_metrics_; }

 private:
  std::unique_ptr<SkeletonLoader> plain_, augmented_;
  CrossEntropyOptions loss_;
  int64_t views_ = 1;
  ClassificationMetrics plain_metrics_;
};

// The `k` most probable classes of sample `i` (descending; ties by class index).
std::vector<int64_t> top_k_classes(const ModelOutputs& outputs, int64_t i, int64_t k);

}  // namespace harnet
