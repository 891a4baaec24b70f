// Trains a small HARNet on synthetic skeletons with the library API (no command line), saves
// a checkpoint and loads it back: the README's library example, built against the installed
// package. Usage: train-synthetic [CHECKPOINT.h5]   (default: train-synthetic.h5)
#include <cstdio>
#include <exception>
#include <string>

#include "autograd/parallel.h"
#include "data/loader.h"
#include "data/split.h"
#include "data/synthetic_skeletons.h"
#include "harnet/lib/checkpoint.h"
#include "harnet/lib/model.h"
#include "ops/ops.h"
#include "optim/optim.h"

namespace {

using namespace harnet;

// Fraction of the loader's samples whose largest logit is the label.
double accuracy(HARNet& model, SkeletonLoader& loader) {
  NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  loader.start_epoch(0);
  while (std::optional<Batch> batch = loader.next()) {
    const Tensor predicted = argmax(model(batch->x), 1);
    for (int64_t i = 0; i < predicted.numel(); ++i)
      correct += predicted.data<int64_t>()[i] == batch->y.data<int64_t>()[i];
  }
  return static_cast<double>(correct) / static_cast<double>(loader.num_samples());
}

int run(const std::string& checkpoint_path) {
  // Data: 6 synthetic actions by 8 subjects; odd subjects train, even subjects test.
  const SkeletonDataset dataset = make_synthetic_skeletons({});
  const Split split = split_odd_even_subjects(dataset);
  LoaderOptions options;
  options.preprocess.temporal.frames = 30;
  options.batch_size = 16;
  SkeletonLoader test_loader(dataset, split.test, options);
  options.shuffle = true;
  options.augment = AugmentOptions::training();
  SkeletonLoader train_loader(dataset, split.train, options);

  // Model: a narrow HARNet; joints, input channels and classes come from the data.
  HARNetConfig config;
  config.joints = train_loader.joints();
  config.in_channels = train_loader.channels();
  config.classes = static_cast<int64_t>(dataset.class_names.size());
  config.conv_channels = {16, 16, 32};
  config.lstm_hidden = 32;
  config.classifier_hidden = 32;
  Generator gen(0);
  HARNet model(config, gen);

  Adam optimizer(model.parameters(), {.lr = 3e-3, .weight_decay = 1e-4});
  const int64_t epochs = 15;
  CosineAnnealingLR schedule(optimizer, epochs);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    model.train();
    train_loader.start_epoch(epoch);
    double loss_sum = 0;
    while (std::optional<Batch> batch = train_loader.next()) {
      const Tensor loss = cross_entropy(model(batch->x), batch->y);
      optimizer.zero_grad();
      loss.backward();
      clip_grad_norm_(model.parameters(), 1.0);
      optimizer.step();
      loss_sum += loss.item();
    }
    schedule.step();
    std::printf("epoch %2lld  loss %.3f\n", static_cast<long long>(epoch + 1),
                loss_sum / static_cast<double>(train_loader.num_batches()));
  }
  const double test_accuracy = accuracy(model, test_loader);
  std::printf("test accuracy %.3f\n", test_accuracy);

  // Checkpoint: weights, optimizer and scheduler state, the model's own generators, the config.
  Checkpoint checkpoint;
  checkpoint.config = config.to_json();
  checkpoint.model = model.state_dict();
  checkpoint.optimizer = optimizer.state_dict();
  checkpoint.scheduler = schedule.state();
  checkpoint.rng = module_generator_states(model);
  checkpoint.counters["epoch"] = static_cast<double>(epochs);
  save_checkpoint(checkpoint_path, checkpoint);

  // A fresh model from the checkpoint alone gives the same accuracy.
  const Checkpoint loaded = load_checkpoint(checkpoint_path);
  Generator other_seed(1);
  HARNet restored(HARNetConfig::from_json(loaded.config), other_seed);
  restored.load_state_dict(loaded.model);
  const double restored_accuracy = accuracy(restored, test_loader);
  std::printf("restored from %s: test accuracy %.3f\n", checkpoint_path.c_str(), restored_accuracy);
  return restored_accuracy == test_accuracy ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc > 1 ? argv[1] : "train-synthetic.h5");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "train-synthetic: %s\n", error.what());
    return 1;
  }
}
