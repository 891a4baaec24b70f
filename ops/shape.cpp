// Shape operators: views (view, reshape, flatten, squeeze, unsqueeze, transpose, permute,
// expand, narrow, slice, split, chunk) and copies (contiguous, clone, to). A view is a new
// TensorImpl over x's storage made with Tensor::as_strided; its backward maps the gradient
// of the view back onto x's geometry. The raw kernels of ops/shape_kernels.h live here too.
#include "ops/shape.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/shape_kernels.h"

namespace harnet {

using shape_detail::coalesce;
using shape_detail::contiguous_raw;
using shape_detail::copy_strided;
using shape_detail::for_each_run;
using shape_detail::Geometry;
using shape_detail::narrow_raw;
using shape_detail::reshape_raw;

// ---------------------------------------------------------------- raw kernels

namespace shape_detail {

namespace {

template <class D, class S>
D convert_value(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else {
    return static_cast<D>(v);
  }
}

}  // namespace

void copy_strided(Tensor dst, const Tensor& src) {
  HARNET_CHECK(dst.shape() == src.shape(), "copy: source shape ", src.shape(), " differs from destination ",
               dst.shape());
  const int64_t n = dst.numel();
  if (n == 0) return;
  const Geometry<2> g = coalesce<2>(dst.shape(), {dst.strides(), src.strides()});
  const int64_t dst_step = g.strides[0].back(), src_step = g.strides[1].back();
  dispatch_all(dst.dtype(), [&](auto dst_tag) {
    using D = decltype(dst_tag);
    dispatch_all(src.dtype(), [&](auto src_tag) {
      using S = decltype(src_tag);
      D* d = static_cast<D*>(dst.storage()->data()) + dst.offset();
      const S* s = static_cast<const S*>(src.storage()->data()) + src.offset();
      parallel_for(0, n, kGrainSize, [&](int64_t begin, int64_t end) {
        for_each_run(g, begin, end, [&](int64_t count, const std::array<int64_t, 2>& off) {
          D* dp = d + off[0];
          const S* sp = s + off[1];
          if constexpr (std::is_same_v<D, S>) {
            if (dst_step == 1 && src_step == 1) {
              std::memcpy(dp, sp, static_cast<size_t>(count) * sizeof(D));
              return;
            }
          }
          if (dst_step == 1 && src_step == 1) {
            for (int64_t i = 0; i < count; ++i) dp[i] = convert_value<D>(sp[i]);
          } else {
            for (int64_t i = 0; i < count; ++i) dp[i * dst_step] = convert_value<D>(sp[i * src_step]);
          }
        });
      });
    });
  });
}

Tensor contiguous_raw(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = empty(x.shape(), x.dtype());
  copy_strided(out, x);
  return out;
}

// PyTorch's computeStride: walk x's dimensions from the innermost outwards in "chunks" of
// dimensions that are contiguous with respect to each other; each chunk must be covered
// exactly by a run of new dimensions, which then get strides within that chunk.
bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape& new_strides) {
  new_strides.assign(new_shape.size(), 0);
  if (shape_numel(shape) == 0 || shape.empty()) {
    // No elements (or a single one): any geometry works; keep x's strides if nothing changes.
    if (shape == new_shape) new_strides = strides;
    else new_strides = contiguous_strides(new_shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    const bool chunk_ends = tensor_d == 0 || (shape[tensor_d - 1] != 1 &&
                                              strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      new_strides[view_d] = view_numel * chunk_base_stride;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return false;
    if (tensor_d > 0) {
      chunk_base_stride = strides[tensor_d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  return view_d == -1;
}

Tensor reshape_raw(const Tensor& x, const Shape& new_shape) {
  Shape new_strides;
  if (view_strides(x.shape(), x.strides(), new_shape, new_strides))
    return x.as_strided(new_shape, new_strides, x.offset());
  Tensor copy = contiguous_raw(x);
  return copy.as_strided(new_shape, contiguous_strides(new_shape), copy.offset());
}

Tensor narrow_raw(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Shape shape = x.shape();
  shape[static_cast<size_t>(dim)] = length;
  return x.as_strided(shape, x.strides(), x.offset() + start * x.strides()[static_cast<size_t>(dim)]);
}

}  // namespace shape_detail

namespace {

// Resolves one -1 in shape from numel, checking the remaining sizes.
Shape infer_size(const char* op, const Shape& shape, const Tensor& x) {
  const int64_t numel = x.numel();
  Shape out = shape;
  int64_t inferred = -1, known = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      HARNET_CHECK(inferred < 0, op, ": only one dimension can be inferred (-1) in shape ", shape);
      inferred = static_cast<int64_t>(d);
    } else {
      HARNET_CHECK(shape[d] >= 0, op, ": invalid size ", shape[d], " in shape ", shape);
      known *= shape[d];
    }
  }
  if (inferred >= 0) {
    HARNET_CHECK(known != 0, op, ": cannot infer the -1 in shape ", shape, " for input of shape ", x.shape(),
                 " with 0 elements (it could be any value)");
    HARNET_CHECK(numel % known == 0, op, ": shape ", shape, " is invalid for input of shape ", x.shape(),
                 " (", numel, " elements)");
    out[static_cast<size_t>(inferred)] = numel / known;
  } else {
    HARNET_CHECK(known == numel, op, ": shape ", shape, " is invalid for input of shape ", x.shape(), " (",
                 numel, " elements)");
  }
  return out;
}

// The backward of every view that only regroups elements (view, reshape, flatten, squeeze,
// unsqueeze): the gradient regrouped into x's shape.
SingleBackwardFn regroup_backward(const Shape& x_shape) {
  return [x_shape](const Tensor& grad, const std::vector<bool>&) {
    return std::vector<Tensor>{reshape_raw(grad, x_shape)};
  };
}

// The backward of a view onto a window of x (narrow, slice): zeros of x's shape with the
// gradient copied into the same window.
//   grad: the window's shape; returns x's shape.
Tensor scatter_into_window(const Tensor& grad, const Shape& x_shape, const Shape& window_strides,
                           int64_t window_offset) {
  Tensor gx = zeros(x_shape, grad.dtype());
  copy_strided(gx.as_strided(grad.shape(), window_strides, window_offset), grad);
  return gx;
}

// Sums grad (shape G) down to shape target (right-aligned, each target size either equal to
// G's or 1): the backward of expand. Each output element is reduced serially in a fixed
// order (parallel_reduce's fixed chunks), outputs are independent, so the result does not
// depend on the thread count.
template <class T>
Tensor sum_to_shape(const Tensor& grad, const Shape& target) {
  const Shape& g_shape = grad.shape();
  const Shape& g_strides = grad.strides();
  const size_t lead = g_shape.size() - target.size();
  Shape kept_strides(target.size()), reduced_shape, reduced_strides;
  for (size_t d = 0; d < lead; ++d) {
    reduced_shape.push_back(g_shape[d]);
    reduced_strides.push_back(g_strides[d]);
  }
  for (size_t j = 0; j < target.size(); ++j) {
    const int64_t size = g_shape[lead + j];
    if (target[j] == size) {
      kept_strides[j] = g_strides[lead + j];
    } else {  // target[j] == 1: the expanded dimension is summed
      reduced_shape.push_back(size);
      reduced_strides.push_back(g_strides[lead + j]);
    }
  }
  Tensor out = empty(target, grad.dtype());
  const int64_t out_numel = out.numel(), reduced_numel = shape_numel(reduced_shape);
  if (out_numel == 0) return out;
  const Geometry<1> kept = coalesce<1>(target, {kept_strides});
  const Geometry<1> reduced = coalesce<1>(reduced_shape, {reduced_strides});
  const int64_t kept_step = kept.strides[0].back(), reduced_step = reduced.strides[0].back();
  const T* g = grad.data<T>();
  T* o = out.data<T>();
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(reduced_numel, 1));
  parallel_for(0, out_numel, grain, [&](int64_t begin, int64_t end) {
    int64_t out_index = begin;
    for_each_run(kept, begin, end, [&](int64_t count, const std::array<int64_t, 1>& kept_off) {
      for (int64_t i = 0; i < count; ++i) {
        const T* base = g + kept_off[0] + i * kept_step;
        // Accumulate in double: an expanded dimension can be long.
        const double total = parallel_reduce(
            int64_t{0}, reduced_numel, kGrainSize, 0.0,
            [&](int64_t r0, int64_t r1) {
              double partial = 0.0;
              for_each_run(reduced, r0, r1, [&](int64_t n, const std::array<int64_t, 1>& off) {
                const T* p = base + off[0];
                for (int64_t k = 0; k < n; ++k) partial += static_cast<double>(p[k * reduced_step]);
              });
              return partial;
            },
            [](double a, double b) { return a + b; });
        o[out_index++] = static_cast<T>(total);
      }
    });
  });
  return out;
}

}  // namespace

// ---------------------------------------------------------------- view, reshape, flatten

// view: x [..] -> shape (same numel, one -1 allowed), no copy; throws if not viewable.
// backward: grad regrouped into x's shape.
Tensor view(const Tensor& x, const Shape& shape) {
  const Shape new_shape = infer_size("view", shape, x);
  Shape new_strides;
  HARNET_CHECK(shape_detail::view_strides(x.shape(), x.strides(), new_shape, new_strides), "view: shape ",
               new_shape, " is not compatible with the input's shape ", x.shape(), " and strides ", x.strides(),
               " (at least one dimension spans across two contiguous subspaces); use reshape instead");
  Tensor out = x.as_strided(new_shape, new_strides, x.offset());
  return record_op("view", {x}, out, regroup_backward(x.shape()));
}

// reshape: like view, but copies when no view is possible. backward: grad regrouped.
Tensor reshape(const Tensor& x, const Shape& shape) {
  const Shape new_shape = infer_size("reshape", shape, x);
  return record_op("reshape", {x}, reshape_raw(x, new_shape), regroup_backward(x.shape()));
}

// flatten: dims start_dim..end_dim merged into one; a 0-d x becomes [1]; x itself when
// start_dim == end_dim, as in PyTorch.
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  const int64_t start = wrap_dim(start_dim, x.dim(), "flatten");
  const int64_t end = wrap_dim(end_dim, x.dim(), "flatten");
  HARNET_CHECK(start <= end, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim,
               " for input of shape ", x.shape());
  if (x.dim() == 0) return record_op("flatten", {x}, reshape_raw(x, {1}), regroup_backward(x.shape()));
  if (start == end) return x;
  Shape new_shape(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= x.shape()[static_cast<size_t>(d)];
  new_shape.push_back(merged);
  new_shape.insert(new_shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return record_op("flatten", {x}, reshape_raw(x, new_shape), regroup_backward(x.shape()));
}

// ---------------------------------------------------------------- squeeze, unsqueeze

// squeeze: x [.., 1, ..] -> [.., ..] at dim; a view of x unchanged if size(dim) != 1.
Tensor squeeze(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  Shape shape = x.shape(), strides = x.strides();
  if (x.dim() > 0 && shape[static_cast<size_t>(d)] == 1) {
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
  }
  return record_op("squeeze", {x}, x.as_strided(shape, strides, x.offset()), regroup_backward(x.shape()));
}

// unsqueeze: x [..] -> [.., 1, ..] with the new dim at position dim in [-(ndim+1), ndim].
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  // Any stride works for a size-1 dimension; PyTorch's choice keeps the view contiguous.
  const int64_t stride = d < x.dim() ? shape[static_cast<size_t>(d)] * strides[static_cast<size_t>(d)] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return record_op("unsqueeze", {x}, x.as_strided(shape, strides, x.offset()), regroup_backward(x.shape()));
}

// ---------------------------------------------------------------- transpose, permute

// transpose: dims dim0 and dim1 swapped (a view). backward: the same swap of grad.
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  const int64_t a = wrap_dim(dim0, x.dim(), "transpose");
  const int64_t b = wrap_dim(dim1, x.dim(), "transpose");
  Shape shape = x.shape(), strides = x.strides();
  if (x.dim() > 0) {
    std::swap(shape[static_cast<size_t>(a)], shape[static_cast<size_t>(b)]);
    std::swap(strides[static_cast<size_t>(a)], strides[static_cast<size_t>(b)]);
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  return record_op("transpose", {x}, out, [a, b](const Tensor& grad, const std::vector<bool>&) {
    Shape g_shape = grad.shape(), g_strides = grad.strides();
    if (!g_shape.empty()) {
      std::swap(g_shape[static_cast<size_t>(a)], g_shape[static_cast<size_t>(b)]);
      std::swap(g_strides[static_cast<size_t>(a)], g_strides[static_cast<size_t>(b)]);
    }
    return std::vector<Tensor>{grad.as_strided(g_shape, g_strides, grad.offset())};
  });
}

// permute: out.size(i) = x.size(dims[i]) (a view). backward: grad permuted by the inverse.
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t ndim = x.dim();
  HARNET_CHECK(static_cast<int64_t>(dims.size()) == ndim, "permute: got ", dims.size(),
               " dims ", Shape(dims), " for input of shape ", x.shape(), " with ", ndim, " dimensions");
  std::vector<int64_t> wrapped(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape shape(dims.size()), strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], ndim, "permute");
    HARNET_CHECK(!seen[static_cast<size_t>(d)], "permute: dims ", Shape(dims),
                 " is not a permutation (dimension ", d, " repeats) for input of shape ", x.shape());
    seen[static_cast<size_t>(d)] = true;
    wrapped[i] = d;
    shape[i] = x.shape()[static_cast<size_t>(d)];
    strides[i] = x.strides()[static_cast<size_t>(d)];
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  return record_op("permute", {x}, out, [wrapped](const Tensor& grad, const std::vector<bool>&) {
    // grad dim i is x dim wrapped[i].
    Shape g_shape(wrapped.size()), g_strides(wrapped.size());
    for (size_t i = 0; i < wrapped.size(); ++i) {
      g_shape[static_cast<size_t>(wrapped[i])] = grad.shape()[i];
      g_strides[static_cast<size_t>(wrapped[i])] = grad.strides()[i];
    }
    return std::vector<Tensor>{grad.as_strided(g_shape, g_strides, grad.offset())};
  });
}

// ---------------------------------------------------------------- expand

// expand: x [..] -> shape (right-aligned; new leading dims; size-1 dims broadcast with
// stride 0; -1 keeps a size). backward: grad summed over the broadcast dims.
Tensor expand(const Tensor& x, const Shape& shape) {
  const int64_t ndim = x.dim(), new_ndim = static_cast<int64_t>(shape.size());
  HARNET_CHECK(new_ndim >= ndim, "expand: the number of sizes in ", shape, " must be at least the number of ",
               "dimensions of the input of shape ", x.shape());
  const int64_t lead = new_ndim - ndim;
  Shape out_shape(shape.size()), out_strides(shape.size());
  for (int64_t d = 0; d < new_ndim; ++d) {
    const size_t i = static_cast<size_t>(d);
    if (d < lead) {
      HARNET_CHECK(shape[i] >= 0, "expand: size ", shape[i], " is not allowed in the leading, new dimension ", d,
                   " of target sizes ", shape, " (input shape ", x.shape(), ")");
      out_shape[i] = shape[i];
      out_strides[i] = 0;
      continue;
    }
    const size_t xi = static_cast<size_t>(d - lead);
    const int64_t size = x.shape()[xi];
    const int64_t target = shape[i] == -1 ? size : shape[i];
    HARNET_CHECK(target >= 0, "expand: invalid size ", shape[i], " at dimension ", d, " of target sizes ", shape);
    HARNET_CHECK(size == target || size == 1, "expand: the expanded size ", target,
                 " must match the existing size ", size, " at non-singleton dimension ", d, "; target sizes ",
                 shape, ", input shape ", x.shape());
    out_shape[i] = target;
    out_strides[i] = size == target ? x.strides()[xi] : 0;
  }
  Tensor out = x.as_strided(out_shape, out_strides, x.offset());
  const Shape x_shape = x.shape();
  return record_op("expand", {x}, out, [x_shape](const Tensor& grad, const std::vector<bool>&) {
    return dispatch_floating(grad.dtype(), "expand backward", [&](auto tag) {
      return std::vector<Tensor>{sum_to_shape<decltype(tag)>(grad, x_shape)};
    });
  });
}

// ---------------------------------------------------------------- copies

// contiguous: x itself if contiguous, else a contiguous copy. backward: identity.
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return record_op("contiguous", {x}, contiguous_raw(x), [](const Tensor& grad, const std::vector<bool>&) {
    return std::vector<Tensor>{grad};
  });
}

// clone: always a new contiguous copy. backward: identity.
Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), x.dtype());
  copy_strided(out, x);
  return record_op("clone", {x}, out, [](const Tensor& grad, const std::vector<bool>&) {
    return std::vector<Tensor>{grad};
  });
}

// to: x converted to dtype (a new contiguous tensor; x itself if the dtype is the same).
// Differentiable between float32 and float64 (backward: grad converted back); a cast to
// int64/bool has no gradient, as in PyTorch.
Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), dtype);
  copy_strided(out, x);
  if (!is_floating(dtype) || !is_floating(x.dtype())) return out;
  const DType x_dtype = x.dtype();
  return record_op("to", {x}, out, [x_dtype](const Tensor& grad, const std::vector<bool>&) {
    Tensor gx = empty(grad.shape(), x_dtype);
    copy_strided(gx, grad);
    return std::vector<Tensor>{gx};
  });
}

// ---------------------------------------------------------------- narrow, slice

// narrow: x [.., n, ..] -> [.., length, ..] at dim from start (negative start counts from
// the end). backward: zeros of x's shape with grad in the window.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  HARNET_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  HARNET_CHECK(start >= -size && start <= size, "narrow: start ", start, " is out of range for dimension ", dim,
               " of size ", size, " (input shape ", x.shape(), ")");
  if (start < 0) start += size;
  HARNET_CHECK(length >= 0, "narrow: length ", length, " must be non-negative");
  HARNET_CHECK(start + length <= size, "narrow: start (", start, ") + length (", length,
               ") exceeds the size ", size, " of dimension ", dim, " (input shape ", x.shape(), ")");
  Tensor out = narrow_raw(x, d, start, length);
  const Shape x_shape = x.shape(), window_strides = contiguous_strides(x_shape);
  const int64_t window_offset = start * window_strides[static_cast<size_t>(d)];
  return record_op("narrow", {x}, out, [=](const Tensor& grad, const std::vector<bool>&) {
    return std::vector<Tensor>{scatter_into_window(grad, x_shape, window_strides, window_offset)};
  });
}

// slice: x[.., start:end:step, ..] along dim with Python's rules: negative bounds count
// from the end, out-of-range bounds are clamped, end <= start gives an empty slice.
// backward: zeros of x's shape with grad in the sliced positions.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  HARNET_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  HARNET_CHECK(step >= 1, "slice: step must be positive, got ", step);
  const size_t di = static_cast<size_t>(d);
  const int64_t size = x.shape()[di];
  auto clamp_bound = [size](int64_t bound) {
    if (bound < 0) bound += size;
    return std::clamp<int64_t>(bound, 0, size);
  };
  start = clamp_bound(start);
  end = std::max(clamp_bound(end), start);
  const int64_t length = (end - start + step - 1) / step;
  Shape shape = x.shape(), strides = x.strides();
  shape[di] = length;
  strides[di] *= step;
  Tensor out = x.as_strided(shape, strides, x.offset() + start * x.strides()[di]);
  const Shape x_shape = x.shape();
  Shape window_strides = contiguous_strides(x_shape);
  const int64_t window_offset = start * window_strides[di];
  window_strides[di] *= step;
  return record_op("slice", {x}, out, [=](const Tensor& grad, const std::vector<bool>&) {
    return std::vector<Tensor>{scatter_into_window(grad, x_shape, window_strides, window_offset)};
  });
}

// ---------------------------------------------------------------- split, chunk

namespace {

// Views of x along dim with the given sizes (summing to size(dim)), recorded as one node:
// backward: zeros of x's shape with each piece's gradient copied into its window (pieces
// whose gradient did not arrive contribute zeros).
std::vector<Tensor> split_views(const char* op, const Tensor& x, int64_t d, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> pieces;
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (int64_t length : sizes) {
    pieces.push_back(narrow_raw(x, d, start, length));
    starts.push_back(start);
    start += length;
  }
  const Shape x_shape = x.shape();
  const DType dtype = x.dtype();
  record_multi_output_op(op, {x}, pieces,
                         [=](const std::vector<Tensor>& grads, const std::vector<bool>&) {
                           Tensor gx = zeros(x_shape, dtype);
                           for (size_t k = 0; k < grads.size(); ++k) {
                             if (!grads[k].defined()) continue;
                             copy_strided(narrow_raw(gx, d, starts[k], sizes[k]), grads[k]);
                           }
                           return std::vector<Tensor>{gx};
                         });
  return pieces;
}

// PyTorch's split by size: ceil(size / split_size) pieces, the last one smaller; one
// (empty) piece when size(dim) is 0.
std::vector<int64_t> split_sizes_for(const char* op, const Tensor& x, int64_t d, int64_t split_size) {
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  HARNET_CHECK(split_size >= 0, op, ": split_size must be non-negative, got ", split_size);
  HARNET_CHECK(split_size > 0 || size == 0, op, ": split_size can only be 0 if the dimension size is 0, got size ",
               size, " at dimension ", d, " of input shape ", x.shape());
  const int64_t pieces = split_size == 0 ? 1 : std::max<int64_t>((size + split_size - 1) / split_size, 1);
  std::vector<int64_t> sizes(static_cast<size_t>(pieces), split_size);
  sizes.back() = size - split_size * (pieces - 1);
  return sizes;
}

}  // namespace

// split: x [.., n, ..] -> pieces [.., split_size, ..] along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  HARNET_CHECK(x.dim() > 0, "split: expected a tensor with at least 1 dimension, got a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  return split_views("split", x, d, split_sizes_for("split", x, d, split_size));
}

// split: x [.., n, ..] -> pieces [.., sizes[k], ..] along dim; sizes must sum to n.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  HARNET_CHECK(x.dim() > 0, "split: expected a tensor with at least 1 dimension, got a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    HARNET_CHECK(s >= 0, "split: sizes ", Shape(sizes), " contain a negative size");
    total += s;
  }
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  HARNET_CHECK(total == size, "split: sizes ", Shape(sizes), " must sum exactly to ", size,
               " (the size of dimension ", dim, " of input shape ", x.shape(), "), but sum to ", total);
  return split_views("split", x, d, sizes);
}

// chunk: split into pieces of ceil(n / chunks) along dim; may give fewer than chunks pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  HARNET_CHECK(x.dim() > 0, "chunk: expected a tensor with at least 1 dimension, got a 0-d tensor");
  HARNET_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  const int64_t d = wrap_dim(dim, x.dim(), "chunk");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  const int64_t split_size = (size + chunks - 1) / chunks;
  // An empty dimension still gives `chunks` (empty) pieces, as in PyTorch.
  if (size == 0) return split_views("chunk", x, d, std::vector<int64_t>(static_cast<size_t>(chunks), 0));
  return split_views("chunk", x, d, split_sizes_for("chunk", x, d, split_size));
}

}  // namespace harnet
