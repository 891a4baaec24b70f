#include "harnet/lib/inference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "autograd/autograd.h"
#include "autograd/error.h"
#include "autograd/parallel.h"
#include "harnet/lib/checkpoint.h"
#include "ops/blas.h"
#include "ops/ops.h"

namespace harnet {

std::shared_ptr<HARNet> build_model(const RunConfig& config) {
  Generator gen(config.seed);
  return std::make_shared<HARNet>(config.model, gen);
}

std::string describe_computation() {
  return str_cat(get_num_threads(), get_num_threads() == 1 ? " thread" : " threads", ", OpenBLAS kernels ",
                 blas_kernels());
}

std::string describe_model(const HARNet& model) {
  const HARNetConfig& c = model.config();
  std::string channels;
  for (size_t i = 0; i < c.conv_channels.size(); ++i) channels += str_cat(i ? "," : "", c.conv_channels[i]);
  const int64_t parameters = model.num_parameters();
  const std::string size = c.members == 1 ? str_cat("HARNet, ", parameters, " parameters")
                                          : str_cat("HARNet ensemble of ", c.members, " members, ", parameters,
                                                    " parameters (", parameters / c.members, " each)");
  return str_cat(size, ": conv ", channels, " (kernel ", c.conv_kernel,
                 "), LSTM ", c.lstm_layers, " x ", c.lstm_hidden, c.bidirectional ? " bidirectional" : "", ", ",
                 c.attention_heads, " heads", c.pooling == "attention" ? ", attention pooling" : "", ", classifier ",
                 c.classifier_hidden, "; input ", c.joints, " joint positions x ", c.in_channels, " channels");
}

std::string describe_input(const RunConfig& config) {
  return str_cat(config.frames, " frames; positions", config.velocities ? ", velocities" : "",
                 config.bones ? ", bones" : "", "; joints ", config.joint_walk, "; ",
                 config.smooth.enabled() ? str_cat("Savitzky-Golay smoothing (window ", config.smooth.window,
                                                   ", order ", config.smooth.order, ")")
                                         : std::string("no smoothing"),
                 config.normalize.upright ? "; spine stood upright" : "");
}

TrainedModel load_trained_model(const std::string& path) {
  HARNET_CHECK(std::filesystem::is_regular_file(path), "checkpoint ", path, " does not exist");
  Checkpoint checkpoint = load_checkpoint(path);
  HARNET_CHECK(!checkpoint.config.empty(), "checkpoint ", path,
               " carries no run configuration (it was not written by harnet train)");
  TrainedModel trained;
  try {
    trained.config = RunConfig::from_json(checkpoint.config);
    trained.config.validate();
  } catch (const Error& e) {
    throw Error(str_cat("checkpoint ", path, ": its configuration is not a harnet run configuration: ", e.what()));
  }
  HARNET_CHECK(!trained.config.class_names.empty() && !trained.config.joint_order.empty(), "checkpoint ", path,
               ": its configuration names no classes or joints");
  trained.model = build_model(trained.config);
  try {
    trained.model->load_state_dict(checkpoint.model);
  } catch (const Error& e) {
    throw Error(
        str_cat("checkpoint ", path, ": the weights do not fit the model its configuration describes: ", e.what()));
  }
  trained.model->eval();
  trained.counters = checkpoint.counters;
  return trained;
}

ModelOutputs run_model(HARNet& model, SkeletonLoader& loader, const CrossEntropyOptions& loss,
                       bool keep_probabilities) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  ModelOutputs out;
  out.classes = model.config().classes;
  loader.start_epoch(0);
  while (std::optional<Batch> batch = loader.next()) {
    const Tensor logits = model(batch->x);
    const double value = cross_entropy(logits, batch->y, loss).item();
    HARNET_CHECK(std::isfinite(value), "evaluation: the loss is ", value, " on a batch of sequences starting at ",
                 batch->indices.front());
    const auto size = static_cast<int64_t>(batch->indices.size());
    out.loss_sum += value * static_cast<double>(size);
    const std::vector<int64_t> predicted = argmax(logits, 1).to_vector<int64_t>();
    const std::vector<int64_t> truth = batch->y.to_vector<int64_t>();
    out.sequences.insert(out.sequences.end(), batch->indices.begin(), batch->indices.end());
    out.truth.insert(out.truth.end(), truth.begin(), truth.end());
    out.predicted.insert(out.predicted.end(), predicted.begin(), predicted.end());
    if (keep_probabilities) {
      const std::vector<float> p = softmax(logits, 1).to_vector<float>();
      out.probabilities.insert(out.probabilities.end(), p.begin(), p.end());
    }
  }
  model.train(was_training);
  return out;
}

Evaluator::Evaluator(const SkeletonDataset& dataset, const std::vector<int64_t>& sequences,
                     const RunConfig& config, int64_t views, int64_t batch) {
  HARNET_CHECK(views >= 1, "--tta must be >= 1 (1: no test-time augmentation), got ", views);
  HARNET_CHECK(batch >= 0, "--batch must be >= 1, got ", batch);
  LoaderOptions options = config.loader_options(false);
  if (batch > 0) options.batch_size = batch;
  plain_ = std::make_unique<SkeletonLoader>(dataset, sequences, options);
  loss_.label_smoothing = config.label_smoothing;
  if (views > 1 && config.augment.any()) {
    options.augment = config.augment;
    options.seed_by_sequence = true;
    augmented_ = std::make_unique<SkeletonLoader>(dataset, sequences, options);
    views_ = views;
  }
}

std::string Evaluator::describe() const {
  if (views_ == 1) return "none (the plain view)";
  char plain[96];
  std::snprintf(plain, sizeof plain, "accuracy %.2f%%, macro-F1 %.3f", 100.0 * plain_metrics_.accuracy,
                plain_metrics_.macro_f1);
  return str_cat(views_, " views (the plain one and ", views_ - 1,
                 " with the training augmentation); the plain view alone: ", plain);
}

ModelOutputs Evaluator::run(HARNet& model, bool keep_probabilities) {
  if (views_ == 1) {
    ModelOutputs out = run_model(model, *plain_, loss_, keep_probabilities);
    plain_metrics_ = out.metrics();
    return out;
  }
  ModelOutputs out = run_model(model, *plain_, loss_, true);
  plain_metrics_ = out.metrics();
  std::vector<double> sum(out.probabilities.begin(), out.probabilities.end());
  {
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    for (int64_t view = 1; view < views_; ++view) {
      augmented_->start_epoch(view);
      size_t at = 0;
      while (std::optional<Batch> batch = augmented_->next()) {
        const std::vector<float> p = softmax(model(batch->x), 1).to_vector<float>();
        for (const float v : p) sum[at++] += v;
      }
      HARNET_CHECK(at == sum.size(), "Evaluator: view ", view, " gave ", at, " probabilities, expected ", sum.size());
    }
    model.train(was_training);
  }
  const int64_t classes = out.classes;
  const double smoothing = loss_.label_smoothing;
  out.loss_sum = 0.0;
  for (int64_t i = 0; i < out.samples(); ++i) {
    double* p = sum.data() + i * classes;
    int64_t best = 0;
    double smoothed = 0.0;  // sum over classes of log p
    for (int64_t c = 0; c < classes; ++c) {
      p[c] /= static_cast<double>(views_);
      if (p[c] > p[best]) best = c;
      smoothed += std::log(std::max(p[c], 1e-30));
    }
    const int64_t truth = out.truth[static_cast<size_t>(i)];
    out.predicted[static_cast<size_t>(i)] = best;
    out.loss_sum -= (1.0 - smoothing) * std::log(std::max(p[truth], 1e-30)) +
                    smoothing / static_cast<double>(classes) * smoothed;
  }
  HARNET_CHECK(std::isfinite(out.loss_sum), "evaluation: the loss of the averaged views is ", out.loss_sum);
  if (keep_probabilities)
    out.probabilities.assign(sum.begin(), sum.end());
  else
    out.probabilities.clear();
  return out;
}

std::vector<int64_t> top_k_classes(const ModelOutputs& outputs, int64_t i, int64_t k) {
  HARNET_CHECK(!outputs.probabilities.empty() && i >= 0 && i < outputs.samples(),
               "top_k_classes: no probabilities for sample ", i);
  const float* p = outputs.probabilities.data() + i * outputs.classes;
  std::vector<int64_t> order(static_cast<size_t>(outputs.classes));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
  order.resize(static_cast<size_t>(std::min(k, outputs.classes)));
  return order;
}

}  // namespace harnet
