// Multi-head attention with the semantics of torch.nn.MultiheadAttention /
// torch.nn.functional.multi_head_attention_forward (PyTorch 1.13), and its inner building block,
// scaled dot-product attention over a stack of [L, d] matrices.
//
// Shapes (E = embed_dim, H = num_heads, d = E / H, L = target length, S = source length,
// N = batch):
//   query [L, N, E] (batch_first: [N, L, E]; unbatched: [L, E]), key / value [S, N, E]
//   (batch_first: [N, S, E]; unbatched: [S, E]); key and value have the same shape and, like
//   query, the embedding size E (kdim / vdim other than E are not supported).
//   in_proj_weight [3E, E] (rows: q, k, v projections), in_proj_bias [3E] or undefined,
//   out_proj_weight [E, E], out_proj_bias [E] or undefined.
//   key_padding_mask [N, S] ([S] unbatched): bool, true = that key is ignored; or floating,
//     added to the scores.
//   attn_mask [L, S] or [N*H, L, S] (batch-head index n*H + h): bool, true = not allowed to
//     attend; or floating, added to the scores.
//   output like query; attn_weights [N, L, S] averaged over heads, or [N, H, L, S] per head
//   (unbatched: [L, S] / [H, L, S]); undefined unless need_weights.
//
// Per batch-head: scores = (q / sqrt(d)) k^T + mask, P = softmax(scores) along S (max
// subtracted first), A = dropout(P), out = A v; the heads are concatenated and projected by
// out_proj. As in PyTorch 1.13, the returned weights are A, i.e. after dropout.
//
// Masks, precisely:
//   - a bool mask becomes an additive one (0 where false, -inf where true);
//   - with both masks, the additive key-padding mask is added to the additive attn_mask
//     first and their sum is added to the scores (PyTorch 2.x's rule; PyTorch 1.13 agrees
//     whenever at least the key-padding mask is bool, and rejects two float masks);
//   - masks are constants: no gradient flows into a floating mask.
//   - a row whose every score is -inf (a query that may attend to nothing) gives NaN
//     probabilities, output and gradients, as in PyTorch 1.13.
//
// Dropout: in training with dropout > 0 each attention probability is kept with probability
// 1 - p and scaled by 1 / (1 - p), zeroed otherwise. The mask over [N*H, L, S] is drawn from
// the explicit generator as attention_dropout_scale describes (one 64-bit draw per call), so
// a run is reproducible and independent of the thread count (the masks differ from
// PyTorch's, whose generator is another).
//
// Implementations:
//   multi_head_attention             fast: the projections are single GEMMs over all rows
//                                    (one packed [3E, E] GEMM for self-attention), the heads
//                                    are read in place from the projection (no transposes),
//                                    and the attention core (scores -> softmax -> dropout ->
//                                    weighted sum) is one fused autograd node, in parallel
//                                    over batch-heads, with its own backward.
//   multi_head_attention_composed    the same from the framework's differentiable primitives
//                                    (linear, view, transpose, bmm, add, softmax, mul, sum),
//                                    mirroring F.multi_head_attention_forward line by line:
//                                    the reference the fused one is tested against.
//   multi_head_attention_reference   naive loops, forward only, no dropout, no autograd.
#pragma once

#include <cstdint>

#include "autograd/generator.h"
#include "autograd/tensor.h"

namespace harnet {

struct MhaOptions {
  int64_t num_heads = 1;
  double dropout = 0.0;      // on the attention probabilities, in [0, 1]
  bool training = true;      // dropout is applied only in training
  bool batch_first = false;  // query / key / value / output as [N, L, E]
  bool need_weights = true;  // return the attention weights
  bool average_attn_weights = true;  // mean over heads -> [N, L, S]; false -> [N, H, L, S]
  Generator* generator = nullptr;    // required when dropout is applied
};

struct MhaResult {
  Tensor output;        // like query
  Tensor attn_weights;  // undefined unless need_weights
};

MhaResult multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                               const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                               const Tensor& out_proj_weight, const Tensor& out_proj_bias, const MhaOptions& options,
                               const Tensor& key_padding_mask = Tensor(), const Tensor& attn_mask = Tensor());

MhaResult multi_head_attention_composed(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                        const Tensor& out_proj_weight, const Tensor& out_proj_bias,
                                        const MhaOptions& options, const Tensor& key_padding_mask = Tensor(),
                                        const Tensor& attn_mask = Tensor());

// Plain loops in double precision (results in the input dtype); options.dropout must not
// apply (dropout == 0 or not training).
MhaResult multi_head_attention_reference(const Tensor& query, const Tensor& key, const Tensor& value,
                                         const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                         const Tensor& out_proj_weight, const Tensor& out_proj_bias,
                                         const MhaOptions& options, const Tensor& key_padding_mask = Tensor(),
                                         const Tensor& attn_mask = Tensor());

// ---- scaled dot-product attention over B independent [L, d] problems
//   q [B, L, d], k [B, S, d], v [B, S, dv] -> output [B, L, dv], attn_weights [B, L, S]
//   out = dropout(softmax((q / sqrt(d)) k^T + attn_mask)) v
// attn_mask: [L, S] or [B, L, S]; bool (true = not allowed) or floating (added); a constant.
// Dropout (dropout_p > 0) needs a generator, as above. The weights (after dropout) are
// returned only when need_weights. One fused node: the same kernel as multi_head_attention.
struct SdpaResult {
  Tensor output;
  Tensor attn_weights;
};

SdpaResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                        const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                        Generator* generator = nullptr, bool need_weights = false);

// Naive loops in double (no dropout): the forward, and the gradients of q, k and v for an
// upstream gradient of the output (and, if defined, of the weights).
SdpaResult scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const Tensor& attn_mask = Tensor());
struct SdpaGradients {
  Tensor q, k, v;
};
SdpaGradients scaled_dot_product_attention_backward_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                                              const Tensor& attn_mask, const Tensor& grad_output,
                                                              const Tensor& grad_weights = Tensor());

// The dropout keep-and-scale factors behind both implementations: a tensor of `shape` and
// dtype whose elements are 1 / (1 - p) (kept) or 0 (dropped). gen is drawn from once (a 64-bit
// key); element i (row-major) is dropped iff u_i < p, where u_i = (z_i >> 11) / 2^53 and z_i is
// output i + 1 of the splitmix64 generator seeded with the key. Each element is computed on
// its own: the fused kernel recomputes them in its backward instead of storing a mask.
// p = 1 drops everything, p = 0 keeps everything.
Tensor attention_dropout_scale(const Shape& shape, double p, Generator& gen, DType dtype);

}  // namespace harnet
