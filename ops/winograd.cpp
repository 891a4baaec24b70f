// Winograd F(2, 3) row convolutions (formulas in ops/winograd.h).
//
// Layout: a group is a sample's image rows [row0, row0 + rows), the whole sample unless it has
// more than kGroupColumns tiles; tile (t, i) is column (t - row0) * per_row + i of every
// transformed matrix (per_row = ceil(W / 2) tiles per image row). Whole samples measured
// fastest (HARNet: 420 and 780 columns per GEMM): smaller groups make BLAS slower by more
// than they save in cache misses, and groups of several samples were no faster (two at 13
// joints) or slower (six: 30%), their buffers no longer fitting in the cache. The transforms work one image row at a time and write
// four contiguous runs of tiles; for float32 with AVX2 a row's tiles are computed eight at a
// time (even / odd shuffles split the pairs), otherwise by scalar loops.
//
// The backward pass does all three gradients in one pass over the groups, so each group's
// grad_out comes from memory once (3% faster than separate passes); the bias gradient is the
// row sums of E_1 = e0 + e1, in float64.
//
// Parallelism and determinism: the forward pass runs the groups in parallel, each writing its
// own output rows; the backward pass runs fixed chunks of consecutive groups in parallel,
// each writing its own input-gradient rows and summing its weight and bias gradients into its
// own partials, and adds the partials in chunk order. The groups, the chunks and the choice
// between whole BLAS calls and gemm()'s tiles depend on the shape only, so results are
// bit-identical for any thread count.
#include "ops/winograd.h"

#include <algorithm>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "autograd/allocator.h"
#include "autograd/parallel.h"
#include "ops/blas.h"
#include "ops/reduce_kernels.h"

namespace harnet {

namespace {

constexpr int64_t kPositions = 4;
// At most about this many columns (tiles) per group: the GEMMs' long side.
constexpr int64_t kGroupColumns = 1024;
// Groups a convolution is cut into at least (when it has the rows): parallel tasks.
constexpr int64_t kMinGroups = 4;
// From this many parallel items on, each product is one whole BLAS call (as in ops/conv.cpp).
constexpr int64_t kWholeProductItems = 16;
// The weight gradient sums the batch in at most this many chunks of groups (balanced for 1, 2,
// 4, 8 and 16 threads) whose partials hold at most kPartialBudget elements in all.
constexpr int64_t kGradientChunks = 16;
constexpr int64_t kPartialBudget = int64_t{1} << 22;

struct Tiles {
  int64_t per_row = 0;        // ceil(W / 2) tiles per image row
  int64_t rows = 0;           // image rows per group (the last group of a sample may have fewer)
  int64_t per_sample = 0;     // groups per sample
  int64_t groups = 0;         // N * per_sample
  int64_t columns() const { return rows * per_row; }  // the longest group's
};

// A sample's H rows split evenly into the fewest groups of at most about kGroupColumns tiles,
// and, in small batches, into enough groups for kMinGroups in all (batch 1 in inference would
// otherwise run its transforms on one thread).
Tiles tiles_of(const WinogradConv& s) {
  Tiles t;
  t.per_row = (s.width + 1) / 2;
  const int64_t by_size = (s.height * t.per_row + kGroupColumns - 1) / kGroupColumns;
  const int64_t by_batch = (kMinGroups + s.batch - 1) / std::max<int64_t>(s.batch, 1);
  const int64_t parts = std::clamp<int64_t>(std::max(by_size, by_batch), 1, std::max<int64_t>(s.height, 1));
  t.rows = (s.height + parts - 1) / parts;
  t.per_sample = (s.height + t.rows - 1) / t.rows;
  t.groups = s.batch * t.per_sample;
  return t;
}

// Group g: image rows [row0, row0 + rows) of sample n.
struct Group {
  int64_t n, row0, rows;
};

Group group_of(const WinogradConv& s, const Tiles& t, int64_t g) {
  const int64_t n = g / t.per_sample, row0 = (g % t.per_sample) * t.rows;
  return {n, row0, std::min(t.rows, s.height - row0)};
}

template <class T>
auto product_gemm(int64_t items) {
  return items >= kWholeProductItems ? &gemm_untiled<T> : &gemm<T>;
}

// ---------------------------------------------------------------- row transforms, scalar

// rows image rows [rows, W] -> v[xi][r * per_row + i] = (B^T d)_xi of tile i of row r, the
// four xi-runs `matrix` apart.
template <class T>
void input_rows(const T* src, int64_t rows, int64_t width, int64_t per_row, T* v, int64_t matrix) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = src + r * width;
    T* dst = v + r * per_row;
    auto at = [&](int64_t j) { return j >= 0 && j < width ? row[j] : T(0); };
    for (int64_t i = 0; i < per_row; ++i) {
      const T d0 = at(2 * i - 1), d1 = at(2 * i), d2 = at(2 * i + 1), d3 = at(2 * i + 2);
      dst[i] = d0 - d2;
      dst[matrix + i] = d1 + d2;
      dst[2 * matrix + i] = d2 - d1;
      dst[3 * matrix + i] = d1 - d3;
    }
  }
}

// rows gradient rows [rows, W] -> e[xi][r * per_row + i] = (A e)_xi.
template <class T>
void gradient_rows(const T* src, int64_t rows, int64_t width, int64_t per_row, T* e, int64_t matrix) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = src + r * width;
    T* dst = e + r * per_row;
    for (int64_t i = 0; i < per_row; ++i) {
      const T e0 = row[2 * i], e1 = 2 * i + 1 < width ? row[2 * i + 1] : T(0);
      dst[i] = e0;
      dst[matrix + i] = e0 + e1;
      dst[2 * matrix + i] = e0 - e1;
      dst[3 * matrix + i] = -e1;
    }
  }
}

// m[xi][r * per_row + i] -> rows [rows, W] = A^T m + bias.
template <class T>
void output_rows(const T* m, int64_t rows, int64_t width, int64_t per_row, int64_t matrix, T bias, T* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = m + r * per_row;
    T* row = dst + r * width;
    const int64_t pairs = width / 2;  // tiles with both outputs inside the row
    for (int64_t i = 0; i < pairs; ++i) {
      const T m1 = src[matrix + i], m2 = src[2 * matrix + i];
      row[2 * i] = bias + (src[i] + m1 + m2);
      row[2 * i + 1] = bias + (m1 - m2 - src[3 * matrix + i]);
    }
    if (pairs < per_row) row[2 * pairs] = bias + (src[pairs] + src[matrix + pairs] + src[2 * matrix + pairs]);
  }
}

// ---------------------------------------------------------------- row transforms, AVX2 float32

#if defined(__AVX2__)

// The lanes l with 0 <= first + l < end.
__m256i lanes_within(int64_t first, int64_t end) {
  const __m256i index =
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_and_si256(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(-1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(end)), index));
}

// Lanes 0, 2, .., 14 (evens) or 1, 3, .., 15 (odds) of the 16 floats a, b.
__m256 evens(__m256 a, __m256 b) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
}
__m256 odds(__m256 a, __m256 b) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// Masked loads and stores cost little, but a masked store stalls the loads and stores that
// follow (measured: it doubled the transforms' time), so rows use plain loads (and-masked to
// zero the padding) and full-width stores wherever their reach stays inside the rows the
// call owns: a store's spill into the next row is overwritten when that row is done (rows
// run in order). Only rows near the ends of the block take the masked forms.
__m256 load_zeroed(const float* p, __m256i mask, bool plain) {
  return plain ? _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(mask)) : _mm256_maskload_ps(p, mask);
}
void store(float* p, __m256i mask, __m256 value, bool plain) {
  if (plain) {
    _mm256_storeu_ps(p, value);
  } else {
    _mm256_maskstore_ps(p, mask, value);
  }
}

// Whether [begin, end) lies inside [0, size).
bool inside(int64_t begin, int64_t end, int64_t size) { return begin >= 0 && end <= size; }

template <>
void input_rows<float>(const float* src, int64_t rows, int64_t width, int64_t per_row, float* v, int64_t matrix) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i0 = 0; i0 < per_row; i0 += 8) {
      const int64_t first = r * width + 2 * i0 - 1;  // d0 of tile i0 of row r in src
      const bool plain = inside(first, first + 18, rows * width) && inside(0, r * per_row + i0 + 8, rows * per_row);
      const float* p = src + first;
      const int64_t column = 2 * i0 - 1;
      const __m256 a = load_zeroed(p, lanes_within(column, width), plain);
      const __m256 b = load_zeroed(p + 8, lanes_within(column + 8, width), plain);
      const __m256 c = load_zeroed(p + 2, lanes_within(column + 2, width), plain);
      const __m256 d = load_zeroed(p + 10, lanes_within(column + 10, width), plain);
      const __m256 d0 = evens(a, b), d1 = odds(a, b), d2 = evens(c, d), d3 = odds(c, d);
      const __m256i tiles = lanes_within(i0, per_row);
      float* dst = v + r * per_row + i0;
      store(dst, tiles, _mm256_sub_ps(d0, d2), plain);
      store(dst + matrix, tiles, _mm256_add_ps(d1, d2), plain);
      store(dst + 2 * matrix, tiles, _mm256_sub_ps(d2, d1), plain);
      store(dst + 3 * matrix, tiles, _mm256_sub_ps(d1, d3), plain);
    }
  }
}

template <>
void gradient_rows<float>(const float* src, int64_t rows, int64_t width, int64_t per_row, float* e, int64_t matrix) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i0 = 0; i0 < per_row; i0 += 8) {
      const int64_t first = r * width + 2 * i0;
      const bool plain = inside(first, first + 16, rows * width) && inside(0, r * per_row + i0 + 8, rows * per_row);
      const __m256 a = load_zeroed(src + first, lanes_within(2 * i0, width), plain);
      const __m256 b = load_zeroed(src + first + 8, lanes_within(2 * i0 + 8, width), plain);
      const __m256 e0 = evens(a, b), e1 = odds(a, b);
      const __m256i tiles = lanes_within(i0, per_row);
      float* dst = e + r * per_row + i0;
      store(dst, tiles, e0, plain);
      store(dst + matrix, tiles, _mm256_add_ps(e0, e1), plain);
      store(dst + 2 * matrix, tiles, _mm256_sub_ps(e0, e1), plain);
      store(dst + 3 * matrix, tiles, _mm256_sub_ps(_mm256_setzero_ps(), e1), plain);
    }
  }
}

template <>
void output_rows<float>(const float* m, int64_t rows, int64_t width, int64_t per_row, int64_t matrix, float bias,
                        float* dst) {
  const __m256 b = _mm256_set1_ps(bias);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i0 = 0; i0 < per_row; i0 += 8) {
      const int64_t first = r * width + 2 * i0;
      const bool plain = inside(first, first + 16, rows * width) && inside(0, r * per_row + i0 + 8, rows * per_row);
      const __m256i tiles = lanes_within(i0, per_row);
      const float* src = m + r * per_row + i0;
      const __m256 m0 = load_zeroed(src, tiles, plain), m1 = load_zeroed(src + matrix, tiles, plain);
      const __m256 m2 = load_zeroed(src + 2 * matrix, tiles, plain);
      const __m256 m3 = load_zeroed(src + 3 * matrix, tiles, plain);
      const __m256 even = _mm256_add_ps(b, _mm256_add_ps(_mm256_add_ps(m0, m1), m2));
      const __m256 odd = _mm256_add_ps(b, _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3));
      // interleaved: even0 odd0 even1 odd1 ...
      const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
      store(dst + first, lanes_within(2 * i0, width), _mm256_permute2f128_ps(lo, hi, 0x20), plain);
      store(dst + first + 8, lanes_within(2 * i0 + 8, width), _mm256_permute2f128_ps(lo, hi, 0x31), plain);
    }
  }
}

#endif

// ---------------------------------------------------------------- kernels

// u[xi][r][s] = (G g)_xi for the taps g[k] = w[(r * row_stride + s * col_stride) * 3 + k],
// reversed if flipped: [O, C] from w for the forward pass, [C, O] reversed for the input
// gradient.
template <class T>
ScratchBuffer<T> transformed_weights(const T* w, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                                     bool flipped) {
  auto u = scratch_buffer<T>(kPositions * rows * cols);
  const int64_t matrix = rows * cols;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t s = 0; s < cols; ++s) {
      const T* taps = w + (r * row_stride + s * col_stride) * 3;
      const T g0 = flipped ? taps[2] : taps[0], g1 = taps[1], g2 = flipped ? taps[0] : taps[2];
      const int64_t i = r * cols + s;
      u[i] = g0;
      u[matrix + i] = (g0 + g1 + g2) / 2;
      u[2 * matrix + i] = (g0 - g1 + g2) / 2;
      u[3 * matrix + i] = g2;
    }
  }
  return u;
}

// v[xi][c][...] = the input transform of group gr's rows of src [N, channels, H, W], the
// rows of v ld apart.
template <class T>
void transform_inputs(const WinogradConv& s, const Tiles& t, const Group& gr, const T* src, int64_t channels, T* v,
                      int64_t ld) {
  for (int64_t c = 0; c < channels; ++c)
    input_rows(src + ((gr.n * channels + c) * s.height + gr.row0) * s.width, gr.rows, s.width, t.per_row, v + c * ld,
               channels * ld);
}

// Group gr of out [N, out_ch, H, W] = the 3-tap correlation (padding 1) of in [N, in_ch, H, W]
// with the transformed kernel u [4][out_ch][in_ch], plus bias [out_ch] if set. v, m: scratch
// [4][in_ch][ld] and [4][out_ch][ld].
template <class T, class Product>
void correlate_group(const WinogradConv& s, const Tiles& t, const Group& gr, int64_t in_ch, int64_t out_ch, const T* in,
                     const T* u, const T* bias, T* out, T* v, T* m, Product product) {
  const int64_t ld = t.columns(), columns = gr.rows * t.per_row;
  transform_inputs(s, t, gr, in, in_ch, v, ld);
  for (int64_t xi = 0; xi < kPositions; ++xi) {
    // M_xi [out_ch, columns] = U_xi [out_ch, in_ch] x V_xi [in_ch, columns]
    product(false, false, out_ch, columns, in_ch, T(1), u + xi * out_ch * in_ch, in_ch, v + xi * in_ch * ld, ld, T(0),
            m + xi * out_ch * ld, ld);
  }
  for (int64_t o = 0; o < out_ch; ++o)
    output_rows(m + o * ld, gr.rows, s.width, t.per_row, out_ch * ld, bias != nullptr ? bias[o] : T(0),
                out + ((gr.n * out_ch + o) * s.height + gr.row0) * s.width);
}

}  // namespace

template <class T>
void winograd_conv_forward(const WinogradConv& s, const T* x, const T* w, const T* bias, T* out) {
  if (s.batch == 0) return;
  // u [4][O][C] from w [O, C, 1, 3]
  const auto u = transformed_weights(w, s.out_channels, s.in_channels, s.in_channels, 1, false);
  const Tiles t = tiles_of(s);
  const int64_t ld = t.columns();
  const auto product = product_gemm<T>(t.groups);
  parallel_for(0, t.groups, 1, [&](int64_t g0, int64_t g1) {
    auto v = scratch_buffer<T>(kPositions * s.in_channels * ld);
    auto m = scratch_buffer<T>(kPositions * s.out_channels * ld);
    for (int64_t g = g0; g < g1; ++g)
      correlate_group(s, t, group_of(s, t, g), s.in_channels, s.out_channels, x, u.get(), bias, out, v.get(), m.get(),
                      product);
  });
}

template <class T>
void winograd_conv_backward(const WinogradConv& s, const T* x, const T* w, const T* grad_out, T* grad_x, T* grad_w,
                            T* grad_b) {
  const int64_t in_ch = s.in_channels, out_ch = s.out_channels, matrix = out_ch * in_ch;
  const bool need_x = grad_x != nullptr, need_w = grad_w != nullptr, need_b = grad_b != nullptr;
  if (s.batch == 0) {
    if (need_w) std::fill(grad_w, grad_w + 3 * matrix, T(0));
    if (need_b) std::fill(grad_b, grad_b + out_ch, T(0));
    return;
  }
  // u [4][C][O] from w [O, C, 1, 3], taps reversed
  const auto u = need_x ? transformed_weights(w, in_ch, out_ch, 1, in_ch, true) : ScratchBuffer<T>(nullptr, {0});
  const Tiles t = tiles_of(s);
  const int64_t ld = t.columns();
  // Chunk c runs groups [c * groups / chunks, (c + 1) * groups / chunks) and sums their weight
  // gradient into partial c [4][O][C]. Both gradients in one pass over the groups: each
  // group's grad_out is read from memory once.
  const int64_t chunks =
      std::clamp<int64_t>(kPartialBudget / (kPositions * matrix), 1, std::min(kGradientChunks, t.groups));
  const auto product = product_gemm<T>(chunks);
  auto partials = scratch_buffer<T>(chunks * kPositions * matrix, need_w);
  auto partial_bias = scratch_buffer<double>(chunks * out_ch, need_b);
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    auto v = scratch_buffer<T>(kPositions * std::max(in_ch, out_ch) * ld);
    auto m = scratch_buffer<T>(kPositions * std::max(in_ch, out_ch) * ld);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t first = c * t.groups / chunks, last = (c + 1) * t.groups / chunks;
      T* partial = need_w ? partials.get() + c * kPositions * matrix : nullptr;
      double* bias_sums = need_b ? partial_bias.get() + c * out_ch : nullptr;
      for (int64_t g = first; g < last; ++g) {
        const Group gr = group_of(s, t, g);
        if (need_x)
          correlate_group(s, t, gr, out_ch, in_ch, grad_out, u.get(), static_cast<const T*>(nullptr), grad_x, v.get(),
                          m.get(), product);
        if (!need_w && !need_b) continue;
        // e = (A e) of grad_out in m, v = (B^T d) of x
        const int64_t columns = gr.rows * t.per_row;
        for (int64_t o = 0; o < out_ch; ++o)
          gradient_rows(grad_out + ((gr.n * out_ch + o) * s.height + gr.row0) * s.width, gr.rows, s.width, t.per_row,
                        m.get() + o * ld, out_ch * ld);
        if (need_b) {
          // E_1 = e0 + e1 per tile: its row sums are grad_out's
          for (int64_t o = 0; o < out_ch; ++o) {
            const T* e1 = m.get() + (out_ch + o) * ld;
            const double sum = detail::sum_lanes(columns, [e1](int64_t k) { return static_cast<double>(e1[k]); });
            bias_sums[o] = g == first ? sum : bias_sums[o] + sum;
          }
        }
        if (!need_w) continue;
        transform_inputs(s, t, gr, x, in_ch, v.get(), ld);
        for (int64_t xi = 0; xi < kPositions; ++xi) {
          // P_xi [O, C] (+)= E_xi [O, columns] x V_xi [C, columns]^T
          product(false, true, out_ch, in_ch, columns, T(1), m.get() + xi * out_ch * ld, ld,
                  v.get() + xi * in_ch * ld, ld, g == first ? T(0) : T(1), partial + xi * matrix, in_ch);
        }
      }
    }
  });
  if (need_b) {
    for (int64_t o = 0; o < out_ch; ++o) {
      double sum = 0;
      for (int64_t c = 0; c < chunks; ++c) sum += partial_bias[c * out_ch + o];
      grad_b[o] = static_cast<T>(sum);
    }
  }
  if (!need_w) return;
  // Partials added in chunk order, then grad_w[o, c] = G^T P[.][o][c].
  T* total = partials.get();
  for (int64_t c = 1; c < chunks; ++c) {
    const T* partial = partials.get() + c * kPositions * matrix;
    for (int64_t i = 0; i < kPositions * matrix; ++i) total[i] += partial[i];
  }
  for (int64_t i = 0; i < matrix; ++i) {
    const T p0 = total[i], p1 = total[matrix + i], p2 = total[2 * matrix + i], p3 = total[3 * matrix + i];
    grad_w[3 * i] = p0 + (p1 + p2) / 2;
    grad_w[3 * i + 1] = (p1 - p2) / 2;
    grad_w[3 * i + 2] = (p1 + p2) / 2 + p3;
  }
}

template void winograd_conv_forward<float>(const WinogradConv&, const float*, const float*, const float*, float*);
template void winograd_conv_forward<double>(const WinogradConv&, const double*, const double*, const double*,
                                            double*);
template void winograd_conv_backward<float>(const WinogradConv&, const float*, const float*, const float*, float*,
                                            float*, float*);
template void winograd_conv_backward<double>(const WinogradConv&, const double*, const double*, const double*, double*,
                                             double*, double*);

}  // namespace harnet
