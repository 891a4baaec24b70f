// Gradcheck rows of the attention family: multi_head_attention (the fused core) in every
// configuration: self- and cross-attention (key shared with value or not), 1 and 2 heads,
// sequence-first and batch_first, unbatched, with and without projection biases, bool and
// float masks (attn_mask 2-d and 3-d, key_padding_mask), weights returned averaged, per head
// or not at all, dropout with a generator re-seeded on every call; scaled_dot_product_attention
// alone; and a few rows of the composed reference. Where the weights are returned, the checked
// output is the flattened output followed by the flattened weights, so both are differentiated.
// Masks never mask a whole row (that gives NaN, as in PyTorch; tests/test_attention.cpp checks it).
#include "autograd/autograd.h"
#include "ops/attention.h"
#include "ops/op_cases.h"
#include "ops/shape.h"

namespace harnet {

namespace {

// E = 4 throughout; L = 3 queries, S = 4 keys (S = L for self-attention).
constexpr int64_t kE = 4;

enum class Kind { Self, SharedKeyValue, Cross };
enum class Weights { None, Averaged, PerHead };
enum class MaskKind { None, Bool, Float };

struct MhaRow {
  std::string shapes;
  Kind kind = Kind::Self;
  int64_t heads = 1, N = 2, L = 3, S = 4;
  Weights weights = Weights::Averaged;
  bool batch_first = false;
  bool unbatched = false;
  bool biases = true;
  MaskKind attn = MaskKind::None;
  bool attn_3d = false;
  MaskKind padding = MaskKind::None;
  double dropout = 0.0;
  bool composed = false;   // the composed reference instead of the fused version
  bool transposed = false; // query given as a non-contiguous (transposed) view
};

// A bool [rows, cols] mask with true above the shifted diagonal (col > row + shift): every
// row keeps at least its first shift + 1 columns.
Tensor banded(int64_t rows, int64_t cols, int64_t shift) {
  std::vector<bool> v;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v.push_back(c > r + shift);
  return from_vector(v, {rows, cols}, kBool);
}

// Inputs in order: query, [key, value], in_proj_weight, [in_proj_bias], out_proj_weight,
// [out_proj_bias], [attn_mask], [key_padding_mask]. Differentiated: all but the masks.
std::function<std::vector<Tensor>(Generator&)> mha_inputs(const MhaRow& r) {
  return [r](Generator& gen) {
    const int64_t S = r.kind == Kind::Self ? r.L : r.S;
    auto seq = [&](int64_t len) -> Shape {
      if (r.unbatched) return {len, kE};
      return r.batch_first ? Shape{r.N, len, kE} : Shape{len, r.N, kE};
    };
    std::vector<Tensor> in;
    in.push_back(randn(r.transposed ? Shape{seq(r.L)[1], seq(r.L)[0], kE} : seq(r.L), gen, kFloat64)
                     .set_requires_grad(true));
    if (r.kind != Kind::Self) in.push_back(randn(seq(S), gen, kFloat64).set_requires_grad(true));
    if (r.kind == Kind::Cross) in.push_back(randn(seq(S), gen, kFloat64).set_requires_grad(true));
    in.push_back(randn({3 * kE, kE}, gen, kFloat64, 0.0, 0.5).set_requires_grad(true));
    if (r.biases) in.push_back(randn({3 * kE}, gen, kFloat64, 0.0, 0.5).set_requires_grad(true));
    in.push_back(randn({kE, kE}, gen, kFloat64, 0.0, 0.5).set_requires_grad(true));
    if (r.biases) in.push_back(randn({kE}, gen, kFloat64, 0.0, 0.5).set_requires_grad(true));
    const int64_t N = r.unbatched ? 1 : r.N;
    if (r.attn != MaskKind::None) {
      const Shape shape = r.attn_3d ? Shape{N * r.heads, r.L, S} : Shape{r.L, S};
      if (r.attn == MaskKind::Float) {
        in.push_back(randn(shape, gen, kFloat64));
      } else {
        // 3-d: a different band per batch-head.
        Tensor m = empty(shape, kBool);
        for (int64_t i = 0; i < (r.attn_3d ? N * r.heads : 1); ++i)
          m.as_strided({r.L, S}, {S, 1}, i * r.L * S).copy_from(banded(r.L, S, i % 2));
        in.push_back(m);
      }
    }
    if (r.padding != MaskKind::None) {
      const Shape shape = r.unbatched ? Shape{S} : Shape{N, S};
      if (r.padding == MaskKind::Float) {
        in.push_back(randn(shape, gen, kFloat64));
      } else {
        // The last key of batch element 0 and the last but one of element 1 are padding
        // (key 0, which every attn_mask row allows, never is).
        std::vector<bool> v(static_cast<size_t>(N * S), false);
        v[static_cast<size_t>(S - 1)] = true;
        if (N > 1) v[static_cast<size_t>(2 * S - 2)] = true;
        in.push_back(from_vector(v, shape, kBool));
      }
    }
    return in;
  };
}

GradcheckFn mha_fn(const MhaRow& r) {
  return [r](const std::vector<Tensor>& in) {
    size_t i = 0;
    Tensor query = in[i++];
    if (r.transposed) query = transpose(query, 0, 1);
    const Tensor key = r.kind == Kind::Self ? query : in[i++];
    const Tensor value = r.kind == Kind::Cross ? in[i++] : key;
    const Tensor w_in = in[i++];
    const Tensor b_in = r.biases ? in[i++] : Tensor();
    const Tensor w_out = in[i++];
    const Tensor b_out = r.biases ? in[i++] : Tensor();
    const Tensor attn_mask = r.attn != MaskKind::None ? in[i++] : Tensor();
    const Tensor padding = r.padding != MaskKind::None ? in[i++] : Tensor();
    Generator dropout_gen(1234);  // the same dropout mask on every call
    MhaOptions o;
    o.num_heads = r.heads;
    o.batch_first = r.batch_first;
    o.need_weights = r.weights != Weights::None;
    o.average_attn_weights = r.weights == Weights::Averaged;
    o.dropout = r.dropout;
    o.generator = &dropout_gen;
    const MhaResult res = r.composed ? multi_head_attention_composed(query, key, value, w_in, b_in, w_out, b_out, o,
                                                                     padding, attn_mask)
                                     : multi_head_attention(query, key, value, w_in, b_in, w_out, b_out, o, padding,
                                                            attn_mask);
    if (!o.need_weights) return res.output;
    return cat({reshape(res.output, {-1}), reshape(res.attn_weights, {-1})});
  };
}

void add_mha(std::vector<OpCase>& cases, const MhaRow& r) {
  cases.push_back({r.composed ? "multi_head_attention_composed" : "multi_head_attention", r.shapes, mha_inputs(r),
                   mha_fn(r)});
}

// q [B, L, d], k [B, S, d], v [B, S, dv] and an optional mask.
void add_sdpa(std::vector<OpCase>& cases, const std::string& shapes, MaskKind mask, bool batched_mask,
              double dropout, bool need_weights) {
  constexpr int64_t B = 2, L = 3, S = 4, d = 2, dv = 3;
  cases.push_back({"scaled_dot_product_attention", shapes,
                   [=](Generator& gen) {
                     std::vector<Tensor> in{randn({B, L, d}, gen, kFloat64).set_requires_grad(true),
                                            randn({B, S, d}, gen, kFloat64).set_requires_grad(true),
                                            randn({B, S, dv}, gen, kFloat64).set_requires_grad(true)};
                     const Shape mask_shape = batched_mask ? Shape{B, L, S} : Shape{L, S};
                     if (mask == MaskKind::Float) in.push_back(randn(mask_shape, gen, kFloat64));
                     if (mask == MaskKind::Bool)
                       in.push_back(batched_mask ? expand(banded(L, S, 0), {B, L, S}).contiguous_copy()
                                                 : banded(L, S, 1));
                     return in;
                   },
                   [=](const std::vector<Tensor>& in) {
                     Generator dropout_gen(99);
                     const SdpaResult r = scaled_dot_product_attention(
                         in[0], in[1], in[2], in.size() > 3 ? in[3] : Tensor(), dropout, &dropout_gen, need_weights);
                     if (!need_weights) return r.output;
                     return cat({reshape(r.output, {-1}), reshape(r.attn_weights, {-1})});
                   }});
}

}  // namespace

void add_attention_cases(std::vector<OpCase>& cases) {
  // ---- self-attention
  add_mha(cases, {.shapes = "self x [3,2,4], 1 head, weights averaged"});
  add_mha(cases, {.shapes = "self x [3,2,4], 2 heads, weights per head", .heads = 2, .weights = Weights::PerHead});
  add_mha(cases, {.shapes = "self x [3,2,4], 2 heads, no weights", .heads = 2, .weights = Weights::None});
  add_mha(cases, {.shapes = "self x [2,3,4] batch_first, 2 heads, float key_padding_mask [2,3]",
                  .heads = 2, .batch_first = true, .padding = MaskKind::Float});
  add_mha(cases, {.shapes = "self x [3,2,4], 2 heads, dropout 0.3, weights per head",
                  .heads = 2, .weights = Weights::PerHead, .dropout = 0.3});
  add_mha(cases, {.shapes = "self x [3,4] unbatched, 2 heads, bool attn_mask [3,3]",
                  .heads = 2, .unbatched = true, .attn = MaskKind::Bool});
  add_mha(cases, {.shapes = "self x [2,3,4] transposed to [3,2,4], 2 heads, no weights",
                  .heads = 2, .weights = Weights::None, .transposed = true});
  // ---- cross-attention: query [3,2,4], key/value [4,2,4]
  add_mha(cases, {.shapes = "cross q [3,2,4] k,v [4,2,4], 2 heads", .kind = Kind::Cross, .heads = 2});
  add_mha(cases, {.shapes = "cross q [3,1,4] kv [4,1,4] (key is value), 2 heads, per head",
                  .kind = Kind::SharedKeyValue, .heads = 2, .N = 1, .weights = Weights::PerHead});
  add_mha(cases, {.shapes = "cross, 2 heads, bool attn_mask [3,4] + bool key_padding_mask [2,4]",
                  .kind = Kind::Cross, .heads = 2, .attn = MaskKind::Bool, .padding = MaskKind::Bool});
  add_mha(cases, {.shapes = "cross, 2 heads, float attn_mask [4,3,4] (3-d)", .kind = Kind::Cross, .heads = 2,
                  .attn = MaskKind::Float, .attn_3d = true});
  add_mha(cases, {.shapes = "cross, 1 head, bool attn_mask [2,3,4] (3-d), no weights", .kind = Kind::Cross,
                  .weights = Weights::None, .attn = MaskKind::Bool, .attn_3d = true});
  add_mha(cases, {.shapes = "cross, 2 heads, float attn_mask [3,4] + bool key_padding_mask", .kind = Kind::Cross,
                  .heads = 2, .attn = MaskKind::Float, .padding = MaskKind::Bool});
  add_mha(cases, {.shapes = "cross batch_first q [2,3,4] k,v [2,4,4], 2 heads, no biases", .kind = Kind::Cross,
                  .heads = 2, .batch_first = true, .biases = false});
  add_mha(cases, {.shapes = "cross batch_first (key is value), 1 head, dropout 0.5, bool key_padding_mask",
                  .kind = Kind::SharedKeyValue, .batch_first = true, .padding = MaskKind::Bool, .dropout = 0.5});
  // ---- the composed reference
  add_mha(cases, {.shapes = "self x [3,2,4], 2 heads, per head, dropout 0.3", .heads = 2,
                  .weights = Weights::PerHead, .dropout = 0.3, .composed = true});
  add_mha(cases, {.shapes = "cross batch_first, 2 heads, bool attn_mask + float key_padding_mask",
                  .kind = Kind::Cross, .heads = 2, .batch_first = true, .attn = MaskKind::Bool,
                  .padding = MaskKind::Float, .composed = true});

  // ---- scaled_dot_product_attention: q [2,3,2], k [2,4,2], v [2,4,3]
  add_sdpa(cases, "q [2,3,2] k [2,4,2] v [2,4,3], with weights", MaskKind::None, false, 0.0, true);
  add_sdpa(cases, "q [2,3,2] k [2,4,2] v [2,4,3], bool mask [3,4], dropout 0.25, with weights", MaskKind::Bool,
           false, 0.25, true);
  add_sdpa(cases, "q [2,3,2] k [2,4,2] v [2,4,3], float mask [2,3,4]", MaskKind::Float, true, 0.0, false);
  add_sdpa(cases, "q [2,3,2] k [2,4,2] v [2,4,3], bool mask [2,3,4], with weights", MaskKind::Bool, true, 0.0,
           true);
}

}  // namespace harnet
