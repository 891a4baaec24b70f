// Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d (torch.nn.functional).
//
// Every pool sees its input as `planes` contiguous [H, W] planes (N * C of them; a 1-d pool
// is a 2-d pool whose planes have height 1 and whose windows have height 1). The window of
// each output position is the product of a row range and a column range that depend only
// on the output row and column, so both are computed once per call (WindowRange) and every
// plane reuses them. Planes are independent: the forward and the backward (a scatter into
// the input plane, where windows may overlap) run one plane per task, in parallel over
// planes, which makes every result bit-identical for any thread count.
//
//   max pool:  out[p, o] = max over the window of in[p, .]   (padding = -inf, never chosen)
//              grad_in[p, argmax[p, o]] += grad_out[p, o]
//   avg pools: out[p, o] = sum over the window of in[p, .] / divisor[o]
//              grad_in[p, i] += grad_out[p, o] / divisor[o]   for i in the window of o
#include "ops/pool.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/parallel.h"

namespace harnet {

namespace {

// ---------------------------------------------------------------- geometry

// One pooled dimension: input and output sizes and the window arguments along it.
struct PoolDim {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, padding = 0, dilation = 1;
};

// The input as planes of [h.in, w.in] and the pooling geometry over them.
struct PoolPlan {
  Shape output_shape;
  int64_t planes = 0;
  PoolDim h, w;
  int64_t in_plane() const { return h.in * w.in; }
  int64_t out_plane() const { return h.out * w.out; }
};

// The valid input positions of one window along one dimension: first, first + step, ... < end.
// Empty when first >= end.
struct WindowRange {
  int64_t first = 0, end = 0;
  int64_t count(int64_t step) const { return first < end ? (end - first + step - 1) / step : 0; }
};

// Floor division for b > 0 (C++ truncates towards zero).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape: floor (or ceil) mode, and in ceil mode the last window must
// start inside the input or its left padding.
int64_t pooling_output_size(int64_t in, int64_t kernel, int64_t padding, int64_t stride, int64_t dilation,
                            bool ceil_mode) {
  int64_t out =
      floor_div(in + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

// "3" for a 1-d pool, "(1, 2)" for a 2-d pool.
std::string pair_str(int spatial, int64_t h, int64_t w) {
  return spatial == 1 ? str_cat(w) : str_cat("(", h, ", ", w, ")");
}

// Input checks shared by every pool; returns [planes, H, W] of the input (H = 1 for 1-d).
// Accepts [N, C, *spatial] or [C, *spatial] with non-empty C and spatial sizes.
void check_input(const char* op, const Tensor& input, int spatial, int64_t& planes, int64_t& in_h, int64_t& in_w) {
  HARNET_CHECK(input.defined(), op, ": input is an undefined tensor");
  HARNET_CHECK(is_floating(input.dtype()), op, ": expected a floating input (float32 or float64), got ",
               dtype_name(input.dtype()));
  const int64_t dim = input.dim();
  HARNET_CHECK(dim == spatial + 1 || dim == spatial + 2, op, ": expected a ", spatial + 1, "-d (unbatched) or ",
               spatial + 2, "-d (batched) input, got shape ", input.shape());
  for (int64_t d = dim == spatial + 2 ? 1 : 0; d < dim; ++d)
    HARNET_CHECK(input.size(d) > 0, op, ": input shape ", input.shape(),
                 " has an empty non-batch dimension (only the batch dimension may be 0)");
  planes = 1;
  for (int64_t d = 0; d < dim - spatial; ++d) planes *= input.size(d);
  in_h = spatial == 2 ? input.size(-2) : 1;
  in_w = input.size(-1);
}

Shape output_shape_of(const Tensor& input, int spatial, int64_t out_h, int64_t out_w) {
  Shape shape(input.shape().begin(), input.shape().end() - spatial);
  if (spatial == 2) shape.push_back(out_h);
  shape.push_back(out_w);
  return shape;
}

// The plan of a windowed (max or average) pool; dilation is 1 for average pools. Checks the
// arguments as PyTorch does, naming the op and the values.
PoolPlan windowed_plan(const char* op, const Tensor& input, int spatial, Pool2dParam kernel, Pool2dParam stride,
                       Pool2dParam padding, Pool2dParam dilation, bool ceil_mode) {
  PoolPlan plan;
  int64_t in_h = 1, in_w = 1;
  check_input(op, input, spatial, plan.planes, in_h, in_w);
  HARNET_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel_size must be greater than zero, got ",
               pair_str(spatial, kernel.h, kernel.w));
  HARNET_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be greater than zero, got ",
               pair_str(spatial, stride.h, stride.w));
  HARNET_CHECK(dilation.h > 0 && dilation.w > 0, op, ": dilation must be greater than zero, got ",
               pair_str(spatial, dilation.h, dilation.w));
  HARNET_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ",
               pair_str(spatial, padding.h, padding.w));
  HARNET_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op,
               ": padding should be at most half of kernel_size, got padding ", pair_str(spatial, padding.h, padding.w),
               " and kernel_size ", pair_str(spatial, kernel.h, kernel.w));
  plan.h = {in_h, 1, kernel.h, stride.h, padding.h, dilation.h};
  plan.w = {in_w, 1, kernel.w, stride.w, padding.w, dilation.w};
  plan.h.out = pooling_output_size(in_h, kernel.h, padding.h, stride.h, dilation.h, ceil_mode);
  plan.w.out = pooling_output_size(in_w, kernel.w, padding.w, stride.w, dilation.w, ceil_mode);
  HARNET_CHECK(plan.h.out >= 1 && plan.w.out >= 1, op, ": input shape ", input.shape(), " with kernel_size ",
               pair_str(spatial, kernel.h, kernel.w), ", stride ", pair_str(spatial, stride.h, stride.w),
               ", padding ", pair_str(spatial, padding.h, padding.w), ", dilation ",
               pair_str(spatial, dilation.h, dilation.w), " gives output size ",
               pair_str(spatial, plan.h.out, plan.w.out), ", which is too small");
  plan.output_shape = output_shape_of(input, spatial, plan.h.out, plan.w.out);
  return plan;
}

// Max pooling windows along one dimension: positions start, start + dilation, ... clipped to
// the input (the padding holds -inf and is never the maximum).
std::vector<WindowRange> max_windows(const PoolDim& d) {
  std::vector<WindowRange> windows(static_cast<size_t>(d.out));
  for (int64_t o = 0; o < d.out; ++o) {
    int64_t first = o * d.stride - d.padding;
    const int64_t end = std::min(first + (d.kernel - 1) * d.dilation + 1, d.in);
    if (first < 0) first += (-first + d.dilation - 1) / d.dilation * d.dilation;
    windows[static_cast<size_t>(o)] = {first, end};
  }
  return windows;
}

// Average pooling windows along one dimension, clipped to the input; padded_size is the
// window's extent within the padded input (PyTorch's pool_size factor, which in ceil mode may
// be smaller than the kernel).
std::vector<WindowRange> avg_windows(const PoolDim& d, std::vector<int64_t>& padded_size) {
  std::vector<WindowRange> windows(static_cast<size_t>(d.out));
  padded_size.resize(static_cast<size_t>(d.out));
  for (int64_t o = 0; o < d.out; ++o) {
    const int64_t start = o * d.stride - d.padding;
    const int64_t end = std::min(start + d.kernel, d.in + d.padding);
    padded_size[static_cast<size_t>(o)] = end - start;
    windows[static_cast<size_t>(o)] = {std::max<int64_t>(start, 0), std::min(end, d.in)};
  }
  return windows;
}

// Adaptive windows: output o of out covers [floor(o * in / out), ceil((o + 1) * in / out)).
std::vector<WindowRange> adaptive_windows(int64_t in, int64_t out) {
  std::vector<WindowRange> windows(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o)
    windows[static_cast<size_t>(o)] = {(o / out) * in + ((o % out) * in) / out, 1 + ((o + 1) * in - 1) / out};
  return windows;
}

// Planes per task: about kGrainSize elements of input per task.
int64_t plane_grain(const PoolPlan& plan) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(plan.in_plane() + plan.out_plane(), 1));
}

Tensor contiguous_input(const Tensor& input) { return input.is_contiguous() ? input : input.contiguous_copy(); }

// ---------------------------------------------------------------- max pooling kernels

// The output columns whose windows lie entirely inside the input: [lo, hi). Outside it (the
// padding and ceil_mode borders) windows are clipped per position.
struct InteriorColumns {
  int64_t lo = 0, hi = 0;
};

InteriorColumns interior_columns(const PoolDim& d) {
  InteriorColumns c;
  const int64_t extent = (d.kernel - 1) * d.dilation + 1;
  c.lo = std::min((d.padding + d.stride - 1) / d.stride, d.out);                        // first with start >= 0
  c.hi = d.in + d.padding >= extent ? std::min((d.in + d.padding - extent) / d.stride + 1, d.out) : 0;  // start + extent <= in
  if (c.hi < c.lo) c.hi = c.lo;
  return c;
}

// Forward over planes [p0, p1): out [planes, out_h, out_w], and with kSaveIndex the position
// of each maximum in its input plane: the first in row-major scan order of its window, where
// a NaN replaces anything before it (PyTorch's `v > best || isnan(v)`). A window with no
// valid position (impossible for arguments that pass the checks) gives -inf and index -1.
//
// Per output row, the interior columns are computed a window offset at a time across the
// whole row (branch-free selects over a contiguous run of outputs, which vectorise); the few
// border columns take the per-position loop. Both visit every window in the same scan order.
template <class T, class Index, bool kSaveIndex>
void max_pool_forward_planes(const PoolPlan& plan, const std::vector<WindowRange>& rows,
                             const std::vector<WindowRange>& cols, const InteriorColumns& interior, const T* in,
                             T* out, Index* indices, int64_t p0, int64_t p1) {
  const int64_t W = plan.w.in, dh = plan.h.dilation, dw = plan.w.dilation, sw = plan.w.stride, pw = plan.w.padding;
  const int64_t out_h = plan.h.out, out_w = plan.w.out, kernel_w = plan.w.kernel;
  constexpr T kMinusInf = -std::numeric_limits<T>::infinity();
  for (int64_t p = p0; p < p1; ++p) {
    const T* x = in + p * plan.in_plane();
    for (int64_t oh = 0; oh < out_h; ++oh) {
      const WindowRange r = rows[static_cast<size_t>(oh)];
      T* __restrict y = out + p * plan.out_plane() + oh * out_w;
      Index* __restrict at = kSaveIndex ? indices + p * plan.out_plane() + oh * out_w : nullptr;
      // Border columns: each window clipped to the input.
      auto border = [&](int64_t ow) {
        const WindowRange c = cols[static_cast<size_t>(ow)];
        T best = kMinusInf;
        int64_t best_at = r.first < r.end && c.first < c.end ? r.first * W + c.first : -1;
        for (int64_t ih = r.first; ih < r.end; ih += dh) {
          for (int64_t iw = c.first; iw < c.end; iw += dw) {
            const T v = x[ih * W + iw];
            if (v > best || std::isnan(v)) {
              best = v;
              best_at = ih * W + iw;
            }
          }
        }
        y[ow] = best;
        if constexpr (kSaveIndex) at[ow] = static_cast<Index>(best_at);
      };
      for (int64_t ow = 0; ow < interior.lo; ++ow) border(ow);
      for (int64_t ow = interior.hi; ow < out_w; ++ow) border(ow);
      // Interior columns: the window of ow starts at column ow * sw - pw, fully inside.
      const int64_t lo = interior.lo, hi = interior.hi;
      const bool empty_rows = r.first >= r.end;
      for (int64_t ow = lo; ow < hi; ++ow) {
        y[ow] = kMinusInf;
        if constexpr (kSaveIndex) at[ow] = static_cast<Index>(empty_rows ? -1 : r.first * W + ow * sw - pw);
      }
      for (int64_t ih = r.first; ih < r.end; ih += dh) {
        for (int64_t k = 0; k < kernel_w; ++k) {
          const int64_t offset = ih * W - pw + k * dw;  // input position of output column 0's candidate
          const T* __restrict src = x + offset;
          for (int64_t ow = lo; ow < hi; ++ow) {
            const T v = src[ow * sw];
            const bool take = v > y[ow] || v != v;
            y[ow] = take ? v : y[ow];
            if constexpr (kSaveIndex) at[ow] = take ? static_cast<Index>(offset + ow * sw) : at[ow];
          }
        }
      }
    }
  }
}

// grad_in [planes, H, W] from grad_out [planes, out_h, out_w] and the saved positions.
template <class T, class Index>
void max_pool_backward(const PoolPlan& plan, const T* grad_out, const Index* indices, T* grad_in) {
  const int64_t in_plane = plan.in_plane(), out_plane = plan.out_plane();
  parallel_for(0, plan.planes, plane_grain(plan), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* gx = grad_in + p * in_plane;
      const T* g = grad_out + p * out_plane;
      const Index* at = indices + p * out_plane;
      std::fill(gx, gx + in_plane, T(0));
      for (int64_t o = 0; o < out_plane; ++o)
        if (at[o] >= 0) gx[at[o]] += g[o];
    }
  });
}

// ---------------------------------------------------------------- pairwise max pooling

// The common case of windows (1, 2) with stride (1, 2), no padding, no dilation (HARNet's
// joints -> limbs pooling; also max_pool1d(x, 2)): every input row of W values gives a row of
// out_w = W / 2 (or, in ceil mode, (W + 1) / 2) maxima of neighbouring pairs. Rows are
// independent and windows do not overlap, so the forward keeps one flag per output (was the
// second of the pair taken?) instead of an index, and the backward writes every input
// position exactly once, without zero-filling first. The choice is the general kernel's:
// the second wins if it is greater or NaN.
bool is_pairwise(const PoolPlan& plan) {
  return plan.h.kernel == 1 && plan.h.stride == 1 && plan.h.padding == 0 && plan.w.kernel == 2 &&
         plan.w.stride == 2 && plan.w.padding == 0 && plan.w.dilation == 1;
}

// Rows per task: about kGrainSize input elements.
int64_t pair_row_grain(const PoolPlan& plan) { return std::max<int64_t>(1, kGrainSize / plan.w.in); }

// One flag per output, 0 or 1, in a 32-bit word: with the same width as float the loops
// vectorise at float's width (8 per AVX2 register); byte flags would need 32 outputs per
// iteration, more than a row of a dozen pairs has. The words live in a float32 tensor of the
// output's shape (the caching allocator's memory), never read as floats.
using Flag = uint32_t;

// c ? a : b as bit operations: rows are short (a dozen pairs), so much of the work runs in
// the loops' scalar remainders, where a conditional expression may become a branch that
// mispredicts on every other random pair.
template <class T>
T select_bits(bool c, T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const Bits mask = Bits(0) - static_cast<Bits>(c);
  return std::bit_cast<T>((std::bit_cast<Bits>(a) & mask) | (std::bit_cast<Bits>(b) & ~mask));
}

// out [rows, out_w] and, with kSaveFlags, took_second [rows, out_w] from in [rows, W], rows
// [r0, r1).
template <class T, bool kSaveFlags>
void pairwise_max_forward(const PoolPlan& plan, const T* in, T* out, Flag* took_second, int64_t r0, int64_t r1) {
  const int64_t W = plan.w.in, out_w = plan.w.out, pairs = W / 2;  // full pairs; a last single in ceil mode
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict x = in + r * W;
    T* __restrict y = out + r * out_w;
    Flag* __restrict took = kSaveFlags ? took_second + r * out_w : nullptr;
    for (int64_t o = 0; o < pairs; ++o) {
      const T first = x[2 * o], second = x[2 * o + 1];
      const bool take = (second > first) | (second != second);
      y[o] = select_bits(take, second, first);
      if constexpr (kSaveFlags) took[o] = static_cast<Flag>(take);
    }
    if (out_w > pairs) {  // ceil mode, odd W: the last window holds one value
      y[pairs] = x[W - 1];
      if constexpr (kSaveFlags) took[pairs] = 0;
    }
  }
}

// Walks the rows of a tensor whose last dimension is a row, in order from a given row: the
// offset of each row's first element, advanced with an odometer over the leading dimensions.
class RowWalker {
 public:
  RowWalker(const Tensor& t, int64_t row)
      : shape_(t.shape().begin(), t.shape().end() - 1), strides_(t.strides().begin(), t.strides().end() - 1),
        index_(shape_.size(), 0), offset_(t.offset()) {
    for (size_t d = shape_.size(); d-- > 0;) {
      index_[d] = row % shape_[d];
      row /= shape_[d];
      offset_ += index_[d] * strides_[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {
    for (size_t d = shape_.size(); d-- > 0;) {
      offset_ += strides_[d];
      if (++index_[d] < shape_[d]) return;
      offset_ -= strides_[d] * shape_[d];
      index_[d] = 0;
    }
  }

 private:
  Shape shape_, strides_, index_;
  int64_t offset_;
};

// grad_in [rows, W] from grad_out (its rows of out_w read through its strides) and the flags,
// rows [r0, r1).
template <class T>
void pairwise_max_backward(const PoolPlan& plan, const Tensor& grad_out, const Flag* took_second, T* grad_in,
                           int64_t r0, int64_t r1) {
  const int64_t W = plan.w.in, out_w = plan.w.out, pairs = W / 2;
  const T* grad_base = static_cast<const T*>(grad_out.storage()->data());
  const int64_t grad_step = grad_out.strides().back();
  RowWalker row(grad_out, r0);
  for (int64_t r = r0; r < r1; ++r, row.next()) {
    const T* __restrict g = grad_base + row.offset();
    const Flag* __restrict took = took_second + r * out_w;
    T* __restrict gx = grad_in + r * W;
    auto pair = [&](int64_t o, T v) {
      const bool second = took[o] != 0;
      gx[2 * o] = select_bits(second, T(0), v);
      gx[2 * o + 1] = select_bits(second, v, T(0));
    };
    if (grad_step == 1) {
      for (int64_t o = 0; o < pairs; ++o) pair(o, g[o]);
    } else {
      for (int64_t o = 0; o < pairs; ++o) pair(o, g[o * grad_step]);
    }
    if (W > 2 * pairs) gx[W - 1] = out_w > pairs ? g[pairs * grad_step] : T(0);  // odd W: ceil or floor mode
  }
}

Tensor pairwise_max_pool(const char* op, const Tensor& input, const PoolPlan& plan) {
  const Tensor x = contiguous_input(input);
  const bool needs_grad = any_requires_grad({input});
  const int64_t rows = plan.planes * plan.h.in;
  Tensor out = empty(plan.output_shape, input.dtype());
  static_assert(sizeof(Flag) == sizeof(float));
  Tensor took_second = needs_grad ? empty(plan.output_shape, kFloat32) : Tensor();
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    parallel_for(0, rows, pair_row_grain(plan), [&](int64_t r0, int64_t r1) {
      if (needs_grad)
        pairwise_max_forward<T, true>(plan, x.data<T>(), out.data<T>(),
                                      reinterpret_cast<Flag*>(took_second.data<float>()), r0, r1);
      else
        pairwise_max_forward<T, false>(plan, x.data<T>(), out.data<T>(), nullptr, r0, r1);
    });
  });
  if (!needs_grad) return out;
  return record_op(op, {input}, out,
                   [op, plan, took_second, input_shape = input.shape()](const Tensor& grad, const std::vector<bool>&) {
                     // The incoming gradient is read through its strides (often a permuted view).
                     Tensor grad_in = empty(input_shape, grad.dtype());
                     const int64_t rows = plan.planes * plan.h.in;
                     dispatch_floating(grad.dtype(), op, [&](auto tag) {
                       using T = decltype(tag);
                       parallel_for(0, rows, pair_row_grain(plan), [&](int64_t r0, int64_t r1) {
                         pairwise_max_backward<T>(plan, grad, reinterpret_cast<const Flag*>(took_second.data<float>()),
                                                  grad_in.data<T>(), r0, r1);
                       });
                     });
                     return std::vector<Tensor>{grad_in};
                   });
}

// The argmax positions the backward needs: int32 (half the memory traffic of int64) when a
// plane is small enough, or the int64 tensor of max_pool*_with_indices.
struct SavedArgmax {
  std::vector<int32_t> narrow;
  Tensor wide;
};

// Values (and, when indices_out is given, PyTorch's int64 indices) of a max pool; records
// the backward.
Tensor max_pool(const char* op, const Tensor& input, const PoolPlan& plan, Tensor* indices_out) {
  if (indices_out == nullptr && is_pairwise(plan)) return pairwise_max_pool(op, input, plan);
  const Tensor x = contiguous_input(input);
  const bool needs_grad = any_requires_grad({input});
  const std::vector<WindowRange> rows = max_windows(plan.h), cols = max_windows(plan.w);
  const InteriorColumns interior = interior_columns(plan.w);
  auto saved = std::make_shared<SavedArgmax>();
  const bool wide = indices_out != nullptr || plan.in_plane() > INT32_MAX;
  if (wide) {
    saved->wide = empty(plan.output_shape, kInt64);
  } else if (needs_grad) {
    saved->narrow.resize(static_cast<size_t>(plan.planes * plan.out_plane()));
  }
  Tensor out = empty(plan.output_shape, input.dtype());
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = out.data<T>();
    parallel_for(0, plan.planes, plane_grain(plan), [&](int64_t p0, int64_t p1) {
      if (wide)
        max_pool_forward_planes<T, int64_t, true>(plan, rows, cols, interior, xp, yp, saved->wide.data<int64_t>(), p0, p1);
      else if (needs_grad)
        max_pool_forward_planes<T, int32_t, true>(plan, rows, cols, interior, xp, yp, saved->narrow.data(), p0, p1);
      else
        max_pool_forward_planes<T, int32_t, false>(plan, rows, cols, interior, xp, yp, nullptr, p0, p1);
    });
  });
  if (indices_out) *indices_out = saved->wide;
  if (!needs_grad) return out;
  return record_op(op, {input}, out,
                   [op, plan, saved, input_shape = input.shape()](const Tensor& grad, const std::vector<bool>&) {
                     const Tensor g = contiguous_input(grad);
                     Tensor grad_in = empty(input_shape, g.dtype());
                     dispatch_floating(g.dtype(), op, [&](auto tag) {
                       using T = decltype(tag);
                       if (saved->wide.defined())
                         max_pool_backward<T, int64_t>(plan, g.data<T>(), saved->wide.data<int64_t>(),
                                                       grad_in.data<T>());
                       else
                         max_pool_backward<T, int32_t>(plan, g.data<T>(), saved->narrow.data(), grad_in.data<T>());
                     });
                     return std::vector<Tensor>{grad_in};
                   });
}

PoolPlan max_pool2d_plan(const char* op, const Tensor& input, int spatial, Pool2dParam kernel,
                         const MaxPool2dOptions& o) {
  return windowed_plan(op, input, spatial, kernel, o.stride.value_or(kernel), o.padding, o.dilation, o.ceil_mode);
}

MaxPool2dOptions as_2d(const MaxPool1dOptions& o) {
  MaxPool2dOptions o2;
  if (o.stride) o2.stride = Pool2dParam(1, *o.stride);
  o2.padding = Pool2dParam(0, o.padding);
  o2.dilation = Pool2dParam(1, o.dilation);
  o2.ceil_mode = o.ceil_mode;
  return o2;
}

// ---------------------------------------------------------------- average pooling kernels

// The windows of an average pool (plain or adaptive) and the divisor of each output
// position, [out_h * out_w]; a window with no valid position has divisor 0 and output 0.
struct BoxPlan {
  std::vector<WindowRange> rows, cols;
  std::vector<double> divisor;
};

// Forward over all planes: out[p, o] = sum of the window / divisor[o], summed in double.
template <class T>
void box_pool_forward(const PoolPlan& plan, const BoxPlan& box, const T* in, T* out) {
  const int64_t W = plan.w.in, out_w = plan.w.out, out_plane = plan.out_plane();
  parallel_for(0, plan.planes, plane_grain(plan), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* x = in + p * plan.in_plane();
      T* y = out + p * out_plane;
      for (int64_t o = 0; o < out_plane; ++o) {
        const WindowRange r = box.rows[static_cast<size_t>(o / out_w)], c = box.cols[static_cast<size_t>(o % out_w)];
        const double divisor = box.divisor[static_cast<size_t>(o)];
        if (r.first >= r.end || c.first >= c.end || divisor == 0.0) {
          y[o] = T(0);
          continue;
        }
        double total = 0.0;
        for (int64_t ih = r.first; ih < r.end; ++ih)
          for (int64_t iw = c.first; iw < c.end; ++iw) total += double(x[ih * W + iw]);
        y[o] = static_cast<T>(total / divisor);
      }
    }
  });
}

// grad_in[p, i] = sum over the windows o containing i of grad_out[p, o] / divisor[o].
template <class T>
void box_pool_backward(const PoolPlan& plan, const BoxPlan& box, const T* grad_out, T* grad_in) {
  const int64_t W = plan.w.in, out_w = plan.w.out, out_plane = plan.out_plane(), in_plane = plan.in_plane();
  parallel_for(0, plan.planes, plane_grain(plan), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* gx = grad_in + p * in_plane;
      const T* g = grad_out + p * out_plane;
      std::fill(gx, gx + in_plane, T(0));
      for (int64_t o = 0; o < out_plane; ++o) {
        const WindowRange r = box.rows[static_cast<size_t>(o / out_w)], c = box.cols[static_cast<size_t>(o % out_w)];
        const double divisor = box.divisor[static_cast<size_t>(o)];
        if (divisor == 0.0) continue;
        const T share = static_cast<T>(double(g[o]) / divisor);
        for (int64_t ih = r.first; ih < r.end; ++ih)
          for (int64_t iw = c.first; iw < c.end; ++iw) gx[ih * W + iw] += share;
      }
    }
  });
}

Tensor box_pool(const char* op, const Tensor& input, const PoolPlan& plan, std::shared_ptr<const BoxPlan> box) {
  const Tensor x = contiguous_input(input);
  Tensor out = empty(plan.output_shape, input.dtype());
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    box_pool_forward<T>(plan, *box, x.data<T>(), out.data<T>());
  });
  return record_op(op, {input}, out,
                   [op, plan, box, input_shape = input.shape()](const Tensor& grad, const std::vector<bool>&) {
                     const Tensor g = contiguous_input(grad);
                     Tensor grad_in = empty(input_shape, g.dtype());
                     dispatch_floating(g.dtype(), op, [&](auto tag) {
                       using T = decltype(tag);
                       box_pool_backward<T>(plan, *box, g.data<T>(), grad_in.data<T>());
                     });
                     return std::vector<Tensor>{grad_in};
                   });
}

std::shared_ptr<const BoxPlan> avg_box(const PoolPlan& plan, bool count_include_pad,
                                       std::optional<int64_t> divisor_override) {
  auto box = std::make_shared<BoxPlan>();
  std::vector<int64_t> padded_h, padded_w;
  box->rows = avg_windows(plan.h, padded_h);
  box->cols = avg_windows(plan.w, padded_w);
  box->divisor.resize(static_cast<size_t>(plan.out_plane()));
  for (int64_t oh = 0; oh < plan.h.out; ++oh)
    for (int64_t ow = 0; ow < plan.w.out; ++ow) {
      const WindowRange r = box->rows[static_cast<size_t>(oh)], c = box->cols[static_cast<size_t>(ow)];
      double divisor = 0.0;
      if (r.first < r.end && c.first < c.end) {
        if (divisor_override)
          divisor = static_cast<double>(*divisor_override);
        else if (count_include_pad)
          divisor = static_cast<double>(padded_h[static_cast<size_t>(oh)] * padded_w[static_cast<size_t>(ow)]);
        else
          divisor = static_cast<double>((r.end - r.first) * (c.end - c.first));
      }
      box->divisor[static_cast<size_t>(oh * plan.w.out + ow)] = divisor;
    }
  return box;
}

PoolPlan avg_pool2d_plan(const char* op, const Tensor& input, int spatial, Pool2dParam kernel,
                         const AvgPool2dOptions& o) {
  if (o.divisor_override) HARNET_CHECK(*o.divisor_override != 0, op, ": divisor_override must be non-zero");
  return windowed_plan(op, input, spatial, kernel, o.stride.value_or(kernel), o.padding, Pool2dParam(1),
                       o.ceil_mode);
}

PoolPlan adaptive_plan(const char* op, const Tensor& input, int spatial, Pool2dParam output_size) {
  PoolPlan plan;
  int64_t in_h = 1, in_w = 1;
  check_input(op, input, spatial, plan.planes, in_h, in_w);
  HARNET_CHECK(output_size.h >= 0 && output_size.w >= 0, op, ": output_size must be non-negative, got ",
               pair_str(spatial, output_size.h, output_size.w));
  plan.h = {in_h, output_size.h, 1, 1, 0, 1};
  plan.w = {in_w, output_size.w, 1, 1, 0, 1};
  plan.output_shape = output_shape_of(input, spatial, output_size.h, output_size.w);
  return plan;
}

std::shared_ptr<const BoxPlan> adaptive_box(const PoolPlan& plan) {
  auto box = std::make_shared<BoxPlan>();
  box->rows = adaptive_windows(plan.h.in, plan.h.out);
  box->cols = adaptive_windows(plan.w.in, plan.w.out);
  box->divisor.resize(static_cast<size_t>(plan.out_plane()));
  for (int64_t oh = 0; oh < plan.h.out; ++oh)
    for (int64_t ow = 0; ow < plan.w.out; ++ow) {
      const WindowRange r = box->rows[static_cast<size_t>(oh)], c = box->cols[static_cast<size_t>(ow)];
      box->divisor[static_cast<size_t>(oh * plan.w.out + ow)] = static_cast<double>((r.end - r.first) * (c.end - c.first));
    }
  return box;
}

}  // namespace

// ---------------------------------------------------------------- max pooling

Tensor max_pool1d(const Tensor& input, int64_t kernel_size, const MaxPool1dOptions& options) {
  const PoolPlan plan = max_pool2d_plan("max_pool1d", input, 1, Pool2dParam(1, kernel_size), as_2d(options));
  return max_pool("max_pool1d", input, plan, nullptr);
}

Tensor max_pool2d(const Tensor& input, Pool2dParam kernel_size, const MaxPool2dOptions& options) {
  const PoolPlan plan = max_pool2d_plan("max_pool2d", input, 2, kernel_size, options);
  return max_pool("max_pool2d", input, plan, nullptr);
}

std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, int64_t kernel_size,
                                                  const MaxPool1dOptions& options) {
  const PoolPlan plan =
      max_pool2d_plan("max_pool1d_with_indices", input, 1, Pool2dParam(1, kernel_size), as_2d(options));
  Tensor indices;
  Tensor values = max_pool("max_pool1d_with_indices", input, plan, &indices);
  return {values, indices};
}

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Pool2dParam kernel_size,
                                                  const MaxPool2dOptions& options) {
  const PoolPlan plan = max_pool2d_plan("max_pool2d_with_indices", input, 2, kernel_size, options);
  Tensor indices;
  Tensor values = max_pool("max_pool2d_with_indices", input, plan, &indices);
  return {values, indices};
}

// ---------------------------------------------------------------- average pooling

Tensor avg_pool1d(const Tensor& input, int64_t kernel_size, const AvgPool1dOptions& options) {
  AvgPool2dOptions o2;
  if (options.stride) o2.stride = Pool2dParam(1, *options.stride);
  o2.padding = Pool2dParam(0, options.padding);
  o2.ceil_mode = options.ceil_mode;
  o2.count_include_pad = options.count_include_pad;
  const PoolPlan plan = avg_pool2d_plan("avg_pool1d", input, 1, Pool2dParam(1, kernel_size), o2);
  return box_pool("avg_pool1d", input, plan, avg_box(plan, o2.count_include_pad, std::nullopt));
}

Tensor avg_pool2d(const Tensor& input, Pool2dParam kernel_size, const AvgPool2dOptions& options) {
  const PoolPlan plan = avg_pool2d_plan("avg_pool2d", input, 2, kernel_size, options);
  return box_pool("avg_pool2d", input, plan,
                  avg_box(plan, options.count_include_pad, options.divisor_override));
}

Tensor adaptive_avg_pool1d(const Tensor& input, int64_t output_size) {
  const PoolPlan plan = adaptive_plan("adaptive_avg_pool1d", input, 1, Pool2dParam(1, output_size));
  return box_pool("adaptive_avg_pool1d", input, plan, adaptive_box(plan));
}

Tensor adaptive_avg_pool2d(const Tensor& input, Pool2dParam output_size) {
  const PoolPlan plan = adaptive_plan("adaptive_avg_pool2d", input, 2, output_size);
  return box_pool("adaptive_avg_pool2d", input, plan, adaptive_box(plan));
}

// ---------------------------------------------------------------- naive references

namespace {

// The input as [planes, H, W] doubles, with the sizes.
struct ReferencePlanes {
  std::vector<double> values;
  int64_t planes = 0, H = 0, W = 0;
};

ReferencePlanes reference_planes(const Tensor& input) {
  ReferencePlanes r;
  r.values = input.to_vector<double>();
  r.H = input.size(-2);
  r.W = input.size(-1);
  r.planes = r.H * r.W == 0 ? 0 : input.numel() / (r.H * r.W);
  return r;
}

Shape reference_output_shape(const Shape& input_shape, int64_t out_h, int64_t out_w) {
  Shape shape(input_shape.begin(), input_shape.end() - 2);
  shape.push_back(out_h);
  shape.push_back(out_w);
  return shape;
}

// Output sizes straight from PyTorch's formula, without the argument checks.
int64_t reference_output_size(int64_t in, int64_t kernel, int64_t padding, int64_t stride, int64_t dilation,
                              bool ceil_mode) {
  const double span = static_cast<double>(in + 2 * padding - dilation * (kernel - 1) - 1) / static_cast<double>(stride);
  int64_t out = static_cast<int64_t>(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_reference(const Tensor& input, Pool2dParam kernel_size,
                                               const MaxPool2dOptions& options) {
  const ReferencePlanes x = reference_planes(input);
  const Pool2dParam k = kernel_size, s = options.stride.value_or(kernel_size), pad = options.padding,
                    dil = options.dilation;
  const int64_t OH = reference_output_size(x.H, k.h, pad.h, s.h, dil.h, options.ceil_mode);
  const int64_t OW = reference_output_size(x.W, k.w, pad.w, s.w, dil.w, options.ceil_mode);
  std::vector<double> out;
  std::vector<int64_t> indices;
  for (int64_t p = 0; p < x.planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t best_at = -1;
        for (int64_t i = 0; i < k.h; ++i)
          for (int64_t j = 0; j < k.w; ++j) {
            const int64_t ih = oh * s.h - pad.h + i * dil.h, iw = ow * s.w - pad.w + j * dil.w;
            if (ih < 0 || ih >= x.H || iw < 0 || iw >= x.W) continue;  // padding: -inf
            const double v = x.values[static_cast<size_t>((p * x.H + ih) * x.W + iw)];
            if (best_at < 0) best_at = ih * x.W + iw;  // an all -inf window: its first position
            if (v > best || std::isnan(v)) {  // strictly greater: the first maximum; a NaN wins
              best = v;
              best_at = ih * x.W + iw;
            }
          }
        out.push_back(best);
        indices.push_back(best_at);
      }
  const Shape shape = reference_output_shape(input.shape(), OH, OW);
  return {from_vector(out, shape, input.dtype()), from_vector(indices, shape, kInt64)};
}

Tensor max_pool2d_backward_reference(const Tensor& grad_output, const Tensor& input, Pool2dParam kernel_size,
                                     const MaxPool2dOptions& options) {
  const std::vector<int64_t> at = max_pool2d_reference(input, kernel_size, options).second.to_vector<int64_t>();
  const std::vector<double> g = grad_output.to_vector<double>();
  const int64_t H = input.size(-2), W = input.size(-1);
  const int64_t out_plane = grad_output.size(-2) * grad_output.size(-1);
  std::vector<double> grad(static_cast<size_t>(input.numel()), 0.0);
  for (size_t o = 0; o < g.size(); ++o) {
    const int64_t plane = static_cast<int64_t>(o) / out_plane;
    if (at[o] >= 0) grad[static_cast<size_t>(plane * H * W + at[o])] += g[o];
  }
  return from_vector(grad, input.shape(), grad_output.dtype());
}

namespace {

// The average of every window (or, backward, the scatter of every output's share) for
// explicit per-position windows: window(oh, ow, rows, cols, divisor).
struct ReferenceWindow {
  int64_t h0, h1, w0, w1;  // valid input rows [h0, h1) and columns [w0, w1)
  double divisor;
};

template <class WindowFn>
Tensor reference_box_forward(const Tensor& input, int64_t OH, int64_t OW, WindowFn&& window) {
  const ReferencePlanes x = reference_planes(input);
  std::vector<double> out;
  for (int64_t p = 0; p < x.planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const ReferenceWindow w = window(oh, ow);
        double total = 0.0;
        int64_t count = 0;
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw, ++count) total += x.values[static_cast<size_t>((p * x.H + ih) * x.W + iw)];
        out.push_back(count == 0 ? 0.0 : total / w.divisor);
      }
  return from_vector(out, reference_output_shape(input.shape(), OH, OW), input.dtype());
}

template <class WindowFn>
Tensor reference_box_backward(const Tensor& grad_output, const Shape& input_shape, WindowFn&& window) {
  const int64_t H = input_shape[input_shape.size() - 2], W = input_shape[input_shape.size() - 1];
  const int64_t OH = grad_output.size(-2), OW = grad_output.size(-1);
  const std::vector<double> g = grad_output.to_vector<double>();
  std::vector<double> grad(static_cast<size_t>(shape_numel(input_shape)), 0.0);
  const int64_t planes = OH * OW == 0 ? 0 : static_cast<int64_t>(g.size()) / (OH * OW);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const ReferenceWindow w = window(oh, ow);
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw)
            grad[static_cast<size_t>((p * H + ih) * W + iw)] += g[static_cast<size_t>((p * OH + oh) * OW + ow)] / w.divisor;
      }
  return from_vector(grad, input_shape, grad_output.dtype());
}

// The window of output (oh, ow) of an average pool, by PyTorch's definition.
ReferenceWindow reference_avg_window(int64_t oh, int64_t ow, int64_t H, int64_t W, Pool2dParam k, Pool2dParam s,
                                     Pool2dParam pad, const AvgPool2dOptions& o) {
  int64_t h0 = oh * s.h - pad.h, w0 = ow * s.w - pad.w;
  int64_t h1 = std::min(h0 + k.h, H + pad.h), w1 = std::min(w0 + k.w, W + pad.w);
  const int64_t padded_area = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H);
  w1 = std::min(w1, W);
  const double divisor = o.divisor_override ? static_cast<double>(*o.divisor_override)
                         : o.count_include_pad ? static_cast<double>(padded_area)
                                               : static_cast<double>((h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, divisor};
}

ReferenceWindow reference_adaptive_window(int64_t oh, int64_t ow, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  // floor(o * in / out) and ceil((o + 1) * in / out), in exact integer arithmetic.
  const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
  const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
  return {h0, h1, w0, w1, static_cast<double>((h1 - h0) * (w1 - w0))};
}

}  // namespace

Tensor avg_pool2d_reference(const Tensor& input, Pool2dParam kernel_size, const AvgPool2dOptions& options) {
  const int64_t H = input.size(-2), W = input.size(-1);
  const Pool2dParam k = kernel_size, s = options.stride.value_or(kernel_size), pad = options.padding;
  const int64_t OH = reference_output_size(H, k.h, pad.h, s.h, 1, options.ceil_mode);
  const int64_t OW = reference_output_size(W, k.w, pad.w, s.w, 1, options.ceil_mode);
  return reference_box_forward(input, OH, OW, [&](int64_t oh, int64_t ow) {
    return reference_avg_window(oh, ow, H, W, k, s, pad, options);
  });
}

Tensor avg_pool2d_backward_reference(const Tensor& grad_output, const Shape& input_shape, Pool2dParam kernel_size,
                                     const AvgPool2dOptions& options) {
  const int64_t H = input_shape[input_shape.size() - 2], W = input_shape[input_shape.size() - 1];
  const Pool2dParam k = kernel_size, s = options.stride.value_or(kernel_size), pad = options.padding;
  return reference_box_backward(grad_output, input_shape, [&](int64_t oh, int64_t ow) {
    return reference_avg_window(oh, ow, H, W, k, s, pad, options);
  });
}

Tensor adaptive_avg_pool2d_reference(const Tensor& input, Pool2dParam output_size) {
  const int64_t H = input.size(-2), W = input.size(-1);
  return reference_box_forward(input, output_size.h, output_size.w, [&](int64_t oh, int64_t ow) {
    return reference_adaptive_window(oh, ow, H, W, output_size.h, output_size.w);
  });
}

Tensor adaptive_avg_pool2d_backward_reference(const Tensor& grad_output, const Shape& input_shape) {
  const int64_t H = input_shape[input_shape.size() - 2], W = input_shape[input_shape.size() - 1];
  const int64_t OH = grad_output.size(-2), OW = grad_output.size(-1);
  return reference_box_backward(grad_output, input_shape, [&](int64_t oh, int64_t ow) {
    return reference_adaptive_window(oh, ow, H, W, OH, OW);
  });
}

}  // namespace harnet
