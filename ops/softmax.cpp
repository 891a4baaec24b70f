// softmax and log_softmax along one dimension.
//
// x is viewed as a contiguous block [outer, classes, inner] (dim in the middle); each (outer,
// inner) pair is one independent row, processed by one thread. The row maximum is subtracted
// before exponentiating, so large logits never overflow; the sum of exponentials is
// accumulated in double. The contiguous last-dim case (inner == 1) walks each row directly;
// otherwise a run of adjacent rows is processed together so the inner loops are contiguous.
#include "ops/softmax.h"

#include <cmath>
#include <vector>

#include "autograd/autograd.h"
#include "ops/reduce_kernels.h"

namespace harnet {

namespace {

struct RowLayout {
  int64_t outer = 1, classes = 1, inner = 1;
};

RowLayout row_layout(const Shape& shape, int64_t dim) {
  RowLayout l;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    (d < dim ? l.outer : d == dim ? l.classes : l.inner) *= shape[static_cast<size_t>(d)];
  return l;
}

// Forward for rows (o, i0..i1-1): y = softmax(x) or log_softmax(x) along the classes axis.
template <class T, bool kLog>
void softmax_rows(const T* x, T* y, const RowLayout& l, int64_t o, int64_t i0, int64_t i1) {
  const int64_t C = l.classes, inner = l.inner;
  if (inner == 1) {
    const T* row = x + o * C;
    T* out = y + o * C;
    const T m = detail::extremum_lanes<true>(row, C);
    for (int64_t c = 0; c < C; ++c) out[c] = detail::fast_exp(row[c] - m);
    const double total = detail::sum_lanes(C, [&](int64_t c) { return double(out[c]); });
    if constexpr (kLog) {
      const T shift = static_cast<T>(double(m) + std::log(total));
      for (int64_t c = 0; c < C; ++c) out[c] = row[c] - shift;
    } else {
      const T scale = static_cast<T>(1.0 / total);
      for (int64_t c = 0; c < C; ++c) out[c] *= scale;
    }
    return;
  }
  const int64_t width = i1 - i0;
  const T* base = x + o * C * inner + i0;
  T* out = y + o * C * inner + i0;
  std::vector<T> m(base, base + width);
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t c = 1; c < C; ++c)
    for (int64_t i = 0; i < width; ++i) m[i] = base[c * inner + i] > m[i] ? base[c * inner + i] : m[i];
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < width; ++i) {
      const T e = detail::fast_exp(base[c * inner + i] - m[i]);
      if constexpr (!kLog) out[c * inner + i] = e;
      total[i] += double(e);
    }
  if constexpr (kLog) {
    for (int64_t i = 0; i < width; ++i) m[i] = static_cast<T>(double(m[i]) + std::log(total[i]));
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < width; ++i) out[c * inner + i] = base[c * inner + i] - m[i];
  } else {
    for (int64_t i = 0; i < width; ++i) m[i] = static_cast<T>(1.0 / total[i]);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < width; ++i) out[c * inner + i] *= m[i];
  }
}

// Backward for rows (o, i0..i1-1), given the forward output y and its gradient g:
//   softmax:     gx = y * (g - sum_c g * y)
//   log_softmax: gx = g - exp(y) * sum_c g
template <class T, bool kLog>
void softmax_backward_rows(const T* y, const T* g, T* gx, const RowLayout& l, int64_t o, int64_t i0, int64_t i1) {
  const int64_t C = l.classes, inner = l.inner, width = i1 - i0;
  if (inner == 1) {
    const T* yr = y + o * C;
    const T* gr = g + o * C;
    T* out = gx + o * C;
    const T s = static_cast<T>(kLog ? detail::sum_lanes(C, [&](int64_t c) { return double(gr[c]); })
                                    : detail::sum_lanes(C, [&](int64_t c) { return double(gr[c]) * double(yr[c]); }));
    if constexpr (kLog) {
      for (int64_t c = 0; c < C; ++c) out[c] = gr[c] - detail::fast_exp(yr[c]) * s;
    } else {
      for (int64_t c = 0; c < C; ++c) out[c] = yr[c] * (gr[c] - s);
    }
    return;
  }
  const int64_t start = o * C * inner + i0;
  std::vector<double> dot(static_cast<size_t>(width), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < width; ++i) {
      const int64_t k = start + c * inner + i;
      dot[i] += kLog ? double(g[k]) : double(g[k]) * double(y[k]);
    }
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < width; ++i) {
      const int64_t k = start + c * inner + i;
      const T s = static_cast<T>(dot[i]);
      gx[k] = kLog ? g[k] - detail::fast_exp(y[k]) * s : y[k] * (g[k] - s);
    }
}

// x [d0, ..., dn] -> y of the same shape, normalised along dim.
template <bool kLog>
Tensor softmax_impl(const Tensor& x, int64_t dim) {
  const char* op = kLog ? "log_softmax" : "softmax";
  HARNET_CHECK(x.defined(), op, ": input is an undefined tensor");
  const int64_t d = wrap_dim(dim, x.dim(), op);  // a 0-d input is one row of one class
  const RowLayout layout = row_layout(x.shape(), d);
  const Tensor input = x.is_contiguous() ? x : x.contiguous_copy();
  Tensor y = empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (layout.classes == 0) return;
    const T* xp = input.data<T>();
    T* yp = y.data<T>();
    detail::for_each_output_run(layout.outer, layout.classes, layout.inner, [&](int64_t o, int64_t i0, int64_t i1) {
      softmax_rows<T, kLog>(xp, yp, layout, o, i0, i1);
    });
  });
  if (!any_requires_grad({x})) return y;
  // The output is saved detached: the node must not own the tensor that owns the node.
  return record_op(op, {x}, y, [layout, saved = y.detach(), op](const Tensor& grad, const std::vector<bool>&) {
    const Tensor g = grad.is_contiguous() ? grad : grad.contiguous_copy();
    Tensor gx = empty(saved.shape(), saved.dtype());
    dispatch_floating(g.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (layout.classes == 0) return;
      const T* yp = saved.data<T>();
      const T* gp = g.data<T>();
      T* out = gx.data<T>();
      detail::for_each_output_run(layout.outer, layout.classes, layout.inner, [&](int64_t o, int64_t i0, int64_t i1) {
        softmax_backward_rows<T, kLog>(yp, gp, out, layout, o, i0, i1);
      });
    });
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl<false>(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl<true>(x, dim); }

}  // namespace harnet
