// The batch loader: dataset -> samples (preprocessed once) -> per-epoch shuffle ->
// augmentation + features (per sample, in parallel) -> batches -> prefetch.
//
//   LoaderOptions options;                       // T = 60, batch 64, no augmentation
//   options.shuffle = true;
//   options.augment = AugmentOptions::training();
//   SkeletonLoader loader(dataset, split.train, options);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     while (std::optional<Batch> batch = loader.next()) train_step(batch->x, batch->y);
//   }
//
// What is computed once, at construction: extraction of the tracked frames, normalisation
// and, unless a temporal crop must see the full sequence each epoch, the resampling to T
// frames (or the windows). What is computed per epoch: the order, the augmentation, the
// features (velocities and bones follow the augmented positions) and the joint reordering.
//
// Determinism: the order depends on (seed, epoch) only, and each sample on (seed, epoch,
// sample index) only (data/augment.h), so a batch is bit-identical whatever the thread
// count, the prefetch depth or the batch size around it. With seed_by_sequence the sample's
// draws come from its dataset sequence (and window) instead of its place in the loader, so a
// sequence is augmented alike whatever other sequences the loader holds (test-time views).
//
// Threads: samples of a batch are prepared with parallel_for (oneTBB), on a background
// thread that keeps up to `prefetch` batches ready while the caller trains. start_epoch and
// next are for one consumer thread; batch() may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "autograd/tensor.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/preprocess.h"

namespace harnet {

struct LoaderOptions {
  PreprocessOptions preprocess;
  AugmentOptions augment;  // all off by default, as for evaluation
  int64_t batch_size = 64;
  bool shuffle = false;    // a new order each epoch, from (seed, epoch)
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  uint64_t seed = 0;
  // Augmentation draws keyed by the sample's dataset sequence and window start instead of its
  // index in the loader (see the file comment).
  bool seed_by_sequence = false;
  int64_t prefetch = 2;  // batches prepared ahead on a background thread; 0: inside next()
};

struct Batch {
  Tensor x;                            // [B, T, J, C] float32, joints in the loader's joint_order()
  Tensor y;                            // [B] int64 class labels
  std::vector<int64_t> indices;        // [B] dataset sequence of each sample
  std::vector<int64_t> window_starts;  // [B] first tracked frame of each sample's window (0 if resampled whole)
};

// Calls produce(0), ..., produce(count - 1) in order on a background thread, keeping at most
// `depth` finished batches waiting. next() hands them over in order, and re-throws an
// exception of produce in the caller (after the batches produced before it). The
// destructor stops the thread after the batch it is working on. depth 0: no thread,
// next() calls produce itself.
class BatchPrefetcher {
 public:
  using Produce = std::function<Batch(int64_t)>;
  BatchPrefetcher(int64_t count, int64_t depth, Produce produce);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch, or nullopt after the last one.
  std::optional<Batch> next();

 private:
  void run();

  const int64_t count_;
  const int64_t depth_;
  Produce produce_;
  int64_t handed_out_ = 0;  // depth 0 only: the next index to produce

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool stop_ = false;
  bool finished_ = false;  // the thread produced everything or failed
  std::exception_ptr error_;
  std::thread worker_;
};

class SkeletonLoader {
 public:
  // Preprocesses the sequences (dataset indices; repeats allowed) once. The dataset is not
  // referenced afterwards. Throws naming the option, index or sequence at fault.
  SkeletonLoader(const SkeletonDataset& dataset, const std::vector<int64_t>& sequences, const LoaderOptions& options);
  ~SkeletonLoader();
  SkeletonLoader(const SkeletonLoader&) = delete;
  SkeletonLoader& operator=(const SkeletonLoader&) = delete;

  int64_t num_samples() const { return static_cast<int64_t>(samples_.size()); }
  int64_t num_batches() const;                                                  // per epoch
  int64_t frames() const { return options_.preprocess.temporal.frames; }        // T
  // J: positions along the joint axis (joint_order().size(); the dataset's joints unless the
  // order repeats some, as a tour does).
  int64_t joints() const { return static_cast<int64_t>(order_.size()); }
  int64_t dataset_joints() const { return static_cast<int64_t>(parents_.size()); }
  int64_t channels() const { return options_.preprocess.features.channels(); }  // C
  // Output position k is dataset joint joint_order()[k].
  const std::vector<int32_t>& joint_order() const { return order_; }
  const LoaderOptions& options() const { return options_; }

  // Sample indices in the epoch's order (identity without shuffle).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Batch batch_index of the epoch, prepared now in the calling thread (thread-safe).
  Batch batch(int64_t epoch, int64_t batch_index) const;

  // Starts preparing the epoch's batches in the background (abandoning any unfinished epoch).
  void start_epoch(int64_t epoch);
  // The epoch's next batch, or nullopt at its end; re-throws a preparation error.
  std::optional<Batch> next();

 private:
  // One sample: a window of a sequence (the whole sequence when resampling).
  struct Sample {
    int64_t sequence = 0;      // dataset index
    int64_t source = 0;        // index into the loader's list of sequences
    int64_t window_start = 0;  // in the tracked frames
    int64_t window_length = 0;
    int64_t label = 0;
  };

  Batch make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t batch_index) const;
  // Writes sample `sample` of `epoch` into out: [T, J, C].
  void write_sample(int64_t sample, int64_t epoch, float* out) const;

  LoaderOptions options_;
  std::vector<int32_t> parents_;  // the dataset's tree
  std::vector<int32_t> order_;    // dataset joint at each output position
  int32_t center_joint_ = 0;      // pivot of the spatial augmentations
  std::vector<int32_t> mirror_partners_;  // augment.mirror only: each joint's left/right counterpart
  std::vector<Sample> samples_;
  // Normalised tracked frames of each listed sequence; kept only for the temporal crop.
  std::vector<SkeletonSequence> normalized_;
  // [samples, T, dataset joints, 3]: each sample resampled once, when there is no temporal crop.
  std::vector<float> resampled_;
  std::unique_ptr<BatchPrefetcher> prefetcher_;
};

}  // namespace harnet
