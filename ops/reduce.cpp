// Reductions: sum, mean, var, max/min (amax semantics), max/min with indices, argmax/argmin.
//
// Every reduction views its input as a contiguous block [outer, reduce, inner] (see
// ops/reduce_kernels.h): the reduced dimensions are brought together, which is free when they
// are already adjacent and x is contiguous and costs one copy otherwise. Outputs are the
// (outer, inner) pairs, i.e. the kept dimensions in row-major order. Backward kernels fill a
// gradient in the same block layout and scatter it back to x's shape.
//
// Accuracy: sums accumulate in double for float32 and float64 alike (rounded once at the end);
// the order is fixed by the shape (chunks of kReduceChunk, eight lanes within a chunk of a
// contiguous axis), so results are bit-identical for any thread count.
#include "ops/reduce.h"

#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/reduce_kernels.h"

namespace harnet {

namespace {

using detail::reduce_block;
using detail::sum_lanes;

// ---------------------------------------------------------------- the block layout

// How a reduction sees x: a contiguous block [outer, reduce, inner].
struct ReducePlan {
  Shape in_shape;
  Shape out_shape;            // the result's shape, keepdim honoured
  Shape block_shape;          // x's dimensions in block order
  std::vector<int64_t> perm;  // block order as x's dims when a permuted copy is needed; else empty
  int64_t outer = 1, reduce = 1, inner = 1;
  int64_t outputs() const { return outer * inner; }
};

// Which dims of x a reduction covers: wrapped, duplicates rejected, empty = all.
std::vector<bool> reduced_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  const int64_t nd = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(nd), dims.empty());
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(nd, 1)), false);
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, nd, op);
    HARNET_CHECK(!seen[static_cast<size_t>(w)], op, ": dimension ", w, " appears more than once in dims ", dims,
                 " for input of shape ", x.shape());
    seen[static_cast<size_t>(w)] = true;
    if (nd > 0) reduced[static_cast<size_t>(w)] = true;  // a 0-d tensor has nothing to reduce
  }
  return reduced;
}

ReducePlan plan_reduction(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  const std::vector<bool> reduced = reduced_dims(x, dims, op);
  const Shape& shape = x.shape();
  const int64_t nd = x.dim();
  ReducePlan p;
  p.in_shape = shape;
  p.block_shape = shape;
  int64_t first = -1, last = -1;
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[static_cast<size_t>(d)]) {
      if (first < 0) first = d;
      last = d;
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.out_shape.push_back(shape[static_cast<size_t>(d)]);
    }
  }
  if (first < 0) {  // nothing reduced (a 0-d input): every element is its own output
    p.outer = x.numel();
    return p;
  }
  // Adjacent reduced dims (kept size-1 dims in between do not matter) need no copy.
  bool adjacent = true;
  for (int64_t d = first; d <= last; ++d)
    if (!reduced[static_cast<size_t>(d)] && shape[static_cast<size_t>(d)] != 1) adjacent = false;
  p.outer = p.reduce = p.inner = 1;
  if (adjacent) {
    for (int64_t d = 0; d < nd; ++d) {
      const int64_t s = shape[static_cast<size_t>(d)];
      (d < first ? p.outer : d <= last ? p.reduce : p.inner) *= s;
    }
    return p;
  }
  // Otherwise the kept dims go first and the reduced ones last, in a permuted copy.
  for (int64_t d = 0; d < nd; ++d)
    if (!reduced[static_cast<size_t>(d)]) p.perm.push_back(d);
  for (int64_t d = 0; d < nd; ++d)
    if (reduced[static_cast<size_t>(d)]) p.perm.push_back(d);
  p.block_shape.clear();
  for (int64_t d : p.perm) {
    p.block_shape.push_back(shape[static_cast<size_t>(d)]);
    (reduced[static_cast<size_t>(d)] ? p.reduce : p.outer) *= shape[static_cast<size_t>(d)];
  }
  return p;
}

// x's values as the contiguous block of the plan (x itself when no copy is needed).
Tensor to_block(const Tensor& x, const ReducePlan& p) {
  if (p.perm.empty()) return x.is_contiguous() ? x.detach() : x.contiguous_copy();
  Shape strides;
  for (int64_t d : p.perm) strides.push_back(x.strides()[static_cast<size_t>(d)]);
  return x.as_strided(p.block_shape, strides, x.offset()).contiguous_copy();
}

// A gradient computed in block layout, back in x's shape.
Tensor from_block(const Tensor& block, const ReducePlan& p) {
  if (p.perm.empty()) return block;  // allocated with block_shape == in_shape
  Tensor grad = empty(p.in_shape, block.dtype());
  Shape strides;
  for (int64_t d : p.perm) strides.push_back(grad.strides()[static_cast<size_t>(d)]);
  grad.as_strided(p.block_shape, strides, 0).copy_from(block);
  return grad;
}

// An output gradient as a contiguous array indexed by output number o * inner + i.
Tensor contiguous_grad(const Tensor& g) { return g.is_contiguous() ? g : g.contiguous_copy(); }

// Calls row_fn(o, r) for every row (o, r) of the block (each row holds `inner` elements), in parallel.
template <class RowFn>
void parallel_rows(const ReducePlan& p, RowFn&& row_fn) {
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(p.inner, 1));
  parallel_for(0, p.outer * p.reduce, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) row_fn(row / p.reduce, row % p.reduce);
  });
}

// ---------------------------------------------------------------- sums

// Per output (o, i): the double sum over r of f(block[o, r, i], o * inner + i).
template <class T, class F>
std::vector<double> sum_block(const Tensor& block, const ReducePlan& p, F&& f) {
  std::vector<double> sums(static_cast<size_t>(p.outputs()));
  const T* x = block.data<T>();
  const int64_t reduce = p.reduce, inner = p.inner;
  reduce_block<double>(
      p.outer, reduce, inner, 0.0,
      [&](int64_t o, int64_t i0, int64_t i1, int64_t r0, int64_t r1, double* partial) {
        const T* base = x + o * reduce * inner;
        if (inner == 1) {
          partial[0] = sum_lanes(r1 - r0, [&](int64_t k) { return f(base[r0 + k], o); });
          return;
        }
        for (int64_t r = r0; r < r1; ++r) {
          const T* row = base + r * inner;
          for (int64_t i = i0; i < i1; ++i) partial[i - i0] += f(row[i], o * inner + i);
        }
      },
      [](double& total, double part) { total += part; }, sums.data());
  return sums;
}

template <class T>
Tensor tensor_from(const std::vector<double>& values, const Shape& shape) {
  Tensor out = empty(shape, dtype_of<T>());
  T* o = out.data<T>();
  for (size_t k = 0; k < values.size(); ++k) o[k] = static_cast<T>(values[k]);
  return out;
}

// grad_x[o, r, i] = grad[o * inner + i] / divisor, in block layout, back in x's shape.
// (The backward of sum, divisor 1, and of mean, divisor = the reduced size.)
Tensor broadcast_grad(const Tensor& grad, const ReducePlan& p, double divisor) {
  const Tensor g = contiguous_grad(grad);
  Tensor block = empty(p.block_shape, g.dtype());
  dispatch_floating(g.dtype(), "sum backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = g.data<T>();
    T* out = block.data<T>();
    const T div = static_cast<T>(divisor);
    parallel_rows(p, [&](int64_t o, int64_t r) {
      const T* src = gp + o * p.inner;
      T* dst = out + (o * p.reduce + r) * p.inner;
      if (divisor == 1.0) {
        for (int64_t i = 0; i < p.inner; ++i) dst[i] = src[i];
      } else {
        for (int64_t i = 0; i < p.inner; ++i) dst[i] = src[i] / div;
      }
    });
  });
  return from_block(block, p);
}

// Sum (divisor 1) or mean (divisor = reduced size) over the plan's dims.
//   x [d0, ..., dn] -> out: x's shape without (or, keepdim, with size 1 in) the reduced dims.
Tensor sum_or_mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op, bool mean) {
  HARNET_CHECK(x.defined(), op, ": input is an undefined tensor");
  ReducePlan plan = plan_reduction(x, dims, keepdim, op);
  const double divisor = mean ? static_cast<double>(plan.reduce) : 1.0;
  Tensor out = dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> sums = sum_block<T>(to_block(x, plan), plan, [](T v, int64_t) { return double(v); });
    if (mean)
      for (double& s : sums) s /= divisor;  // 0 / 0 = nan for an empty mean, as PyTorch
    return tensor_from<T>(sums, plan.out_shape);
  });
  return record_op(op, {x}, out, [plan, divisor](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{broadcast_grad(g, plan, divisor)};
  });
}

// ---------------------------------------------------------------- max / min

// A candidate extremum: its value and its position along the reduced axis (-1: none yet).
template <class T>
struct ValueIndex {
  T value{};
  int64_t index = -1;
};

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

// True if v should replace best: strictly larger (smaller), or the first NaN, which
// propagates as in PyTorch. Ties keep the earlier element, so indices are first occurrences.
template <class T, bool kMax>
bool better(T v, T best) {
  if (is_nan(v)) return !is_nan(best);
  return kMax ? v > best : v < best;
}

// The extremum of p[0..n) (n >= 1) and, if kIndex, its first position, in passes the compiler
// can vectorise: the extremum, whether a NaN occurs, then the first element equal to it.
template <class T, bool kMax, bool kIndex>
ValueIndex<T> first_extremum(const T* p, int64_t n) {
  const T best = detail::extremum_lanes<kMax>(p, n);
  int64_t nans = 0;
  if constexpr (std::is_floating_point_v<T>) {
    for (int64_t k = 0; k < n; ++k) nans += p[k] != p[k];
  }
  if constexpr (!kIndex) {
    if (nans == 0) return {best, 0};
  }
  int64_t k = 0;
  if (nans > 0) {
    while (!is_nan(p[k])) ++k;
  } else {
    while (p[k] != best) ++k;
  }
  return {p[k], k};
}

// Per output (o, i): the extremum of block[o, :, i] and (if kIndex; else any position of it)
// its first position along the axis.
template <class T, bool kMax, bool kIndex = true>
std::vector<ValueIndex<T>> extremum_block(const Tensor& block, const ReducePlan& p) {
  std::vector<ValueIndex<T>> result(static_cast<size_t>(p.outputs()));
  const T* x = block.data<T>();
  const int64_t reduce = p.reduce, inner = p.inner;
  reduce_block<ValueIndex<T>>(
      p.outer, reduce, inner, ValueIndex<T>{},
      [&](int64_t o, int64_t i0, int64_t i1, int64_t r0, int64_t r1, ValueIndex<T>* partial) {
        const T* base = x + o * reduce * inner;
        if (inner == 1) {
          partial[0] = first_extremum<T, kMax, kIndex>(base + r0, r1 - r0);
          partial[0].index += r0;
          return;
        }
        for (int64_t i = i0; i < i1; ++i) partial[i - i0] = {base[r0 * inner + i], r0};
        for (int64_t r = r0 + 1; r < r1; ++r) {
          const T* row = base + r * inner;
          for (int64_t i = i0; i < i1; ++i) {
            ValueIndex<T>& acc = partial[i - i0];
            if (better<T, kMax>(row[i], acc.value)) acc = {row[i], r};
          }
        }
      },
      [](ValueIndex<T>& total, const ValueIndex<T>& part) {
        if (part.index >= 0 && (total.index < 0 || better<T, kMax>(part.value, total.value))) total = part;
      },
      result.data());
  return result;
}

void check_nonempty_reduction(const Tensor& x, const ReducePlan& p, const std::vector<int64_t>& dims, const char* op) {
  if (dims.empty()) {
    HARNET_CHECK(x.numel() > 0, op, ": cannot reduce an empty tensor of shape ", x.shape(),
                 " (there is no extremum of zero elements)");
  } else {
    HARNET_CHECK(p.reduce > 0, op, ": cannot reduce over dims ", dims, " of size 0 in input of shape ", x.shape());
  }
}

// Largest / smallest values over dims (torch.amax / amin).
//   x [d0, ..., dn] -> out: x's shape without (or, keepdim, with size 1 in) the reduced dims.
// Backward: the gradient of an output is shared evenly among the elements equal to it.
template <bool kMax>
Tensor extremum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const char* op = kMax ? "max" : "min";
  HARNET_CHECK(x.defined(), op, ": input is an undefined tensor");
  ReducePlan plan = plan_reduction(x, dims, keepdim, op);
  check_nonempty_reduction(x, plan, dims, op);
  Tensor block;
  Tensor out = dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    block = to_block(x, plan);
    std::vector<ValueIndex<T>> ext = extremum_block<T, kMax, /*kIndex=*/false>(block, plan);
    Tensor values = empty(plan.out_shape, x.dtype());
    T* v = values.data<T>();
    for (size_t k = 0; k < ext.size(); ++k) v[k] = ext[k].value;
    return values;
  });
  if (!any_requires_grad({x})) return out;
  return record_op(op, {x}, out, [plan, block, values = out.detach()](const Tensor& grad, const std::vector<bool>&) {
    const Tensor g = contiguous_grad(grad);
    Tensor grad_block = empty(plan.block_shape, g.dtype());
    dispatch_floating(g.dtype(), "max backward", [&](auto tag) {
      using T = decltype(tag);
      const T* xp = block.data<T>();
      const T* vp = values.data<T>();
      const T* gp = g.data<T>();
      T* out_grad = grad_block.data<T>();
      const int64_t reduce = plan.reduce, inner = plan.inner;
      // How many elements tie for each extremum.
      std::vector<int64_t> ties(static_cast<size_t>(plan.outputs()));
      reduce_block<int64_t>(
          plan.outer, reduce, inner, 0,
          [&](int64_t o, int64_t i0, int64_t i1, int64_t r0, int64_t r1, int64_t* partial) {
            for (int64_t r = r0; r < r1; ++r) {
              const T* row = xp + (o * reduce + r) * inner;
              for (int64_t i = i0; i < i1; ++i) partial[i - i0] += row[i] == vp[o * inner + i];
            }
          },
          [](int64_t& total, int64_t part) { total += part; }, ties.data());
      parallel_rows(plan, [&](int64_t o, int64_t r) {
        const T* row = xp + (o * reduce + r) * inner;
        T* dst = out_grad + (o * reduce + r) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t k = o * inner + i;
          dst[i] = row[i] == vp[k] ? gp[k] / static_cast<T>(ties[static_cast<size_t>(k)]) : T(0);
        }
      });
    });
    return std::vector<Tensor>{from_block(grad_block, plan)};
  });
}

// torch.max(x, dim) / torch.min(x, dim): values [x without dim] and int64 indices of the
// first extremum along dim. Backward: each output gradient goes to that one index.
template <bool kMax>
std::pair<Tensor, Tensor> extremum_with_indices(const Tensor& x, int64_t dim, bool keepdim) {
  const char* op = kMax ? "max_with_indices" : "min_with_indices";
  HARNET_CHECK(x.defined(), op, ": input is an undefined tensor");
  ReducePlan plan = plan_reduction(x, {dim}, keepdim, op);
  check_nonempty_reduction(x, plan, {dim}, op);
  Tensor indices = empty(plan.out_shape, kInt64);
  Tensor values = dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    std::vector<ValueIndex<T>> ext = extremum_block<T, kMax>(to_block(x, plan), plan);
    Tensor vals = empty(plan.out_shape, x.dtype());
    T* v = vals.data<T>();
    int64_t* idx = indices.data<int64_t>();
    for (size_t k = 0; k < ext.size(); ++k) {
      v[k] = ext[k].value;
      idx[k] = ext[k].index;
    }
    return vals;
  });
  values = record_op(op, {x}, values, [plan, indices](const Tensor& grad, const std::vector<bool>&) {
    const Tensor g = contiguous_grad(grad);
    Tensor grad_block = zeros(plan.block_shape, g.dtype());
    dispatch_floating(g.dtype(), "max_with_indices backward", [&](auto tag) {
      using T = decltype(tag);
      const T* gp = g.data<T>();
      const int64_t* idx = indices.data<int64_t>();
      T* dst = grad_block.data<T>();
      for (int64_t o = 0; o < plan.outer; ++o)
        for (int64_t i = 0; i < plan.inner; ++i) {
          const int64_t k = o * plan.inner + i;
          dst[(o * plan.reduce + idx[k]) * plan.inner + i] = gp[k];
        }
    });
    return std::vector<Tensor>{from_block(grad_block, plan)};
  });
  return {values, indices};
}

// int64 positions of the first extremum: along dim, or into the flattened tensor (dims empty).
template <bool kMax>
Tensor arg_extremum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const char* op = kMax ? "argmax" : "argmin";
  HARNET_CHECK(x.defined(), op, ": input is an undefined tensor");
  HARNET_CHECK(x.dtype() != kBool, op, ": expected a float32, float64 or int64 tensor, got bool");
  ReducePlan plan = plan_reduction(x, dims, keepdim, op);
  check_nonempty_reduction(x, plan, dims, op);
  Tensor indices = empty(plan.out_shape, kInt64);
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      std::vector<ValueIndex<T>> ext = extremum_block<T, kMax>(to_block(x, plan), plan);
      int64_t* idx = indices.data<int64_t>();
      for (size_t k = 0; k < ext.size(); ++k) idx[k] = ext[k].index;
    }
  });
  return indices;
}

}  // namespace

// ---------------------------------------------------------------- public API

Tensor sum(const Tensor& x) { return sum_or_mean(x, {}, false, "sum", false); }
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_or_mean(x, dims, keepdim, "sum", false);
}
Tensor mean(const Tensor& x) { return sum_or_mean(x, {}, false, "mean", true); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_or_mean(x, dims, keepdim, "mean", true);
}

// var = sum((x - mean)^2) / max(0, n - correction), two passes in double.
//   x [d0, ..., dn] -> out: x's shape without (or, keepdim, with size 1 in) the reduced dims.
// Too few elements give nan (0 / 0) or inf, as PyTorch. Backward: 2 (x - mean) / divisor * g.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  HARNET_CHECK(x.defined(), "var: input is an undefined tensor");
  ReducePlan plan = plan_reduction(x, dims, keepdim, "var");
  const double divisor = static_cast<double>(std::max<int64_t>(0, plan.reduce - correction));
  auto means = std::make_shared<std::vector<double>>();
  Tensor block;
  Tensor out = dispatch_floating(x.dtype(), "var", [&](auto tag) {
    using T = decltype(tag);
    block = to_block(x, plan);
    *means = sum_block<T>(block, plan, [](T v, int64_t) { return double(v); });
    for (double& m : *means) m /= static_cast<double>(plan.reduce);
    const std::vector<double>& mu = *means;
    std::vector<double> result = sum_block<T>(block, plan, [&](T v, int64_t k) {
      const double d = double(v) - mu[static_cast<size_t>(k)];
      return d * d;
    });
    for (double& r : result) r /= divisor;
    return tensor_from<T>(result, plan.out_shape);
  });
  if (!any_requires_grad({x})) return out;
  return record_op("var", {x}, out, [plan, block, means, divisor](const Tensor& grad, const std::vector<bool>&) {
    const Tensor g = contiguous_grad(grad);
    Tensor grad_block = empty(plan.block_shape, g.dtype());
    dispatch_floating(g.dtype(), "var backward", [&](auto tag) {
      using T = decltype(tag);
      const T* xp = block.data<T>();
      const T* gp = g.data<T>();
      T* dst = grad_block.data<T>();
      const double* mu = means->data();
      parallel_rows(plan, [&](int64_t o, int64_t r) {
        const int64_t row = (o * plan.reduce + r) * plan.inner;
        for (int64_t i = 0; i < plan.inner; ++i) {
          const int64_t k = o * plan.inner + i;
          dst[row + i] = static_cast<T>(2.0 * (double(xp[row + i]) - mu[k]) / divisor * double(gp[k]));
        }
      });
    });
    return std::vector<Tensor>{from_block(grad_block, plan)};
  });
}
Tensor var(const Tensor& x) { return var(x, {}, 1, false); }

Tensor max(const Tensor& x) { return extremum<true>(x, {}, false); }
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return extremum<true>(x, dims, keepdim); }
Tensor min(const Tensor& x) { return extremum<false>(x, {}, false); }
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extremum<false>(x, dims, keepdim);
}

std::pair<Tensor, Tensor> max_with_indices(const Tensor& x, int64_t dim, bool keepdim) {
  return extremum_with_indices<true>(x, dim, keepdim);
}
std::pair<Tensor, Tensor> min_with_indices(const Tensor& x, int64_t dim, bool keepdim) {
  return extremum_with_indices<false>(x, dim, keepdim);
}

Tensor argmax(const Tensor& x) { return arg_extremum<true>(x, {}, false); }
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_extremum<true>(x, {dim}, keepdim); }
Tensor argmin(const Tensor& x) { return arg_extremum<false>(x, {}, false); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_extremum<false>(x, {dim}, keepdim); }

}  // namespace harnet
