// Multi-head attention and scaled dot-product attention (see ops/attention.h for the API and
// the exact semantics). Three implementations of one function:
//
// 1. multi_head_attention (fast). The in-projection is one GEMM per distinct input tensor:
//    for self-attention a single [rows, E] x [E, 3E] product whose [rows, 3E] result holds
//    q, k and v side by side. Every head of every batch element is a [L, d] block of that
//    result, read in place with a leading dimension (3E, or N*3E when the batch is not the
//    first dimension): no transposes, no copies. The attention core, per batch-head, is one
//    autograd node ("attention_core"):
//      Qs = Q / sqrt(d)                 [L, d]   pre-scaled (as PyTorch), a small scratch copy
//      scores = Qs K^T + mask           [L, S]   GEMM into the saved probability buffer
//      P = softmax(scores) along S               in place, max subtracted first
//      A = P * dropout_factor           [L, S]   (training with dropout only)
//      O = A V                          [L, dv]  GEMM straight into the heads' output rows
//    and its backward, with dO the gradient of O (and dW that of the returned weights A):
//      dV = A^T dO                      [S, dv]
//      dA = dO V^T (+ dW)               [L, S]
//      dP = dA * dropout_factor
//      dScores = P * (dP - rowsum(dP * P))
//      dQ = dScores K / sqrt(d)         [L, d]
//      dK = dScores^T Q / sqrt(d)       [S, d]
//    each written straight into its block of the projection's gradient. The batch-heads run
//    in parallel (oneTBB); each writes only its own blocks and its GEMMs run whole on one
//    thread, so results are bit-identical for any thread count. The heads' output, laid out
//    like the query ([rows, E]), goes through the out-projection as one more GEMM.
//    The dropout factors are not stored: each is a hash of (key, element index) (see
//    attention_dropout_scale), computed where it is needed, in the forward and again in the
//    backward.
// 2. multi_head_attention_composed: F.multi_head_attention_forward transcribed with the
//    framework's differentiable primitives; autograd differentiates it. The reference the
//    fused version is tested against (forward and gradients).
// 3. multi_head_attention_reference / scaled_dot_product_attention_reference: naive loops in
//    double, no BLAS, no autograd (and a naive backward for the core).
#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/blas.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/reduce_kernels.h"
#include "ops/shape.h"
#include "ops/softmax.h"

namespace harnet {

namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

bool same_tensor(const Tensor& a, const Tensor& b) { return a.impl() == b.impl(); }

// ---------------------------------------------------------------- argument checks

// Sizes of one batched multi-head attention call (after an unbatched call got its batch dim).
struct MhaSizes {
  int64_t L = 0, S = 0, N = 0, E = 0, H = 0, d = 0;
  bool apply_dropout = false;
};

void check_floating(const char* op, const char* name, const Tensor& t, DType dtype) {
  HARNET_CHECK(is_floating(t.dtype()), op, ": ", name, " must be float32 or float64, got ", dtype_name(t.dtype()));
  HARNET_CHECK(t.dtype() == dtype, op, ": dtype mismatch, query is ", dtype_name(dtype), " but ", name, " is ",
               dtype_name(t.dtype()));
}

void check_mask_dtype(const char* op, const char* name, const Tensor& mask) {
  HARNET_CHECK(mask.dtype() == kBool || is_floating(mask.dtype()), op, ": ", name,
               " must be bool or floating (float32 / float64), got ", dtype_name(mask.dtype()));
}

void check_dropout(const char* op, double p, bool applies, const Generator* generator) {
  HARNET_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability has to be between 0 and 1, but got ", p);
  HARNET_CHECK(!applies || generator != nullptr, op, ": dropout ", p,
               " in training needs a generator (options.generator), so that runs are reproducible");
}

// query [L, N, E] or [N, L, E] (batch_first), key / value [S, N, E] or [N, S, E].
MhaSizes check_mha(const char* op, const Tensor& query, const Tensor& key, const Tensor& value,
                   const Tensor& in_proj_weight, const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                   const Tensor& out_proj_bias, const MhaOptions& o, const Tensor& key_padding_mask,
                   const Tensor& attn_mask) {
  HARNET_CHECK(query.defined() && key.defined() && value.defined(), op,
               ": query, key and value must all be defined tensors");
  HARNET_CHECK(in_proj_weight.defined() && out_proj_weight.defined(), op,
               ": in_proj_weight and out_proj_weight must be defined tensors");
  HARNET_CHECK(query.dim() == 3, op, ": expected a 3-d query [L, N, E] ([N, L, E] with batch_first) or a 2-d "
               "unbatched one [L, E], got shape ", query.shape());
  HARNET_CHECK(key.dim() == 3 && value.dim() == 3, op, ": for a 3-d query, key and value must be 3-d too, got "
               "shapes ", key.shape(), " and ", value.shape());
  const DType dtype = query.dtype();
  HARNET_CHECK(is_floating(dtype), op, ": query must be float32 or float64, got ", dtype_name(dtype));
  check_floating(op, "key", key, dtype);
  check_floating(op, "value", value, dtype);
  check_floating(op, "in_proj_weight", in_proj_weight, dtype);
  check_floating(op, "out_proj_weight", out_proj_weight, dtype);
  if (in_proj_bias.defined()) check_floating(op, "in_proj_bias", in_proj_bias, dtype);
  if (out_proj_bias.defined()) check_floating(op, "out_proj_bias", out_proj_bias, dtype);

  MhaSizes s;
  const int64_t batch_dim = o.batch_first ? 0 : 1, seq_dim = o.batch_first ? 1 : 0;
  s.L = query.size(seq_dim);
  s.N = query.size(batch_dim);
  s.E = query.size(2);
  s.S = key.size(seq_dim);
  HARNET_CHECK(key.shape() == value.shape(), op, ": key shape ", key.shape(), " does not match value shape ",
               value.shape());
  HARNET_CHECK(key.size(batch_dim) == s.N, op, ": query shape ", query.shape(), " and key shape ", key.shape(),
               " have different batch sizes (batch_first=", o.batch_first ? "true" : "false", ")");
  HARNET_CHECK(key.size(2) == s.E, op, ": key embedding size ", key.size(2), " differs from query's ", s.E,
               " (kdim / vdim other than embed_dim are not supported)");
  HARNET_CHECK(o.num_heads >= 1, op, ": num_heads must be positive, got ", o.num_heads);
  s.H = o.num_heads;
  HARNET_CHECK(s.E % s.H == 0, op, ": embed_dim ", s.E, " not divisible by num_heads ", s.H);
  s.d = s.E / s.H;
  HARNET_CHECK(in_proj_weight.shape() == (Shape{3 * s.E, s.E}), op, ": in_proj_weight must have shape ",
               Shape{3 * s.E, s.E}, " for embed_dim ", s.E, ", got ", in_proj_weight.shape());
  HARNET_CHECK(!in_proj_bias.defined() || in_proj_bias.shape() == Shape{3 * s.E}, op,
               ": in_proj_bias must have shape ", Shape{3 * s.E}, ", got ", in_proj_bias.shape());
  HARNET_CHECK(out_proj_weight.shape() == (Shape{s.E, s.E}), op, ": out_proj_weight must have shape ",
               Shape{s.E, s.E}, ", got ", out_proj_weight.shape());
  HARNET_CHECK(!out_proj_bias.defined() || out_proj_bias.shape() == Shape{s.E}, op,
               ": out_proj_bias must have shape ", Shape{s.E}, ", got ", out_proj_bias.shape());
  if (key_padding_mask.defined()) {
    check_mask_dtype(op, "key_padding_mask", key_padding_mask);
    HARNET_CHECK(key_padding_mask.shape() == (Shape{s.N, s.S}), op, ": expecting key_padding_mask shape of ",
                 Shape{s.N, s.S}, " [N, S], but got ", key_padding_mask.shape());
  }
  if (attn_mask.defined()) {
    check_mask_dtype(op, "attn_mask", attn_mask);
    if (attn_mask.dim() == 2) {
      HARNET_CHECK(attn_mask.shape() == (Shape{s.L, s.S}), op, ": the shape of the 2-d attn_mask is ",
                   attn_mask.shape(), ", but should be ", Shape{s.L, s.S}, " [L, S]");
    } else {
      HARNET_CHECK(attn_mask.dim() == 3, op, ": attn_mask must be 2-d [L, S] or 3-d [N*num_heads, L, S], got shape ",
                   attn_mask.shape());
      HARNET_CHECK(attn_mask.shape() == (Shape{s.N * s.H, s.L, s.S}), op, ": the shape of the 3-d attn_mask is ",
                   attn_mask.shape(), ", but should be ", Shape{s.N * s.H, s.L, s.S}, " [N*num_heads, L, S]");
    }
  }
  s.apply_dropout = o.training && o.dropout > 0.0;
  check_dropout(op, o.dropout, s.apply_dropout, o.generator);
  return s;
}

// ---------------------------------------------------------------- masks

// A mask as a contiguous additive tensor of dtype: bool true -> -inf, false -> 0; a floating
// mask converted (always a new tensor, never part of a graph).
Tensor additive_mask(const Tensor& mask, DType dtype) {
  if (mask.dtype() != kBool) return mask.cast(dtype);
  Tensor out = empty(mask.shape(), dtype);
  const std::vector<bool> flags = mask.to_vector<bool>();
  dispatch_floating(dtype, "attention mask", [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    for (size_t i = 0; i < flags.size(); ++i) o[i] = flags[i] ? static_cast<T>(kMinusInf) : T(0);
  });
  return out;
}

// The masks of one attention call, additive and contiguous, in the working dtype.
//   attn: [1 or B*H, L, S] (per batch-head when per_batch_head), or undefined
//   padding: [B, S] (one row per batch element, shared by its heads), or undefined
// Per score, bias = attn + padding (in that order) is added: see ops/attention.h.
struct AttentionMasks {
  Tensor attn;
  bool per_batch_head = false;
  Tensor padding;
};

AttentionMasks make_masks(const Tensor& attn_mask, const Tensor& key_padding_mask, DType dtype) {
  AttentionMasks m;
  if (attn_mask.defined()) {
    m.attn = additive_mask(attn_mask, dtype);
    m.per_batch_head = attn_mask.dim() == 3 && attn_mask.size(0) > 1;
  }
  if (key_padding_mask.defined()) m.padding = additive_mask(key_padding_mask, dtype);
  return m;
}

// The combined additive bias of every batch-head as one tensor, for the composed version:
//   [B*H, L, S] with padding, else the attn mask itself ([1 or B*H, L, S]); undefined if none.
Tensor combined_bias(const AttentionMasks& m, int64_t B, int64_t H, int64_t L, int64_t S, DType dtype) {
  if (!m.padding.defined()) return m.attn.defined() ? m.attn.as_strided({m.per_batch_head ? B * H : 1, L, S},
                                                                       {L * S, S, 1}, 0)
                                                    : Tensor();
  Tensor bias = empty({B * H, L, S}, dtype);
  dispatch_floating(dtype, "attention mask", [&](auto tag) {
    using T = decltype(tag);
    const T* pad = m.padding.data<T>();
    const T* attn = m.attn.defined() ? m.attn.data<T>() : nullptr;
    T* out = bias.data<T>();
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t l = 0; l < L; ++l)
        for (int64_t s = 0; s < S; ++s) {
          const T p = pad[(bh / H) * S + s];
          out[(bh * L + l) * S + s] = attn ? attn[((m.per_batch_head ? bh : 0) * L + l) * S + s] + p : p;
        }
  });
  return bias;
}

// ---------------------------------------------------------------- dropout

// A dropout mask over [BH, L, S] given by a key: element i (row-major) is kept, with factor
// 1 / (1 - p), iff the i-th output of the splitmix64 sequence seeded with the key, as a
// 53-bit uniform u in [0, 1), is >= p; dropped (factor 0) otherwise. Any element can be
// computed on its own, so masks are made in parallel, identically for any thread count,
// and recomputed in the backward instead of being stored.
struct DropoutMask {
  bool active = false;
  uint64_t key = 0;
  uint64_t threshold = 0;  // dropped iff (bits >> 11) < threshold, threshold = ceil(p * 2^53)
  double scale = 1.0;      // 1 / (1 - p), unused when p = 1 (nothing is kept)
};

DropoutMask make_dropout_mask(double p, Generator& gen) {
  DropoutMask m;
  m.active = true;
  m.key = gen.next_u64();
  m.threshold = static_cast<uint64_t>(std::ceil(p * 0x1p53));  // p * 2^53 is exact
  m.scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  return m;
}

// The splitmix64 output number index + 1 after seeding with key.
inline uint64_t splitmix64_at(uint64_t key, uint64_t index) {
  uint64_t z = key + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// factors[j] for the elements first .. first + count - 1 of the mask.
template <class T>
void dropout_factors(const DropoutMask& m, int64_t first, int64_t count, T* factors) {
  const T keep = static_cast<T>(m.scale);
  for (int64_t j = 0; j < count; ++j) {
    const uint64_t bits = splitmix64_at(m.key, static_cast<uint64_t>(first + j)) >> 11;
    factors[j] = bits < m.threshold ? T(0) : keep;
  }
}

// ---------------------------------------------------------------- the fused core: layout

// Where the [rows, cols] matrix of batch-head bh = n * heads + h lives in a contiguous source
// tensor: element (r, c) at offset + n * batch_stride + h * head_stride + r * row_stride + c.
struct HeadMatrices {
  size_t source = 0;  // which of the core's input tensors
  int64_t offset = 0, batch_stride = 0, head_stride = 0, row_stride = 1;
  int64_t at(int64_t n, int64_t h) const { return offset + n * batch_stride + h * head_stride; }
};

struct CoreGeometry {
  int64_t batch = 0, heads = 1;  // batch-heads: batch * heads
  int64_t L = 0, S = 0, d_qk = 0, d_v = 0;
  HeadMatrices q, k, v, out;
  Shape out_shape;      // the heads' output, contiguous (out describes its layout)
  Shape weights_shape;  // [batch * heads, L, S] in any grouping, e.g. [N, H, L, S]
  int64_t batch_heads() const { return batch * heads; }
};

// A [A, B, C] contiguous projection holding, for each (sequence, batch) row, C columns of which
// head h of a matrix starts at column col_offset + h * d. batch_first: [N, len, C]; else
// [len, N, C].
HeadMatrices projection_heads(size_t source, bool batch_first, int64_t N, int64_t len, int64_t C, int64_t col_offset,
                              int64_t d) {
  HeadMatrices m;
  m.source = source;
  m.offset = col_offset;
  m.head_stride = d;
  m.batch_stride = batch_first ? len * C : C;
  m.row_stride = batch_first ? C : N * C;
  return m;
}

// ---------------------------------------------------------------- the fused core: kernels

// softmax along one contiguous row, in place, as ops/softmax.cpp computes it: max subtracted,
// exponentials summed in double. An all -inf row gives NaN (as PyTorch).
template <class T>
void softmax_row(T* row, int64_t S) {
  const T m = detail::extremum_lanes<true>(row, S);
  for (int64_t s = 0; s < S; ++s) row[s] = detail::fast_exp(row[s] - m);
  const double total = detail::sum_lanes(S, [&](int64_t s) { return double(row[s]); });
  const T scale = static_cast<T>(1.0 / total);
  for (int64_t s = 0; s < S; ++s) row[s] *= scale;
}

// Batch-heads per parallel task: about kGrainSize multiply-adds, at least one.
int64_t batch_head_grain(const CoreGeometry& g) {
  const int64_t work = std::max<int64_t>(1, g.L * g.S * (g.d_qk + g.d_v));
  return std::max<int64_t>(1, kGrainSize / work);
}

// Forward of every batch-head. src[i]: data of input i; probs [BH, L, S] receives P; weights
// (or null) receives A = P * dropout factor when dropout is active (without dropout A is P
// itself); out: the heads' output.
template <class T>
void core_forward(const std::vector<const T*>& src, const CoreGeometry& g, const AttentionMasks& masks,
                  const DropoutMask& drop, T* probs, T* weights, T* out) {
  const int64_t L = g.L, S = g.S, d = g.d_qk, dv = g.d_v, H = g.heads;
  const T sqrt_d = static_cast<T>(std::sqrt(static_cast<double>(d)));
  const T* attn = masks.attn.defined() ? masks.attn.data<T>() : nullptr;
  const T* pad = masks.padding.defined() ? masks.padding.data<T>() : nullptr;
  parallel_for(0, g.batch_heads(), batch_head_grain(g), [&](int64_t bh0, int64_t bh1) {
    std::vector<T> q_scaled(static_cast<size_t>(L * d));
    std::vector<T> factors(drop.active ? static_cast<size_t>(L * S) : 0);
    std::vector<T> dropped(drop.active && !weights ? static_cast<size_t>(L * S) : 0);
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t n = bh / H, h = bh % H;
      const T* Q = src[g.q.source] + g.q.at(n, h);
      const T* K = src[g.k.source] + g.k.at(n, h);
      const T* V = src[g.v.source] + g.v.at(n, h);
      T* O = out + g.out.at(n, h);
      T* P = probs + bh * L * S;
      // Qs = Q / sqrt(d): scaling the [L, d] operand, not the [L, S] product (as PyTorch).
      for (int64_t r = 0; r < L; ++r)
        for (int64_t c = 0; c < d; ++c) q_scaled[static_cast<size_t>(r * d + c)] = Q[r * g.q.row_stride + c] / sqrt_d;
      // scores [L, S] = Qs [L, d] x K^T [d, S]
      gemm<T>(false, true, L, S, d, T(1), q_scaled.data(), std::max<int64_t>(d, 1), K, g.k.row_stride, T(0), P,
              std::max<int64_t>(S, 1));
      if (attn || pad) {
        const T* attn_rows = attn ? attn + (masks.per_batch_head ? bh : 0) * L * S : nullptr;
        const T* pad_row = pad ? pad + n * S : nullptr;
        for (int64_t l = 0; l < L; ++l) {
          T* row = P + l * S;
          if (attn_rows && pad_row) {
            for (int64_t s = 0; s < S; ++s) row[s] += attn_rows[l * S + s] + pad_row[s];
          } else if (attn_rows) {
            for (int64_t s = 0; s < S; ++s) row[s] += attn_rows[l * S + s];
          } else {
            for (int64_t s = 0; s < S; ++s) row[s] += pad_row[s];
          }
        }
      }
      if (S > 0)
        for (int64_t l = 0; l < L; ++l) softmax_row(P + l * S, S);
      const T* A = P;
      if (drop.active) {
        T* a = weights ? weights + bh * L * S : dropped.data();
        dropout_factors(drop, bh * L * S, L * S, factors.data());
        for (int64_t i = 0; i < L * S; ++i) a[i] = P[i] * factors[static_cast<size_t>(i)];
        A = a;
      }
      // O [L, dv] = A [L, S] x V [S, dv]
      gemm<T>(false, false, L, dv, S, T(1), A, std::max<int64_t>(S, 1), V, g.v.row_stride, T(0), O,
              g.out.row_stride);
    }
  });
}

// Backward of every batch-head. grad_out: gradient of the heads' output (same layout as
// out); grad_weights (or null): gradient of the returned weights A [BH, L, S]; grads[i] (or
// null where input i needs none): gradient buffers laid out like src[i]; every element of a
// non-null buffer is written (its q / k / v blocks tile it).
template <class T>
void core_backward(const std::vector<const T*>& src, const CoreGeometry& g, const T* probs, const DropoutMask& drop,
                   const T* grad_out, const T* grad_weights, const std::vector<T*>& grads) {
  const int64_t L = g.L, S = g.S, d = g.d_qk, dv = g.d_v, H = g.heads;
  const T inv_sqrt_d = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  T* dq_base = grads[g.q.source];
  T* dk_base = grads[g.k.source];
  T* dv_base = grads[g.v.source];
  const int64_t lds = std::max<int64_t>(S, 1);
  parallel_for(0, g.batch_heads(), batch_head_grain(g), [&](int64_t bh0, int64_t bh1) {
    std::vector<T> factors(drop.active ? static_cast<size_t>(L * S) : 0);
    std::vector<T> dropped(drop.active && dv_base ? static_cast<size_t>(L * S) : 0);
    std::vector<T> d_scores(dq_base || dk_base ? static_cast<size_t>(L * S) : 0);
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t n = bh / H, h = bh % H;
      const T* P = probs + bh * L * S;
      const T* D = nullptr;  // this batch-head's dropout factors
      if (drop.active) {
        dropout_factors(drop, bh * L * S, L * S, factors.data());
        D = factors.data();
      }
      const T* dO = grad_out + g.out.at(n, h);
      const T* V = src[g.v.source] + g.v.at(n, h);
      if (dv_base) {
        // dV [S, dv] = A^T [S, L] x dO [L, dv]
        const T* A = P;
        if (D) {
          for (int64_t i = 0; i < L * S; ++i) dropped[static_cast<size_t>(i)] = P[i] * D[i];
          A = dropped.data();
        }
        gemm<T>(true, false, S, dv, L, T(1), A, lds, dO, g.out.row_stride, T(0), dv_base + g.v.at(n, h),
                g.v.row_stride);
      }
      if (!dq_base && !dk_base) continue;
      // dA [L, S] = dO [L, dv] x V^T [dv, S], plus the weights' own gradient
      T* dS = d_scores.data();
      gemm<T>(false, true, L, S, dv, T(1), dO, g.out.row_stride, V, g.v.row_stride, T(0), dS, lds);
      if (grad_weights) {
        const T* dW = grad_weights + bh * L * S;
        for (int64_t i = 0; i < L * S; ++i) dS[i] += dW[i];
      }
      if (D)
        for (int64_t i = 0; i < L * S; ++i) dS[i] *= D[i];  // dP
      // dScores = P * (dP - rowsum(dP * P)), as ops/softmax.cpp's backward
      for (int64_t l = 0; l < L; ++l) {
        T* row = dS + l * S;
        const T* p = P + l * S;
        const T dot = static_cast<T>(detail::sum_lanes(S, [&](int64_t s) { return double(row[s]) * double(p[s]); }));
        for (int64_t s = 0; s < S; ++s) row[s] = p[s] * (row[s] - dot);
      }
      if (dq_base) {
        // dQ [L, d] = dScores [L, S] x K [S, d] / sqrt(d)
        const T* K = src[g.k.source] + g.k.at(n, h);
        gemm<T>(false, false, L, d, S, inv_sqrt_d, dS, lds, K, g.k.row_stride, T(0), dq_base + g.q.at(n, h),
                g.q.row_stride);
      }
      if (dk_base) {
        // dK [S, d] = dScores^T [S, L] x Q [L, d] / sqrt(d)
        const T* Q = src[g.q.source] + g.q.at(n, h);
        gemm<T>(true, false, S, d, L, inv_sqrt_d, dS, lds, Q, g.q.row_stride, T(0), dk_base + g.k.at(n, h),
                g.k.row_stride);
      }
    }
  });
}

// ---------------------------------------------------------------- the fused core: node

// Runs the core over `sources` (contiguous tensors of one floating dtype, q / k / v blocks
// described by g) and records one node. Returns {heads' output [g.out_shape]} plus the
// weights [g.weights_shape] when need_weights.
std::vector<Tensor> attention_core(const std::vector<Tensor>& sources, const CoreGeometry& g,
                                   const AttentionMasks& masks, const DropoutMask& drop, bool need_weights) {
  const DType dtype = sources[0].dtype();
  const int64_t BH = g.batch_heads();
  Tensor out = empty(g.out_shape, dtype);
  Tensor probs = empty({BH, g.L, g.S}, dtype);
  Tensor weights;  // A: P itself without dropout
  if (need_weights)
    weights = drop.active ? empty(g.weights_shape, dtype)
                          : probs.as_strided(g.weights_shape, contiguous_strides(g.weights_shape), 0);
  dispatch_floating(dtype, "attention", [&](auto tag) {
    using T = decltype(tag);
    std::vector<const T*> src;
    for (const Tensor& s : sources) src.push_back(s.data<T>());
    core_forward<T>(src, g, masks, drop, probs.data<T>(), need_weights && drop.active ? weights.data<T>() : nullptr,
                    out.data<T>());
  });

  std::vector<Tensor> outputs{out};
  if (need_weights) outputs.push_back(weights);
  std::vector<Tensor> saved_sources;
  for (const Tensor& s : sources) saved_sources.push_back(s.detach());
  // probs may share storage with the weights output: saved detached, no reference cycle.
  record_multi_output_op(
      "attention_core", sources, outputs,
      [saved_sources, g, probs = probs.detach(), drop, need_weights](const std::vector<Tensor>& grads_out,
                                                                     const std::vector<bool>& needs) {
        const Tensor g_out = grads_out[0].is_contiguous() ? grads_out[0] : grads_out[0].contiguous_copy();
        Tensor g_weights;
        if (need_weights) g_weights = grads_out[1].is_contiguous() ? grads_out[1] : grads_out[1].contiguous_copy();
        std::vector<Tensor> grads(saved_sources.size());
        for (size_t i = 0; i < grads.size(); ++i)
          if (needs[i]) grads[i] = empty(saved_sources[i].shape(), saved_sources[i].dtype());
        dispatch_floating(g_out.dtype(), "attention backward", [&](auto tag) {
          using T = decltype(tag);
          std::vector<const T*> src;
          std::vector<T*> dst;
          for (size_t i = 0; i < grads.size(); ++i) {
            src.push_back(saved_sources[i].data<T>());
            dst.push_back(grads[i].defined() ? grads[i].data<T>() : nullptr);
          }
          core_backward<T>(src, g, probs.data<T>(), drop, g_out.data<T>(),
                           g_weights.defined() ? g_weights.data<T>() : nullptr, dst);
        });
        return grads;
      });
  return outputs;
}

// ---------------------------------------------------------------- unbatched inputs

// PyTorch's rule for a 2-d query [L, E]: a batch of one inserted at dim 1 (batch_first is
// ignored), key_padding_mask [S] -> [1, S], and the batch dim removed from the results.
template <class Fn>
MhaResult unbatched(const char* op, Fn&& batched, const Tensor& query, const Tensor& key, const Tensor& value,
                    const Tensor& in_proj_weight, const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                    const Tensor& out_proj_bias, const MhaOptions& options, const Tensor& key_padding_mask,
                    const Tensor& attn_mask) {
  HARNET_CHECK(key.defined() && value.defined() && key.dim() == 2 && value.dim() == 2, op,
               ": for an unbatched (2-d) query, key and value must be 2-d too, got shapes ",
               key.defined() ? key.shape() : Shape{}, " and ", value.defined() ? value.shape() : Shape{});
  HARNET_CHECK(!key_padding_mask.defined() || key_padding_mask.dim() == 1, op,
               ": for an unbatched (2-d) query, key_padding_mask must be 1-d [S], got shape ", key_padding_mask.shape());
  MhaOptions o = options;
  o.batch_first = false;
  // Keep q / k / v identities (self-attention is detected by identity).
  const Tensor q = unsqueeze(query, 1);
  const Tensor k = same_tensor(key, query) ? q : unsqueeze(key, 1);
  const Tensor v = same_tensor(value, key) ? k : unsqueeze(value, 1);
  MhaResult r = batched(q, k, v, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, o,
                        key_padding_mask.defined() ? key_padding_mask.as_strided({1, key_padding_mask.size(0)},
                                                                                 {0, key_padding_mask.strides()[0]},
                                                                                 key_padding_mask.offset())
                                                   : Tensor(),
                        attn_mask);
  r.output = squeeze(r.output, 1);
  if (r.attn_weights.defined()) r.attn_weights = squeeze(r.attn_weights, 0);
  return r;
}

}  // namespace

// ---------------------------------------------------------------- dropout factors

Tensor attention_dropout_scale(const Shape& shape, double p, Generator& gen, DType dtype) {
  HARNET_CHECK(p >= 0.0 && p <= 1.0, "attention dropout: probability has to be between 0 and 1, but got ", p);
  const DropoutMask mask = make_dropout_mask(p, gen);
  Tensor out = empty(shape, dtype);
  dispatch_floating(dtype, "attention dropout", [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    parallel_for(0, out.numel(), kGrainSize, [&](int64_t i0, int64_t i1) { dropout_factors(mask, i0, i1 - i0, o + i0); });
  });
  return out;
}

// ---------------------------------------------------------------- multi_head_attention (fused)

MhaResult multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                               const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                               const Tensor& out_proj_weight, const Tensor& out_proj_bias, const MhaOptions& options,
                               const Tensor& key_padding_mask, const Tensor& attn_mask) {
  constexpr const char* op = "multi_head_attention";
  if (query.defined() && query.dim() == 2)
    return unbatched(op, multi_head_attention, query, key, value, in_proj_weight, in_proj_bias, out_proj_weight,
                     out_proj_bias, options, key_padding_mask, attn_mask);
  const MhaSizes s = check_mha(op, query, key, value, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                               options, key_padding_mask, attn_mask);
  const int64_t E = s.E, N = s.N, H = s.H, d = s.d;
  const bool bf = options.batch_first;

  // In-projection, grouped as PyTorch groups it: one GEMM per distinct input tensor.
  auto bias_part = [&](int64_t start, int64_t length) {
    return in_proj_bias.defined() ? narrow(in_proj_bias, 0, start, length) : Tensor();
  };
  CoreGeometry g;
  std::vector<Tensor> sources;
  if (same_tensor(query, key) && same_tensor(key, value)) {
    sources.push_back(linear(query, in_proj_weight, in_proj_bias));  // [.., 3E]: q | k | v
    g.q = projection_heads(0, bf, N, s.L, 3 * E, 0, d);
    g.k = projection_heads(0, bf, N, s.S, 3 * E, E, d);
    g.v = projection_heads(0, bf, N, s.S, 3 * E, 2 * E, d);
  } else if (same_tensor(key, value)) {
    sources.push_back(linear(query, narrow(in_proj_weight, 0, 0, E), bias_part(0, E)));
    sources.push_back(linear(key, narrow(in_proj_weight, 0, E, 2 * E), bias_part(E, 2 * E)));  // [.., 2E]: k | v
    g.q = projection_heads(0, bf, N, s.L, E, 0, d);
    g.k = projection_heads(1, bf, N, s.S, 2 * E, 0, d);
    g.v = projection_heads(1, bf, N, s.S, 2 * E, E, d);
  } else {
    sources.push_back(linear(query, narrow(in_proj_weight, 0, 0, E), bias_part(0, E)));
    sources.push_back(linear(key, narrow(in_proj_weight, 0, E, E), bias_part(E, E)));
    sources.push_back(linear(value, narrow(in_proj_weight, 0, 2 * E, E), bias_part(2 * E, E)));
    g.q = projection_heads(0, bf, N, s.L, E, 0, d);
    g.k = projection_heads(1, bf, N, s.S, E, 0, d);
    g.v = projection_heads(2, bf, N, s.S, E, 0, d);
  }
  g.batch = N;
  g.heads = H;
  g.L = s.L;
  g.S = s.S;
  g.d_qk = d;
  g.d_v = d;
  g.out = projection_heads(0, bf, N, s.L, E, 0, d);
  g.out_shape = bf ? Shape{N, s.L, E} : Shape{s.L, N, E};
  g.weights_shape = {N, H, s.L, s.S};

  const DropoutMask drop = s.apply_dropout ? make_dropout_mask(options.dropout, *options.generator) : DropoutMask();
  const std::vector<Tensor> core =
      attention_core(sources, g, make_masks(attn_mask, key_padding_mask, query.dtype()), drop, options.need_weights);

  MhaResult r;
  r.output = linear(core[0], out_proj_weight, out_proj_bias);  // [rows, E], laid out like query
  if (options.need_weights)
    r.attn_weights = options.average_attn_weights ? div(sum(core[1], {1}), static_cast<double>(H)) : core[1];
  return r;
}

// ---------------------------------------------------------------- multi_head_attention_composed

MhaResult multi_head_attention_composed(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                        const Tensor& out_proj_weight, const Tensor& out_proj_bias,
                                        const MhaOptions& options, const Tensor& key_padding_mask,
                                        const Tensor& attn_mask) {
  constexpr const char* op = "multi_head_attention_composed";
  if (query.defined() && query.dim() == 2)
    return unbatched(op, multi_head_attention_composed, query, key, value, in_proj_weight, in_proj_bias,
                     out_proj_weight, out_proj_bias, options, key_padding_mask, attn_mask);
  const MhaSizes s = check_mha(op, query, key, value, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                               options, key_padding_mask, attn_mask);
  const int64_t L = s.L, S = s.S, N = s.N, E = s.E, H = s.H, d = s.d;

  // batch_first: [N, L, E] -> [L, N, E] views, keeping the identities self-attention is detected by.
  Tensor q_in = query, k_in = key, v_in = value;
  if (options.batch_first) {
    q_in = transpose(query, 0, 1);
    k_in = same_tensor(key, query) ? q_in : transpose(key, 0, 1);
    v_in = same_tensor(value, key) ? k_in : transpose(value, 0, 1);
  }
  // _in_projection_packed
  Tensor q, k, v;
  auto bias_part = [&](int64_t start, int64_t length) {
    return in_proj_bias.defined() ? narrow(in_proj_bias, 0, start, length) : Tensor();
  };
  if (same_tensor(query, key) && same_tensor(key, value)) {
    const std::vector<Tensor> qkv = chunk(linear(q_in, in_proj_weight, in_proj_bias), 3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else if (same_tensor(key, value)) {
    q = linear(q_in, narrow(in_proj_weight, 0, 0, E), bias_part(0, E));
    const std::vector<Tensor> kv = chunk(linear(k_in, narrow(in_proj_weight, 0, E, 2 * E), bias_part(E, 2 * E)), 2, -1);
    k = kv[0], v = kv[1];
  } else {
    q = linear(q_in, narrow(in_proj_weight, 0, 0, E), bias_part(0, E));
    k = linear(k_in, narrow(in_proj_weight, 0, E, E), bias_part(E, E));
    v = linear(v_in, narrow(in_proj_weight, 0, 2 * E, E), bias_part(2 * E, E));
  }
  // [len, N, E] -> [N*H, len, d]
  q = transpose(view(contiguous(q), {L, N * H, d}), 0, 1);
  k = transpose(view(contiguous(k), {S, N * H, d}), 0, 1);
  v = transpose(view(contiguous(v), {S, N * H, d}), 0, 1);

  q = div(q, std::sqrt(static_cast<double>(d)));
  Tensor scores = bmm(q, transpose(k, 1, 2));  // [N*H, L, S]
  const Tensor bias = combined_bias(make_masks(attn_mask, key_padding_mask, query.dtype()), N, H, L, S, query.dtype());
  if (bias.defined()) scores = add(scores, bias);
  Tensor weights = softmax(scores, -1);
  if (s.apply_dropout)
    weights = mul(weights, attention_dropout_scale({N * H, L, S}, options.dropout, *options.generator, query.dtype()));
  Tensor out = bmm(weights, v);  // [N*H, L, d]
  out = view(contiguous(transpose(out, 0, 1)), {L * N, E});
  out = view(linear(out, out_proj_weight, out_proj_bias), {L, N, E});

  MhaResult r;
  r.output = options.batch_first ? transpose(out, 0, 1) : out;
  if (options.need_weights) {
    weights = view(weights, {N, H, L, S});
    r.attn_weights = options.average_attn_weights ? div(sum(weights, {1}), static_cast<double>(H)) : weights;
  }
  return r;
}

// ---------------------------------------------------------------- multi_head_attention_reference

MhaResult multi_head_attention_reference(const Tensor& query, const Tensor& key, const Tensor& value,
                                         const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                         const Tensor& out_proj_weight, const Tensor& out_proj_bias,
                                         const MhaOptions& options, const Tensor& key_padding_mask,
                                         const Tensor& attn_mask) {
  constexpr const char* op = "multi_head_attention_reference";
  if (query.defined() && query.dim() == 2)
    return unbatched(op, multi_head_attention_reference, query, key, value, in_proj_weight, in_proj_bias,
                     out_proj_weight, out_proj_bias, options, key_padding_mask, attn_mask);
  const MhaSizes s = check_mha(op, query, key, value, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                               options, key_padding_mask, attn_mask);
  HARNET_CHECK(!s.apply_dropout, op, ": the naive reference has no dropout (dropout ", options.dropout,
               " in training)");
  const int64_t L = s.L, S = s.S, N = s.N, E = s.E, H = s.H, d = s.d;
  const bool bf = options.batch_first;
  const std::vector<double> xq = query.to_vector<double>(), xk = key.to_vector<double>(),
                            xv = value.to_vector<double>(), w_in = in_proj_weight.to_vector<double>(),
                            w_out = out_proj_weight.to_vector<double>();
  const std::vector<double> b_in = in_proj_bias.defined() ? in_proj_bias.to_vector<double>()
                                                          : std::vector<double>(static_cast<size_t>(3 * E), 0.0);
  const std::vector<double> b_out = out_proj_bias.defined() ? out_proj_bias.to_vector<double>()
                                                            : std::vector<double>(static_cast<size_t>(E), 0.0);
  const AttentionMasks masks = make_masks(attn_mask, key_padding_mask, kFloat64);
  const std::vector<double> attn = masks.attn.defined() ? masks.attn.to_vector<double>() : std::vector<double>();
  const std::vector<double> pad = masks.padding.defined() ? masks.padding.to_vector<double>() : std::vector<double>();
  // Element (position t, batch n, feature e) of a [len, N, E] / [N, len, E] tensor.
  auto index = [&](int64_t t, int64_t n, int64_t e, int64_t len) {
    return static_cast<size_t>(bf ? (n * len + t) * E + e : (t * N + n) * E + e);
  };
  // project(x, len, part)[t][n][f] = x[t, n, :] . w_in[part * E + f, :] + b_in[part * E + f]
  auto project = [&](const std::vector<double>& x, int64_t len, int64_t part) {
    std::vector<double> y(static_cast<size_t>(len * N * E));
    for (int64_t t = 0; t < len; ++t)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t f = 0; f < E; ++f) {
          double acc = b_in[static_cast<size_t>(part * E + f)];
          for (int64_t e = 0; e < E; ++e)
            acc += x[index(t, n, e, len)] * w_in[static_cast<size_t>((part * E + f) * E + e)];
          y[static_cast<size_t>((t * N + n) * E + f)] = acc;
        }
    return y;
  };
  const std::vector<double> pq = project(xq, L, 0), pk = project(xk, S, 1), pv = project(xv, S, 2);

  std::vector<double> heads(static_cast<size_t>(L * N * E), 0.0);     // [L, N, E]
  std::vector<double> probs(static_cast<size_t>(N * H * L * S), 0.0);  // [N, H, L, S]
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t l = 0; l < L; ++l) {
        std::vector<double> row(static_cast<size_t>(S));
        double m = kMinusInf;
        for (int64_t t = 0; t < S; ++t) {
          double score = 0;
          for (int64_t c = 0; c < d; ++c)
            score += pq[static_cast<size_t>((l * N + n) * E + h * d + c)] * pk[static_cast<size_t>((t * N + n) * E + h * d + c)];
          score *= scale;
          double bias = 0;
          if (!attn.empty()) bias += attn[static_cast<size_t>((((masks.per_batch_head ? n * H + h : 0) * L) + l) * S + t)];
          if (!pad.empty()) bias += pad[static_cast<size_t>(n * S + t)];
          row[static_cast<size_t>(t)] = score + bias;
          m = std::max(m, row[static_cast<size_t>(t)]);
        }
        double total = 0;
        for (double& x : row) total += (x = std::exp(x - m));  // all -inf: m = -inf, x - m = NaN
        for (int64_t t = 0; t < S; ++t) {
          const double p = row[static_cast<size_t>(t)] / total;
          probs[static_cast<size_t>(((n * H + h) * L + l) * S + t)] = p;
          for (int64_t c = 0; c < d; ++c)
            heads[static_cast<size_t>((l * N + n) * E + h * d + c)] += p * pv[static_cast<size_t>((t * N + n) * E + h * d + c)];
        }
      }

  std::vector<double> out(static_cast<size_t>(L * N * E));
  for (int64_t l = 0; l < L; ++l)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t f = 0; f < E; ++f) {
        double acc = b_out[static_cast<size_t>(f)];
        for (int64_t e = 0; e < E; ++e)
          acc += heads[static_cast<size_t>((l * N + n) * E + e)] * w_out[static_cast<size_t>(f * E + e)];
        out[index(l, n, f, L)] = acc;
      }
  MhaResult r;
  r.output = from_vector(out, query.shape(), query.dtype());
  if (options.need_weights) {
    if (options.average_attn_weights) {
      std::vector<double> avg(static_cast<size_t>(N * L * S), 0.0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < L * S; ++i)
            avg[static_cast<size_t>(n * L * S + i)] += probs[static_cast<size_t>((n * H + h) * L * S + i)] / H;
      r.attn_weights = from_vector(avg, {N, L, S}, query.dtype());
    } else {
      r.attn_weights = from_vector(probs, {N, H, L, S}, query.dtype());
    }
  }
  return r;
}

// ---------------------------------------------------------------- scaled_dot_product_attention

namespace {

struct SdpaSizes {
  int64_t B = 0, L = 0, S = 0, d = 0, dv = 0;
};

SdpaSizes check_sdpa(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask) {
  HARNET_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must all be defined tensors");
  HARNET_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, op,
               ": expected 3-d q [B, L, d], k [B, S, d] and v [B, S, dv], got shapes ", q.shape(), ", ", k.shape(),
               " and ", v.shape());
  HARNET_CHECK(is_floating(q.dtype()), op, ": q must be float32 or float64, got ", dtype_name(q.dtype()));
  HARNET_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), op, ": dtype mismatch, q is ",
               dtype_name(q.dtype()), ", k ", dtype_name(k.dtype()), ", v ", dtype_name(v.dtype()));
  SdpaSizes s{q.size(0), q.size(1), k.size(1), q.size(2), v.size(2)};
  HARNET_CHECK(k.size(0) == s.B && v.size(0) == s.B, op, ": batch sizes of q ", q.shape(), ", k ", k.shape(),
               " and v ", v.shape(), " differ");
  HARNET_CHECK(k.size(2) == s.d, op, ": q ", q.shape(), " and k ", k.shape(), " differ in their last dimension");
  HARNET_CHECK(v.size(1) == s.S, op, ": k ", k.shape(), " and v ", v.shape(), " differ in their sequence length");
  if (attn_mask.defined()) {
    check_mask_dtype(op, "attn_mask", attn_mask);
    const bool ok = attn_mask.shape() == Shape{s.L, s.S} || attn_mask.shape() == Shape{1, s.L, s.S} ||
                    attn_mask.shape() == Shape{s.B, s.L, s.S};
    HARNET_CHECK(ok, op, ": attn_mask must have shape ", Shape{s.L, s.S}, " or ", Shape{s.B, s.L, s.S},
                 ", got ", attn_mask.shape());
  }
  return s;
}

HeadMatrices stack_of(size_t source, int64_t rows, int64_t cols) {
  HeadMatrices m;
  m.source = source;
  m.batch_stride = rows * cols;
  m.row_stride = std::max<int64_t>(cols, 1);
  return m;
}

}  // namespace

SdpaResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                        double dropout_p, Generator* generator, bool need_weights) {
  constexpr const char* op = "scaled_dot_product_attention";
  const SdpaSizes s = check_sdpa(op, q, k, v, attn_mask);
  check_dropout(op, dropout_p, dropout_p > 0.0, generator);
  CoreGeometry g;
  g.batch = s.B;
  g.heads = 1;
  g.L = s.L;
  g.S = s.S;
  g.d_qk = s.d;
  g.d_v = s.dv;
  g.q = stack_of(0, s.L, s.d);
  g.k = stack_of(1, s.S, s.d);
  g.v = stack_of(2, s.S, s.dv);
  g.out = stack_of(0, s.L, s.dv);
  g.out_shape = {s.B, s.L, s.dv};
  g.weights_shape = {s.B, s.L, s.S};
  // The core reads contiguous sources; a strided input goes through a differentiable copy.
  const std::vector<Tensor> sources{contiguous(q), contiguous(k), contiguous(v)};
  const DropoutMask drop = dropout_p > 0.0 ? make_dropout_mask(dropout_p, *generator) : DropoutMask();
  const std::vector<Tensor> core = attention_core(sources, g, make_masks(attn_mask, Tensor(), q.dtype()), drop,
                                                  need_weights);
  SdpaResult r;
  r.output = core[0];
  if (need_weights) r.attn_weights = core[1];
  return r;
}

namespace {

// The naive forward of one call in double: probabilities [B, L, S] and output [B, L, dv].
struct NaiveSdpa {
  std::vector<double> q, k, v, bias, probs, out;
  bool bias_per_batch = false;
};

NaiveSdpa naive_sdpa_forward(const SdpaSizes& s, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& attn_mask) {
  NaiveSdpa r;
  r.q = q.to_vector<double>();
  r.k = k.to_vector<double>();
  r.v = v.to_vector<double>();
  if (attn_mask.defined()) {
    r.bias = additive_mask(attn_mask, kFloat64).to_vector<double>();
    r.bias_per_batch = attn_mask.dim() == 3 && attn_mask.size(0) == s.B && s.B > 1;
  }
  r.probs.assign(static_cast<size_t>(s.B * s.L * s.S), 0.0);
  r.out.assign(static_cast<size_t>(s.B * s.L * s.dv), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t l = 0; l < s.L; ++l) {
      double m = kMinusInf;
      double* p = r.probs.data() + (b * s.L + l) * s.S;
      for (int64_t t = 0; t < s.S; ++t) {
        double score = 0;
        for (int64_t c = 0; c < s.d; ++c)
          score += r.q[static_cast<size_t>((b * s.L + l) * s.d + c)] * r.k[static_cast<size_t>((b * s.S + t) * s.d + c)];
        p[t] = score * scale +
               (r.bias.empty() ? 0.0 : r.bias[static_cast<size_t>(((r.bias_per_batch ? b : 0) * s.L + l) * s.S + t)]);
        m = std::max(m, p[t]);
      }
      double total = 0;
      for (int64_t t = 0; t < s.S; ++t) total += (p[t] = std::exp(p[t] - m));
      for (int64_t t = 0; t < s.S; ++t) {
        p[t] /= total;
        for (int64_t c = 0; c < s.dv; ++c)
          r.out[static_cast<size_t>((b * s.L + l) * s.dv + c)] += p[t] * r.v[static_cast<size_t>((b * s.S + t) * s.dv + c)];
      }
    }
  return r;
}

}  // namespace

SdpaResult scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const Tensor& attn_mask) {
  const SdpaSizes s = check_sdpa("scaled_dot_product_attention_reference", q, k, v, attn_mask);
  const NaiveSdpa f = naive_sdpa_forward(s, q, k, v, attn_mask);
  return {from_vector(f.out, {s.B, s.L, s.dv}, q.dtype()), from_vector(f.probs, {s.B, s.L, s.S}, q.dtype())};
}

// With dO the gradient of the output and dW that of the weights:
//   dP = dO V^T + dW, dScores = P * (dP - rowsum(dP * P)), dQ = dScores K / sqrt(d),
//   dK = dScores^T Q / sqrt(d), dV = P^T dO.
SdpaGradients scaled_dot_product_attention_backward_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                                              const Tensor& attn_mask, const Tensor& grad_output,
                                                              const Tensor& grad_weights) {
  constexpr const char* op = "scaled_dot_product_attention_backward_reference";
  const SdpaSizes s = check_sdpa(op, q, k, v, attn_mask);
  HARNET_CHECK(grad_output.defined() && grad_output.shape() == (Shape{s.B, s.L, s.dv}), op,
               ": grad_output must have the output's shape ", Shape{s.B, s.L, s.dv});
  HARNET_CHECK(!grad_weights.defined() || grad_weights.shape() == (Shape{s.B, s.L, s.S}), op,
               ": grad_weights must have the weights' shape ", Shape{s.B, s.L, s.S});
  const NaiveSdpa f = naive_sdpa_forward(s, q, k, v, attn_mask);
  const std::vector<double> g_out = grad_output.to_vector<double>();
  const std::vector<double> g_w = grad_weights.defined() ? grad_weights.to_vector<double>() : std::vector<double>();
  std::vector<double> dq(f.q.size(), 0.0), dk(f.k.size(), 0.0), dv(f.v.size(), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t l = 0; l < s.L; ++l) {
      const double* p = f.probs.data() + (b * s.L + l) * s.S;
      std::vector<double> dp(static_cast<size_t>(s.S), 0.0);
      for (int64_t t = 0; t < s.S; ++t) {
        for (int64_t c = 0; c < s.dv; ++c) {
          const double go = g_out[static_cast<size_t>((b * s.L + l) * s.dv + c)];
          dp[static_cast<size_t>(t)] += go * f.v[static_cast<size_t>((b * s.S + t) * s.dv + c)];
          dv[static_cast<size_t>((b * s.S + t) * s.dv + c)] += p[t] * go;
        }
        if (!g_w.empty()) dp[static_cast<size_t>(t)] += g_w[static_cast<size_t>((b * s.L + l) * s.S + t)];
      }
      double dot = 0;
      for (int64_t t = 0; t < s.S; ++t) dot += dp[static_cast<size_t>(t)] * p[t];
      for (int64_t t = 0; t < s.S; ++t) {
        const double ds = p[t] * (dp[static_cast<size_t>(t)] - dot) * scale;
        for (int64_t c = 0; c < s.d; ++c) {
          dq[static_cast<size_t>((b * s.L + l) * s.d + c)] += ds * f.k[static_cast<size_t>((b * s.S + t) * s.d + c)];
          dk[static_cast<size_t>((b * s.S + t) * s.d + c)] += ds * f.q[static_cast<size_t>((b * s.L + l) * s.d + c)];
        }
      }
    }
  return {from_vector(dq, q.shape(), q.dtype()), from_vector(dk, k.shape(), k.dtype()),
          from_vector(dv, v.shape(), v.dtype())};
}

}  // namespace harnet
