// Winograd F(4, 3) row convolutions (formulas in ops/winograd.h).
//
// Layout: a group is a sample's image rows [row0, row0 + rows), the whole sample unless it has
// more than kGroupColumns tiles. Its transformed matrices are tile-major: tile i of group row r
// is column i * rows + r. The transforms take kLanes image rows at a time, turned into
// columns (lanes[j][l] = row l's value at column j), so every formula runs on kLanes rows at
// once (one AVX register of floats) and writes kLanes consecutive columns of a matrix; a
// row's directly computed last output (W % 4 == 1) is one more such column, of the tail
// matrices.
//
// The backward pass does all three gradients in one pass over the groups, so each group's
// grad_out comes from memory once; the bias gradient is the row sums of E_1 (the sum of a
// tile's four outputs) and of the tail outputs, in float64.
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

constexpr int64_t kOutputs = 4;    // outputs per tile
constexpr int64_t kPositions = 6;  // transformed positions per tile: the GEMMs of a pass
constexpr int64_t kTailTaps = 2;   // taps of a directly computed last output (the third is padding)
constexpr int64_t kLanes = 8;      // image rows transformed together
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
  int64_t width = 0;       // W
  int64_t per_row = 0;     // tiles per image row
  bool tail = false;       // the row's last output is computed directly (W % 4 == 1)
  int64_t rows = 0;        // image rows per group (the last group of a sample may have fewer)
  int64_t per_sample = 0;  // groups per sample
  int64_t groups = 0;      // N * per_sample
  int64_t columns() const { return rows * per_row; }  // the longest group's
  // Columns of the row-to-lane buffers: the inputs x[-1 .. 4 per_row] of the tiles (W + 1
  // with a tail), at least W.
  int64_t lane_columns() const { return std::max(kOutputs * per_row + 2, width); }
};

// A sample's H rows split evenly into the fewest groups of at most about kGroupColumns tiles,
// and, in small batches, into enough groups for kMinGroups in all (batch 1 in inference would
// otherwise run its transforms on one thread).
Tiles tiles_of(const WinogradConv& s) {
  Tiles t;
  t.width = s.width;
  t.tail = s.width % kOutputs == 1;
  t.per_row = t.tail ? s.width / kOutputs : (s.width + kOutputs - 1) / kOutputs;
  const int64_t per_row = std::max<int64_t>(t.per_row, 1);
  const int64_t by_size = (s.height * per_row + kGroupColumns - 1) / kGroupColumns;
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

// A group's scratch matrices: the transformed positions [kPositions][channels][ld] and the
// tail [tail_rows][channels][ld_tail] (two input taps, or one output).
template <class T>
struct Matrices {
  T* positions;
  int64_t matrix;  // channels * ld: from one position to the next
  int64_t ld;      // from one channel to the next
  T* tail;
  int64_t ld_tail;
};

// ---------------------------------------------------------------- rows <-> lanes

// Rows are turned into lanes kLanes columns at a time, so the lane buffers hold whole blocks.
int64_t lane_blocks(int64_t columns) { return (columns + kLanes - 1) / kLanes; }

// n <= kLanes rows of `width` values (consecutive rows `width` apart) -> lanes[j * kLanes + l]
// = row l's value at column j - shift, zero outside the row and in lanes l >= n, for the
// columns j of lane_blocks(columns) blocks. [begin, end) is memory the call may read.
template <class T>
void rows_to_lanes(const T* src, int64_t n, int64_t width, int64_t shift, int64_t columns, T* lanes, const T* begin,
                   const T* end) {
  (void)begin, (void)end;
  columns = lane_blocks(columns) * kLanes;
  std::fill(lanes, lanes + columns * kLanes, T(0));
  const int64_t first = std::max<int64_t>(shift, 0), last = std::min(columns, width + shift);
  for (int64_t l = 0; l < n; ++l) {
    const T* row = src + l * width - shift;
    for (int64_t j = first; j < last; ++j) lanes[j * kLanes + l] = row[j];
  }
}

// lanes[j * kLanes + l] + bias -> row l's column j of dst [n, width], for j < width. The call
// may write (and later overwrite) memory in [dst, end).
template <class T>
void lanes_to_rows(const T* lanes, int64_t n, int64_t width, T bias, T* dst, const T* end) {
  (void)end;
  for (int64_t l = 0; l < n; ++l) {
    T* row = dst + l * width;
    for (int64_t j = 0; j < width; ++j) row[j] = bias + lanes[j * kLanes + l];
  }
}

#if defined(__AVX2__)

// The 8 x 8 transpose of r[0..8): r[k] becomes the vector of the rows' k-th values.
[[gnu::always_inline]] inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// The lanes k with 0 <= first + k < end.
__m256i lanes_within(int64_t first, int64_t end) {
  const __m256i index =
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_and_si256(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(-1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(end)), index));
}

// A masked load or store costs little, but a masked store stalls the loads and stores that
// follow (measured: it doubled the transforms' time). So loads are plain (and-masked to zero
// what lies outside the row) wherever they stay inside memory the call may read, and stores
// plain wherever their spill past the row lands in memory the call may write and overwrites
// later: rows go in order and a row's last block first, so a spill into the next row is
// overwritten when that row is written.
template <>
void rows_to_lanes<float>(const float* src, int64_t n, int64_t width, int64_t shift, int64_t columns, float* lanes,
                          const float* begin, const float* end) {
  for (int64_t q = 0; q < lane_blocks(columns); ++q) {
    const int64_t column = q * kLanes - shift;  // the row column of lane block q's first value
    const __m256i mask = lanes_within(column, width);
    __m256 r[8];
    const float* p = src + column;
    if (n == kLanes && p >= begin && p + (kLanes - 1) * width + kLanes <= end) {  // the common case
      for (int64_t l = 0; l < kLanes; ++l)
        r[l] = _mm256_and_ps(_mm256_loadu_ps(p + l * width), _mm256_castsi256_ps(mask));
    } else {
      for (int64_t l = 0; l < kLanes; ++l) {
        if (l >= n) {
          r[l] = _mm256_setzero_ps();
        } else if (p + l * width >= begin && p + l * width + kLanes <= end) {
          r[l] = _mm256_and_ps(_mm256_loadu_ps(p + l * width), _mm256_castsi256_ps(mask));
        } else {
          r[l] = _mm256_maskload_ps(p + l * width, mask);
        }
      }
    }
    transpose8(r);
    for (int64_t k = 0; k < kLanes; ++k) _mm256_storeu_ps(lanes + (q * kLanes + k) * kLanes, r[k]);
  }
}

template <>
void lanes_to_rows<float>(const float* lanes, int64_t n, int64_t width, float bias, float* dst, const float* end) {
  const __m256 b = _mm256_set1_ps(bias);
  for (int64_t q = lane_blocks(width); q-- > 0;) {
    __m256 r[8];
    for (int64_t k = 0; k < kLanes; ++k) r[k] = _mm256_loadu_ps(lanes + (q * kLanes + k) * kLanes);
    transpose8(r);
    const __m256i mask = lanes_within(q * kLanes, width);
    for (int64_t l = 0; l < n; ++l) {
      float* p = dst + l * width + q * kLanes;
      const __m256 value = _mm256_add_ps(b, r[l]);
      if (p + kLanes <= end) {
        _mm256_storeu_ps(p, value);
      } else {
        _mm256_maskstore_ps(p, mask, value);
      }
    }
  }
}

#endif

// ---------------------------------------------------------------- block transforms

// kLanes values, one per image row of a block, with the arithmetic of the transforms: loads
// and stores of whole blocks, or of the first n lanes (zeros past n when loading).
template <class T>
struct Lanes {
  T v[kLanes];
  static Lanes load(const T* p) {
    Lanes r;
    std::copy_n(p, kLanes, r.v);
    return r;
  }
  static Lanes load(const T* p, int64_t n) {
    Lanes r{};
    std::copy_n(p, n, r.v);
    return r;
  }
  void store(T* p) const { std::copy_n(v, kLanes, p); }
  void store(T* p, int64_t n) const { std::copy_n(v, n, p); }
  friend Lanes operator+(Lanes a, const Lanes& b) {
    for (int64_t l = 0; l < kLanes; ++l) a.v[l] += b.v[l];
    return a;
  }
  friend Lanes operator-(Lanes a, const Lanes& b) {
    for (int64_t l = 0; l < kLanes; ++l) a.v[l] -= b.v[l];
    return a;
  }
  friend Lanes operator*(T s, Lanes a) {
    for (int64_t l = 0; l < kLanes; ++l) a.v[l] *= s;
    return a;
  }
};

#if defined(__AVX2__)
template <>
struct Lanes<float> {
  __m256 v;
  static Lanes load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static Lanes load(const float* p, int64_t n) {
    alignas(32) float block[kLanes] = {};
    std::copy_n(p, n, block);
    return {_mm256_load_ps(block)};
  }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
  void store(float* p, int64_t n) const {
    alignas(32) float block[kLanes];
    _mm256_store_ps(block, v);
    std::copy_n(block, n, p);
  }
  friend Lanes operator+(Lanes a, Lanes b) { return {_mm256_add_ps(a.v, b.v)}; }
  friend Lanes operator-(Lanes a, Lanes b) { return {_mm256_sub_ps(a.v, b.v)}; }
  friend Lanes operator*(float s, Lanes a) { return {_mm256_mul_ps(_mm256_set1_ps(s), a.v)}; }
};
#endif

// The first n lanes of each of values[0 .. count) -> dst + k * stride.
template <class T>
[[gnu::always_inline]] inline void store_all(const Lanes<T>* values, int64_t count, int64_t n, T* dst, int64_t stride) {
  for (int64_t k = 0; k < count; ++k) {
    if (n == kLanes) {
      values[k].store(dst + k * stride);
    } else {
      values[k].store(dst + k * stride, n);
    }
  }
}

// Tile i's input transform B^T d on the lanes (d_k = column 4i + k) -> v[xi * matrix], n lanes.
template <class T>
[[gnu::always_inline]] inline void input_tile(const T* lanes, int64_t i, int64_t n, T* v, int64_t matrix) {
  using L = Lanes<T>;
  const T* d = lanes + kOutputs * i * kLanes;
  const L d0 = L::load(d), d1 = L::load(d + kLanes), d2 = L::load(d + 2 * kLanes), d3 = L::load(d + 3 * kLanes);
  const L d4 = L::load(d + 4 * kLanes), d5 = L::load(d + 5 * kLanes);
  const L a = d4 - T(4) * d2, b = d3 - T(4) * d1, c = d4 - d2, e = T(2) * (d3 - d1);
  const L out[kPositions] = {T(4) * d0 - T(5) * d2 + d4, a + b, a - b, c + e, c - e, T(4) * d1 - T(5) * d3 + d5};
  store_all(out, kPositions, n, v, matrix);
}

// Tile i's gradient transform A e on the lanes (e_j = column 4i + j) -> e_out[xi * matrix].
template <class T>
[[gnu::always_inline]] inline void gradient_tile(const T* lanes, int64_t i, int64_t n, T* e_out, int64_t matrix) {
  using L = Lanes<T>;
  const T* e = lanes + kOutputs * i * kLanes;
  const L e0 = L::load(e), e1 = L::load(e + kLanes), e2 = L::load(e + 2 * kLanes), e3 = L::load(e + 3 * kLanes);
  const L even = e0 + e2, odd = e1 + e3, even4 = e0 + T(4) * e2, odd8 = T(2) * e1 + T(8) * e3;
  const L out[kPositions] = {e0, even + odd, even - odd, even4 + odd8, even4 - odd8, e3};
  store_all(out, kPositions, n, e_out, matrix);
}

// Tile i's output transform A^T m of m[xi * matrix] (n lanes) -> lanes columns 4i .. 4i + 3.
template <class T>
[[gnu::always_inline]] inline void output_tile(const T* m, int64_t matrix, int64_t i, int64_t n, T* lanes) {
  using L = Lanes<T>;
  L in[kPositions];
  for (int64_t xi = 0; xi < kPositions; ++xi)
    in[xi] = n == kLanes ? L::load(m + xi * matrix) : L::load(m + xi * matrix, n);
  const L sum12 = in[1] + in[2], diff12 = in[1] - in[2], sum34 = in[3] + in[4], diff34 = in[3] - in[4];
  const L out[kOutputs] = {in[0] + sum12 + sum34, diff12 + T(2) * diff34, sum12 + T(4) * sum34,
                           diff12 + T(8) * diff34 + in[5]};
  store_all(out, kOutputs, kLanes, lanes + kOutputs * i * kLanes, kLanes);
}

// The first n lanes of src -> dst (tail columns).
template <class T>
[[gnu::always_inline]] inline void copy_lanes(const T* src, int64_t n, T* dst) {
  const Lanes<T> value = n == kLanes ? Lanes<T>::load(src) : Lanes<T>::load(src, n);
  store_all(&value, 1, n, dst, 0);
}

// ---------------------------------------------------------------- group transforms

// Calls block(c, first, begin, end, n, r0) for each block of up to kLanes image rows of group
// gr in a tensor [N, channels, H, W] at base: first is the block's first row, r0 its place
// among the group's rows, n its rows, and [begin, end) the group's rows of channel c.
template <class T, class Block>
[[gnu::always_inline]] inline void for_each_block(const WinogradConv& s, const Group& gr, T* base, int64_t channels,
                                                  Block block) {
  for (int64_t c = 0; c < channels; ++c) {
    T* begin = base + ((gr.n * channels + c) * s.height + gr.row0) * s.width;
    T* end = begin + gr.rows * s.width;
    for (int64_t r0 = 0; r0 < gr.rows; r0 += kLanes)
      block(c, begin + r0 * s.width, begin, end, std::min(kLanes, gr.rows - r0), r0);
  }
}

// What transform_rows computes: the input transform B^T d of rows of x (or of grad_out for
// the input gradient), or the gradient transform A e of rows of grad_out.
enum class RowTransform { kInputs, kGradients };

// The transform of group gr's rows of src [N, channels, H, W] -> mx: positions[xi][c] and,
// with a tail, its columns as tail rows: for inputs the tail output's two taps x[W - 2] and
// x[W - 1] as rows c and channels + c, for gradients the tail output's gradient as row c.
template <RowTransform kKind, class T>
void transform_rows(const WinogradConv& s, const Tiles& t, const Group& gr, const T* src, int64_t channels,
                    const Matrices<T>& mx, T* lanes) {
  constexpr bool kInputs = kKind == RowTransform::kInputs;
  const int64_t width = s.width;
  for_each_block(s, gr, src, channels, [&](int64_t c, const T* first, const T* begin, const T* end, int64_t n,
                                           int64_t r0) __attribute__((always_inline)) {
    // inputs: column j holds x[j - 1]; gradients: column j holds e[j]
    rows_to_lanes(first, n, width, kInputs ? 1 : 0, t.lane_columns(), lanes, begin, end);
    for (int64_t i = 0; i < t.per_row; ++i) {
      T* dst = mx.positions + c * mx.ld + i * gr.rows + r0;
      if constexpr (kInputs) {
        input_tile(lanes, i, n, dst, mx.matrix);
      } else {
        gradient_tile(lanes, i, n, dst, mx.matrix);
      }
    }
    if (t.tail) {
      copy_lanes(lanes + (width - 1) * kLanes, n, mx.tail + c * mx.ld_tail + r0);
      if constexpr (kInputs) copy_lanes(lanes + width * kLanes, n, mx.tail + (channels + c) * mx.ld_tail + r0);
    }
  });
}

// mx (the products: positions and, with a tail, its outputs as tail row o) -> group gr's rows
// of out [N, channels, H, W] = A^T m + bias.
template <class T>
void transform_outputs(const WinogradConv& s, const Tiles& t, const Group& gr, const Matrices<T>& mx,
                       int64_t channels, const T* bias, T* out, T* lanes) {
  const int64_t width = s.width;
  for_each_block(s, gr, out, channels, [&](int64_t o, T* first, T*, T* end, int64_t n, int64_t r0)
                                           __attribute__((always_inline)) {
    for (int64_t i = 0; i < t.per_row; ++i)
      output_tile(mx.positions + o * mx.ld + i * gr.rows + r0, mx.matrix, i, n, lanes);
    if (t.tail) copy_lanes(mx.tail + o * mx.ld_tail + r0, n, lanes + (width - 1) * kLanes);
    lanes_to_rows(lanes, n, width, bias != nullptr ? bias[o] : T(0), first, end);
  });
}

// ---------------------------------------------------------------- kernels

// The transformed kernel for an [rows, cols] arrangement of 3-tap filters
// g[k] = w[(r * row_stride + s * col_stride) * 3 + k], reversed if flipped:
// u[xi][r][s] = (G g)_xi, then the tail's u_tail[r][k * cols + s] = g[k] for k = 0, 1.
// [O, C] from w for the forward pass, [C, O] reversed for the input gradient.
template <class T>
ScratchBuffer<T> transformed_weights(const T* w, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                                     bool flipped) {
  const int64_t matrix = rows * cols;
  auto u = scratch_buffer<T>((kPositions + kTailTaps) * matrix);
  T* tail = u.get() + kPositions * matrix;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t s = 0; s < cols; ++s) {
      const T* taps = w + (r * row_stride + s * col_stride) * 3;
      const T g0 = flipped ? taps[2] : taps[0], g1 = taps[1], g2 = flipped ? taps[0] : taps[2];
      const int64_t i = r * cols + s;
      u[i] = g0 / 4;
      u[matrix + i] = -(g0 + g1 + g2) / 6;
      u[2 * matrix + i] = -(g0 - g1 + g2) / 6;
      u[3 * matrix + i] = (g0 + 2 * g1 + 4 * g2) / 24;
      u[4 * matrix + i] = (g0 - 2 * g1 + 4 * g2) / 24;
      u[5 * matrix + i] = g2;
      tail[r * 2 * cols + s] = g0;
      tail[r * 2 * cols + cols + s] = g1;
    }
  }
  return u;
}

// Per-thread scratch for the groups of a convolution with at most `channels` channels a side.
template <class T>
struct GroupScratch {
  ScratchBuffer<T> inputs, products, lanes;
  Matrices<T> in, out;

  GroupScratch(const Tiles& t, int64_t channels)
      : inputs(scratch_buffer<T>((kPositions * t.columns() + kTailTaps * t.rows) * channels)),
        products(scratch_buffer<T>((kPositions * t.columns() + t.rows) * channels)),
        lanes(scratch_buffer<T>(lane_blocks(t.lane_columns()) * kLanes * kLanes)) {}

  // The matrices of a pass with `in_ch` input and `out_ch` output channels.
  void shape(const Tiles& t, int64_t in_ch, int64_t out_ch) {
    const int64_t ld = t.columns();
    in = {inputs.get(), in_ch * ld, ld, inputs.get() + kPositions * in_ch * ld, t.rows};
    out = {products.get(), out_ch * ld, ld, products.get() + kPositions * out_ch * ld, t.rows};
  }
};

// Group gr of out [N, out_ch, H, W] = the 3-tap correlation (padding 1) of in [N, in_ch, H, W]
// with the transformed kernel u ([kPositions][out_ch][in_ch], then the tail's [out_ch][2 in_ch]),
// plus bias [out_ch] if set.
template <class T, class Product>
void correlate_group(const WinogradConv& s, const Tiles& t, const Group& gr, int64_t in_ch, int64_t out_ch, const T* in,
                     const T* u, const T* bias, T* out, GroupScratch<T>& scratch, Product product) {
  scratch.shape(t, in_ch, out_ch);
  const Matrices<T>& v = scratch.in;
  const Matrices<T>& m = scratch.out;
  const int64_t columns = gr.rows * t.per_row, matrix = out_ch * in_ch;
  transform_rows<RowTransform::kInputs>(s, t, gr, in, in_ch, v, scratch.lanes.get());
  if (columns > 0) {
    for (int64_t xi = 0; xi < kPositions; ++xi) {
      // M_xi [out_ch, columns] = U_xi [out_ch, in_ch] x V_xi [in_ch, columns]
      product(false, false, out_ch, columns, in_ch, T(1), u + xi * matrix, in_ch, v.positions + xi * v.matrix, v.ld,
              T(0), m.positions + xi * m.matrix, m.ld);
    }
  }
  if (t.tail) {
    // M_tail [out_ch, rows] = U_tail [out_ch, 2 in_ch] x X_tail [2 in_ch, rows]
    product(false, false, out_ch, gr.rows, kTailTaps * in_ch, T(1), u + kPositions * matrix, kTailTaps * in_ch, v.tail,
            v.ld_tail, T(0), m.tail, m.ld_tail);
  }
  transform_outputs(s, t, gr, m, out_ch, bias, out, scratch.lanes.get());
}

}  // namespace

template <class T>
void winograd_conv_forward(const WinogradConv& s, const T* x, const T* w, const T* bias, T* out) {
  if (s.batch == 0) return;
  // u [6][O][C] and the tail's [O][2C] from w [O, C, 1, 3]
  const auto u = transformed_weights(w, s.out_channels, s.in_channels, s.in_channels, 1, false);
  const Tiles t = tiles_of(s);
  const auto product = product_gemm<T>(t.groups);
  parallel_for(0, t.groups, 1, [&](int64_t g0, int64_t g1) {
    GroupScratch<T> scratch(t, std::max(s.in_channels, s.out_channels));
    for (int64_t g = g0; g < g1; ++g)
      correlate_group(s, t, group_of(s, t, g), s.in_channels, s.out_channels, x, u.get(), bias, out, scratch, product);
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
  // u [6][C][O] and the tail's [C][2O] from w [O, C, 1, 3], taps reversed
  const auto u = need_x ? transformed_weights(w, in_ch, out_ch, 1, in_ch, true) : ScratchBuffer<T>(nullptr, {0});
  const Tiles t = tiles_of(s);
  // Chunk c runs groups [c * groups / chunks, (c + 1) * groups / chunks) and sums their weight
  // gradient into partial c: P [6][O][C], then the tail's [O][2C]. All gradients in one pass
  // over the groups: each group's grad_out is read from memory once.
  const int64_t partial_size = (kPositions + kTailTaps) * matrix;
  const int64_t chunks = std::clamp<int64_t>(kPartialBudget / partial_size, 1, std::min(kGradientChunks, t.groups));
  const auto product = product_gemm<T>(chunks);
  auto partials = scratch_buffer<T>(chunks * partial_size, need_w);
  auto partial_bias = scratch_buffer<double>(chunks * out_ch, need_b);
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    GroupScratch<T> scratch(t, std::max(in_ch, out_ch));
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t first = c * t.groups / chunks, last = (c + 1) * t.groups / chunks;
      T* partial = need_w ? partials.get() + c * partial_size : nullptr;
      double* bias_sums = need_b ? partial_bias.get() + c * out_ch : nullptr;
      for (int64_t g = first; g < last; ++g) {
        const Group gr = group_of(s, t, g);
        if (need_x)
          correlate_group(s, t, gr, out_ch, in_ch, grad_out, u.get(), static_cast<const T*>(nullptr), grad_x, scratch,
                          product);
        if (!need_w && !need_b) continue;
        // e = (A e) of grad_out in the product matrices, v = (B^T d) of x in the input ones
        scratch.shape(t, in_ch, out_ch);
        const Matrices<T>& e = scratch.out;
        const Matrices<T>& v = scratch.in;
        const int64_t columns = gr.rows * t.per_row;
        transform_rows<RowTransform::kGradients>(s, t, gr, grad_out, out_ch, e, scratch.lanes.get());
        if (need_b) {
          // E_1 holds each tile's output sum: its row sums and the tail's are grad_out's
          for (int64_t o = 0; o < out_ch; ++o) {
            const T* e1 = e.positions + e.matrix + o * e.ld;
            double sum = detail::sum_lanes(columns, [e1](int64_t k) { return static_cast<double>(e1[k]); });
            if (t.tail) {
              const T* tail = e.tail + o * e.ld_tail;
              sum += detail::sum_lanes(gr.rows, [tail](int64_t k) { return static_cast<double>(tail[k]); });
            }
            bias_sums[o] = g == first ? sum : bias_sums[o] + sum;
          }
        }
        if (!need_w) continue;
        transform_rows<RowTransform::kInputs>(s, t, gr, x, in_ch, v, scratch.lanes.get());
        const T beta = g == first ? T(0) : T(1);
        if (columns > 0) {
          for (int64_t xi = 0; xi < kPositions; ++xi) {
            // P_xi [O, C] (+)= E_xi [O, columns] x V_xi [C, columns]^T
            product(false, true, out_ch, in_ch, columns, T(1), e.positions + xi * e.matrix, e.ld,
                    v.positions + xi * v.matrix, v.ld, beta, partial + xi * matrix, in_ch);
          }
        }
        if (t.tail) {
          // P_tail [O, 2C] (+)= E_tail [O, rows] x X_tail [2C, rows]^T
          product(false, true, out_ch, kTailTaps * in_ch, gr.rows, T(1), e.tail, e.ld_tail, v.tail, v.ld_tail, beta,
                  partial + kPositions * matrix, kTailTaps * in_ch);
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
  // Partials added in chunk order, then grad_w[o, c] = G^T P[.][o][c] plus the tail's taps.
  T* total = partials.get();
  for (int64_t c = 1; c < chunks; ++c) {
    const T* partial = partials.get() + c * partial_size;
    for (int64_t i = 0; i < partial_size; ++i) total[i] += partial[i];
  }
  const T* p = total;
  const T* tail = total + kPositions * matrix;
  for (int64_t o = 0; o < out_ch; ++o) {
    for (int64_t c = 0; c < in_ch; ++c) {
      const int64_t i = o * in_ch + c;
      T* g = grad_w + 3 * i;
      if (t.per_row > 0) {
        const T p0 = p[i], p1 = p[matrix + i], p2 = p[2 * matrix + i], p3 = p[3 * matrix + i];
        const T p4 = p[4 * matrix + i], p5 = p[5 * matrix + i];
        g[0] = p0 / 4 - (p1 + p2) / 6 + (p3 + p4) / 24;
        g[1] = (p2 - p1) / 6 + (p3 - p4) / 12;
        g[2] = (p3 + p4) / 6 - (p1 + p2) / 6 + p5;
      } else {  // a row of one output: its tail alone
        std::fill(g, g + 3, T(0));
      }
      if (t.tail) {
        g[0] += tail[o * 2 * in_ch + c];
        g[1] += tail[o * 2 * in_ch + in_ch + c];
      }
    }
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
