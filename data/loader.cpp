#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "autograd/error.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "data/smooth.h"

namespace harnet {

// ---------------------------------------------------------------- BatchPrefetcher

BatchPrefetcher::BatchPrefetcher(int64_t count, int64_t depth, Produce produce)
    : count_(count), depth_(depth), produce_(std::move(produce)) {
  HARNET_CHECK(count >= 0 && depth >= 0, "BatchPrefetcher: count and depth must be non-negative, got ", count, " and ",
               depth);
  if (depth_ > 0) worker_ = std::thread([this] { run(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BatchPrefetcher::run() {
  for (int64_t index = 0; index < count_; ++index) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || static_cast<int64_t>(ready_.size()) < depth_; });
      if (stop_) break;
    }
    std::optional<Batch> batch;
    std::exception_ptr error;
    try {
      batch = produce_(index);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (error) {
      error_ = error;
      break;
    }
    ready_.push_back(std::move(*batch));
    changed_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  changed_.notify_all();
}

std::optional<Batch> BatchPrefetcher::next() {
  if (depth_ == 0) {
    if (error_) std::rethrow_exception(error_);
    if (handed_out_ >= count_) return std::nullopt;
    try {
      return produce_(handed_out_++);
    } catch (...) {
      error_ = std::current_exception();
      throw;
    }
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
  if (!ready_.empty()) {
    Batch batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return batch;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

// ---------------------------------------------------------------- SkeletonLoader

namespace {

// The parts of the dataset's layout the loader relies on (a dataset read from a file has
// been checked by its reader; one built in code may not have been).
void check_dataset_layout(const SkeletonDataset& dataset) {
  const int64_t sequences = dataset.num_sequences(), joints = dataset.num_joints();
  HARNET_CHECK(joints >= 1, "SkeletonLoader: the dataset has no joints (joint_names is empty)");
  HARNET_CHECK(static_cast<int64_t>(dataset.parents.size()) == joints, "SkeletonLoader: the dataset's parents has ",
               dataset.parents.size(), " entries for ", joints, " joints");
  HARNET_CHECK(static_cast<int64_t>(dataset.offsets.size()) == sequences + 1,
               "SkeletonLoader: the dataset's offsets has ", dataset.offsets.size(), " entries for ", sequences,
               " sequences (expected N + 1)");
  HARNET_CHECK(dataset.offsets[0] == 0, "SkeletonLoader: the dataset's offsets[0] is ", dataset.offsets[0],
               ", expected 0");
  for (int64_t i = 0; i < sequences; ++i) {
    HARNET_CHECK(dataset.offsets[static_cast<size_t>(i + 1)] >= dataset.offsets[static_cast<size_t>(i)],
                 "SkeletonLoader: the dataset's offsets decrease at ", i + 1, " (",
                 dataset.offsets[static_cast<size_t>(i)], " then ", dataset.offsets[static_cast<size_t>(i + 1)], ")");
  }
  HARNET_CHECK(static_cast<int64_t>(dataset.skeletons.size()) == dataset.num_frames() * joints * 3,
               "SkeletonLoader: the dataset's skeletons hold ", dataset.skeletons.size(), " values, expected ",
               shape_str({dataset.num_frames(), joints, 3}), " = ", dataset.num_frames() * joints * 3);
}

}  // namespace

SkeletonLoader::SkeletonLoader(const SkeletonDataset& dataset, const std::vector<int64_t>& sequences,
                               const LoaderOptions& options)
    : options_(options) {
  validate_preprocess_options(options_.preprocess);
  validate_augment_options(options_.augment);
  HARNET_CHECK(options_.batch_size >= 1, "SkeletonLoader: batch_size must be at least 1, got ", options_.batch_size);
  HARNET_CHECK(options_.prefetch >= 0, "SkeletonLoader: prefetch must be non-negative, got ", options_.prefetch);
  check_dataset_layout(dataset);
  HARNET_CHECK(!sequences.empty(), "SkeletonLoader: the list of sequences is empty");
  for (int64_t index : sequences) {
    HARNET_CHECK(index >= 0 && index < dataset.num_sequences(), "SkeletonLoader: sequence index ", index,
                 " is out of range for a dataset of ", dataset.num_sequences(), " sequences");
    const int32_t label = dataset.labels[static_cast<size_t>(index)];
    HARNET_CHECK(label >= 0 && label < dataset.num_classes(), "SkeletonLoader: ", sequence_label(dataset, index),
                 " has label ", label, ", out of range for ", dataset.num_classes(), " classes");
  }
  const JointRoles roles = joint_roles(dataset);
  parents_ = dataset.parents;
  order_ = pipeline_joint_order(options_.preprocess, parents_);
  center_joint_ = roles.center;
  if (options_.augment.mirror) mirror_partners_ = mirror_partners(dataset.joint_names, parents_);

  // Extraction and normalisation of every listed sequence, in parallel. Errors are kept per
  // sequence and the first in list order is thrown, so the message does not depend on
  // which thread failed first.
  const auto listed = static_cast<int64_t>(sequences.size());
  normalized_.resize(static_cast<size_t>(listed));
  std::vector<std::string> errors(static_cast<size_t>(listed));
  parallel_for(0, listed, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      try {
        SkeletonSequence& sequence = normalized_[static_cast<size_t>(k)];
        sequence =
            extract_sequence(dataset, sequences[static_cast<size_t>(k)], options_.preprocess.drop_untracked_frames);
        smooth_sequence(sequence, options_.preprocess.smooth);
        normalize_sequence(sequence, roles, options_.preprocess.normalize);
      } catch (const Error& e) {
        errors[static_cast<size_t>(k)] = e.what();
      }
    }
  });
  for (const std::string& error : errors) {
    if (!error.empty()) throw Error("SkeletonLoader: " + error);
  }

  // Samples: one per sequence, or one per window.
  const TemporalOptions& temporal = options_.preprocess.temporal;
  for (int64_t k = 0; k < listed; ++k) {
    const int64_t length = normalized_[static_cast<size_t>(k)].frames;
    Sample sample;
    sample.sequence = sequences[static_cast<size_t>(k)];
    sample.source = k;
    sample.label = dataset.labels[static_cast<size_t>(sample.sequence)];
    if (temporal.mode == TemporalMode::Resample) {
      sample.window_length = length;
      samples_.push_back(sample);
      continue;
    }
    for (int64_t start : window_starts(length, temporal.frames, temporal.stride)) {
      sample.window_start = start;
      sample.window_length = std::min(length, temporal.frames);
      samples_.push_back(sample);
    }
  }
  HARNET_CHECK(!options_.drop_last || num_samples() >= options_.batch_size, "SkeletonLoader: drop_last with ",
               num_samples(), " samples and batch_size ", options_.batch_size, " leaves no batch");

  // Without a temporal crop the resampled frames are the same every epoch: compute them once.
  if (!options_.augment.temporal_crop) {
    const int64_t sample_size = temporal.frames * dataset_joints() * 3;
    resampled_.resize(static_cast<size_t>(num_samples() * sample_size));
    parallel_for(0, num_samples(), 1, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) {
        const Sample& sample = samples_[static_cast<size_t>(s)];
        const SkeletonSequence& source = normalized_[static_cast<size_t>(sample.source)];
        resample_frames(source.frame(sample.window_start), sample.window_length, dataset_joints(), 0.0,
                        static_cast<double>(sample.window_length - 1), temporal.frames,
                        resampled_.data() + s * sample_size);
      }
    });
    normalized_ = {};
  }
}

// The prefetch thread calls make_batch on this loader: stop it before any member goes.
SkeletonLoader::~SkeletonLoader() { prefetcher_.reset(); }

int64_t SkeletonLoader::num_batches() const {
  const int64_t n = num_samples(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> SkeletonLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(num_samples()));
  std::iota(order.begin(), order.end(), 0);
  if (!options_.shuffle) return order;
  // Sample index -1 is never a sample: its seed is the epoch's shuffle seed.
  Generator gen(sample_seed(options_.seed, epoch, -1));
  for (int64_t i = num_samples() - 1; i > 0; --i) {
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(gen.integer(0, i + 1))]);
  }
  return order;
}

void SkeletonLoader::write_sample(int64_t sample_index, int64_t epoch, float* out) const {
  const Sample& sample = samples_[static_cast<size_t>(sample_index)];
  const AugmentOptions& augment = options_.augment;
  const FeatureOptions& features = options_.preprocess.features;
  const int64_t frames = this->frames(), joints = dataset_joints();
  const int64_t sample_size = frames * joints * 3;
  if (!augment.any()) {  // evaluation: straight from the cache
    write_features(resampled_.data() + sample_index * sample_size, frames, joints, parents_, order_, features, out);
    return;
  }

  std::vector<float> positions(static_cast<size_t>(sample_size));  // [T, J, 3]
  const uint64_t seed = options_.seed_by_sequence
                            ? sample_seed(sample_seed(options_.seed, epoch, sample.sequence), sample.window_start, 0)
                            : sample_seed(options_.seed, epoch, sample_index);
  Generator gen(seed);
  const SampleAugmentation draws = draw_augmentation(augment, gen);
  if (augment.temporal_crop) {
    const SkeletonSequence& source = normalized_[static_cast<size_t>(sample.source)];
    const FrameRange crop = crop_range(sample.window_length, draws);
    resample_frames(source.frame(sample.window_start + crop.start), crop.length, joints, 0.0,
                    static_cast<double>(crop.length - 1), frames, positions.data());
  } else {
    std::memcpy(positions.data(), resampled_.data() + sample_index * sample_size, positions.size() * sizeof(float));
  }
  if (augment.bone_scale)
    scale_bones(positions.data(), frames, joints, parents_, draw_bone_factors(augment, joints, seed));
  if (augment.motion_scale) scale_motion(positions.data(), frames, joints, draw_motion_factor(augment, seed));
  if (augment.mirror && draw_mirror(augment, seed))
    mirror_left_right(positions.data(), frames, joints, mirror_partners_,
                      positions[3 * static_cast<size_t>(center_joint_)]);  // about frame 0's centre
  if (augment.tilt)
    tilt_about(positions.data(), frames * joints, draw_tilt(augment, seed),
               positions.data() + 3 * static_cast<size_t>(center_joint_));  // about frame 0's centre
  if (augment.shear)
    shear_about(positions.data(), frames * joints, draw_shear(augment, seed),
                positions.data() + 3 * static_cast<size_t>(center_joint_));  // about frame 0's centre
  augment_positions(positions.data(), frames, joints, center_joint_, augment, draws, gen);
  write_features(positions.data(), frames, joints, parents_, order_, features, out);
}

Batch SkeletonLoader::make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t batch_index) const {
  HARNET_CHECK(batch_index >= 0 && batch_index < num_batches(), "SkeletonLoader::batch: batch index ", batch_index,
               " is out of range for ", num_batches(), " batches per epoch");
  const int64_t first = batch_index * options_.batch_size;
  const int64_t size = std::min(options_.batch_size, num_samples() - first);
  const int64_t sample_size = frames() * joints() * channels();

  Batch batch;
  batch.x = empty({size, frames(), joints(), channels()}, kFloat32);
  batch.y = empty({size}, kInt64);
  float* x = batch.x.data<float>();
  int64_t* y = batch.y.data<int64_t>();
  for (int64_t b = 0; b < size; ++b) {
    const Sample& sample = samples_[static_cast<size_t>(order[static_cast<size_t>(first + b)])];
    y[b] = sample.label;
    batch.indices.push_back(sample.sequence);
    batch.window_starts.push_back(sample.window_start);
  }
  parallel_for(0, size, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      write_sample(order[static_cast<size_t>(first + b)], epoch, x + b * sample_size);
  });
  return batch;
}

Batch SkeletonLoader::batch(int64_t epoch, int64_t batch_index) const {
  return make_batch(epoch_order(epoch), epoch, batch_index);
}

void SkeletonLoader::start_epoch(int64_t epoch) {
  prefetcher_.reset();  // stops the previous epoch's thread before a new one starts
  auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
  prefetcher_ = std::make_unique<BatchPrefetcher>(
      num_batches(), options_.prefetch,
      [this, order, epoch](int64_t batch_index) { return make_batch(*order, epoch, batch_index); });
}

std::optional<Batch> SkeletonLoader::next() {
  HARNET_CHECK(prefetcher_ != nullptr, "SkeletonLoader::next: no epoch started (call start_epoch first)");
  return prefetcher_->next();
}

}  // namespace harnet
