#include "nn/attention.h"

#include "nn/init.h"

namespace harnet::nn {

namespace {

std::string shape_or_undefined(const Tensor& t) {
  return t.defined() ? shape_str(t.shape()) : std::string("an undefined tensor");
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, const MultiheadAttentionOptions& options,
                                       Generator& gen)
    : embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
  HARNET_CHECK(embed_dim > 0, "MultiheadAttention: embed_dim must be positive, got ", embed_dim);
  HARNET_CHECK(num_heads > 0, "MultiheadAttention: num_heads must be positive, got ", num_heads);
  HARNET_CHECK(embed_dim % num_heads == 0, "MultiheadAttention: embed_dim (", embed_dim,
               ") must be divisible by num_heads (", num_heads, ")");
  HARNET_CHECK(options.dropout >= 0.0 && options.dropout <= 1.0, "MultiheadAttention: dropout must be in [0, 1], got ",
               options.dropout);
  // PyTorch's order: the tensors, out_proj (drawing its Linear default), then
  // _reset_parameters (xavier for in_proj_weight, zero biases).
  in_proj_weight = empty({3 * embed_dim, embed_dim});
  register_parameter("in_proj_weight", in_proj_weight);
  if (options.bias) {
    in_proj_bias = zeros({3 * embed_dim});
    register_parameter("in_proj_bias", in_proj_bias);
  }
  out_proj = register_module("out_proj",
                             std::make_shared<NonDynamicallyQuantizableLinear>(embed_dim, embed_dim, options.bias, gen));
  init::xavier_uniform_(in_proj_weight, gen);
  if (options.bias) init::zeros_(out_proj->bias);
  dropout_gen_.manual_seed(gen.next_u64());
}

MhaResult MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                      const Tensor& key_padding_mask, bool need_weights, const Tensor& attn_mask,
                                      bool average_attn_weights) {
  for (const auto& [name, t] : {std::pair<const char*, const Tensor&>{"query", query}, {"key", key}, {"value", value}})
    HARNET_CHECK(t.defined() && (t.dim() == 2 || t.dim() == 3) && t.size(-1) == embed_dim_,
                 "MultiheadAttention(embed_dim=", embed_dim_, "): expected ", name, " [", 
                 options_.batch_first ? "N, length, " : "length, N, ", embed_dim_, "] or [length, ", embed_dim_,
                 "], got ", shape_or_undefined(t));
  MhaOptions o{.num_heads = num_heads_,
               .dropout = options_.dropout,
               .training = is_training(),
               .batch_first = options_.batch_first,
               .need_weights = need_weights,
               .average_attn_weights = average_attn_weights,
               .generator = &dropout_gen_};
  return multi_head_attention(query, key, value, in_proj_weight, in_proj_bias, out_proj->weight, out_proj->bias, o,
                              key_padding_mask, attn_mask);
}

MhaResult MultiheadAttention::operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                         const Tensor& key_padding_mask, bool need_weights, const Tensor& attn_mask,
                                         bool average_attn_weights) {
  MhaResult result = forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights);
  report_forward(result.attn_weights.defined() ? std::vector<Tensor>{result.output, result.attn_weights}
                                               : std::vector<Tensor>{result.output});
  return result;
}

}  // namespace harnet::nn
