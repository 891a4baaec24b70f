// batch_norm and layer_norm (torch.nn.functional), forward and backward side by side.
//
// batch_norm sees its input as [N, C, S] (S = prod of the dimensions after C; each (n, c) is
// a contiguous row of S values) and works channel by channel: x_hat = (x - mean) * invstd,
// y = x_hat * weight + bias. Backward, with M = N * S and g = dL/dy:
//   grad_bias   = sum g                  grad_weight = sum g * x_hat
//   training:   grad_x = weight * invstd * (g - sum g / M - x_hat * sum(g * x_hat) / M)
//               (the gradient through the batch mean and variance)
//   evaluation: grad_x = weight * invstd * g
// layer_norm does the same per row of D = prod(normalized_shape) values, with weight and
// bias per position of the row; its grad_weight / grad_bias sum over rows.
//
// Fusion: a batch_norm task owns a range of channels and runs both passes over it back to back
// (statistics then normalisation; backward sums then gradient), each pass walking its rows in
// memory order (n, then c), so the hardware prefetcher sees long sequential runs and the
// second pass finds much of its data still in the last-level cache. (Walking one channel at a
// time kept it in L2 but measured slower: its 6 KB rows at HARNet sizes are too short for the
// prefetcher.) A layer_norm row is in L1.
//
// Precision and determinism: the sums are double (a float row's terms are added in float
// vectors for at most 8 terms per lane, then in double; add_row_sums), in an order that
// depends only on the shape: per channel, rows n = 0, 1, ...; layer_norm's grad_weight /
// grad_bias over fixed chunks of rows combined in chunk order (parallel_reduce). Results are
// bit-identical for any thread count. The statistics are moments shifted by the channel's
// (row's) first value: one pass that does not lose the variance to cancellation when the
// mean is large; and x - mean is computed as (x - hi) - lo (SplitMean) for the same reason.
#include "ops/norm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/parallel.h"

namespace harnet {

namespace {

// ---------------------------------------------------------------- sums

// 32-byte GNU vectors (GCC and Clang): the sums below vectorise on any target.
typedef double Double4 __attribute__((vector_size(32)));
typedef float Float8 __attribute__((vector_size(32)));
typedef float Float4 __attribute__((vector_size(16)));

// The vector holding consecutive values of a row of T, and the element type of a vector (a
// scalar is its own element type).
template <class T> struct RowVector;
template <> struct RowVector<float> { using type = Float8; };
template <> struct RowVector<double> { using type = Double4; };
template <class V> struct ElementOf { using type = V; };
template <> struct ElementOf<Float8> { using type = float; };
template <> struct ElementOf<Double4> { using type = double; };
template <class V> using element_t = typename ElementOf<V>::type;

// One value (V scalar) or a vector V of consecutive values at p (whose type is V's element).
template <class V, class T>
inline V load_as(const T* p) {
  if constexpr (std::is_arithmetic_v<V>) {
    return static_cast<V>(*p);
  } else {
    static_assert(std::is_same_v<element_t<V>, T>);
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}

inline double horizontal_sum(Double4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// a += sum_k ta(k) and b += sum_k tb(k) over k in [0, n) of a row of T. terms(k, ta, tb) is
// a generic lambda computing, with load_as and arithmetic in T, the two terms of the
// positions from k on: ta and tb are a RowVector<T> (positions k .. k + lanes - 1) or a
// scalar T (position k alone, for the tail). Two vectors of partial sums per sum; float rows
// add their vectors into double sums every kFloatRun positions, so no float sum runs over
// more than a few terms per lane; then a fixed tree and the tail, in double. The order of
// every addition depends on n only.
template <class T, class Terms>
inline void add_row_sums(int64_t n, Terms&& terms, double& a, double& b) {
  using V = typename RowVector<T>::type;
  constexpr int64_t kLanes = sizeof(V) / sizeof(T), kStep = 2 * kLanes;
  constexpr int64_t kFloatRun = 128;  // positions per float run: 8 terms per lane
  V a0{}, a1{}, b0{}, b1{}, ta, tb;
  Double4 sum_a{}, sum_b{};
  int64_t k = 0;
  for (; k + kStep <= n; k += kStep) {
    terms(k, ta, tb);
    a0 += ta;
    b0 += tb;
    terms(k + kLanes, ta, tb);
    a1 += ta;
    b1 += tb;
    if constexpr (std::is_same_v<T, float>) {
      if ((k + kStep) % kFloatRun == 0 || k + 2 * kStep > n) {  // end of a run, or the last step
        const Float8 ra = a0 + a1, rb = b0 + b1;
        Float4 half;
        std::memcpy(&half, &ra, sizeof half);
        sum_a += __builtin_convertvector(half, Double4);
        std::memcpy(&half, reinterpret_cast<const char*>(&ra) + sizeof half, sizeof half);
        sum_a += __builtin_convertvector(half, Double4);
        std::memcpy(&half, &rb, sizeof half);
        sum_b += __builtin_convertvector(half, Double4);
        std::memcpy(&half, reinterpret_cast<const char*>(&rb) + sizeof half, sizeof half);
        sum_b += __builtin_convertvector(half, Double4);
        a0 = a1 = b0 = b1 = V{};
      }
    }
  }
  if constexpr (std::is_same_v<T, double>) {
    sum_a = a0 + a1;
    sum_b = b0 + b1;
  }
  double total_a = horizontal_sum(sum_a), total_b = horizontal_sum(sum_b);
  for (; k < n; ++k) {
    T one_a, one_b;
    terms(k, one_a, one_b);
    total_a += double(one_a);
    total_b += double(one_b);
  }
  a += total_a;
  b += total_b;
}

// Mean and biased variance from moments shifted by `shift` over `count` values.
inline void shifted_moments(double shift, double sum, double sum_squares, double count, double& mean, double& var) {
  const double m = sum / count;
  mean = shift + m;
  var = std::max(sum_squares / count - m * m, 0.0);
}

// A mean as the sum of two T values, hi = T(mean) and lo = T(mean - hi), so that x - mean is
// computed as (x - hi) - lo: the first difference is exact for x near the mean (Sterbenz),
// and a float32 tensor with a large mean and a small spread keeps its digits. A single
// subtraction (or PyTorch's x * scale + shift) would lose them.
template <class T>
struct SplitMean {
  T hi, lo;
  explicit SplitMean(double mean) : hi(static_cast<T>(mean)), lo(static_cast<T>(mean - double(hi))) {}
  SplitMean() : hi(0), lo(0) {}
  template <class V>
  V centre(V x) const {  // V: T or a vector of T
    return (x - hi) - lo;
  }
};

// t's values in double, or `count` copies of fallback when t is undefined.
std::vector<double> values_or(const Tensor& t, int64_t count, double fallback) {
  return t.defined() ? t.to_vector<double>() : std::vector<double>(static_cast<size_t>(count), fallback);
}

Tensor contiguous_input(const Tensor& t) { return t.is_contiguous() ? t : t.contiguous_copy(); }

// ---------------------------------------------------------------- batch_norm kernels

// The input as [N, C, S].
struct ChannelLayout {
  int64_t batch = 0, channels = 0, spatial = 1;
  int64_t per_channel() const { return batch * spatial; }
};

// Runs range(c0, c1) over ranges of channels, in parallel. No sum crosses a channel and each
// channel's rows are summed in the order n = 0, 1, ..., so results do not depend on the split.
template <class RangeFn>
void for_each_channel_range(const ChannelLayout& L, RangeFn&& range) {
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(L.per_channel(), 1));
  parallel_for(0, L.channels, grain, range);
}

// What the backward needs from the forward: the per-channel statistics used (the batch's in
// training, the running ones in evaluation), and the weight (ones when absent).
struct BatchNormSaved {
  std::vector<double> mean, invstd, weight;
  std::vector<double> bias;  // only with a fused relu: its pass mask is recomputed from x
};

// The fused relu of batch_norm_relu: v if it passes (v > 0, or NaN, which relu propagates
// and lets the gradient through, as relu does), else 0. V: T or a RowVector<T>.
template <class V>
inline V relu_value(V v) {
  if constexpr (std::is_arithmetic_v<V>) {
    return v < V(0) ? V(0) : v;
  } else {
    return v < V{} ? V{} : v;
  }
}
template <class V>
inline V relu_pass(V y, V g) {  // g where relu's gradient passes for the pre-activation y
  if constexpr (std::is_arithmetic_v<V>) {
    return y <= V(0) ? V(0) : g;
  } else {
    return y <= V{} ? V{} : g;
  }
}

// Training forward, fused per channel range: batch statistics, then
// y = (x - mean) * scale + bias with scale = invstd * weight.
// Writes the batch mean and invstd, and the biased variance (for the running update).
template <class T, bool kRelu>
void batch_norm_train_forward(const ChannelLayout& L, const T* x, T* y, const std::vector<double>& weight,
                              const std::vector<double>& bias, double eps, double* mean, double* invstd,
                              double* var) {
  const int64_t N = L.batch, C = L.channels, S = L.spatial;
  const double count = static_cast<double>(L.per_channel());
  for_each_channel_range(L, [&](int64_t c0, int64_t c1) {
    const size_t width = static_cast<size_t>(c1 - c0);
    std::vector<double> shift(width), sum(width, 0.0), sum_squares(width, 0.0);
    std::vector<T> scale_t(width), bias_t(width);
    std::vector<SplitMean<T>> mean_t(width);
    for (int64_t c = c0; c < c1; ++c) shift[static_cast<size_t>(c - c0)] = double(x[c * S]);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t c = c0; c < c1; ++c) {
        const size_t j = static_cast<size_t>(c - c0);
        const T* row = x + (n * C + c) * S;
        const T k = static_cast<T>(shift[j]);  // a value of the tensor: exact in T
        add_row_sums<T>(
            S,
            [&](int64_t s, auto& d, auto& d2) {
              d = load_as<std::remove_reference_t<decltype(d)>>(row + s) - k;
              d2 = d * d;
            },
            sum[j], sum_squares[j]);
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      const size_t j = static_cast<size_t>(c - c0);
      shifted_moments(shift[j], sum[j], sum_squares[j], count, mean[c], var[c]);
      invstd[c] = 1.0 / std::sqrt(var[c] + eps);
      scale_t[j] = static_cast<T>(invstd[c] * weight[static_cast<size_t>(c)]);
      bias_t[j] = static_cast<T>(bias[static_cast<size_t>(c)]);
      mean_t[j] = SplitMean<T>(mean[c]);
    }
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t c = c0; c < c1; ++c) {
        const size_t j = static_cast<size_t>(c - c0);
        const T* row = x + (n * C + c) * S;
        T* out = y + (n * C + c) * S;
        const T a = scale_t[j], b = bias_t[j];
        const SplitMean<T> m = mean_t[j];
        for (int64_t s = 0; s < S; ++s) {
          const T v = m.centre(row[s]) * a + b;
          out[s] = kRelu ? relu_value(v) : v;
        }
      }
    }
  });
}

// Evaluation forward: y = (x - mean[c]) * scale[c] + bias[c], parallel over the (n, c) rows.
template <class T, bool kRelu>
void batch_norm_eval_forward(const ChannelLayout& L, const T* x, T* y, const std::vector<SplitMean<T>>& mean,
                             const std::vector<T>& scale, const std::vector<T>& bias) {
  const int64_t C = L.channels, S = L.spatial;
  parallel_for(0, L.batch * C, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(S, 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) {
                   const size_t c = static_cast<size_t>(r % C);
                   const T a = scale[c], b = bias[c];
                   const SplitMean<T> m = mean[c];
                   const T* row = x + r * S;
                   T* out = y + r * S;
                   for (int64_t s = 0; s < S; ++s) {
                     const T v = m.centre(row[s]) * a + b;
                     out[s] = kRelu ? relu_value(v) : v;
                   }
                 }
               });
}

// The forward's scale (invstd * weight) and shift (bias) of channel c, in T.
template <class T>
T relu_scale(const BatchNormSaved& saved, int64_t c) {
  return static_cast<T>(saved.invstd[static_cast<size_t>(c)] * saved.weight[static_cast<size_t>(c)]);
}
template <class T>
T relu_shift(const BatchNormSaved& saved, int64_t c) {
  return static_cast<T>(saved.bias[static_cast<size_t>(c)]);
}

// Backward, fused per channel range: the sums sum g and sum g * (x - mean) (when the weight
// or bias gradient or the training input gradient needs them), then grad_x. With kRelu, g is
// first masked by the fused relu's pass condition on the pre-activation, recomputed from x
// with the forward's expression and scalars (so the same mask as the forward's).
template <class T, bool kRelu>
void batch_norm_backward(const ChannelLayout& L, const T* x, const T* g, const BatchNormSaved& saved, bool training,
                         bool need_input, bool need_sums, T* grad_x, double* grad_weight, double* grad_bias) {
  const int64_t N = L.batch, C = L.channels, S = L.spatial;
  const double count = static_cast<double>(L.per_channel());
  for_each_channel_range(L, [&](int64_t c0, int64_t c1) {
    const size_t width = static_cast<size_t>(c1 - c0);
    std::vector<double> sum_g(width, 0.0), sum_g_centered(width, 0.0);
    if (need_sums) {
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t c = c0; c < c1; ++c) {
          const size_t j = static_cast<size_t>(c - c0);
          const int64_t start = (n * C + c) * S;
          const T* xr = x + start;
          const T* gr = g + start;
          const SplitMean<T> mean(saved.mean[static_cast<size_t>(c)]);
          const T scale = kRelu ? relu_scale<T>(saved, c) : T(0), shift = kRelu ? relu_shift<T>(saved, c) : T(0);
          add_row_sums<T>(
              S,
              [&](int64_t s, auto& tg, auto& tgx) {
                using V = std::remove_reference_t<decltype(tg)>;
                const V centred = mean.centre(load_as<V>(xr + s));
                tg = load_as<V>(gr + s);
                if constexpr (kRelu) tg = relu_pass<V>(centred * scale + shift, tg);
                tgx = tg * centred;
              },
              sum_g[j], sum_g_centered[j]);
        }
      }
      for (int64_t c = c0; c < c1; ++c) {
        const size_t j = static_cast<size_t>(c - c0);
        grad_bias[c] = sum_g[j];
        grad_weight[c] = sum_g_centered[j] * saved.invstd[static_cast<size_t>(c)];
      }
    }
    if (!need_input) return;
    // training: grad_x = a * (g - mean_g - (x - mean) * k), a = invstd * weight,
    //           k = sum(g (x - mean)) invstd^2 / M; evaluation: grad_x = a * g.
    std::vector<T> a(width), mean_g(width), k(width);
    std::vector<SplitMean<T>> mean(width);
    for (int64_t c = c0; c < c1; ++c) {
      const size_t j = static_cast<size_t>(c - c0), cs = static_cast<size_t>(c);
      const double invstd = saved.invstd[cs];
      a[j] = static_cast<T>(invstd * saved.weight[cs]);
      mean_g[j] = static_cast<T>(training ? sum_g[j] / count : 0.0);
      k[j] = static_cast<T>(training ? sum_g_centered[j] * invstd * invstd / count : 0.0);
      mean[j] = SplitMean<T>(saved.mean[cs]);
    }
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t c = c0; c < c1; ++c) {
        const size_t j = static_cast<size_t>(c - c0);
        const int64_t start = (n * C + c) * S;
        const T* xr = x + start;
        const T* gr = g + start;
        T* out = grad_x + start;
        const T aj = a[j], mean_gj = mean_g[j], kj = k[j];
        const SplitMean<T> mj = mean[j];
        const T shift = kRelu ? relu_shift<T>(saved, c) : T(0);
        // The fused relu's mask on g; aj is also the forward's scale.
        auto masked = [&](int64_t s) { return kRelu ? relu_pass<T>(mj.centre(xr[s]) * aj + shift, gr[s]) : gr[s]; };
        if (training) {
          for (int64_t s = 0; s < S; ++s) out[s] = (masked(s) - mean_gj - mj.centre(xr[s]) * kj) * aj;
        } else {
          for (int64_t s = 0; s < S; ++s) out[s] = masked(s) * aj;
        }
      }
    }
  });
}

void check_channel_tensor(const Tensor& t, const char* name, const Tensor& input, int64_t C) {
  if (!t.defined()) return;
  HARNET_CHECK(t.dtype() == input.dtype(), "batch_norm: ", name, " is ", dtype_name(t.dtype()), " but input is ",
               dtype_name(input.dtype()));
  HARNET_CHECK(t.dim() == 1 && t.size(0) == C, "batch_norm: ", name, " must have shape [", C,
               "] (the channels of input shape ", input.shape(), "), got ", t.shape());
}

// ---------------------------------------------------------------- layer_norm kernels

// The input as [rows, D], D = prod(normalized_shape).
struct RowLayout {
  int64_t rows = 0, width = 0;
};

// y = (x - mean) * rstd * weight + bias per row; saves mean and rstd.
template <class T>
void layer_norm_forward(const RowLayout& L, const T* x, T* y, const T* weight, const T* bias, double eps,
                        double* mean, double* rstd) {
  const int64_t D = L.width;
  parallel_for(0, L.rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = x + r * D;
      T* out = y + r * D;
      const T k = row[0];
      double sum = 0.0, sum_squares = 0.0, var = 0.0;
      add_row_sums<T>(
          D,
          [&](int64_t j, auto& d, auto& d2) {
            d = load_as<std::remove_reference_t<decltype(d)>>(row + j) - k;
            d2 = d * d;
          },
          sum, sum_squares);
      shifted_moments(k, sum, sum_squares, static_cast<double>(D), mean[r], var);
      rstd[r] = 1.0 / std::sqrt(var + eps);
      const SplitMean<T> m(mean[r]);
      const T s = static_cast<T>(rstd[r]);
      if (weight && bias) {
        for (int64_t j = 0; j < D; ++j) out[j] = m.centre(row[j]) * s * weight[j] + bias[j];
      } else if (weight) {
        for (int64_t j = 0; j < D; ++j) out[j] = m.centre(row[j]) * s * weight[j];
      } else if (bias) {
        for (int64_t j = 0; j < D; ++j) out[j] = m.centre(row[j]) * s + bias[j];
      } else {
        for (int64_t j = 0; j < D; ++j) out[j] = m.centre(row[j]) * s;
      }
    }
  });
}

// Rows whose weight / bias gradient terms are summed in T before joining the double sums.
constexpr int64_t kAffineGroup = 16;

// Backward over fixed chunks of rows: grad_x per row, and the chunk's partial sums of
// g * x_hat (weight gradient) and g (bias gradient), combined in chunk order. With gw = g * w:
//   grad_x = rstd * (gw - sum(gw) / D - x_hat * sum(gw * x_hat) / D)
template <class T>
void layer_norm_backward(const RowLayout& L, const T* x, const T* g, const T* weight, const double* mean,
                         const double* rstd, bool need_input, bool need_affine, T* grad_x, double* grad_weight,
                         double* grad_bias) {
  const int64_t D = L.width;
  const double inv_d = D > 0 ? 1.0 / static_cast<double>(D) : 0.0;
  using Partial = std::vector<double>;  // [2 * D]: sums of g * x_hat, then of g
  const Partial identity(need_affine ? static_cast<size_t>(2 * D) : 0, 0.0);
  const Partial total = parallel_reduce(
      int64_t{0}, L.rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(D, 1)), identity,
      [&](int64_t r0, int64_t r1) {
        Partial partial = identity;
        // The affine sums of up to kAffineGroup rows in T (vector adds in L1), added into the
        // double partial after each group: cheap, and short T sums lose little.
        std::vector<T> group(need_affine ? static_cast<size_t>(2 * D) : 0, T(0));
        T* group_g_xhat = group.data();
        T* group_g = group.data() + D;
        for (int64_t r = r0; r < r1; ++r) {
          const T* xr = x + r * D;
          const T* gr = g + r * D;
          const SplitMean<T> m(mean[r]);
          const T s = static_cast<T>(rstd[r]);
          if (need_affine) {
            for (int64_t j = 0; j < D; ++j) {
              group_g_xhat[j] += gr[j] * (m.centre(xr[j]) * s);
              group_g[j] += gr[j];
            }
            if ((r - r0) % kAffineGroup == kAffineGroup - 1 || r + 1 == r1) {
              for (size_t j = 0; j < group.size(); ++j) {
                partial[j] += double(group[j]);
                group[j] = T(0);
              }
            }
          }
          if (!need_input) continue;
          double sum_gw = 0.0, sum_gw_centered = 0.0;
          if (weight) {
            add_row_sums<T>(
                D,
                [&](int64_t j, auto& a, auto& b) {
                  using V = std::remove_reference_t<decltype(a)>;
                  a = load_as<V>(gr + j) * load_as<V>(weight + j);
                  b = a * m.centre(load_as<V>(xr + j));
                },
                sum_gw, sum_gw_centered);
          } else {
            add_row_sums<T>(
                D,
                [&](int64_t j, auto& a, auto& b) {
                  using V = std::remove_reference_t<decltype(a)>;
                  a = load_as<V>(gr + j);
                  b = a * m.centre(load_as<V>(xr + j));
                },
                sum_gw, sum_gw_centered);
          }
          const double sum_gw_xhat = sum_gw_centered * rstd[r];
          const T c1 = static_cast<T>(sum_gw * inv_d), c2 = static_cast<T>(sum_gw_xhat * inv_d);
          T* out = grad_x + r * D;
          if (weight) {
            for (int64_t j = 0; j < D; ++j) out[j] = s * (gr[j] * weight[j] - c1 - m.centre(xr[j]) * s * c2);
          } else {
            for (int64_t j = 0; j < D; ++j) out[j] = s * (gr[j] - c1 - m.centre(xr[j]) * s * c2);
          }
        }
        return partial;
      },
      [](Partial acc, const Partial& partial) {
        for (size_t j = 0; j < acc.size(); ++j) acc[j] += partial[j];
        return acc;
      });
  if (need_affine) {
    std::copy(total.begin(), total.begin() + D, grad_weight);
    std::copy(total.begin() + D, total.end(), grad_bias);
  }
}

// A [C] or normalized_shape tensor of the given values.
template <class T>
Tensor tensor_of(const double* values, const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(values[i]);
  return t;
}

}  // namespace

// ---------------------------------------------------------------- batch_norm

namespace {

// batch_norm, followed by relu in the same passes when `relu` is set.
Tensor batch_norm_maybe_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                             const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                             bool relu) {
  HARNET_CHECK(input.defined(), "batch_norm: input is an undefined tensor");
  HARNET_CHECK(is_floating(input.dtype()), "batch_norm: expected a floating input (float32 or float64), got ",
               dtype_name(input.dtype()));
  HARNET_CHECK(input.dim() >= 2, "batch_norm: expected an input of shape [N, C, *] (2 or more dimensions), got ",
               input.shape());
  ChannelLayout L;
  L.batch = input.size(0);
  L.channels = input.size(1);
  L.spatial = shape_numel(Shape(input.shape().begin() + 2, input.shape().end()));
  check_channel_tensor(running_mean, "running_mean", input, L.channels);
  check_channel_tensor(running_var, "running_var", input, L.channels);
  check_channel_tensor(weight, "weight", input, L.channels);
  check_channel_tensor(bias, "bias", input, L.channels);
  HARNET_CHECK(running_mean.defined() == running_var.defined(),
               "batch_norm: running_mean and running_var must be given together (or both absent)");
  HARNET_CHECK(!(running_mean.defined() && (running_mean.requires_grad() || running_var.requires_grad())),
               "batch_norm: running_mean and running_var are statistics updated in place and must not require grad");
  if (training) {
    HARNET_CHECK(L.per_channel() > 1, "batch_norm: expected more than 1 value per channel when training, got input "
                                      "shape ", input.shape());
  } else {
    HARNET_CHECK(running_mean.defined(), "batch_norm: running_mean and running_var must be given in evaluation "
                                         "mode (training=false)");
  }

  const Tensor x = contiguous_input(input);
  const int64_t C = L.channels;
  auto saved = std::make_shared<BatchNormSaved>();
  saved->weight = values_or(weight, C, 1.0);
  const std::vector<double> bias_values = values_or(bias, C, 0.0);
  if (relu) saved->bias = bias_values;
  Tensor y = empty(input.shape(), input.dtype());
  dispatch_floating(input.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const auto train_forward = relu ? batch_norm_train_forward<T, true> : batch_norm_train_forward<T, false>;
    const auto eval_forward = relu ? batch_norm_eval_forward<T, true> : batch_norm_eval_forward<T, false>;
    saved->mean.resize(static_cast<size_t>(C));
    saved->invstd.resize(static_cast<size_t>(C));
    if (training) {
      std::vector<double> var(static_cast<size_t>(C));
      train_forward(L, x.data<T>(), y.data<T>(), saved->weight, bias_values, eps, saved->mean.data(),
                    saved->invstd.data(), var.data());
      if (running_mean.defined()) {
        // running = (1 - momentum) running + momentum batch, with the unbiased batch variance.
        std::vector<double> rm = running_mean.to_vector<double>(), rv = running_var.to_vector<double>();
        const double count = static_cast<double>(L.per_channel()), unbias = count / (count - 1.0);
        for (size_t c = 0; c < rm.size(); ++c) {
          rm[c] = momentum * saved->mean[c] + (1.0 - momentum) * rm[c];
          rv[c] = momentum * var[c] * unbias + (1.0 - momentum) * rv[c];
        }
        // The caller's tensors, updated in place through handles to them.
        Tensor running_mean_out = running_mean, running_var_out = running_var;
        running_mean_out.copy_from(tensor_of<T>(rm.data(), {C}, input.dtype()));
        running_var_out.copy_from(tensor_of<T>(rv.data(), {C}, input.dtype()));
      }
    } else {
      // The running statistics as they are now: later in-place updates must not reach backward.
      const std::vector<double> rm = running_mean.to_vector<double>(), rv = running_var.to_vector<double>();
      std::vector<T> scale(static_cast<size_t>(C)), bias_t(static_cast<size_t>(C));
      std::vector<SplitMean<T>> mean_t(static_cast<size_t>(C));
      for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
        saved->mean[c] = rm[c];
        saved->invstd[c] = 1.0 / std::sqrt(rv[c] + eps);
        scale[c] = static_cast<T>(saved->invstd[c] * saved->weight[c]);
        bias_t[c] = static_cast<T>(bias_values[c]);
        mean_t[c] = SplitMean<T>(rm[c]);
      }
      eval_forward(L, x.data<T>(), y.data<T>(), mean_t, scale, bias_t);
    }
  });
  if (!any_requires_grad({input, weight, bias})) return y;

  return record_op(
      relu ? "batch_norm_relu" : "batch_norm", {input, weight, bias}, y,
      [L, saved, training, relu, saved_x = x.detach(), input_shape = input.shape(), has_weight = weight.defined(),
       has_bias = bias.defined()](const Tensor& grad, const std::vector<bool>& needs) {
        const Tensor g = contiguous_input(grad);
        const int64_t C = L.channels;
        const bool need_input = needs[0], need_weight = has_weight && needs[1], need_bias = has_bias && needs[2];
        std::vector<Tensor> grads(3);
        dispatch_floating(g.dtype(), "batch_norm", [&](auto tag) {
          using T = decltype(tag);
          std::vector<double> grad_weight(static_cast<size_t>(C)), grad_bias(static_cast<size_t>(C));
          if (need_input) grads[0] = empty(input_shape, g.dtype());
          const auto backward = relu ? batch_norm_backward<T, true> : batch_norm_backward<T, false>;
          backward(L, saved_x.data<T>(), g.data<T>(), *saved, training, need_input,
                   need_weight || need_bias || (training && need_input), need_input ? grads[0].data<T>() : nullptr,
                   grad_weight.data(), grad_bias.data());
          if (need_weight) grads[1] = tensor_of<T>(grad_weight.data(), {C}, g.dtype());
          if (need_bias) grads[2] = tensor_of<T>(grad_bias.data(), {C}, g.dtype());
        });
        return grads;
      });
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_maybe_relu(input, running_mean, running_var, weight, bias, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_maybe_relu(input, running_mean, running_var, weight, bias, training, momentum, eps, true);
}

// ---------------------------------------------------------------- layer_norm

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  HARNET_CHECK(input.defined(), "layer_norm: input is an undefined tensor");
  HARNET_CHECK(is_floating(input.dtype()), "layer_norm: expected a floating input (float32 or float64), got ",
               dtype_name(input.dtype()));
  HARNET_CHECK(!normalized_shape.empty(), "layer_norm: normalized_shape must have at least one dimension, got []");
  const int64_t nd = static_cast<int64_t>(normalized_shape.size());
  HARNET_CHECK(input.dim() >= nd &&
                   Shape(input.shape().end() - nd, input.shape().end()) == normalized_shape,
               "layer_norm: normalized_shape ", normalized_shape, " must match the last dimensions of input shape ",
               input.shape());
  for (const auto& [t, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!t->defined()) continue;
    HARNET_CHECK(t->dtype() == input.dtype(), "layer_norm: ", name, " is ", dtype_name(t->dtype()),
                 " but input is ", dtype_name(input.dtype()));
    HARNET_CHECK(t->shape() == normalized_shape, "layer_norm: ", name, " must have shape normalized_shape ",
                 normalized_shape, ", got ", t->shape());
  }

  RowLayout L;
  L.width = shape_numel(normalized_shape);
  L.rows = L.width == 0 ? 0 : input.numel() / L.width;
  const Tensor x = contiguous_input(input);
  const Tensor w = weight.defined() ? contiguous_input(weight) : Tensor();
  const Tensor b = bias.defined() ? contiguous_input(bias) : Tensor();
  auto mean = std::make_shared<std::vector<double>>(static_cast<size_t>(L.rows));
  auto rstd = std::make_shared<std::vector<double>>(static_cast<size_t>(L.rows));
  Tensor y = empty(input.shape(), input.dtype());
  dispatch_floating(input.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    if (L.width == 0) return;
    layer_norm_forward<T>(L, x.data<T>(), y.data<T>(), w.defined() ? w.data<T>() : nullptr,
                          b.defined() ? b.data<T>() : nullptr, eps, mean->data(), rstd->data());
  });
  if (!any_requires_grad({input, weight, bias})) return y;

  return record_op(
      "layer_norm", {input, weight, bias}, y,
      [L, mean, rstd, saved_x = x.detach(), saved_w = w.defined() ? w.detach() : Tensor(), input_shape = input.shape(), normalized_shape,
       has_bias = bias.defined()](const Tensor& grad, const std::vector<bool>& needs) {
        const Tensor g = contiguous_input(grad);
        const bool need_input = needs[0], need_weight = saved_w.defined() && needs[1],
                   need_bias = has_bias && needs[2];
        std::vector<Tensor> grads(3);
        dispatch_floating(g.dtype(), "layer_norm", [&](auto tag) {
          using T = decltype(tag);
          const size_t D = static_cast<size_t>(L.width);
          std::vector<double> grad_weight(D, 0.0), grad_bias(D, 0.0);
          if (need_input) grads[0] = empty(input_shape, g.dtype());
          if (L.width > 0) {
            layer_norm_backward<T>(L, saved_x.data<T>(), g.data<T>(), saved_w.defined() ? saved_w.data<T>() : nullptr,
                                   mean->data(), rstd->data(), need_input, need_weight || need_bias,
                                   need_input ? grads[0].data<T>() : nullptr, grad_weight.data(), grad_bias.data());
          }
          if (need_weight) grads[1] = tensor_of<T>(grad_weight.data(), normalized_shape, g.dtype());
          if (need_bias) grads[2] = tensor_of<T>(grad_bias.data(), normalized_shape, g.dtype());
        });
        return grads;
      });
}

// ---------------------------------------------------------------- naive references

Tensor batch_norm_reference(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                            const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  const int64_t N = input.size(0), C = input.size(1), S = input.numel() / std::max<int64_t>(N * C, 1);
  const std::vector<double> x = input.to_vector<double>();
  const std::vector<double> w = values_or(weight, C, 1.0), b = values_or(bias, C, 0.0);
  std::vector<double> rm = values_or(running_mean, C, 0.0), rv = values_or(running_var, C, 1.0);
  std::vector<double> y(x.size());
  auto at = [&](int64_t n, int64_t c, int64_t s) { return static_cast<size_t>((n * C + c) * S + s); };
  for (int64_t c = 0; c < C; ++c) {
    double mean = rm[static_cast<size_t>(c)], var = rv[static_cast<size_t>(c)];
    if (training) {
      const double M = static_cast<double>(N * S);
      mean = 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) mean += x[at(n, c, s)];
      mean /= M;
      var = 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) var += (x[at(n, c, s)] - mean) * (x[at(n, c, s)] - mean);
      var /= M;
      rm[static_cast<size_t>(c)] = (1.0 - momentum) * rm[static_cast<size_t>(c)] + momentum * mean;
      rv[static_cast<size_t>(c)] = (1.0 - momentum) * rv[static_cast<size_t>(c)] + momentum * var * M / (M - 1.0);
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s)
        y[at(n, c, s)] = (x[at(n, c, s)] - mean) / std::sqrt(var + eps) * w[static_cast<size_t>(c)] +
                         b[static_cast<size_t>(c)];
  }
  if (training && running_mean.defined()) {
    Tensor running_mean_out = running_mean, running_var_out = running_var;
    running_mean_out.copy_from(from_vector(rm, {C}, kFloat64));
    running_var_out.copy_from(from_vector(rv, {C}, kFloat64));
  }
  return from_vector(y, input.shape(), input.dtype());
}

NormGradients batch_norm_backward_reference(const Tensor& grad_output, const Tensor& input,
                                            const Tensor& running_mean, const Tensor& running_var,
                                            const Tensor& weight, bool training, double eps) {
  const int64_t N = input.size(0), C = input.size(1), S = input.numel() / std::max<int64_t>(N * C, 1);
  const std::vector<double> x = input.to_vector<double>(), g = grad_output.to_vector<double>();
  const std::vector<double> w = values_or(weight, C, 1.0);
  const std::vector<double> rm = values_or(running_mean, C, 0.0), rv = values_or(running_var, C, 1.0);
  std::vector<double> gx(x.size()), gw(static_cast<size_t>(C)), gb(static_cast<size_t>(C));
  auto at = [&](int64_t n, int64_t c, int64_t s) { return static_cast<size_t>((n * C + c) * S + s); };
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    const size_t cs = static_cast<size_t>(c);
    double mean = rm[cs], var = rv[cs];
    if (training) {
      mean = 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) mean += x[at(n, c, s)];
      mean /= M;
      var = 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) var += (x[at(n, c, s)] - mean) * (x[at(n, c, s)] - mean);
      var /= M;
    }
    const double sd = std::sqrt(var + eps);
    // y = x_hat w + b, x_hat = (x - mean) / sd: d x_hat = g w; through var and mean when training.
    double d_var = 0.0, d_mean = 0.0, sum_centered = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double d_xhat = g[at(n, c, s)] * w[cs], centered = x[at(n, c, s)] - mean;
        d_var += d_xhat * centered * -0.5 * std::pow(var + eps, -1.5);
        d_mean += -d_xhat / sd;
        sum_centered += -2.0 * centered;
        gw[cs] += g[at(n, c, s)] * centered / sd;
        gb[cs] += g[at(n, c, s)];
      }
    d_mean += d_var * sum_centered / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double d_xhat = g[at(n, c, s)] * w[cs];
        gx[at(n, c, s)] = d_xhat / sd;
        if (training) gx[at(n, c, s)] += d_var * 2.0 * (x[at(n, c, s)] - mean) / M + d_mean / M;
      }
  }
  const DType dt = grad_output.dtype();
  return {from_vector(gx, input.shape(), dt), from_vector(gw, {C}, dt), from_vector(gb, {C}, dt)};
}

Tensor layer_norm_reference(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                            const Tensor& bias, double eps) {
  const int64_t D = shape_numel(normalized_shape), R = D == 0 ? 0 : input.numel() / D;
  const std::vector<double> x = input.to_vector<double>();
  const std::vector<double> w = values_or(weight, D, 1.0), b = values_or(bias, D, 0.0);
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < R; ++r) {
    double mean = 0.0, var = 0.0;
    for (int64_t j = 0; j < D; ++j) mean += x[static_cast<size_t>(r * D + j)];
    mean /= static_cast<double>(D);
    for (int64_t j = 0; j < D; ++j) var += std::pow(x[static_cast<size_t>(r * D + j)] - mean, 2);
    var /= static_cast<double>(D);
    for (int64_t j = 0; j < D; ++j)
      y[static_cast<size_t>(r * D + j)] =
          (x[static_cast<size_t>(r * D + j)] - mean) / std::sqrt(var + eps) * w[static_cast<size_t>(j)] +
          b[static_cast<size_t>(j)];
  }
  return from_vector(y, input.shape(), input.dtype());
}

NormGradients layer_norm_backward_reference(const Tensor& grad_output, const Tensor& input,
                                            const Shape& normalized_shape, const Tensor& weight, double eps) {
  const int64_t D = shape_numel(normalized_shape), R = D == 0 ? 0 : input.numel() / D;
  const std::vector<double> x = input.to_vector<double>(), g = grad_output.to_vector<double>();
  const std::vector<double> w = values_or(weight, D, 1.0);
  std::vector<double> gx(x.size()), gw(static_cast<size_t>(D), 0.0), gb(static_cast<size_t>(D), 0.0);
  const double Dd = static_cast<double>(D);
  for (int64_t r = 0; r < R; ++r) {
    auto X = [&](int64_t j) { return x[static_cast<size_t>(r * D + j)]; };
    auto G = [&](int64_t j) { return g[static_cast<size_t>(r * D + j)]; };
    double mean = 0.0, var = 0.0;
    for (int64_t j = 0; j < D; ++j) mean += X(j);
    mean /= Dd;
    for (int64_t j = 0; j < D; ++j) var += (X(j) - mean) * (X(j) - mean);
    var /= Dd;
    const double sd = std::sqrt(var + eps);
    double d_var = 0.0, d_mean = 0.0, sum_centered = 0.0;
    for (int64_t j = 0; j < D; ++j) {
      const double d_xhat = G(j) * w[static_cast<size_t>(j)];
      d_var += d_xhat * (X(j) - mean) * -0.5 * std::pow(var + eps, -1.5);
      d_mean += -d_xhat / sd;
      sum_centered += -2.0 * (X(j) - mean);
      gw[static_cast<size_t>(j)] += G(j) * (X(j) - mean) / sd;
      gb[static_cast<size_t>(j)] += G(j);
    }
    d_mean += d_var * sum_centered / Dd;
    for (int64_t j = 0; j < D; ++j)
      gx[static_cast<size_t>(r * D + j)] =
          G(j) * w[static_cast<size_t>(j)] / sd + d_var * 2.0 * (X(j) - mean) / Dd + d_mean / Dd;
  }
  const DType dt = grad_output.dtype();
  return {from_vector(gx, input.shape(), dt), from_vector(gw, normalized_shape, dt),
          from_vector(gb, normalized_shape, dt)};
}

}  // namespace harnet
