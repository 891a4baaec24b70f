#include "harnet/lib/inference.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "autograd/autograd.h"
#include "autograd/error.h"
#include "harnet/lib/checkpoint.h"
#include "ops/ops.h"

namespace harnet {

std::shared_ptr<HARNet> build_model(const RunConfig& config) {
  Generator gen(config.seed);
  return std::make_shared<HARNet>(config.model, gen);
}

std::string describe_model(const HARNet& model) {
  const HARNetConfig& c = model.config();
  std::string channels;
  for (size_t i = 0; i < c.conv_channels.size(); ++i) channels += str_cat(i ? "," : "", c.conv_channels[i]);
  return str_cat("HARNet, ", model.num_parameters(), " parameters: conv ", channels, " (kernel ", c.conv_kernel,
                 "), LSTM ", c.lstm_layers, " x ", c.lstm_hidden, c.bidirectional ? " bidirectional" : "", ", ",
                 c.attention_heads, " heads", c.pooling == "attention" ? ", attention pooling" : "", ", classifier ",
                 c.classifier_hidden, "; input ", c.joints, " joints x ", c.in_channels, " channels");
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
