// MultiheadAttention: torch.nn.MultiheadAttention (PyTorch 1.13) over ops/attention.h, with
// kdim = vdim = embed_dim.
//
// Parameters, in PyTorch's order and with its initialisation:
//   in_proj_weight   [3E, E]  xavier_uniform (rows: the q, k and v projections)
//   in_proj_bias     [3E]     zeros (only with bias)
//   out_proj.weight  [E, E]   Linear's default, kaiming_uniform(a = sqrt(5))
//   out_proj.bias    [E]      zeros (only with bias)
// out_proj is a child module printed as PyTorch's NonDynamicallyQuantizableLinear.
//
// Attention dropout (training only, dropout > 0) draws from a generator the module owns,
// seeded at construction with one draw from the given generator (after the weights);
// generator() exposes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "autograd/generator.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "ops/attention.h"

namespace harnet::nn {

// The out_proj of MultiheadAttention: a Linear under PyTorch's class name for it.
class NonDynamicallyQuantizableLinear : public Linear {
 public:
  using Linear::Linear;
  std::string type_name() const override { return "NonDynamicallyQuantizableLinear"; }
};

// torch.nn.MultiheadAttention's keyword arguments (kdim, vdim, add_bias_kv, add_zero_attn
// are not supported).
struct MultiheadAttentionOptions {
  double dropout = 0.0;  // on the attention probabilities, in [0, 1]
  bool bias = true;
  bool batch_first = false;
};

class MultiheadAttention : public Module {
 public:
  // embed_dim and num_heads positive, embed_dim divisible by num_heads.
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, const MultiheadAttentionOptions& options, Generator& gen);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, Generator& gen)
      : MultiheadAttention(embed_dim, num_heads, {}, gen) {}

  // query [L, N, E], key / value [S, N, E] (batch_first: [N, L, E] / [N, S, E]; unbatched:
  // [L, E] / [S, E]); masks and results as ops/attention.h describes:
  //   key_padding_mask [N, S] (bool: true = ignore that key; or floating, added),
  //   attn_mask [L, S] or [N*H, L, S] (bool: true = not allowed; or floating, added)
  //   -> {output like query, attn_weights [N, L, S] averaged over heads or [N, H, L, S],
  //       undefined unless need_weights}
  MhaResult forward(const Tensor& query, const Tensor& key, const Tensor& value,
                    const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                    const Tensor& attn_mask = Tensor(), bool average_attn_weights = true);
  // forward, reported to the thread's ForwardObserver.
  MhaResult operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                       const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                       const Tensor& attn_mask = Tensor(), bool average_attn_weights = true);

  std::string type_name() const override { return "MultiheadAttention"; }

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  const MultiheadAttentionOptions& options() const { return options_; }
  Generator& generator() { return dropout_gen_; }

  Tensor in_proj_weight;  // [3E, E]
  Tensor in_proj_bias;    // [3E], undefined without bias
  std::shared_ptr<NonDynamicallyQuantizableLinear> out_proj;

 private:
  int64_t embed_dim_, num_heads_;
  MultiheadAttentionOptions options_;
  Generator dropout_gen_;
};

}  // namespace harnet::nn
