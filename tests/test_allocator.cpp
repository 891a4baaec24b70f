// The caching allocator (autograd/allocator.h): size classes, alignment, reuse, large blocks
// split and merged within their segments, counters,
// emptying and switching off the cache, concurrent use, and the property it exists for: a
// training step of a model with every kind of layer (conv, batch norm, LSTM, attention,
// linear; Adam, gradient clipping) takes no tensor memory from the system once warm.
#include <gtest/gtest.h>

#include <cstdint>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "autograd/allocator.h"
#include "autograd/generator.h"
#include "nn/attention.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/recurrent.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

// Restores the caching setting of the process when a test changes it.
class ScopedCaching {
 public:
  explicit ScopedCaching(bool enabled) : saved_(allocator_caching()) { allocator_set_caching(enabled); }
  ~ScopedCaching() { allocator_set_caching(saved_); }
  ScopedCaching(const ScopedCaching&) = delete;
  ScopedCaching& operator=(const ScopedCaching&) = delete;

 private:
  bool saved_;
};

TEST(Allocator, BlockSizesAreAlignedClassesWastingAtMostAQuarter) {
  EXPECT_EQ(allocator_block_size(0), 0u);
  EXPECT_EQ(allocator_block_size(1), 64u);
  EXPECT_EQ(allocator_block_size(64), 64u);
  EXPECT_EQ(allocator_block_size(65), 128u);
  EXPECT_EQ(allocator_block_size(1024), 1024u);
  EXPECT_EQ(allocator_block_size(1025), 1280u);  // 5/4 of 1024
  EXPECT_EQ(allocator_block_size(2048), 2048u);
  EXPECT_EQ(allocator_block_size(2049), 2560u);
  size_t previous = 0;
  for (size_t n = 1; n < (size_t{1} << 26); n = n * 9 / 8 + 7) {
    const size_t block = allocator_block_size(n);
    EXPECT_GE(block, n);
    EXPECT_EQ(block % 64, 0u) << n;
    EXPECT_LE(static_cast<double>(block), 1.25 * static_cast<double>(n) + 64) << n;
    EXPECT_GE(block, previous) << n;
    EXPECT_EQ(allocator_block_size(block), block) << "a class size is its own class";
    previous = block;
  }
}

TEST(Allocator, BlocksAre64ByteAlignedAndWritable) {
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t n : {1, 3, 63, 64, 100, 1000, 4096, 12345, 1 << 20}) {
    void* p = allocator_allocate(n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
    std::memset(p, 0xab, n);
    blocks.emplace_back(p, n);
  }
  for (auto [p, n] : blocks) allocator_deallocate(p, n);
  EXPECT_EQ(allocator_allocate(0), nullptr);
  allocator_deallocate(nullptr, 0);  // a no-op
}

TEST(Allocator, AFreedBlockIsReusedForTheSameClass) {
  ScopedCaching on(true);
  void* a = allocator_allocate(100000);
  allocator_deallocate(a, 100000);
  const AllocatorStats before = allocator_stats();
  void* b = allocator_allocate(99000);  // same class as 100000
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(a, b);
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes - static_cast<int64_t>(allocator_block_size(100000)));
  // A request of another class does not take it.
  void* c = allocator_allocate(300000);
  EXPECT_NE(c, b);
  allocator_deallocate(b, 99000);
  allocator_deallocate(c, 300000);
}

TEST(Allocator, CountsBytesInUseAndTheirPeak) {
  ScopedCaching on(true);
  allocator_reset_peak_stats();
  const AllocatorStats start = allocator_stats();
  const int64_t block = static_cast<int64_t>(allocator_block_size(1 << 20));
  void* a = allocator_allocate(1 << 20);
  void* b = allocator_allocate(1 << 20);
  EXPECT_EQ(allocator_stats().in_use_bytes, start.in_use_bytes + 2 * block);
  allocator_deallocate(a, 1 << 20);
  const AllocatorStats mid = allocator_stats();
  EXPECT_EQ(mid.in_use_bytes, start.in_use_bytes + block);
  EXPECT_EQ(mid.peak_in_use_bytes, start.in_use_bytes + 2 * block);
  EXPECT_GE(mid.peak_reserved_bytes, mid.peak_in_use_bytes);
  allocator_deallocate(b, 1 << 20);
  allocator_reset_peak_stats();
  EXPECT_EQ(allocator_stats().peak_in_use_bytes, start.in_use_bytes);
}

TEST(Allocator, EmptyCacheGivesEveryFreeBlockBack) {
  ScopedCaching on(true);
  void* a = allocator_allocate(5000);
  void* b = allocator_allocate(70000);
  allocator_deallocate(a, 5000);
  allocator_deallocate(b, 70000);
  const AllocatorStats before = allocator_stats();
  EXPECT_GE(before.cached_bytes, static_cast<int64_t>(allocator_block_size(5000) + allocator_block_size(70000)));
  allocator_empty_cache();
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.cached_bytes, 0);
  EXPECT_GE(after.system_frees, before.system_frees + 2);
  // The next request goes to the system again.
  void* c = allocator_allocate(5000);
  EXPECT_EQ(allocator_stats().system_allocations, after.system_allocations + 1);
  allocator_deallocate(c, 5000);
}

// ---------------------------------------------------------------- large blocks (above 4 MiB)

constexpr size_t kMiB = size_t{1} << 20;

TEST(Allocator, LargeBlocksAreRoundedTo64KiB) {
  EXPECT_EQ(allocator_block_size(4 * kMiB), 4 * kMiB);  // the largest class
  EXPECT_EQ(allocator_block_size(4 * kMiB + 1), 4 * kMiB + 65536);
  EXPECT_EQ(allocator_block_size(24576000), 24576000u);  // 375 x 64 KiB
  EXPECT_EQ(allocator_block_size(24576001), 24576000u + 65536);
}

TEST(Allocator, AFreedLargeBlockServesSmallerRequestsOfAnySize) {
  ScopedCaching on(true);
  allocator_empty_cache();
  char* big = static_cast<char*>(allocator_allocate(24 * kMiB));
  allocator_deallocate(big, 24 * kMiB);
  const AllocatorStats before = allocator_stats();
  // Two requests of other sizes, split from the freed block.
  char* a = static_cast<char*>(allocator_allocate(10 * kMiB + 123));
  char* b = static_cast<char*>(allocator_allocate(12 * kMiB));
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 2);
  for (char* p : {a, b}) {
    EXPECT_GE(p, big);
    EXPECT_LT(p, big + 24 * kMiB);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  }
  std::memset(a, 1, 10 * kMiB + 123);
  std::memset(b, 2, 12 * kMiB);
  EXPECT_EQ(a[10 * kMiB + 122], 1) << "the blocks do not overlap";
  EXPECT_EQ(after.in_use_bytes,
            before.in_use_bytes + static_cast<int64_t>(allocator_block_size(10 * kMiB + 123) + 12 * kMiB));
  EXPECT_EQ(after.in_use_bytes + after.cached_bytes, before.in_use_bytes + before.cached_bytes)
      << "what the allocator holds does not change";
  // Freed in either order, the pieces merge back: the whole block fits again.
  allocator_deallocate(b, 12 * kMiB);
  allocator_deallocate(a, 10 * kMiB + 123);
  char* again = static_cast<char*>(allocator_allocate(24 * kMiB));
  EXPECT_EQ(again, big);
  EXPECT_EQ(allocator_stats().system_allocations, before.system_allocations);
  allocator_deallocate(again, 24 * kMiB);
}

TEST(Allocator, ARepeatedPatternOfLargeRequestsTakesNothingFromTheSystemOnceWarm) {
  // The shape of a training step: activations of two sizes kept, then freed in reverse,
  // with gradients of a third size in between.
  ScopedCaching on(true);
  auto step = [] {
    std::vector<std::pair<void*, size_t>> kept;
    for (size_t n : {24576000, 24576000, 12779520, 25559040, 13762560}) kept.emplace_back(allocator_allocate(n), n);
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
      void* grad = allocator_allocate(it->second);
      allocator_deallocate(it->first, it->second);
      allocator_deallocate(grad, it->second);
    }
  };
  step();
  const AllocatorStats warm = allocator_stats();
  for (int i = 0; i < 3; ++i) step();
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.system_allocations, warm.system_allocations);
  EXPECT_EQ(after.in_use_bytes, warm.in_use_bytes);
}

TEST(Allocator, EmptyCacheGivesFreeSegmentsBack) {
  ScopedCaching on(true);
  void* a = allocator_allocate(8 * kMiB);
  void* b = allocator_allocate(9 * kMiB);
  allocator_deallocate(a, 8 * kMiB);
  allocator_deallocate(b, 9 * kMiB);
  const AllocatorStats before = allocator_stats();
  EXPECT_GE(before.cached_bytes, static_cast<int64_t>(17 * kMiB));
  allocator_empty_cache();
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.cached_bytes, 0);
  EXPECT_GE(after.system_frees, before.system_frees + 1);
}

TEST(Allocator, WithCachingOffLargeBlocksGoToTheSystemAndBack) {
  ScopedCaching off(false);
  const AllocatorStats before = allocator_stats();
  for (int i = 0; i < 3; ++i) {
    Tensor t = empty({2 << 20});  // 8 MiB of float32
    t.fill_(1.0);
  }
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations + 3);
  EXPECT_EQ(after.system_frees, before.system_frees + 3);
  EXPECT_EQ(after.cached_bytes, 0);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
}

TEST(Allocator, WithCachingOffEveryFreeGoesToTheSystem) {
  ScopedCaching off(false);
  EXPECT_FALSE(allocator_caching());
  EXPECT_EQ(allocator_stats().cached_bytes, 0);  // turning it off emptied the cache
  const AllocatorStats before = allocator_stats();
  for (int i = 0; i < 3; ++i) {
    Tensor t = empty({1000});
    t.fill_(1.0);
  }
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations + 3);
  EXPECT_EQ(after.system_frees, before.system_frees + 3);
  EXPECT_EQ(after.cache_hits, before.cache_hits);
  EXPECT_EQ(after.cached_bytes, 0);
}

TEST(Allocator, ZerosAndFullFillAReusedDirtyBlock) {
  ScopedCaching on(true);
  const void* dirty_block = nullptr;
  {
    Tensor dirty = full({257, 3}, 7.5);
    dirty_block = dirty.raw_data();
  }
  Tensor z = zeros({257, 3});
  EXPECT_EQ(z.raw_data(), dirty_block) << "the freed block is reused";
  for (float v : z.to_vector<float>()) ASSERT_EQ(v, 0.0f);
  Tensor z2 = zeros_like(z);
  for (float v : z2.to_vector<float>()) ASSERT_EQ(v, 0.0f);
}

TEST(Allocator, ConcurrentUseKeepsTheCountersConsistent) {
  ScopedCaching on(true);
  const AllocatorStats before = allocator_stats();
  auto churn = [](int seed) {
    std::vector<std::pair<void*, size_t>> live;
    for (int i = 0; i < 2000; ++i) {
      const size_t n = static_cast<size_t>(64 + (i * 7919 + seed * 104729) % 50000);
      void* p = allocator_allocate(n);
      static_cast<char*>(p)[0] = static_cast<char>(i);
      static_cast<char*>(p)[n - 1] = static_cast<char>(i);
      live.emplace_back(p, n);
      if (live.size() > 8) {
        allocator_deallocate(live.front().first, live.front().second);
        live.erase(live.begin());
      }
    }
    for (auto [p, n] : live) allocator_deallocate(p, n);
  };
  std::thread t1(churn, 1), t2(churn, 2);
  churn(3);
  t1.join();
  t2.join();
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(after.system_allocations - before.system_allocations + after.cache_hits - before.cache_hits, 3 * 2000);
}

// ---------------------------------------------------------------- a training step

// conv (1, 3) + batch norm + ReLU over [N, 3, T, J] -> per-frame features -> LSTM ->
// self-attention with a residual -> mean over time -> linear.
struct SmallModel {
  static constexpr int64_t kJoints = 5, kChannels = 8, kHidden = 16, kClasses = 4;
  Generator gen{7};
  nn::Conv2d conv{3, kChannels, {1, 3}, Conv2dOptions{.padding = {0, 1}}, true, gen};
  nn::BatchNorm2d norm{kChannels};
  nn::LSTM lstm{kChannels * kJoints, kHidden, nn::RecurrentOptions{.num_layers = 2, .batch_first = true, .dropout = 0.2}, gen};
  nn::MultiheadAttention attention{kHidden, 2, nn::MultiheadAttentionOptions{.dropout = 0.1, .batch_first = true}, gen};
  nn::Linear head{kHidden, kClasses, gen};

  std::vector<Tensor> parameters() const {
    std::vector<Tensor> all;
    for (const nn::Module* m : std::initializer_list<const nn::Module*>{&conv, &norm, &lstm, &attention, &head})
      for (const Tensor& p : m->parameters()) all.push_back(p);
    return all;
  }

  Tensor forward(const Tensor& x) {  // x [N, 3, T, J] -> logits [N, classes]
    const int64_t n = x.size(0), t = x.size(2);
    Tensor h = relu(norm(conv(x)));                                              // [N, C, T, J]
    h = reshape(permute(h, {0, 2, 1, 3}), {n, t, kChannels * kJoints});  // [N, T, C*J]
    Tensor seq = lstm(h).output;                                                 // [N, T, H]
    Tensor a = attention(seq, seq, seq, Tensor(), false).output;
    return head(mean(add(seq, a), {1}));
  }
};

TEST(Allocator, WarmTrainingStepsTakeNoTensorMemoryFromTheSystem) {
  ScopedCaching on(true);
  SmallModel model;
  Adam adam(model.parameters(), AdamOptions{.lr = 1e-3});
  Generator data_gen(3);
  const Tensor x = randn({6, 3, 10, SmallModel::kJoints}, data_gen);
  const Tensor y = randint(0, SmallModel::kClasses, {6}, data_gen);
  auto step = [&] {
    adam.zero_grad();
    Tensor loss = cross_entropy(model.forward(x), y);
    loss.backward();
    clip_grad_norm_(model.parameters(), 1.0);
    adam.step();
    return loss.item();
  };
  step();
  step();
  const AllocatorStats warm = allocator_stats();
  double last_loss = 0;
  for (int i = 0; i < 3; ++i) last_loss = step();
  const AllocatorStats after = allocator_stats();
  EXPECT_TRUE(std::isfinite(last_loss));
  EXPECT_EQ(after.system_allocations, warm.system_allocations) << "warm steps allocated from the system";
  EXPECT_GT(after.cache_hits, warm.cache_hits) << "the steps allocate tensors, all from the cache";
  EXPECT_EQ(after.in_use_bytes, warm.in_use_bytes) << "a step leaves nothing behind";
}

TEST(Allocator, WithoutTheCacheTrainingStepsAllocateFromTheSystem) {
  // The counterpart of the test above: the counter sees the allocations the cache saves.
  ScopedCaching off(false);
  SmallModel model;
  Adam adam(model.parameters(), AdamOptions{.lr = 1e-3});
  Generator data_gen(3);
  const Tensor x = randn({6, 3, 10, SmallModel::kJoints}, data_gen);
  const Tensor y = randint(0, SmallModel::kClasses, {6}, data_gen);
  for (int i = 0; i < 2; ++i) {
    adam.zero_grad();
    cross_entropy(model.forward(x), y).backward();
    adam.step();
  }
  const AllocatorStats warm = allocator_stats();
  adam.zero_grad();
  cross_entropy(model.forward(x), y).backward();
  adam.step();
  EXPECT_GT(allocator_stats().system_allocations, warm.system_allocations + 20);
}

}  // namespace
}  // namespace harnet
