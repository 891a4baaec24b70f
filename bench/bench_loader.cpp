// The batch loader at HARNet sizes: ~500 Kinect v2 sequences of 40-100 frames, batch 64,
// T = 60, J = 25, the default recipe's training augmentation (rotation, scale, jitter,
// temporal crop, bone lengths, motion amplitude; the crop means every sample is resampled
// each epoch, nothing but the normalisation is cached).
// Requirement: the loader prepares samples at least 10x faster than the trainer consumes
// them (PyTorch trains ~116 samples/s here, our trainer aims at ~230 samples/s), i.e.
// >= 2,300 samples/s. Rates are per wall-clock second (UseRealTime).
//
//   BM_loader_epoch/<features>/<prefetch>: start_epoch + next() over whole epochs, as the
//     trainer sees it (features 0: positions, 1: + velocities and bones).
//   BM_loader_batch/<features>/<augment>: one batch prepared in the calling thread (no
//     prefetch); augment 0 is evaluation (resampled frames cached at construction).
//   BM_loader_construct: extraction + normalisation of all sequences (once per run).
#include <benchmark/benchmark.h>

#include <numeric>
#include <optional>

#include "autograd/parallel.h"
#include "data/loader.h"
#include "harnet/lib/run_config.h"
#include "tests/skeleton_test_data.h"

namespace {

const harnet::SkeletonDataset& bench_dataset() {
  static const harnet::SkeletonDataset data = harnet::test::kinect_dataset(500, 40, 100, 10, 20);
  return data;
}

std::vector<int64_t> all_sequences() {
  std::vector<int64_t> v(static_cast<size_t>(bench_dataset().num_sequences()));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

harnet::LoaderOptions training_options(bool features, int64_t prefetch, bool augment = true) {
  harnet::LoaderOptions options;
  options.batch_size = 64;
  options.preprocess.temporal.frames = 60;
  options.preprocess.features.velocities = features;
  options.preprocess.features.bones = features;
  if (augment) options.augment = harnet::default_augmentation();
  options.shuffle = true;
  options.seed = 1;
  options.prefetch = prefetch;
  return options;
}

void BM_loader_epoch(benchmark::State& state) {
  harnet::SkeletonLoader loader(bench_dataset(), all_sequences(),
                                training_options(state.range(0) != 0, state.range(1)));
  int64_t epoch = 0, samples = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (std::optional<harnet::Batch> batch = loader.next()) {
      benchmark::DoNotOptimize(batch->x.raw_data());
      samples += batch->x.size(0);
    }
  }
  state.SetItemsProcessed(samples);
  state.counters["threads"] = harnet::get_num_threads();
}

void BM_loader_batch(benchmark::State& state) {
  harnet::SkeletonLoader loader(bench_dataset(), all_sequences(),
                                training_options(state.range(0) != 0, 0, state.range(1) != 0));
  int64_t epoch = 0, samples = 0;
  for (auto _ : state) {
    harnet::Batch batch = loader.batch(epoch++, 0);
    benchmark::DoNotOptimize(batch.x.raw_data());
    samples += batch.x.size(0);
  }
  state.SetItemsProcessed(samples);
  state.counters["threads"] = harnet::get_num_threads();
}

void BM_loader_construct(benchmark::State& state) {
  const std::vector<int64_t> sequences = all_sequences();
  for (auto _ : state) {
    harnet::SkeletonLoader loader(bench_dataset(), sequences, training_options(false, 0));
    benchmark::DoNotOptimize(loader.num_samples());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(sequences.size()));
}

BENCHMARK(BM_loader_epoch)->ArgsProduct({{0, 1}, {0, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_loader_batch)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_loader_construct)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
