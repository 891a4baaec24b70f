// Checkpoints: a model's state dict, an optimizer's and a scheduler's state, the states of the
// random generators and the training counters, in one HDF5 file ("harnet-checkpoint",
// version 1; the layout is documented in docs/checkpoint-format.md so that h5py can read it,
// and tools/ converts it to and from a PyTorch state dict).
//
//   Checkpoint ckpt;
//   ckpt.config = run_config_json;
//   ckpt.model = model.state_dict();
//   ckpt.optimizer = optimizer.state_dict();
//   ckpt.scheduler = scheduler.state();
//   ckpt.rng = module_generator_states(model);
//   ckpt.counters = {{"epoch", 12}, {"step", 600}};
//   save_checkpoint("runs/a/last.h5", ckpt);       // atomic
//
//   Checkpoint back = load_checkpoint("runs/a/last.h5");
//   model.load_state_dict(back.model);              // strict
//
// Writes are atomic: the file is written under a temporary name in the destination's
// directory, flushed, fsynced and renamed over the destination (then the directory is
// fsynced), so a crash mid-save leaves the previous checkpoint intact and no partial file
// under the final name.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "nn/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace harnet {

inline constexpr const char* kCheckpointFormat = "harnet-checkpoint";
inline constexpr int64_t kCheckpointVersion = 1;

struct Checkpoint {
  std::string config;                       // JSON text: the configuration the model was built from ("" if none)
  nn::StateDict model;                      // parameters and persistent buffers, by qualified name
  std::optional<OptimizerState> optimizer;  // absent in a weights-only checkpoint
  std::optional<SchedulerState> scheduler;
  std::map<std::string, std::string> rng;   // generator states (Generator::state()) by name
  std::map<std::string, double> counters;   // "epoch", "step", "best_val_loss", ...
  std::optional<nn::StateDict> average;     // nn::ParameterAverage's state, in runs that average weights
};

// Throws naming the path and the problem (unwritable directory, disk full, ...); the previous
// file under `path`, if any, is intact after a failure.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads and checks everything: a missing, truncated or non-HDF5 file, another format or
// version, a malformed entry each throw one message naming the path and the key at fault.
Checkpoint load_checkpoint(const std::string& path);

// load_checkpoint(path), then model.load_state_dict(its model, strict) (see nn/module.h: strict
// refuses missing and unexpected keys and shape or dtype mismatches, naming each; non-strict
// loads what matches and reports the rest); errors name the path.
nn::LoadReport load_model_weights(nn::Module& model, const std::string& path, bool strict = true);

// The generators owned by a model's modules (Dropout, LSTM, GRU, MultiheadAttention), keyed
// "module:<qualified module name>", and the restoring counterpart, which throws naming a
// module whose generator state is absent or a "module:" key that names no such module (keys
// without the "module:" prefix belong to the caller and are ignored).
std::map<std::string, std::string> module_generator_states(nn::Module& model);
void set_module_generator_states(nn::Module& model, const std::map<std::string, std::string>& states);

}  // namespace harnet
