// Checkpoints (harnet/lib/checkpoint.h): round trips of every kind of state (parameters and
// buffers of each layer kind in float32 and float64, the optimizers' and schedulers' states,
// generators, counters, keys HDF5 cannot name); atomic saving (a writer killed mid-write, a
// full disk, unwritable destinations); one refusal per kind of broken file, each message naming
// the file and the key; strict and non-strict model loading; a model evaluated in a fresh
// process; training resumed from a checkpoint continuing bit for bit; and the files of other
// writers: PyTorch's state dict converted by tools/torch_checkpoint.py, and a checkpoint written
// by an earlier build (the version-1 golden file).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>

#include "data/dataset_io.h"
#include "data/hdf5_file.h"
#include "harnet/lib/checkpoint.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/recurrent.h"
#include "ops/ops.h"
#include "optim/optim.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

using harnet::testing::error_of;
using harnet::testing::expect_message_has;
using harnet::testing::ScopedThreads;
using harnet::testing::TempDir;

using Names = std::vector<std::string>;

// ---------------------------------------------------------------- a model with every kind of state

constexpr int64_t kFeatures = 5, kChannels = 6, kHidden = 8, kHeads = 2, kClasses = 3;

// x [B, T, F] -> logits [B, classes]: Conv1d over time, BatchNorm1d, ReLU, Dropout, a two-layer
// LSTM (dropout between the layers), self-attention (with dropout) plus a residual and
// LayerNorm, the mean over time, Linear. Class Zoo of tools/make_checkpoint_fixtures.py is the
// same model in PyTorch.
class Zoo : public nn::UnaryModule {
 public:
  explicit Zoo(uint64_t seed) {
    Generator gen(seed);
    conv = register_module("conv", std::make_shared<nn::Conv1d>(kFeatures, kChannels, 3, Conv1dOptions{.padding = 1},
                                                                true, gen));
    bn = register_module("bn", std::make_shared<nn::BatchNorm1d>(kChannels));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.25, gen));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(
                                       kChannels, kHidden,
                                       nn::RecurrentOptions{.num_layers = 2, .batch_first = true, .dropout = 0.2}, gen));
    mha = register_module("mha", std::make_shared<nn::MultiheadAttention>(
                                     kHidden, kHeads, nn::MultiheadAttentionOptions{.dropout = 0.1, .batch_first = true},
                                     gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(kHidden));
    head = register_module("head", std::make_shared<nn::Linear>(kHidden, kClasses, true, gen));
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = (*bn)((*conv)(permute(x, {0, 2, 1})));  // [B, C, T]
    h = (*drop)(permute(relu(h), {0, 2, 1}));          // [B, T, C]
    h = (*lstm)(h).output;                             // [B, T, H]
    h = (*norm)(add(h, (*mha)(h, h, h, Tensor(), /*need_weights=*/false).output));
    return (*head)(mean(h, {1}));  // [B, classes]
  }
  std::string type_name() const override { return "Zoo"; }

  std::shared_ptr<nn::Conv1d> conv;
  std::shared_ptr<nn::BatchNorm1d> bn;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::MultiheadAttention> mha;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
};

// x [batch, steps, kFeatures], standard normal from seed.
Tensor zoo_input(uint64_t seed, int64_t batch = 4, int64_t steps = 7) {
  Generator gen(seed);
  return randn({batch, steps, kFeatures}, gen);
}

// Runs a few training-mode forward passes so that the BatchNorm statistics (and
// num_batches_tracked) move away from their initial values.
void warm_up_batch_norm(Zoo& model, int passes = 2) {
  NoGradGuard no_grad;
  model.train();
  for (int i = 0; i < passes; ++i) model(zoo_input(100 + static_cast<uint64_t>(i)));
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Same dtype, shape and bytes.
void expect_same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const Tensor ca = a.contiguous_copy(), cb = b.contiguous_copy();
  EXPECT_EQ(std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(a.numel()) * dtype_size(a.dtype())), 0)
      << what << ": values differ";
}

void expect_same_dict(const nn::StateDict& a, const nn::StateDict& b) {
  ASSERT_EQ(a.keys(), b.keys());
  for (const auto& [key, tensor] : a) expect_same_tensor(tensor, b.at(key), key);
}

void expect_same_optimizer_state(const OptimizerState& a, const OptimizerState& b) {
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t g = 0; g < a.groups.size(); ++g) {
    EXPECT_EQ(a.groups[g].options, b.groups[g].options) << "group " << g;
    EXPECT_EQ(a.groups[g].params, b.groups[g].params) << "group " << g;
  }
  ASSERT_EQ(a.state.size(), b.state.size());
  for (const auto& [index, state] : a.state) {
    ASSERT_TRUE(b.state.count(index)) << "parameter " << index;
    const ParamState& other = b.state.at(index);
    ASSERT_EQ(state.size(), other.size()) << "parameter " << index;
    for (const auto& [name, tensor] : state) {
      ASSERT_TRUE(other.count(name)) << name;
      expect_same_tensor(tensor, other.at(name), str_cat("parameter ", index, " ", name));
    }
  }
}

void expect_same_scheduler_state(const SchedulerState& a, const SchedulerState& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.scalars, b.scalars) << a.kind;
  EXPECT_EQ(a.lists, b.lists) << a.kind;
  ASSERT_EQ(a.children.size(), b.children.size()) << a.kind;
  for (size_t i = 0; i < a.children.size(); ++i) expect_same_scheduler_state(a.children[i], b.children[i]);
}

Checkpoint save_and_load(const std::string& path, const Checkpoint& checkpoint) {
  save_checkpoint(path, checkpoint);
  return load_checkpoint(path);
}

// ---------------------------------------------------------------- round trips

TEST(CheckpointRoundTrip, EveryParameterAndBufferKindInFloat32AndFloat64) {
  TempDir dir;
  Zoo model(1);
  warm_up_batch_norm(model);
  for (DType dtype : {kFloat32, kFloat64}) {
    model.to(dtype);
    Checkpoint checkpoint;
    checkpoint.config = R"({"model": "zoo", "hidden": 8})";
    checkpoint.model = model.state_dict();
    const std::string path = dir.file(str_cat("zoo_", dtype_name(dtype), ".h5"));
    const Checkpoint back = save_and_load(path, checkpoint);
    expect_same_dict(back.model, checkpoint.model);
    EXPECT_EQ(back.config, checkpoint.config);
    const std::string bytes = file_bytes(path);
    save_checkpoint(path, checkpoint);
    EXPECT_EQ(file_bytes(path), bytes) << "the same checkpoint saved twice gives other bytes";
    EXPECT_FALSE(back.optimizer.has_value());
    EXPECT_FALSE(back.scheduler.has_value());
    EXPECT_TRUE(back.rng.empty());
    EXPECT_TRUE(back.counters.empty());
    EXPECT_EQ(back.model.at("conv.weight").dtype(), dtype);
    EXPECT_EQ(back.model.at("lstm.weight_hh_l1").dtype(), dtype);
    const Tensor& batches = back.model.at("bn.num_batches_tracked");
    EXPECT_EQ(batches.dtype(), kInt64);
    EXPECT_TRUE(batches.shape().empty());
    EXPECT_EQ(batches.item(), 2.0);

    // The layout h5py sees: one dataset per key, in state-dict order, 0-d for a 0-d tensor.
    hdf5::File file = hdf5::File::open(path);
    EXPECT_EQ(file.member_names("/model"), checkpoint.model.keys());
    EXPECT_EQ(file.member_names("/"), (Names{"model", "rng", "counters"}));
    EXPECT_EQ(file.read_string_attribute("format"), Names{"harnet-checkpoint"});
    EXPECT_EQ(file.read_attribute<int64_t>("version"), std::vector<int64_t>{1});
    EXPECT_EQ(file.dataset_info("/model/bn.num_batches_tracked").type_name, "int64");
    EXPECT_TRUE(file.dataset_info("/model/bn.num_batches_tracked").shape.empty());
    EXPECT_EQ(file.dataset_info("/model/mha.in_proj_weight").type_name, dtype == kFloat32 ? "float32" : "float64");
    EXPECT_EQ(file.dataset_info("/model/mha.in_proj_weight").shape, (std::vector<int64_t>{3 * kHidden, kHidden}));
  }
  const std::vector<std::string> expected_keys = {
      "conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
      "bn.num_batches_tracked", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
      "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1", "mha.in_proj_weight",
      "mha.in_proj_bias", "mha.out_proj.weight", "mha.out_proj.bias", "norm.weight", "norm.bias", "head.weight",
      "head.bias"};
  EXPECT_EQ(model.state_dict().keys(), expected_keys);
}

TEST(CheckpointRoundTrip, KeysHdf5CannotNameAreEscapedReversibly) {
  TempDir dir;
  const std::string path = dir.file("keys.h5");
  Checkpoint checkpoint;
  const Names keys = {"a/b", "50%", ".", "%2F", "plain.key", "..", "x/"};
  for (size_t i = 0; i < keys.size(); ++i) checkpoint.model.insert(keys[i], full({2}, static_cast<double>(i)));
  expect_same_dict(save_and_load(path, checkpoint).model, checkpoint.model);
  EXPECT_EQ(hdf5::File::open(path).member_names("/model"),
            (Names{"a%2Fb", "50%25", "%2E", "%252F", "plain.key", "..", "x%2F"}));
}

TEST(CheckpointRoundTrip, GeneratorStatesAndCounters) {
  TempDir dir;
  Zoo model(3);
  Checkpoint checkpoint;
  checkpoint.model = model.state_dict();
  checkpoint.rng = module_generator_states(model);
  Generator data(42);
  data.normal();  // a pending spare normal is part of the state
  checkpoint.rng["data"] = data.state();
  checkpoint.counters = {{"epoch", 12},
                         {"step", 600},
                         {"best_val_loss", std::numeric_limits<double>::infinity()},
                         {"lr", 3.0000000000000001e-4},
                         {"delta", -0.1}};
  const Checkpoint back = save_and_load(dir.file("rng.h5"), checkpoint);
  EXPECT_EQ(back.rng, checkpoint.rng);
  EXPECT_EQ(back.counters, checkpoint.counters);
  Generator restored(0);
  restored.set_state(back.rng.at("data"));
  EXPECT_EQ(restored.normal(), data.normal());
  EXPECT_EQ(restored.next_u64(), data.next_u64());
}

// Every optimizer configuration worth a round trip, with two param groups each.
using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<ParamGroup>)>;
std::vector<std::pair<std::string, MakeOptimizer>> optimizer_configurations() {
  return {
      {"SGD momentum",
       [](std::vector<ParamGroup> g) {
         return std::make_unique<SGD>(std::move(g), SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4});
       }},
      {"SGD nesterov",
       [](std::vector<ParamGroup> g) {
         return std::make_unique<SGD>(std::move(g), SGDOptions{.lr = 0.1, .momentum = 0.8, .nesterov = true});
       }},
      {"Adam", [](std::vector<ParamGroup> g) { return std::make_unique<Adam>(std::move(g), AdamOptions{.lr = 1e-2}); }},
      {"Adam amsgrad",
       [](std::vector<ParamGroup> g) {
         return std::make_unique<Adam>(std::move(g), AdamOptions{.lr = 1e-2, .amsgrad = true});
       }},
      {"AdamW",
       [](std::vector<ParamGroup> g) {
         return std::make_unique<AdamW>(std::move(g), AdamWOptions{.lr = 1e-2, .weight_decay = 0.05});
       }},
      {"RMSprop centered momentum",
       [](std::vector<ParamGroup> g) {
         return std::make_unique<RMSprop>(std::move(g), RMSpropOptions{.lr = 1e-2, .momentum = 0.5, .centered = true});
       }},
  };
}

// The model's parameters in two groups (the head with its own lr), as a trainer might.
std::vector<ParamGroup> two_groups(Zoo& model) {
  std::vector<Tensor> body, head;
  for (const auto& [name, p] : model.named_parameters()) (name.rfind("head.", 0) == 0 ? head : body).push_back(p);
  return {ParamGroup{body, {}}, ParamGroup{head, {{"lr", 0.003}}}};
}

// Deterministic gradients for step k (the same for every model built alike).
void set_grads(Zoo& model, int k) {
  Generator gen(900 + static_cast<uint64_t>(k));
  for (Tensor p : model.parameters()) p.set_grad(randn(p.shape(), gen, p.dtype()));
}

TEST(CheckpointRoundTrip, OptimizerStatesContinueIdentically) {
  TempDir dir;
  for (const auto& [name, make] : optimizer_configurations()) {
    SCOPED_TRACE(name);
    Zoo model(5);
    auto optimizer = make(two_groups(model));
    for (int k = 0; k < 2; ++k) {
      set_grads(model, k);
      optimizer->step();
    }
    Checkpoint checkpoint;
    checkpoint.model = model.state_dict();
    checkpoint.optimizer = optimizer->state_dict();
    const Checkpoint back = save_and_load(dir.file("opt.h5"), checkpoint);
    ASSERT_TRUE(back.optimizer.has_value());
    expect_same_optimizer_state(*back.optimizer, *checkpoint.optimizer);

    // Freshly built objects, restored, take the same next step as the originals.
    Zoo fresh(77);
    fresh.load_state_dict(back.model);
    auto restored = make(two_groups(fresh));
    restored->load_state_dict(*back.optimizer);
    set_grads(model, 2);
    set_grads(fresh, 2);
    optimizer->step();
    restored->step();
    expect_same_dict(fresh.state_dict(), model.state_dict());
  }
}

// A scheduler and its optimizer, built from scratch.
struct Schedule {
  std::unique_ptr<SGD> optimizer;
  std::vector<std::shared_ptr<ChainableLRScheduler>> parts;  // kept alive for SequentialLR
  std::unique_ptr<LRScheduler> scheduler;
  std::unique_ptr<ReduceLROnPlateau> plateau;

  SchedulerState state() const { return scheduler ? scheduler->state() : plateau->state(); }
  void load(const SchedulerState& s) { scheduler ? scheduler->load_state(s) : plateau->load_state(s); }
  void step(int k) { scheduler ? scheduler->step() : plateau->step(k < 2 ? 1.0 - 0.1 * k : 0.9); }
  std::vector<double> lrs() const { return scheduler ? scheduler->get_last_lr() : plateau->get_last_lr(); }
};

Schedule make_schedule(const std::string& kind) {
  Schedule s;
  std::vector<ParamGroup> groups = {ParamGroup{{zeros({2}).set_requires_grad(true)}, {}},
                                    ParamGroup{{zeros({3}).set_requires_grad(true)}, {{"lr", 0.05}}}};
  s.optimizer = std::make_unique<SGD>(std::move(groups), SGDOptions{.lr = 0.1, .momentum = 0.9});
  if (kind == "CosineAnnealingLR") {
    s.scheduler = std::make_unique<CosineAnnealingLR>(*s.optimizer, 5, 1e-3);
  } else if (kind == "SequentialLR") {
    auto warmup = std::make_shared<LinearLR>(*s.optimizer, 0.1, 1.0, 2);
    auto cosine = std::make_shared<CosineAnnealingLR>(*s.optimizer, 6);
    s.parts = {warmup, cosine};
    s.scheduler = std::make_unique<SequentialLR>(*s.optimizer, s.parts, std::vector<int64_t>{2});
  } else if (kind == "OneCycleLR") {
    s.scheduler = std::make_unique<OneCycleLR>(*s.optimizer, OneCycleLROptions{.max_lr = {0.5, 0.2}, .total_steps = 12});
  } else {
    s.plateau = std::make_unique<ReduceLROnPlateau>(*s.optimizer, ReduceLROnPlateauOptions{.patience = 1, .cooldown = 1});
  }
  return s;
}

TEST(CheckpointRoundTrip, SchedulerStatesContinueIdentically) {
  TempDir dir;
  for (const std::string kind : {"CosineAnnealingLR", "SequentialLR", "OneCycleLR", "ReduceLROnPlateau"}) {
    SCOPED_TRACE(kind);
    for (int steps : {0, 3}) {  // ReduceLROnPlateau's best is still infinite before its first step
      Schedule original = make_schedule(kind);
      for (int k = 0; k < steps; ++k) original.step(k);
      Checkpoint checkpoint;
      checkpoint.optimizer = original.optimizer->state_dict();
      checkpoint.scheduler = original.state();
      const Checkpoint back = save_and_load(dir.file("sched.h5"), checkpoint);
      ASSERT_TRUE(back.scheduler.has_value());
      expect_same_scheduler_state(*back.scheduler, *checkpoint.scheduler);
      if (kind == "SequentialLR") {
        EXPECT_EQ(back.scheduler->children.size(), 2u);
      }

      Schedule restored = make_schedule(kind);
      restored.optimizer->load_state_dict(*back.optimizer);
      restored.load(*back.scheduler);
      for (int k = steps; k < steps + 5; ++k) {
        original.step(k);
        restored.step(k);
        EXPECT_EQ(restored.lrs(), original.lrs()) << "step " << k;
        EXPECT_EQ(restored.optimizer->param_groups()[1].options, original.optimizer->param_groups()[1].options);
      }
    }
  }
}

TEST(CheckpointRoundTrip, TheLayoutOfOptimizerAndScheduler) {
  TempDir dir;
  Schedule s = make_schedule("SequentialLR");
  Checkpoint checkpoint;
  checkpoint.optimizer = s.optimizer->state_dict();
  checkpoint.optimizer->state[1]["momentum_buffer"] = full({3}, 0.5);
  checkpoint.scheduler = s.state();
  const std::string path = dir.file("layout.h5");
  save_checkpoint(path, checkpoint);
  hdf5::File file = hdf5::File::open(path);
  EXPECT_EQ(file.member_names("/optimizer"), (Names{"param_groups", "state"}));
  EXPECT_EQ(file.member_names("/optimizer/param_groups"), (Names{"0", "1"}));
  EXPECT_EQ(file.read_attribute<double>("/optimizer/param_groups/1", "initial_lr"), std::vector<double>{0.05});
  EXPECT_EQ(file.read_attribute<int64_t>("/optimizer/param_groups/1", "params"), std::vector<int64_t>{1});
  EXPECT_EQ(file.read_dataset<float>("/optimizer/state/1/momentum_buffer"), std::vector<float>(3, 0.5f));
  EXPECT_EQ(file.read_string_attribute("/scheduler", "kind"), Names{"SequentialLR"});
  EXPECT_EQ(file.read_string_attribute("/scheduler/children/1", "kind"), Names{"CosineAnnealingLR"});
  EXPECT_EQ(file.attribute_info("/scheduler/children/1", "base_lrs").shape, std::vector<int64_t>{2});
  EXPECT_TRUE(file.attribute_info("/scheduler", "last_epoch").shape.empty());
}

// ---------------------------------------------------------------- atomic saving

Checkpoint checkpoint_of(Zoo& model, const std::string& config = "{}") {
  Checkpoint checkpoint;
  checkpoint.config = config;
  checkpoint.model = model.state_dict();
  checkpoint.rng = module_generator_states(model);
  checkpoint.counters = {{"epoch", 1}};
  return checkpoint;
}

// A checkpoint of about `megabytes` MB: the model plus large extra tensors.
Checkpoint large_checkpoint(Zoo& model, int megabytes) {
  Checkpoint checkpoint = checkpoint_of(model);
  for (int i = 0; i < megabytes; ++i)
    checkpoint.model.insert(str_cat("extra.", i), full({1 << 18}, static_cast<double>(i)));  // 1 MiB each
  return checkpoint;
}

// Runs fn in a child process with its file-size limit at limit_bytes (a write beyond it fails,
// as on a full disk, and raises SIGXFSZ, whose handling fn chooses) and returns its wait status.
int run_in_child_with_file_limit(rlim_t limit_bytes, const std::function<int()>& fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 99;
    try {
      const rlimit limit{limit_bytes, limit_bytes};
      if (setrlimit(RLIMIT_FSIZE, &limit) == 0) code = fn();
    } catch (...) {
      code = 98;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

extern "C" void kill_self(int) { kill(getpid(), SIGKILL); }

TEST(CheckpointAtomicSave, AWriterKilledMidWriteLeavesThePreviousCheckpointIntact) {
  TempDir dir;
  const std::string path = dir.file("last.h5");
  Zoo old_model(1);
  save_checkpoint(path, checkpoint_of(old_model, R"({"run": "old"})"));
  const std::string before = file_bytes(path);

  // The child saves a 16 MB checkpoint over it and is killed (SIGKILL) when its file reaches
  // 4 MB: by then HDF5 has written part of the data and none of the final metadata.
  Zoo new_model(2);
  const Checkpoint big = large_checkpoint(new_model, 16);
  const int status = run_in_child_with_file_limit(4 << 20, [&] {
    signal(SIGXFSZ, kill_self);
    save_checkpoint(path, big);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

  EXPECT_EQ(file_bytes(path), before) << "the previous checkpoint changed";
  const Checkpoint back = load_checkpoint(path);
  EXPECT_EQ(back.config, R"({"run": "old"})");
  expect_same_dict(back.model, old_model.state_dict());
  // The killed writer's partial file is left under its temporary name, never the final one.
  const Names entries = dir.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].rfind(".last.h5.tmp-", 0), 0u) << entries[0];
  EXPECT_GE(std::filesystem::file_size(dir.file(entries[0])), 1u << 20);
  EXPECT_EQ(entries[1], "last.h5");
  // The next save succeeds over it, and leaves the young temporary file alone: it could belong
  // to a writer still at work.
  save_checkpoint(path, big);
  expect_same_dict(load_checkpoint(path).model, big.model);
  EXPECT_EQ(dir.entries(), entries);
  // Once it is 10 minutes old, the next save removes it; other files stay.
  const std::string stale = dir.file(entries[0]);
  std::filesystem::last_write_time(stale, std::filesystem::last_write_time(stale) - std::chrono::minutes(11));
  { std::ofstream(dir.file(".best.h5.tmp-abcdef")) << "another checkpoint's"; }
  std::filesystem::last_write_time(dir.file(".best.h5.tmp-abcdef"),
                                   std::filesystem::last_write_time(stale) - std::chrono::minutes(1));
  save_checkpoint(path, big);
  EXPECT_EQ(dir.entries(), (Names{".best.h5.tmp-abcdef", "last.h5"}));
  expect_same_dict(load_checkpoint(path).model, big.model);
}

TEST(CheckpointAtomicSave, AFullDiskIsAnErrorNamingThePathAndKeepsThePreviousCheckpoint) {
  TempDir dir;
  const std::string path = dir.file("last.h5");
  Zoo old_model(1);
  save_checkpoint(path, checkpoint_of(old_model));
  const std::string before = file_bytes(path);
  Zoo new_model(2);
  const Checkpoint big = large_checkpoint(new_model, 8);
  const std::string message_file = dir.file("message.txt");
  // Writes beyond the limit fail with EFBIG, as they would with ENOSPC on a full disk.
  const int status = run_in_child_with_file_limit(2 << 20, [&] {
    signal(SIGXFSZ, SIG_IGN);
    const std::string message = error_of([&] { save_checkpoint(path, big); });
    std::ofstream(message_file) << message;
    return message.empty() ? 1 : 0;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  expect_message_has(file_bytes(message_file), {"save_checkpoint '" + path + "'"});
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(dir.entries(), (Names{"last.h5", "message.txt"})) << "the temporary file was not removed";
}

TEST(CheckpointAtomicSave, UnwritableDestinationsAndUnstorableValuesAreClearErrors) {
  TempDir dir;
  Zoo model(1);
  const Checkpoint checkpoint = checkpoint_of(model);
  const std::string missing = dir.file("no/such/dir/last.h5");
  expect_message_has(error_of([&] { save_checkpoint(missing, checkpoint); }),
                     {"save_checkpoint '" + missing + "'", "does not exist"});
  std::filesystem::create_directory(dir.file("taken"));
  expect_message_has(error_of([&] { save_checkpoint(dir.file("taken"), checkpoint); }),
                     {dir.file("taken"), "cannot move the finished file"});
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("taken")));

  // Values a checkpoint cannot hold are refused and the previous file stays.
  const std::string path = dir.file("last.h5");
  save_checkpoint(path, checkpoint);
  const std::string before = file_bytes(path);
  Checkpoint with_bool = checkpoint;
  with_bool.model.insert("mask", full({2}, 1.0, kBool));
  expect_message_has(error_of([&] { save_checkpoint(path, with_bool); }),
                     {"save_checkpoint '" + path + "'", "model key 'mask'", "bool"});
  Checkpoint empty_key = checkpoint;
  empty_key.model.insert("", zeros({1}));
  expect_message_has(error_of([&] { save_checkpoint(path, empty_key); }), {path, "empty state-dict key"});
  Checkpoint bad_config = checkpoint;
  bad_config.config = "{not json";
  expect_message_has(error_of([&] { save_checkpoint(path, bad_config); }), {path, "config is not valid JSON"});
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(dir.entries(), (Names{"last.h5", "taken"}));
}

TEST(CheckpointAtomicSave, AReadOnlyDirectoryIsAClearError) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: permissions do not stop writes";
  TempDir dir;
  Zoo model(1);
  const Checkpoint checkpoint = checkpoint_of(model);
  std::filesystem::create_directory(dir.file("locked"));
  std::filesystem::permissions(dir.file("locked"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  const std::string locked = dir.file("locked/last.h5");
  expect_message_has(error_of([&] { save_checkpoint(locked, checkpoint); }),
                     {"save_checkpoint '" + locked + "'", "cannot create a file", "ermission"});
}

// ---------------------------------------------------------------- refusals

// A checkpoint with every section, for editing.
Checkpoint complete_checkpoint() {
  Zoo model(4);
  Schedule s = make_schedule("SequentialLR");
  Checkpoint checkpoint = checkpoint_of(model);
  checkpoint.optimizer = s.optimizer->state_dict();
  checkpoint.optimizer->state[0]["momentum_buffer"] = full({2}, 0.25);
  checkpoint.scheduler = s.state();
  return checkpoint;
}

// Saves a complete checkpoint, lets edit break it, and checks that loading it is refused with
// one line naming the file and holding every part.
void expect_refused_after(const std::function<void(hdf5::File&)>& edit, const Names& parts) {
  TempDir dir;
  const std::string path = dir.file("edited.h5");
  save_checkpoint(path, complete_checkpoint());
  {
    hdf5::File file = hdf5::File::open(path, /*writable=*/true);
    edit(file);
    file.close();
  }
  Names all = parts;
  all.push_back("load_checkpoint: HDF5 file '" + path + "'");
  expect_message_has(error_of([&] { load_checkpoint(path); }), all);
}

TEST(CheckpointRefusal, MissingNonHdf5AndTruncatedFiles) {
  TempDir dir;
  expect_message_has(error_of([&] { load_checkpoint(dir.file("absent.h5")); }), {dir.file("absent.h5"), "no such file"});
  std::ofstream(dir.file("notes.h5")) << "not a checkpoint\n";
  expect_message_has(error_of([&] { load_checkpoint(dir.file("notes.h5")); }), {dir.file("notes.h5"), "not an HDF5 file"});
  const std::string path = dir.file("cut.h5");
  save_checkpoint(path, complete_checkpoint());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) * 2 / 3);
  expect_message_has(error_of([&] { load_checkpoint(path); }), {path, "truncated"});
}

TEST(CheckpointRefusal, AnotherFormatOrVersion) {
  TempDir dir;
  SkeletonDataset skeletons;
  skeletons.joint_names = {"root"};
  skeletons.parents = {-1};
  skeletons.class_names = {"only"};
  skeletons.offsets = {0, 1};
  skeletons.labels = {0};
  skeletons.subjects = {1};
  skeletons.skeletons = {0, 0, 0};
  skeletons.fps = 30;
  write_dataset(dir.file("data.h5"), skeletons);
  expect_message_has(error_of([&] { load_checkpoint(dir.file("data.h5")); }),
                     {dir.file("data.h5"), "attribute 'format'", "is 'harnet-skeleton-v1', expected 'harnet-checkpoint'"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("version", int64_t{2}); },
                       {"attribute 'version'", "version 2 is newer than this program reads (1)"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("version", int64_t{0}); },
                       {"attribute 'version'", "version 0 is not a valid version"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("version", 1.0); },
                       {"attribute 'version'", "expected one integer, found float64"});
  expect_refused_after([](hdf5::File& f) { f.remove_attribute("format"); },
                       {"attribute 'format'", "missing (not a harnet checkpoint)"});
  expect_refused_after([](hdf5::File& f) { f.remove_attribute("version"); }, {"attribute 'version'", "missing"});
}

TEST(CheckpointRefusal, MissingOrMalformedModel) {
  expect_refused_after([](hdf5::File& f) { f.remove_group("/model"); },
                       {"group '/model'", "missing (the model's state dict)"});
  expect_refused_after(
      [](hdf5::File& f) {
        f.remove_group("/model");
        f.write_dataset("/model", std::vector<float>{1}, {1});
      },
      {"group '/model'", "a dataset, expected a group"});
  expect_refused_after([](hdf5::File& f) { f.create_group("/model/sub"); },
                       {"'/model/sub'", "expected a dataset, found a group"});
  expect_refused_after([](hdf5::File& f) { f.write_string_dataset("/model/name", {"x"}); },
                       {"dataset '/model/name'", "model key 'name' holds variable-length string values"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/model/bad%zz", std::vector<float>{1}, {1}); },
                       {"dataset '/model/bad%zz'", "malformed escape"});
}

TEST(CheckpointRefusal, MalformedOptimizerEntries) {
  const std::string group0 = "/optimizer/param_groups/0";
  expect_refused_after([&](hdf5::File& f) { f.remove_attribute(group0, "params"); },
                       {"attribute 'params' of '/optimizer/param_groups/0'", "missing"});
  expect_refused_after([&](hdf5::File& f) { f.write_attribute(group0, "params", std::vector<double>{0.5}, {1}); },
                       {"attribute 'params' of '/optimizer/param_groups/0'", "expected a list of integers"});
  expect_refused_after([&](hdf5::File& f) { f.write_string_attribute(group0, "lr", "fast"); },
                       {"attribute 'lr' of '/optimizer/param_groups/0'", "expected numbers"});
  expect_refused_after([&](hdf5::File& f) { f.write_attribute(group0, "lr", std::vector<double>{1, 2}, {2}); },
                       {"attribute 'lr' of '/optimizer/param_groups/0'", "expected a single value"});
  expect_refused_after([](hdf5::File& f) { f.create_group("/optimizer/param_groups/7"); },
                       {"group '/optimizer/param_groups'", "member '2' is missing"});
  expect_refused_after([](hdf5::File& f) { f.create_group("/optimizer/state/first"); },
                       {"group '/optimizer/state'", "member 'first' is not an index"});
  expect_refused_after([](hdf5::File& f) { f.create_group("/optimizer/state/01"); },
                       {"member '01' is not an index"});
  expect_refused_after([](hdf5::File& f) { f.write_string_dataset("/optimizer/state/0/exp_avg", {"x"}); },
                       {"dataset '/optimizer/state/0/exp_avg'", "optimizer state 'exp_avg'"});
  expect_refused_after([](hdf5::File& f) { f.remove_group("/optimizer/state"); },
                       {"group '/optimizer/state'", "missing"});
  expect_refused_after([](hdf5::File& f) { f.create_group("/optimizer/extra"); },
                       {"group '/optimizer'", "unexpected member 'extra'"});
}

TEST(CheckpointRefusal, MalformedSchedulerEntries) {
  expect_refused_after([](hdf5::File& f) { f.remove_attribute("/scheduler", "kind"); },
                       {"attribute 'kind' of '/scheduler'", "missing"});
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("/scheduler/children/0", "last_epoch", "3"); },
                       {"attribute 'last_epoch' of '/scheduler/children/0'", "expected numbers"});
  expect_refused_after([](hdf5::File& f) { f.remove_group("/scheduler/children/0"); },
                       {"group '/scheduler/children'", "member '0' is missing"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/scheduler/base_lrs", std::vector<double>{1}, {1}); },
                       {"group '/scheduler'", "unexpected member 'base_lrs'"});
}

TEST(CheckpointRefusal, MalformedRootConfigGeneratorsAndCounters) {
  expect_refused_after([](hdf5::File& f) { f.create_group("/extra"); }, {"group '/'", "unexpected member 'extra'"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("epoch", 3.0); },
                       {"group '/'", "unexpected attribute 'epoch'"});
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("config", "{oops"); },
                       {"attribute 'config'", "not valid JSON"});
  expect_refused_after([](hdf5::File& f) { f.remove_attribute("config"); }, {"attribute 'config'", "missing"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("/rng", "module:drop", 5.0); },
                       {"attribute 'module:drop' of '/rng'", "expected one string"});
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("/counters", "epoch", "one"); },
                       {"attribute 'epoch' of '/counters'", "expected numbers"});
  expect_refused_after([](hdf5::File& f) { f.create_group("/counters/more"); },
                       {"group '/counters'", "unexpected members"});
}

// ---------------------------------------------------------------- loading into a model

TEST(CheckpointModelLoading, StrictNamesEveryProblemNonStrictLoadsWhatMatches) {
  TempDir dir;
  Zoo saved(1);
  warm_up_batch_norm(saved);
  Checkpoint checkpoint = checkpoint_of(saved);
  checkpoint.model.erase("head.bias");
  checkpoint.model.insert("head.scale", ones({kClasses}));
  checkpoint.model.set("norm.weight", ones({kHidden + 1}));
  checkpoint.model.set("bn.num_batches_tracked", scalar_tensor(2.0, kFloat32));
  const std::string path = dir.file("partial.h5");
  save_checkpoint(path, checkpoint);

  Zoo target(9);
  const nn::StateDict untouched = target.state_dict();
  expect_message_has(error_of([&] { load_model_weights(target, path); }),
                     {"checkpoint '" + path + "'", "\"head.bias\"", "\"head.scale\"", "norm.weight", "[9]", "[8]",
                      "bn.num_batches_tracked", "float32", "int64"});
  expect_same_dict(target.state_dict(), untouched);  // strict: nothing loaded

  const nn::LoadReport report = load_model_weights(target, path, /*strict=*/false);
  EXPECT_EQ(report.missing_keys, Names{"head.bias"});
  EXPECT_EQ(report.unexpected_keys, Names{"head.scale"});
  ASSERT_EQ(report.mismatched.size(), 2u);
  EXPECT_EQ(report.mismatched[0].key, "bn.num_batches_tracked");
  EXPECT_EQ(report.mismatched[1].key, "norm.weight");
  expect_same_tensor(target.state_dict().at("lstm.weight_ih_l1"), saved.state_dict().at("lstm.weight_ih_l1"),
                     "loaded");
  expect_same_tensor(target.state_dict().at("bn.running_var"), saved.state_dict().at("bn.running_var"), "loaded");
  expect_same_tensor(target.state_dict().at("head.bias"), untouched.at("head.bias"), "left alone");

  // The same through load_checkpoint and the module.
  Zoo again(10);
  EXPECT_THROW(again.load_state_dict(load_checkpoint(path).model), Error);
  EXPECT_FALSE(again.load_state_dict(load_checkpoint(path).model, /*strict=*/false).complete());
}

// ---------------------------------------------------------------- generators

TEST(CheckpointGenerators, FindsEveryDropoutRecurrentAndAttentionModule) {
  Zoo model(1);
  const std::map<std::string, std::string> states = module_generator_states(model);
  EXPECT_EQ(states.size(), 3u);
  for (const char* key : {"module:drop", "module:lstm", "module:mha"}) EXPECT_TRUE(states.count(key)) << key;

  Zoo other(2);
  std::map<std::string, std::string> with_caller_keys = states;
  with_caller_keys["data"] = Generator(5).state();  // not a module's: ignored
  set_module_generator_states(other, with_caller_keys);
  EXPECT_EQ(module_generator_states(other), states);
  EXPECT_EQ(other.drop->generator().next_u64(), model.drop->generator().next_u64());
  EXPECT_EQ(other.lstm->generator().uniform(), model.lstm->generator().uniform());
  EXPECT_EQ(other.mha->generator().normal(), model.mha->generator().normal());
}

TEST(CheckpointGenerators, RefusesMissingUnknownAndMalformedStatesChangingNothing) {
  Zoo model(1);
  Zoo other(2);
  const std::map<std::string, std::string> before = module_generator_states(other);
  std::map<std::string, std::string> states = module_generator_states(model);
  states.erase("module:mha");
  expect_message_has(error_of([&] { set_module_generator_states(other, states); }),
                     {"set_module_generator_states", "MultiheadAttention 'mha'", "key 'module:mha'"});
  states = module_generator_states(model);
  states["module:head"] = states["module:drop"];
  expect_message_has(error_of([&] { set_module_generator_states(other, states); }),
                     {"key 'module:head' names no module with a generator in Zoo"});
  states = module_generator_states(model);
  states["module:lstm"] = "garbage";
  expect_message_has(error_of([&] { set_module_generator_states(other, states); }),
                     {"key 'module:lstm'", "malformed state"});
  EXPECT_EQ(module_generator_states(other), before);
}

// ---------------------------------------------------------------- a fresh process

std::vector<float> eval_logits(Zoo& model, const Tensor& input) {
  NoGradGuard no_grad;
  model.eval();
  return model(input).to_vector<float>();
}

TEST(CheckpointFreshProcess, AModelLoadedInAnotherProcessGivesBitIdenticalOutputs) {
  // One thread here and in the child (which inherits the setting and so never starts a TBB
  // worker after fork); the same thread count gives the same bits.
  ScopedThreads threads(1);
  TempDir dir;
  const std::string path = dir.file("model.h5");
  const std::string outputs = dir.file("child_logits.bin");
  std::vector<float> expected;
  {
    Zoo model(21);
    warm_up_batch_norm(model, 3);
    save_checkpoint(path, checkpoint_of(model));
    expected = eval_logits(model, zoo_input(7));
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 1;
    try {
      Zoo fresh(999);  // other weights until the checkpoint is loaded
      load_model_weights(fresh, path);
      const std::vector<float> logits = eval_logits(fresh, zoo_input(7));
      std::ofstream out(outputs, std::ios::binary);
      out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
      code = out ? 0 : 2;
    } catch (...) {
      code = 3;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  const std::string bytes = file_bytes(outputs);
  ASSERT_EQ(bytes.size(), expected.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(bytes.data(), expected.data(), bytes.size()), 0) << "the outputs differ";
  Zoo different(999);
  EXPECT_NE(eval_logits(different, zoo_input(7)), expected) << "the test cannot tell models apart";
}

// ---------------------------------------------------------------- resuming training

// Everything a run needs, built from the configuration (the seed) alone.
struct TrainingRun {
  explicit TrainingRun(uint64_t seed)
      : model(seed),
        optimizer(model.parameters(), AdamOptions{.lr = 1e-2, .weight_decay = 1e-4}),
        scheduler(optimizer, OneCycleLROptions{.max_lr = {2e-2}, .total_steps = kSteps}),
        data(seed + 1000) {}

  static constexpr int kSteps = 8;

  // One step on a batch drawn from the data generator: dropout, Adam, clipping, 1cycle.
  double step(const Tensor& inputs, const Tensor& labels) {
    model.train();
    const Tensor picks = randint(0, inputs.size(0), {6}, data);
    const Tensor loss = cross_entropy(model(index_select(inputs, 0, picks)), index_select(labels, 0, picks));
    optimizer.zero_grad();
    loss.backward();
    clip_grad_norm_(model.parameters(), 0.5);
    optimizer.step();
    scheduler.step();
    return loss.item();
  }

  Checkpoint checkpoint(int steps_done) const {
    Checkpoint c;
    c.model = model.state_dict();
    c.optimizer = optimizer.state_dict();
    c.scheduler = scheduler.state();
    c.rng = module_generator_states(const_cast<Zoo&>(model));
    c.rng["data"] = data.state();
    c.counters = {{"step", steps_done}};
    return c;
  }

  void restore(const Checkpoint& c) {
    model.load_state_dict(c.model);
    optimizer.load_state_dict(*c.optimizer);
    scheduler.load_state(*c.scheduler);
    set_module_generator_states(model, c.rng);
    data.set_state(c.rng.at("data"));
  }

  Zoo model;
  Adam optimizer;
  OneCycleLR scheduler;
  Generator data;
};

TEST(CheckpointResume, TrainingResumedFromACheckpointContinuesExactly) {
  ScopedThreads threads(2);
  TempDir dir;
  const Tensor inputs = zoo_input(31, 16, 6);
  Generator label_gen(32);
  const Tensor labels = randint(0, kClasses, {16}, label_gen);

  TrainingRun uninterrupted(1);
  std::vector<double> expected;
  for (int k = 0; k < TrainingRun::kSteps; ++k) expected.push_back(uninterrupted.step(inputs, labels));

  std::vector<double> losses;
  const std::string path = dir.file("half.h5");
  {
    TrainingRun first_half(1);
    for (int k = 0; k < TrainingRun::kSteps / 2; ++k) losses.push_back(first_half.step(inputs, labels));
    save_checkpoint(path, first_half.checkpoint(TrainingRun::kSteps / 2));
  }
  TrainingRun second_half(2);  // other weights, generators and data order until restored
  const Checkpoint back = load_checkpoint(path);
  second_half.restore(back);
  EXPECT_EQ(back.counters.at("step"), TrainingRun::kSteps / 2);
  for (int k = TrainingRun::kSteps / 2; k < TrainingRun::kSteps; ++k) losses.push_back(second_half.step(inputs, labels));

  ASSERT_EQ(losses.size(), expected.size());
  for (size_t k = 0; k < losses.size(); ++k)
    EXPECT_EQ(std::memcmp(&losses[k], &expected[k], sizeof(double)), 0)
        << "step " << k << ": " << losses[k] << " vs " << expected[k];
  expect_same_dict(second_half.model.state_dict(), uninterrupted.model.state_dict());
  EXPECT_NE(expected.front(), expected.back()) << "the model did not train";
}

// ---------------------------------------------------------------- files of other writers

std::string fixture(const std::string& name) { return std::string(HARNET_FIXTURE_DIR) + "/" + name; }

// input [B, T, F] and the reference logits [B, classes] of a fixture batch file.
std::pair<Tensor, std::vector<float>> fixture_batch(const std::string& path) {
  hdf5::File file = hdf5::File::open(path);
  const hdf5::ObjectInfo info = file.dataset_info("/input");
  return {from_vector(file.read_dataset<float>("/input"), info.shape), file.read_dataset<float>("/logits")};
}

void expect_logits_near(const std::vector<float>& actual, const std::vector<float>& expected, double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tolerance) << "logit " << i;
}

TEST(CheckpointFromPyTorch, AStateDictConvertedByTheToolLoadsAndGivesPyTorchsLogits) {
  // tools/make_checkpoint_fixtures.py: PyTorch's Zoo (BatchNorm statistics moved by three
  // training passes) saved with torch.save, converted by tools/torch_checkpoint.py.
  const Checkpoint checkpoint = load_checkpoint(fixture("torch_zoo_weights.h5"));
  EXPECT_EQ(checkpoint.config, R"({"model": "zoo"})");
  EXPECT_FALSE(checkpoint.optimizer.has_value());
  EXPECT_EQ(checkpoint.model.at("bn.num_batches_tracked").item(), 3.0);
  Zoo model(0);
  EXPECT_EQ(checkpoint.model.keys(), model.state_dict().keys());
  load_model_weights(model, fixture("torch_zoo_weights.h5"));
  const auto [input, logits] = fixture_batch(fixture("torch_zoo_batch.h5"));
  expect_logits_near(eval_logits(model, input), logits, 1e-5);
}

// The version-1 golden file: a checkpoint written by this code when the file was made (model,
// Adam, OneCycleLR, generators, counters) and the logits it gave on the fixture batch. It keeps
// old checkpoints loadable, and tools/check_torch_checkpoint.py converts it for PyTorch.
// HARNET_WRITE_CHECKPOINT_FIXTURES=1 rewrites both files instead of checking them.
TEST(CheckpointGolden, AVersion1CheckpointLoadsAndReproducesItsLogits) {
  const std::string path = fixture("harnet_zoo_checkpoint.h5");
  const std::string batch_path = fixture("harnet_zoo_batch.h5");
  const Tensor input = fixture_batch(fixture("torch_zoo_batch.h5")).first;
  if (const char* write = std::getenv("HARNET_WRITE_CHECKPOINT_FIXTURES"); write && std::string(write) == "1") {
    ScopedThreads threads(1);
    TrainingRun run(11);
    const Tensor inputs = zoo_input(41, 16, 6);
    Generator label_gen(42);
    const Tensor labels = randint(0, kClasses, {16}, label_gen);
    for (int k = 0; k < 3; ++k) run.step(inputs, labels);
    Checkpoint checkpoint = run.checkpoint(3);
    checkpoint.config = R"({"model": "zoo", "seed": 11})";
    save_checkpoint(path, checkpoint);
    hdf5::write_file_atomically(batch_path, "golden batch", [&](hdf5::File& file) {
      file.write_dataset("/input", input.to_vector<float>(), input.shape());
      file.write_dataset("/logits", eval_logits(run.model, input), {input.size(0), kClasses});
    });
    GTEST_SKIP() << "rewrote " << path << " and " << batch_path;
  }
  const Checkpoint checkpoint = load_checkpoint(path);
  EXPECT_EQ(checkpoint.config, R"({"model": "zoo", "seed": 11})");
  EXPECT_EQ(checkpoint.counters.at("step"), 3.0);
  ASSERT_TRUE(checkpoint.optimizer.has_value() && checkpoint.scheduler.has_value());
  TrainingRun run(12);
  run.restore(checkpoint);  // the optimizer, scheduler and generators fit freshly built ones
  EXPECT_EQ(run.scheduler.last_epoch(), 3);
  expect_logits_near(eval_logits(run.model, input), fixture_batch(batch_path).second, 1e-6);
}

}  // namespace
}  // namespace harnet
