// Convolutions: conv2d (F.conv2d) and conv1d (F.conv1d, a conv2d of height 1), forward and
// backward side by side, as im2col + GEMM; HARNet's (1, 3) joint kernels with padding (0, 1)
// and 8 or more channels on both sides as Winograd F(4, 3) instead (ops/winograd.h, chosen
// by shape alone; see winograd_applies).
//
// Per sample n and group g (C_g = C_in / groups input and O_g = C_out / groups output
// channels, patch = C_g * kH * kW, plane = H_out * W_out):
//   cols   [patch, plane]   = im2col(x[n, g])            one column per output position
//   out[n, g]  [O_g, plane] = W_g [O_g, patch] x cols + bias
// and backward, with G = grad_out[n, g] [O_g, plane]:
//   grad_W_g  [O_g, patch]  += G x cols^T                  summed over the batch
//   grad_cols [patch, plane] = W_g^T x G,   grad_x[n, g] = col2im(grad_cols)
//   grad_bias [C_out]       += row sums of G
//
// Three im2col / col2im paths, each tested against the naive reference:
//   - rows_only(): HARNet's hot case, a (1, k) kernel along the joint axis, stride 1, padding
//     keeping the width. Each cols row is the whole input plane shifted by a constant: one
//     long copy (add, for col2im) per (channel, tap) plus zeros in the few edge columns of
//     each image row (im2col_rows / col2im_rows). 3-6% faster fwd+bwd than the generic loops
//     at HARNet's sizes.
//   - generic (im2col / col2im): per (channel, tap, output row), a contiguous run when
//     stride_w = 1, element by element otherwise.
//   - identity: 1x1 kernel, stride 1, no padding; x and grad_x are used in place.
// A copy-free alternative for (1, k) kernels, k GEMMs of W_j [C_out, C_in] against the input
// shifted by tap j (over a width-padded copy, to keep the shift inside each row), was
// measured and is slower (forward, one thread: 3%, 13% and 60% more CPU time for HARNet's
// 64->64, 64->128 and 3->64 layers: k GEMMs with inner size C_in cost more than one with
// C_in * k, and the padded copies are not free), so it is not kept.
//
// Parallelism and determinism: samples are processed in parallel (each output sample and
// each input gradient written by one task). With 16 parallel items or more each product is
// one whole BLAS call (gemm_untiled); below that gemm() tiles it, and the tiles run in
// parallel only in serial runs, which does not change values: both the choice and gemm's
// tiling depend on the shape alone. The weight and
// bias gradients sum over the batch in chunks of samples fixed by the shape (never by the
// thread count), each chunk accumulating its samples in order into its own partial, and the
// partials are added in chunk order: results are bit-identical for any thread count.
#include "ops/conv.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "autograd/allocator.h"
#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/blas.h"
#include "ops/winograd.h"

namespace harnet {

namespace {

// A unit of at least this many multiply-adds is one gemm() splits across threads itself.
constexpr int64_t kLargeProduct = int64_t{1} << 18;
// The weight and bias gradients sum the batch in at most this many fixed chunks of samples,
// computed in parallel (16: balanced for 1, 2, 4, 8 and 16 threads) ...
constexpr int64_t kGradientChunks = 16;
// ... whose partials hold at most this many elements (16 MB in float32).
constexpr int64_t kPartialBudget = int64_t{1} << 22;
// From this many parallel items on (samples in the forward pass, chunks of samples in the
// backward pass), the items alone keep the threads busy and each per-sample product is one
// whole BLAS call (gemm_untiled): 3-4% faster than gemm()'s tiles at HARNet's sizes, which
// only pay when one product must be split across threads. Chosen by shape alone, as
// determinism requires.
constexpr int64_t kUntiledItems = kGradientChunks;

// ---------------------------------------------------------------- geometry

// Everything the kernels need, for a 2-d convolution (1-d: height 1, kernel height 1).
struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  // Zeros before the input; those after only shape out_h / out_w (reads past the end are zero).
  int64_t pad_top = 0, pad_left = 0;

  int64_t in_per_group() const { return in_channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  int64_t patch() const { return in_per_group() * kernel_h * kernel_w; }  // a row of weight
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
  // cols would be a copy of x: x is used in place.
  bool im2col_is_identity() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_left == 0 &&
           out_h == in_h && out_w == in_w;
  }
  // A (1, k) kernel along rows that keeps the plane's shape (stride 1, padding "same" along
  // the width, none along the height), as HARNet's: each cols row is the whole input plane
  // shifted by a constant, so im2col and col2im work on whole planes (im2col_rows).
  bool rows_only() const {
    return kernel_h == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && out_h == in_h && out_w == in_w;
  }
};

// A convolution call resolved against its arguments: the geometry plus the shapes the
// caller sees (3-d or 4-d for conv2d, 2-d or 3-d for conv1d).
struct ConvCall {
  ConvGeometry geometry;
  Shape out_shape;
};

// The spatial arguments of either convolution, per spatial dimension (1 or 2 of them).
enum class PaddingMode { Explicit, Valid, Same };
struct SpatialArgs {
  std::vector<int64_t> stride, dilation, padding;  // padding: the explicit sizes
  PaddingMode mode = PaddingMode::Explicit;
};

template <size_t N>
SpatialArgs spatial_args(const std::array<int64_t, N>& stride, const ConvPadding<N>& padding,
                         const std::array<int64_t, N>& dilation) {
  SpatialArgs a;
  a.stride.assign(stride.begin(), stride.end());
  a.dilation.assign(dilation.begin(), dilation.end());
  a.padding.assign(padding.sizes().begin(), padding.sizes().end());
  using Mode = typename ConvPadding<N>::Mode;
  a.mode = padding.mode() == Mode::Same    ? PaddingMode::Same
           : padding.mode() == Mode::Valid ? PaddingMode::Valid
                                           : PaddingMode::Explicit;
  return a;
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

// Checks the arguments as PyTorch does and works out the geometry. spatial: 1 or 2.
ConvCall resolve(const char* op, int64_t spatial, const Tensor& input, const Tensor& weight, const Tensor& bias,
                 const SpatialArgs& args, int64_t groups) {
  HARNET_CHECK(input.defined(), op, ": input is an undefined tensor");
  HARNET_CHECK(weight.defined(), op, ": weight is an undefined tensor");
  HARNET_CHECK(is_floating(input.dtype()) && is_floating(weight.dtype()), op,
               ": expected floating tensors (float32 or float64), got input ", dtype_name(input.dtype()),
               " and weight ", dtype_name(weight.dtype()));
  HARNET_CHECK(input.dtype() == weight.dtype(), op, ": dtype mismatch, input is ", dtype_name(input.dtype()),
               " but weight is ", dtype_name(weight.dtype()));
  const char* weight_layout = spatial == 2 ? "4-d [out_channels, in_channels / groups, kH, kW]"
                                           : "3-d [out_channels, in_channels / groups, kW]";
  HARNET_CHECK(weight.dim() == spatial + 2, op, ": weight must be ", weight_layout, ", got shape ", weight.shape());
  HARNET_CHECK(input.dim() == spatial + 1 || input.dim() == spatial + 2, op, ": expected ", spatial + 1,
               "-d (unbatched) or ", spatial + 2, "-d (batched) input, got shape ", input.shape());
  for (int64_t d = 0; d < weight.dim(); ++d)
    HARNET_CHECK(weight.shape()[static_cast<size_t>(d)] > 0, op, ": weight shape ", weight.shape(),
                 " has a zero dimension");
  HARNET_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  for (int64_t d = 0; d < spatial; ++d) {
    HARNET_CHECK(args.stride[static_cast<size_t>(d)] >= 1, op, ": stride must be positive, got (",
                 join(args.stride), ")");
    HARNET_CHECK(args.dilation[static_cast<size_t>(d)] >= 1, op, ": dilation must be positive, got (",
                 join(args.dilation), ")");
    HARNET_CHECK(args.padding[static_cast<size_t>(d)] >= 0, op, ": padding must be non-negative, got (",
                 join(args.padding), ")");
    HARNET_CHECK(args.mode != PaddingMode::Same || args.stride[static_cast<size_t>(d)] == 1, op,
                 ": padding='same' is not supported for strided convolutions, got stride (", join(args.stride), ")");
  }

  const bool batched = input.dim() == spatial + 2;
  const Shape in_shape = batched ? input.shape() : [&] {
    Shape s{1};
    s.insert(s.end(), input.shape().begin(), input.shape().end());
    return s;
  }();
  const int64_t out_channels = weight.shape()[0], in_per_group = weight.shape()[1];
  HARNET_CHECK(out_channels % groups == 0, op, ": out_channels (weight shape ", weight.shape(),
               ") must be divisible by groups = ", groups);
  HARNET_CHECK(in_shape[1] == in_per_group * groups, op, ": input shape ", input.shape(), " has ", in_shape[1],
               " channels but weight shape ", weight.shape(), " with groups = ", groups, " expects ",
               in_per_group * groups);
  if (bias.defined()) {
    HARNET_CHECK(bias.dtype() == input.dtype(), op, ": dtype mismatch, input is ", dtype_name(input.dtype()),
                 " but bias is ", dtype_name(bias.dtype()));
    HARNET_CHECK(bias.dim() == 1 && bias.shape()[0] == out_channels, op, ": bias must have shape [", out_channels,
                 "] for weight shape ", weight.shape(), ", got ", bias.shape());
  }

  // Per spatial dimension: padding before / after, output size.
  ConvGeometry g;
  g.batch = in_shape[0];
  g.in_channels = in_shape[1];
  g.out_channels = out_channels;
  g.groups = groups;
  std::vector<int64_t> out_sizes(static_cast<size_t>(spatial));
  for (int64_t d = 0; d < spatial; ++d) {
    const size_t i = static_cast<size_t>(d);
    const int64_t size = in_shape[static_cast<size_t>(2 + d)], kernel = weight.shape()[static_cast<size_t>(2 + d)];
    const int64_t stride = args.stride[i], dilation = args.dilation[i];
    int64_t before = args.mode == PaddingMode::Explicit ? args.padding[i] : 0, after = before;
    if (args.mode == PaddingMode::Same) {  // PyTorch: total dilation * (k - 1), the odd one at the end
      const int64_t total = dilation * (kernel - 1);
      before = total / 2;
      after = total - before;
    }
    const int64_t padded = size + before + after, extent = dilation * (kernel - 1) + 1;
    HARNET_CHECK(padded >= extent, op, ": padded input size ", padded, " is smaller than the dilated kernel size ",
                 extent, " along spatial dimension ", d, " (input shape ", input.shape(), ", weight shape ",
                 weight.shape(), ")");
    out_sizes[i] = (padded - extent) / stride + 1;
    const bool is_w = d == spatial - 1;  // the last spatial dimension is the width
    (is_w ? g.in_w : g.in_h) = size;
    (is_w ? g.out_w : g.out_h) = out_sizes[i];
    (is_w ? g.kernel_w : g.kernel_h) = kernel;
    (is_w ? g.stride_w : g.stride_h) = stride;
    (is_w ? g.dilation_w : g.dilation_h) = dilation;
    (is_w ? g.pad_left : g.pad_top) = before;
  }
  if (spatial == 1) {
    g.in_h = g.out_h = 1;
  }

  ConvCall call{g, {}};
  if (batched) call.out_shape.push_back(g.batch);
  call.out_shape.push_back(out_channels);
  call.out_shape.insert(call.out_shape.end(), out_sizes.begin(), out_sizes.end());
  return call;
}

// ---------------------------------------------------------------- im2col / col2im

// The output columns ow whose input column ow * stride + offset lies in [0, width): [begin, end).
struct ValidRange {
  int64_t begin, end;
};

ValidRange valid_columns(int64_t offset, int64_t stride, int64_t width, int64_t out_width) {
  // Smallest ow with ow * stride + offset >= 0, and smallest with ow * stride + offset >= width.
  const int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t end = width - offset <= 0 ? 0 : (width - offset + stride - 1) / stride;
  const int64_t b = std::min(begin, out_width), e = std::clamp(end, b, out_width);
  return {b, e};
}

// x_group [C_g, H, W] -> cols [C_g * kH * kW, H_out * W_out]; row (c, ki, kj) holds
// x[c, oh * stride_h - pad_top + ki * dilation_h, ow * stride_w - pad_left + kj * dilation_w]
// at column (oh, ow), zero where that falls in the padding.
template <class T>
void im2col(const T* x, const ConvGeometry& g, T* cols) {
  const int64_t channels = g.in_per_group(), plane = g.out_plane();
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        T* row = cols + ((c * g.kernel_h + ki) * g.kernel_w + kj) * plane;
        const int64_t col_offset = kj * g.dilation_w - g.pad_left;
        const ValidRange valid = valid_columns(col_offset, g.stride_w, g.in_w, g.out_w);
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          T* dst = row + oh * g.out_w;
          const int64_t ih = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(dst, dst + g.out_w, T(0));
            continue;
          }
          const T* src = x + (c * g.in_h + ih) * g.in_w;  // input column ow * stride_w + col_offset
          std::fill(dst, dst + valid.begin, T(0));
          if (g.stride_w == 1) {
            std::copy(src + valid.begin + col_offset, src + valid.end + col_offset, dst + valid.begin);
          } else {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) dst[ow] = src[ow * g.stride_w + col_offset];
          }
          std::fill(dst + valid.end, dst + g.out_w, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: grad_x_group [C_g, H, W] = sum of every cols entry into the input
// element it was copied from (padding entries are dropped). Overwrites grad_x.
template <class T>
void col2im(const T* cols, const ConvGeometry& g, T* grad_x) {
  const int64_t channels = g.in_per_group(), plane = g.out_plane();
  std::fill(grad_x, grad_x + channels * g.in_plane(), T(0));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const T* row = cols + ((c * g.kernel_h + ki) * g.kernel_w + kj) * plane;
        const int64_t col_offset = kj * g.dilation_w - g.pad_left;
        const ValidRange valid = valid_columns(col_offset, g.stride_w, g.in_w, g.out_w);
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) continue;
          const T* src = row + oh * g.out_w;
          T* dst = grad_x + (c * g.in_h + ih) * g.in_w;  // input column ow * stride_w + col_offset
          if (g.stride_w == 1) {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) dst[ow + col_offset] += src[ow];
          } else {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) dst[ow * g.stride_w + col_offset] += src[ow];
          }
        }
      }
    }
  }
}

// Zeros the columns outside [valid.begin, valid.end) of every width-long row of a plane.
// Column by column, with a stride: the edges are a column or two, and row by row they would
// be a memset call per row and side.
template <class T>
void zero_edge_columns(T* plane_data, int64_t plane, int64_t width, ValidRange valid) {
  auto zero_column = [&](int64_t col) {
    for (int64_t i = col; i < plane; i += width) plane_data[i] = T(0);
  };
  for (int64_t col = 0; col < valid.begin; ++col) zero_column(col);
  for (int64_t col = valid.end; col < width; ++col) zero_column(col);
}

// im2col for rows_only() geometries: cols row (c, kj) is x[c] read as one flat plane shifted
// by offset = kj * dilation_w - pad_left, i.e. cols[(c, kj), q] = x[c, q + offset] (one long
// copy), except in the |offset| columns at the edge of every image row, where the shifted
// read wraps into the neighbouring row and the padding's zero belongs instead.
template <class T>
void im2col_rows(const T* x, const ConvGeometry& g, T* cols) {
  const int64_t channels = g.in_per_group(), plane = g.in_plane(), width = g.in_w;
  for (int64_t c = 0; c < channels; ++c) {
    const T* src = x + c * plane;
    for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
      T* dst = cols + (c * g.kernel_w + kj) * plane;
      const int64_t offset = kj * g.dilation_w - g.pad_left;
      const ValidRange valid = valid_columns(offset, 1, width, width);
      // dst[q] = src[q + offset] for every q whose source lies in the plane
      const int64_t q0 = std::max<int64_t>(0, -offset), q1 = std::min(plane, plane - offset);
      if (q1 > q0) std::copy(src + q0 + offset, src + q1 + offset, dst + q0);
      zero_edge_columns(dst, plane, width, valid);
    }
  }
}

// col2im for rows_only() geometries: grad_x[c, q + offset] += cols[(c, kj), q] over whole
// planes. The edge entries of each cols row (those im2col_rows zeroed, whose shifted target
// is in the neighbouring image row) are zeroed first so they add nothing. The first tap
// assigns instead of adding, so grad_x needs no zero fill but its uncovered ends.
// Overwrites grad_x; cols is scratch and is modified.
template <class T>
void col2im_rows(T* cols, const ConvGeometry& g, T* grad_x) {
  const int64_t channels = g.in_per_group(), plane = g.in_plane(), width = g.in_w;
  for (int64_t c = 0; c < channels; ++c) {
    T* dst = grad_x + c * plane;
    for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
      T* src = cols + (c * g.kernel_w + kj) * plane;
      const int64_t offset = kj * g.dilation_w - g.pad_left;
      const ValidRange valid = valid_columns(offset, 1, width, width);
      zero_edge_columns(src, plane, width, valid);
      const int64_t q0 = std::max<int64_t>(0, -offset), q1 = std::min(plane, plane - offset);
      if (kj == 0) {
        std::fill(dst, dst + std::min(plane, q0 + offset), T(0));
        for (int64_t q = q0; q < q1; ++q) dst[q + offset] = src[q];
        std::fill(dst + std::max<int64_t>(0, q1 + offset), dst + plane, T(0));
      } else {
        for (int64_t q = q0; q < q1; ++q) dst[q + offset] += src[q];
      }
    }
  }
}

// Sum of n values in a fixed order: eight interleaved partial sums (which the compiler keeps
// in one vector register), combined pairwise, then the tail.
template <class T>
T row_sum(const T* v, int64_t n) {
  T acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += v[i + j];
  T total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) total += v[i];
  return total;
}

// Uninitialised scratch memory (std::vector would zero it first), from the caching
// allocator: the same sizes come back every step.
template <class T>
ScratchBuffer<T> scratch(bool needed, int64_t n) {
  return scratch_buffer<T>(n, needed);
}

// The GEMM for the per-sample products, given the number of parallel items: see kUntiledItems.
template <class T>
auto sample_gemm(int64_t items) {
  return items >= kUntiledItems ? &gemm_untiled<T> : &gemm<T>;
}

// Runs body(i0, i1) over [0, count): in parallel when the items keep every thread busy,
// serially otherwise (few large items: gemm splits each product across threads instead).
// Values never depend on which: see the file comment.
template <class F>
void for_each_item(int64_t count, int64_t work_per_item, F&& body) {
  const int64_t work = std::max<int64_t>(work_per_item, 1);
  if (count <= 1 || (work >= kLargeProduct && count < 2 * get_num_threads())) {
    body(int64_t{0}, count);
    return;
  }
  parallel_for(0, count, std::max<int64_t>(1, kGrainSize / work), body);
}

// ---------------------------------------------------------------- Winograd

// HARNet's (1, 3) joint kernels with padding (0, 1) run as Winograd F(4, 3) (ops/winograd.h):
// 20 instead of 39 multiply-adds per row of 13 outputs and channel pair, 38 instead of 75 for
// 25. At HARNet's 64->128 layer (13 joints; one thread, batch 64) forward + backward is 12-15%
// faster than with F(2, 3), which was 15-19% faster than im2col; at 64->64 (25 joints) 6%.
// Its GEMMs' inner size is C_in alone (C_out for the input gradient) instead of 3 C_in, too
// thin for BLAS with few channels: the 3->64 input layer is twice as slow with it and keeps
// im2col.
constexpr int64_t kWinogradMinChannels = 8;

bool winograd_applies(const ConvGeometry& g) {
  return g.rows_only() && g.kernel_w == 3 && g.dilation_w == 1 && g.pad_left == 1 && g.groups == 1 &&
         g.in_channels >= kWinogradMinChannels && g.out_channels >= kWinogradMinChannels;
}

WinogradConv winograd_shape(const ConvGeometry& g) {
  return {.batch = g.batch, .in_channels = g.in_channels, .out_channels = g.out_channels, .height = g.in_h,
          .width = g.in_w};
}

// ---------------------------------------------------------------- forward

// x [N, C_in, H, W], w [C_out, C_g, kH, kW], bias [C_out] or null -> out [N, C_out, H_out, W_out],
// all contiguous.
template <class T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out) {
  if (winograd_applies(g)) {
    winograd_conv_forward(winograd_shape(g), x, w, bias, out);
    return;
  }
  const int64_t in_g = g.in_per_group(), out_g = g.out_per_group(), patch = g.patch(), plane = g.out_plane();
  const bool identity = g.im2col_is_identity(), rows_only = !identity && g.rows_only();
  const auto product = sample_gemm<T>(g.batch);
  for_each_item(g.batch, g.out_channels * patch * plane, [&](int64_t n0, int64_t n1) {
    auto cols = scratch<T>(!identity, patch * plane);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const T* x_group = x + (n * g.in_channels + grp * in_g) * g.in_plane();
        T* out_group = out + (n * g.out_channels + grp * out_g) * plane;
        if (rows_only) {
          im2col_rows(x_group, g, cols.get());
        } else if (!identity) {
          im2col(x_group, g, cols.get());
        }
        if (bias != nullptr) {
          for (int64_t o = 0; o < out_g; ++o)
            std::fill(out_group + o * plane, out_group + (o + 1) * plane, bias[grp * out_g + o]);
        }
        // out_group [O_g, plane] (+)= W_g [O_g, patch] x cols [patch, plane]
        product(false, false, out_g, plane, patch, T(1), w + grp * out_g * patch, patch,
                identity ? x_group : cols.get(), plane, bias != nullptr ? T(1) : T(0), out_group, plane);
      }
    }
  });
}

// ---------------------------------------------------------------- backward

// How many fixed chunks of samples the weight and bias gradients are summed in: enough for
// parallelism (kGradientChunks), few enough that their partials stay within kPartialBudget.
// Within a chunk, samples accumulate in the GEMM itself (beta = 1), which costs nothing
// extra, so fewer chunks mean less partial memory to write and add up. Shape-only.
int64_t gradient_chunks(const ConvGeometry& g) {
  const int64_t per_partial = g.out_channels * g.patch() + g.out_channels;
  return std::clamp<int64_t>(kPartialBudget / per_partial, 1, std::min(kGradientChunks, std::max<int64_t>(g.batch, 1)));
}

// From grad_out [N, C_out, H_out, W_out] (contiguous): grad_x [N, C_in, H, W],
// grad_w [C_out, C_g, kH, kW], grad_b [C_out]; each computed only when its pointer is set.
template <class T>
void conv_backward(const ConvGeometry& g, const T* x, const T* w, const T* grad_out, T* grad_x, T* grad_w,
                   T* grad_b) {
  if (winograd_applies(g)) {
    winograd_conv_backward(winograd_shape(g), x, w, grad_out, grad_x, grad_w, grad_b);
    return;
  }
  const int64_t in_g = g.in_per_group(), out_g = g.out_per_group(), patch = g.patch(), plane = g.out_plane();
  const int64_t w_size = g.out_channels * patch;
  const bool identity = g.im2col_is_identity(), rows_only = !identity && g.rows_only();
  const bool need_x = grad_x != nullptr, need_w = grad_w != nullptr, need_b = grad_b != nullptr;
  if (g.batch == 0) {  // nothing to sum
    if (need_w) std::fill(grad_w, grad_w + w_size, T(0));
    if (need_b) std::fill(grad_b, grad_b + g.out_channels, T(0));
    return;
  }

  // Chunk c sums samples [c * N / chunks, (c + 1) * N / chunks) into its partials; with one
  // chunk they are the gradients themselves.
  const int64_t chunks = need_w || need_b ? gradient_chunks(g) : g.batch;
  const auto product = sample_gemm<T>(chunks);
  auto partial_w = scratch<T>(need_w && chunks > 1, chunks * w_size);
  auto partial_b = scratch<T>(need_b && chunks > 1, chunks * g.out_channels);
  const int64_t samples_per_chunk = (g.batch + chunks - 1) / chunks;
  const int64_t work = samples_per_chunk * g.out_channels * patch * plane * ((need_x ? 1 : 0) + (need_w ? 1 : 0));

  for_each_item(chunks, work, [&](int64_t c0, int64_t c1) {
    auto cols = scratch<T>(need_w && !identity, patch * plane);
    auto grad_cols = scratch<T>(need_x && !identity, patch * plane);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t s0 = c * g.batch / chunks, s1 = (c + 1) * g.batch / chunks;
      T* chunk_w = need_w ? (chunks > 1 ? partial_w.get() + c * w_size : grad_w) : nullptr;
      T* chunk_b = need_b ? (chunks > 1 ? partial_b.get() + c * g.out_channels : grad_b) : nullptr;
      for (int64_t n = s0; n < s1; ++n) {
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          const T* x_group = x + (n * g.in_channels + grp * in_g) * g.in_plane();
          const T* g_group = grad_out + (n * g.out_channels + grp * out_g) * plane;
          const T* w_group = w + grp * out_g * patch;
          if (need_w) {
            // chunk_w_g [O_g, patch] (+)= G [O_g, plane] x cols^T [plane, patch]
            if (rows_only) {
              im2col_rows(x_group, g, cols.get());
            } else if (!identity) {
              im2col(x_group, g, cols.get());
            }
            product(false, true, out_g, patch, plane, T(1), g_group, plane, identity ? x_group : cols.get(), plane,
                    n == s0 ? T(0) : T(1), chunk_w + grp * out_g * patch, patch);
          }
          if (need_x) {
            // grad_cols [patch, plane] = W_g^T [patch, O_g] x G [O_g, plane], folded back onto the input
            T* grad_x_group = grad_x + (n * g.in_channels + grp * in_g) * g.in_plane();
            product(true, false, patch, plane, out_g, T(1), w_group, patch, g_group, plane, T(0),
                    identity ? grad_x_group : grad_cols.get(), plane);
            if (rows_only) {
              col2im_rows(grad_cols.get(), g, grad_x_group);
            } else if (!identity) {
              col2im(grad_cols.get(), g, grad_x_group);
            }
          }
        }
        if (need_b) {
          for (int64_t o = 0; o < g.out_channels; ++o) {
            const T s = row_sum(grad_out + (n * g.out_channels + o) * plane, plane);
            chunk_b[o] = n == s0 ? s : chunk_b[o] + s;
          }
        }
      }
    }
  });

  // Partials added in chunk order: result[i] = ((p_0[i] + p_1[i]) + p_2[i]) + ..., partial by
  // partial over the range (sequential, vectorised reads; element by element, the strided
  // reads of `chunks` distant partials would miss the cache every time).
  auto reduce = [chunks](const T* partials, int64_t size, T* result) {
    parallel_for(0, size, std::max<int64_t>(1, kGrainSize / chunks), [&](int64_t i0, int64_t i1) {
      std::copy(partials + i0, partials + i1, result + i0);
      for (int64_t c = 1; c < chunks; ++c) {
        const T* partial = partials + c * size;
        for (int64_t i = i0; i < i1; ++i) result[i] += partial[i];
      }
    });
  };
  if (chunks > 1 && need_w) reduce(partial_w.get(), w_size, grad_w);
  if (chunks > 1 && need_b) reduce(partial_b.get(), g.out_channels, grad_b);
}

// ---------------------------------------------------------------- the op

Tensor contiguous_detached(const Tensor& t) { return t.is_contiguous() ? t.detach() : t.contiguous_copy(); }

// The convolution described by call, recorded against the caller's tensors. The kernels see
// contiguous memory only, whose layout does not depend on whether the caller's shapes are
// batched, 1-d or 2-d.
Tensor convolution(const char* op, const ConvCall& call, const Tensor& input, const Tensor& weight,
                   const Tensor& bias) {
  const ConvGeometry& g = call.geometry;
  const Tensor x = contiguous_detached(input), w = contiguous_detached(weight);
  const Tensor b = bias.defined() ? contiguous_detached(bias) : Tensor();
  Tensor out = empty(call.out_shape, input.dtype());
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    conv_forward<T>(g, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, out.data<T>());
  });

  std::vector<Tensor> inputs{input, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record_op(op, inputs, out,
                   [op, g, x, w, input_shape = input.shape(), weight_shape = weight.shape(),
                    has_bias = bias.defined()](const Tensor& grad, const std::vector<bool>& needs) {
                     const Tensor go = grad.is_contiguous() ? grad : grad.contiguous_copy();
                     std::vector<Tensor> grads(has_bias ? 3 : 2);
                     if (needs[0]) grads[0] = empty(input_shape, go.dtype());
                     if (needs[1]) grads[1] = empty(weight_shape, go.dtype());
                     if (has_bias && needs[2]) grads[2] = empty({g.out_channels}, go.dtype());
                     dispatch_floating(go.dtype(), op, [&](auto tag) {
                       using T = decltype(tag);
                       auto ptr = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
                       conv_backward<T>(g, x.data<T>(), w.data<T>(), go.data<T>(), ptr(grads[0]), ptr(grads[1]),
                                        has_bias ? ptr(grads[2]) : nullptr);
                     });
                     return grads;
                   });
}

ConvCall resolve_conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  return resolve("conv2d", 2, input, weight, bias, spatial_args<2>(o.stride, o.padding, o.dilation), o.groups);
}

ConvCall resolve_conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv1dOptions& o) {
  return resolve("conv1d", 1, input, weight, bias,
                 spatial_args<1>({o.stride}, o.padding, {o.dilation}), o.groups);
}

// ---------------------------------------------------------------- naive references

// Every (n, o, oh, ow, c, ki, kj) term of the definition, in float64:
//   out[n, o, oh, ow] = bias[o] + sum x[n, grp * C_g + c, ih, iw] * w[o, c, ki, kj],
//   ih = oh * stride_h - pad_top + ki * dilation_h,  iw = ow * stride_w - pad_left + kj * dilation_w,
//   grp = o / O_g, terms with (ih, iw) in the padding left out.
// visit(x_index, w_index, out_index) is called for each term.
template <class Visit>
void for_each_term(const ConvGeometry& g, Visit&& visit) {
  const int64_t in_g = g.in_per_group(), out_g = g.out_per_group();
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t o = 0; o < g.out_channels; ++o)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t out_index = ((n * g.out_channels + o) * g.out_h + oh) * g.out_w + ow;
          for (int64_t c = 0; c < in_g; ++c)
            for (int64_t ki = 0; ki < g.kernel_h; ++ki)
              for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
                const int64_t ih = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
                const int64_t iw = ow * g.stride_w - g.pad_left + kj * g.dilation_w;
                if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
                const int64_t channel = (o / out_g) * in_g + c;
                visit(((n * g.in_channels + channel) * g.in_h + ih) * g.in_w + iw,
                      ((o * in_g + c) * g.kernel_h + ki) * g.kernel_w + kj, out_index);
              }
        }
}

Tensor reference_forward(const ConvCall& call, const Tensor& input, const Tensor& weight, const Tensor& bias) {
  const ConvGeometry& g = call.geometry;
  const std::vector<double> x = input.to_vector<double>(), w = weight.to_vector<double>();
  std::vector<double> out(static_cast<size_t>(shape_numel(call.out_shape)), 0.0);
  if (bias.defined()) {
    const std::vector<double> b = bias.to_vector<double>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = b[(i / static_cast<size_t>(g.out_plane())) % b.size()];
  }
  for_each_term(g, [&](int64_t xi, int64_t wi, int64_t oi) {
    out[static_cast<size_t>(oi)] += x[static_cast<size_t>(xi)] * w[static_cast<size_t>(wi)];
  });
  return from_vector(out, call.out_shape, input.dtype());
}

ConvGradients reference_backward(const char* op, const ConvCall& call, const Tensor& input, const Tensor& weight,
                                 const Tensor& grad_output, bool has_bias) {
  const ConvGeometry& g = call.geometry;
  HARNET_CHECK(grad_output.defined() && grad_output.shape() == call.out_shape, op,
               ": grad_output must have the output shape ", call.out_shape, ", got ",
               grad_output.defined() ? grad_output.shape() : Shape{});
  const std::vector<double> x = input.to_vector<double>(), w = weight.to_vector<double>();
  const std::vector<double> go = grad_output.to_vector<double>();
  std::vector<double> gx(x.size(), 0.0), gw(w.size(), 0.0), gb(static_cast<size_t>(g.out_channels), 0.0);
  for_each_term(g, [&](int64_t xi, int64_t wi, int64_t oi) {
    gx[static_cast<size_t>(xi)] += go[static_cast<size_t>(oi)] * w[static_cast<size_t>(wi)];
    gw[static_cast<size_t>(wi)] += go[static_cast<size_t>(oi)] * x[static_cast<size_t>(xi)];
  });
  for (size_t i = 0; i < go.size(); ++i) gb[(i / static_cast<size_t>(g.out_plane())) % gb.size()] += go[i];
  ConvGradients r;
  r.grad_input = from_vector(gx, input.shape(), input.dtype());
  r.grad_weight = from_vector(gw, weight.shape(), weight.dtype());
  if (has_bias) r.grad_bias = from_vector(gb, {g.out_channels}, weight.dtype());
  return r;
}

}  // namespace

// ---------------------------------------------------------------- public API

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  return convolution("conv2d", resolve_conv2d(input, weight, bias, options), input, weight, bias);
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv1dOptions& options) {
  return convolution("conv1d", resolve_conv1d(input, weight, bias, options), input, weight, bias);
}

Tensor conv2d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  return reference_forward(resolve_conv2d(input, weight, bias, options), input, weight, bias);
}

Tensor conv1d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv1dOptions& options) {
  return reference_forward(resolve_conv1d(input, weight, bias, options), input, weight, bias);
}

ConvGradients conv2d_backward_reference(const Tensor& input, const Tensor& weight, const Tensor& grad_output,
                                        bool has_bias, const Conv2dOptions& options) {
  return reference_backward("conv2d_backward_reference", resolve_conv2d(input, weight, Tensor(), options), input,
                            weight, grad_output, has_bias);
}

ConvGradients conv1d_backward_reference(const Tensor& input, const Tensor& weight, const Tensor& grad_output,
                                        bool has_bias, const Conv1dOptions& options) {
  return reference_backward("conv1d_backward_reference", resolve_conv1d(input, weight, Tensor(), options), input,
                            weight, grad_output, has_bias);
}

}  // namespace harnet
