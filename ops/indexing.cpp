// Joining and indexing operators: cat, stack, index_select, gather. Their backward passes
// are written as direct kernels: narrow/select views of the gradient for cat and stack,
// index_add and scatter_add into zeros for index_select and gather. The accumulating
// kernels give every output slice to one task and add in index order, so they are
// race-free and bit-identical for any thread count.
#include <algorithm>
#include <string>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/shape.h"
#include "ops/shape_kernels.h"

namespace harnet {

using shape_detail::coalesce;
using shape_detail::contiguous_raw;
using shape_detail::copy_strided;
using shape_detail::for_each_run;
using shape_detail::Geometry;
using shape_detail::narrow_raw;

namespace {

// x with dimension d removed at position index (x.select(d, index) in PyTorch; a view).
Tensor select_raw(const Tensor& x, int64_t d, int64_t index) {
  Shape shape = x.shape(), strides = x.strides();
  const int64_t offset = x.offset() + index * strides[static_cast<size_t>(d)];
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return x.as_strided(shape, strides, offset);
}

// Shape without dimension d.
Shape drop_dim(const Shape& shape, int64_t d) {
  Shape out = shape;
  out.erase(out.begin() + d);
  return out;
}

// A contiguous int64 index with every entry in [0, size), or a clear error naming the entry.
Tensor checked_index(const char* op, const Tensor& index, int64_t size, int64_t dim, const Shape& x_shape) {
  HARNET_CHECK(index.dtype() == kInt64, op, ": index must be int64, got ", dtype_name(index.dtype()));
  Tensor idx = contiguous_raw(index);
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    HARNET_CHECK(p[i] >= 0 && p[i] < size, op, ": index ", p[i], " (at position ", i,
                 ") is out of bounds for dimension ", dim, " with size ", size, " (input shape ", x_shape, ")");
  }
  return idx;
}

}  // namespace

// ---------------------------------------------------------------- cat, stack

// cat: xs[i] [.., n_i, ..] -> [.., sum n_i, ..] along dim; all other sizes equal. As in
// PyTorch, 1-d empty tensors (shape [0]) are skipped whatever the others' shapes.
// backward: input i gets the window [offset_i, offset_i + n_i) of grad along dim (a view).
Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  HARNET_CHECK(!xs.empty(), "cat: expected a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) {
    HARNET_CHECK(xs[i].defined(), "cat: tensor ", i, " of the list is undefined");
    HARNET_CHECK(xs[i].dim() > 0, "cat: zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    HARNET_CHECK(xs[i].dtype() == xs[0].dtype(), "cat: expected all tensors to have the same dtype, got ",
                 dtype_name(xs[0].dtype()), " at position 0 and ", dtype_name(xs[i].dtype()), " at position ", i);
  }
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.numel() == 0; };
  const Tensor* reference = nullptr;
  for (const Tensor& t : xs)
    if (!skipped(t)) {
      reference = &t;
      break;
    }
  if (reference == nullptr) reference = &xs[0];  // all empty: the result is empty too
  const int64_t d = wrap_dim(dim, reference->dim(), "cat");
  const size_t di = static_cast<size_t>(d);
  Shape out_shape = reference->shape();
  out_shape[di] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (skipped(xs[i])) continue;
    const Shape& s = xs[i].shape();
    bool match = s.size() == out_shape.size();
    for (size_t k = 0; k < s.size() && match; ++k) match = k == di || s[k] == reference->shape()[k];
    HARNET_CHECK(match, "cat: sizes of tensors must match except in dimension ", dim, "; got ",
                 reference->shape(), " and ", s, " (tensor ", i, " of the list)");
    out_shape[di] += s[di];
  }
  Tensor out = empty(out_shape, xs[0].dtype());
  std::vector<int64_t> starts(xs.size(), 0);
  int64_t start = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    starts[i] = start;
    if (skipped(xs[i])) continue;
    copy_strided(narrow_raw(out, d, start, xs[i].shape()[di]), xs[i]);
    start += xs[i].shape()[di];
  }
  std::vector<Shape> shapes;
  for (const Tensor& t : xs) shapes.push_back(t.shape());
  return record_op("cat", xs, out, [=](const Tensor& grad, const std::vector<bool>& needs_grad) {
    std::vector<Tensor> grads(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (!needs_grad[i]) continue;
      const bool was_skipped = shapes[i].size() == 1 && shapes[i][0] == 0;
      grads[i] = was_skipped ? zeros(shapes[i], grad.dtype()) : narrow_raw(grad, d, starts[i], shapes[i][di]);
    }
    return grads;
  });
}

// stack: n tensors of one shape S -> S with a new dimension of size n at dim (in
// [-(ndim+1), ndim]). backward: input i gets grad selected at i along dim (a view).
Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  HARNET_CHECK(!xs.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) {
    HARNET_CHECK(xs[i].defined(), "stack: tensor ", i, " of the list is undefined");
    HARNET_CHECK(xs[i].shape() == xs[0].shape(), "stack: expected each tensor to be equal size, but got ",
                 xs[0].shape(), " at entry 0 and ", xs[i].shape(), " at entry ", i);
    HARNET_CHECK(xs[i].dtype() == xs[0].dtype(), "stack: expected all tensors to have the same dtype, got ",
                 dtype_name(xs[0].dtype()), " at entry 0 and ", dtype_name(xs[i].dtype()), " at entry ", i);
  }
  const int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  Shape out_shape = xs[0].shape();
  out_shape.insert(out_shape.begin() + d, static_cast<int64_t>(xs.size()));
  Tensor out = empty(out_shape, xs[0].dtype());
  for (size_t i = 0; i < xs.size(); ++i) copy_strided(select_raw(out, d, static_cast<int64_t>(i)), xs[i]);
  return record_op("stack", xs, out, [d](const Tensor& grad, const std::vector<bool>& needs_grad) {
    std::vector<Tensor> grads(needs_grad.size());
    for (size_t i = 0; i < needs_grad.size(); ++i)
      if (needs_grad[i]) grads[i] = select_raw(grad, d, static_cast<int64_t>(i));
    return grads;
  });
}

// ---------------------------------------------------------------- index_select

namespace {

// out [outer, n, inner] = x [outer, index[i], inner], with x strided and out contiguous.
template <class T>
void index_select_kernel(const Tensor& x, int64_t d, const int64_t* index, int64_t n, Tensor& out) {
  const Shape& shape = x.shape();
  const Shape outer_shape(shape.begin(), shape.begin() + d), inner_shape(shape.begin() + d + 1, shape.end());
  const Shape outer_strides(x.strides().begin(), x.strides().begin() + d);
  const Shape inner_strides(x.strides().begin() + d + 1, x.strides().end());
  const int64_t outer = shape_numel(outer_shape), inner = shape_numel(inner_shape);
  const int64_t x_step_d = x.strides()[static_cast<size_t>(d)];
  const Geometry<2> inner_geo = coalesce<2>(inner_shape, {inner_strides, contiguous_strides(inner_shape)});
  const bool inner_is_one_run = inner_geo.shape.size() == 1;
  const int64_t src_step = inner_geo.strides[0].back(), dst_step = inner_geo.strides[1].back();
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  // One task row = one (outer, i) pair: a slice of `inner` elements.
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(inner, 1));
  parallel_for(0, outer * n, grain, [&](int64_t row_begin, int64_t row_end) {
    for (int64_t row = row_begin; row < row_end; ++row) {
      const int64_t o = row / n, i = row % n;
      int64_t outer_offset = 0;
      for (size_t k = outer_shape.size(), rest = static_cast<size_t>(o); k-- > 0;) {
        const size_t size = static_cast<size_t>(outer_shape[k]);
        outer_offset += static_cast<int64_t>(rest % size) * outer_strides[k];
        rest /= size;
      }
      const T* s = src + outer_offset + index[i] * x_step_d;
      T* t = dst + row * inner;
      if (inner_is_one_run) {  // the common case: no multi-dimensional walk
        for (int64_t k = 0; k < inner; ++k) t[k * dst_step] = s[k * src_step];
        continue;
      }
      for_each_run(inner_geo, 0, inner, [&](int64_t count, const std::array<int64_t, 2>& off) {
        for (int64_t k = 0; k < count; ++k) t[off[1] + k * dst_step] = s[off[0] + k * src_step];
      });
    }
  });
}

// grad_x [outer, size, inner] = zeros, += grad [outer, i, inner] at index[i] for each i in
// order (index_add). Tasks own disjoint column ranges (outer, inner block), so repeated
// indices accumulate without races and always in the same order.
template <class T>
Tensor index_add_into_zeros(const Tensor& grad_in, const Shape& x_shape, int64_t d, const int64_t* index,
                            int64_t n) {
  Tensor grad = contiguous_raw(grad_in);
  Tensor gx = zeros(x_shape, grad.dtype());
  const int64_t size = x_shape[static_cast<size_t>(d)];
  const int64_t outer = shape_numel(Shape(x_shape.begin(), x_shape.begin() + d));
  const int64_t inner = shape_numel(Shape(x_shape.begin() + d + 1, x_shape.end()));
  const T* g = grad.data<T>();
  T* out = gx.data<T>();
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n, 1));
  parallel_for(0, outer * inner, grain, [&](int64_t col_begin, int64_t col_end) {
    for (int64_t col = col_begin; col < col_end;) {
      const int64_t o = col / inner, k0 = col % inner;
      const int64_t k1 = std::min(inner, k0 + (col_end - col));
      for (int64_t i = 0; i < n; ++i) {
        const T* src = g + (o * n + i) * inner;
        T* dst = out + (o * size + index[i]) * inner;
        for (int64_t k = k0; k < k1; ++k) dst[k] += src[k];
      }
      col += k1 - k0;
    }
  });
  return gx;
}

}  // namespace

// index_select: x [outer, size, inner] -> [outer, n, inner] with out[:, i, :] =
// x[:, index[i], :]; index is a 1-d (or 0-d) int64 tensor of n entries in [0, size).
// backward: index_add of grad into zeros of x's shape.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  HARNET_CHECK(x.dim() > 0, "index_select: expected an input with at least 1 dimension, got a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  HARNET_CHECK(index.dim() <= 1, "index_select: index must be a 1-d tensor, got shape ", index.shape());
  const Shape x_shape = x.shape();
  const Tensor idx = checked_index("index_select", index, x_shape[static_cast<size_t>(d)], dim, x_shape);
  const int64_t n = idx.numel();
  Shape out_shape = x_shape;
  out_shape[static_cast<size_t>(d)] = n;
  Tensor out = empty(out_shape, x.dtype());
  if (out.numel() > 0) {
    dispatch_all(x.dtype(), [&](auto tag) {
      index_select_kernel<decltype(tag)>(x, d, idx.data<int64_t>(), n, out);
    });
  }
  return record_op("index_select", {x}, out, [x_shape, d, idx, n](const Tensor& grad, const std::vector<bool>&) {
    return dispatch_floating(grad.dtype(), "index_select backward", [&](auto tag) {
      return std::vector<Tensor>{index_add_into_zeros<decltype(tag)>(grad, x_shape, d, idx.data<int64_t>(), n)};
    });
  });
}

// ---------------------------------------------------------------- gather

namespace {

// out[p] = x[p with coordinate d replaced by index[p]] for every position p of index.
template <class T>
void gather_kernel(const Tensor& x, int64_t d, const Tensor& index, Tensor& out) {
  // x's strides with dimension d zeroed: the index supplies that coordinate.
  Shape x_strides = x.strides();
  const int64_t x_step_d = x_strides[static_cast<size_t>(d)];
  x_strides[static_cast<size_t>(d)] = 0;
  const Geometry<3> g = coalesce<3>(index.shape(), {index.strides(), x_strides, out.strides()});
  const int64_t idx_step = g.strides[0].back(), x_step = g.strides[1].back(), out_step = g.strides[2].back();
  const int64_t* idx = index.data<int64_t>();
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  parallel_for(0, index.numel(), kGrainSize, [&](int64_t begin, int64_t end) {
    for_each_run(g, begin, end, [&](int64_t count, const std::array<int64_t, 3>& off) {
      for (int64_t k = 0; k < count; ++k)
        dst[off[2] + k * out_step] = src[off[1] + k * x_step + idx[off[0] + k * idx_step] * x_step_d];
    });
  });
}

// grad_x = zeros of x's shape; grad_x[p with coordinate d replaced by index[p]] += grad[p]
// (scatter_add). A task owns whole columns (every coordinate but d), which map to disjoint
// columns of grad_x, and walks each column along d in order: no races, fixed order.
template <class T>
Tensor scatter_add_into_zeros(const Tensor& grad, const Shape& x_shape, int64_t d, const Tensor& index) {
  Tensor gx = zeros(x_shape, grad.dtype());
  const size_t di = static_cast<size_t>(d);
  const Shape gx_strides = gx.strides();
  const int64_t length = index.shape()[di];
  const int64_t idx_step_d = index.strides()[di], g_step_d = grad.strides()[di], gx_step_d = gx_strides[di];
  const Geometry<3> columns = coalesce<3>(
      drop_dim(index.shape(), d), {drop_dim(index.strides(), d), drop_dim(grad.strides(), d), drop_dim(gx_strides, d)});
  const int64_t idx_step = columns.strides[0].back(), g_step = columns.strides[1].back(),
                gx_step = columns.strides[2].back();
  const int64_t* idx = index.data<int64_t>();
  const T* g = grad.data<T>();
  T* out = gx.data<T>();
  const int64_t column_count = shape_numel(drop_dim(index.shape(), d));
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(length, 1));
  parallel_for(0, column_count, grain, [&](int64_t begin, int64_t end) {
    for_each_run(columns, begin, end, [&](int64_t count, const std::array<int64_t, 3>& off) {
      for (int64_t k = 0; k < count; ++k) {
        const int64_t* ic = idx + off[0] + k * idx_step;
        const T* gc = g + off[1] + k * g_step;
        T* oc = out + off[2] + k * gx_step;
        for (int64_t l = 0; l < length; ++l) oc[ic[l * idx_step_d] * gx_step_d] += gc[l * g_step_d];
      }
    });
  });
  return gx;
}

}  // namespace

// gather: x and index of the same ndim, index.size(k) <= x.size(k) for k != dim, entries
// in [0, x.size(dim)); out has index's shape with out[p] = x[p with coordinate dim
// replaced by index[p]]. backward: scatter_add of grad into zeros of x's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  HARNET_CHECK(x.dim() > 0, "gather: expected an input with at least 1 dimension, got a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  HARNET_CHECK(index.dim() == x.dim(), "gather: index ", index.shape(), " must have as many dimensions as input ",
               x.shape());
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k == d) continue;
    HARNET_CHECK(index.shape()[static_cast<size_t>(k)] <= x.shape()[static_cast<size_t>(k)], "gather: index ",
                 index.shape(), " is larger than input ", x.shape(), " in dimension ", k, " (only dimension ", dim,
                 " may be larger)");
  }
  const Shape x_shape = x.shape();
  const Tensor idx = checked_index("gather", index, x_shape[static_cast<size_t>(d)], dim, x_shape);
  Tensor out = empty(idx.shape(), x.dtype());
  if (out.numel() > 0) {
    dispatch_all(x.dtype(), [&](auto tag) { gather_kernel<decltype(tag)>(x, d, idx, out); });
  }
  return record_op("gather", {x}, out, [x_shape, d, idx](const Tensor& grad, const std::vector<bool>&) {
    return dispatch_floating(grad.dtype(), "gather backward", [&](auto tag) {
      return std::vector<Tensor>{scatter_add_into_zeros<decltype(tag)>(grad, x_shape, d, idx)};
    });
  });
}

}  // namespace harnet
