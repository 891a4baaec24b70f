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
// (", attention pooling" after the heads when the model pools so)
std::string describe_model(const HARNet& model);

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

// The `k` most probable classes of sample `i` (descending; ties by class index).
std::vector<int64_t> top_k_classes(const ModelOutputs& outputs, int64_t i, int64_t k);

}  // namespace harnet
