// HARNet: the skeleton-sequence classifier of the project (see docs/ and the model table of
// the specification): a spatial CNN over the joints of each frame -> an LSTM over time ->
// multi-head self-attention over time with a residual connection and LayerNorm -> pooling over
// time (the mean, or attention pooling) -> a two-layer classifier.
//
//   input x [B, T, J, C_in]       (C_in = 3 coordinates, more with velocity / bone channels)
//   permute                        [B, C_in, T, J]
//   spatial.*  per block: Conv2d kernel (1, k), padding (0, k/2); BatchNorm2d; ReLU;
//              MaxPool2d (1, 2) ceil_mode after the blocks that pool
//                                  [B, C_last, T, J']
//   flatten per frame; drop_in     [B, T, C_last * J']
//   lstm (batch_first)             [B, T, D * H]          (D = 2 when bidirectional)
//   mha self-attention, residual, norm (LayerNorm)   [B, T, D * H]
//   pooling over time              [B, D * H]
//     "mean":      the mean over t
//     "attention": s = pool(h) (Linear(D * H, 1)) [B, T, 1]; a = softmax of s over t;
//                  sum over t of a_t h_t
//   head: Linear -> ReLU -> Dropout -> Linear          [B, classes]
//
// Child names match the PyTorch reference (spatial, drop_in, lstm, mha, norm, head), so the
// state dict of this module and of the PyTorch model map key for key ("spatial.0.weight",
// "lstm.weight_ih_l0", "mha.in_proj_weight", "head.3.bias"). Attention pooling adds one child,
// pool, between norm and head ("pool.weight" [1, D * H], "pool.bias" [1]); the default mean
// pooling has none, so its state dict is the reference's.
//
// An ensemble (members = K > 1) holds K such networks: the first is the module's own children
// above, the others are children member1 .. member{K-1}, each a whole HARNet ("member1.lstm.
// weight_ih_l0"), initialised after the first from the same generator. Each member is trained
// on its own loss (member_logits), as if alone; the ensemble predicts the mean of the members'
// class probabilities, and forward returns its logarithm (softmax of it is that mean).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/generator.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/recurrent.h"

namespace harnet {

// Every size of the model is a setting; joints, in_channels and classes come from the data.
struct HARNetConfig {
  int64_t joints = 25;      // J
  int64_t in_channels = 3;  // C_in: 3 per position, +3 for velocities, +3 for bones
  int64_t classes = 10;     // C

  // Output channels of each spatial block; empty: no blocks, the LSTM sees the raw joints
  // (the temporal-only ablation).
  std::vector<int64_t> conv_channels{64, 64, 128};
  std::vector<bool> conv_pool{false, true, true};   // a MaxPool2d (1, 2) ceil after block i
  int64_t conv_kernel = 3;                          // odd; the kernel is (1, conv_kernel)
  double input_dropout = 0.2;                       // on the per-frame features, before the LSTM

  int64_t lstm_layers = 2;
  int64_t lstm_hidden = 128;
  bool bidirectional = false;
  double lstm_dropout = 0.3;  // between LSTM layers

  int64_t attention_heads = 4;  // must divide D * lstm_hidden
  double attention_dropout = 0.1;

  // How the frames are pooled before the classifier: "mean" (the reference) or "attention"
  // (a learned score per frame, softmax over time, the weighted sum; D * H + 1 parameters).
  std::string pooling = "mean";

  int64_t classifier_hidden = 64;
  double classifier_dropout = 0.5;

  // Independently initialised networks of the sizes above whose class probabilities are
  // averaged (see the file comment); 1: one network, the spec's model.
  int64_t members = 1;

  // Throws naming the setting at fault (non-positive sizes, probabilities outside [0, 1),
  // an even kernel, conv_pool of another length than conv_channels, heads not dividing the
  // attention width, a pooling other than "mean" or "attention").
  void validate() const;
  // The joint count after the spatial blocks' pools (J' above).
  int64_t pooled_joints() const;
  // The features of one frame after the spatial blocks, the LSTM's input size: C_last * J'
  // (C_in * J without blocks).
  int64_t frame_features() const;
  // The LSTM output width, which attention, LayerNorm and the classifier see: D * lstm_hidden.
  int64_t attention_width() const { return (bidirectional ? 2 : 1) * lstm_hidden; }

  // JSON object with one key per field above (the run directory's config keeps it).
  std::string to_json() const;
  // Reads what to_json writes; missing keys keep their defaults, an unknown key or a value
  // of the wrong type throws naming the key. The result is validated.
  static HARNetConfig from_json(const std::string& text);
};

class HARNet : public nn::UnaryModule {
 public:
  // Parameters are initialised as PyTorch initialises the same layers, in construction
  // order, from gen; the dropout layers own generators seeded from it.
  HARNet(const HARNetConfig& config, Generator& gen);

  // x [B, T, J, C_in] (any T >= 1), float32 or float64 like the model (to(kFloat64) for
  // gradchecks) -> logits [B, classes]; for an ensemble, the log of the members' mean class
  // probabilities (combine_members). Throws naming the expected shape when x does not fit
  // the configuration, and both dtypes when they differ.
  Tensor forward(const Tensor& x) override;
  // Each member's logits [B, classes] (one tensor for a single network), for training each
  // member on its own loss.
  std::vector<Tensor> member_logits(const Tensor& x);
  // log(mean over members of softmax(logits_k)) [B, classes], computed stably (a log-sum-exp
  // of the members' log-softmax); the logits themselves when there is one.
  static Tensor combine_members(const std::vector<Tensor>& logits);
  // The parameters of member k (0 <= k < members), for per-member gradient clipping.
  std::vector<Tensor> member_parameters(int64_t k) const;
  // The spatial blocks: x [B, C_in, T, J] -> [B, C_last, T, J'].
  Tensor spatial_forward(const Tensor& x);
  // The configured pooling over time: h [B, T, D * H] -> [B, D * H].
  Tensor pool_over_time(const Tensor& h);

  std::string type_name() const override { return "HARNet"; }
  const HARNetConfig& config() const { return config_; }

  std::shared_ptr<nn::Sequential> spatial;
  std::shared_ptr<nn::Dropout> drop_in;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::MultiheadAttention> mha;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> pool;  // attention pooling's frame scorer; null with mean pooling
  std::shared_ptr<nn::Sequential> head;
  std::vector<std::shared_ptr<HARNet>> other_members;  // member1 .. member{K-1}; empty for one network

 private:
  // The first member's network: x [B, T, J, C_in] -> logits [B, classes].
  Tensor network_forward(const Tensor& x);
  // Throws naming the expected shape (and dtype) unless x fits the configuration.
  void check_input(const Tensor& x) const;

  HARNetConfig config_;
};

}  // namespace harnet
