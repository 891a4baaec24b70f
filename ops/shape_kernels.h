// Kernels shared by the shape and indexing operators (ops/shape.cpp, ops/indexing.cpp), all
// without autograd bookkeeping: walking strided geometries, strided copies, and the raw view
// and reshape helpers that forward and backward passes build on. Internal to the shape family.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "autograd/tensor.h"

namespace harnet::shape_detail {

// A row-major index space walked in lockstep by N strided operands (strides in elements).
// Always has at least one dimension, so callers can read shape.back() and strides[k].back().
template <size_t N>
struct Geometry {
  Shape shape;
  std::array<Shape, N> strides;
};

// Drops size-1 dimensions and merges neighbours that every operand lays out contiguously
// relative to each other, so e.g. two contiguous tensors walk as one long run.
template <size_t N>
Geometry<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  Geometry<N> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool mergeable = !g.shape.empty();
    for (size_t k = 0; k < N && mergeable; ++k)
      mergeable = g.strides[k].back() == strides[k][d] * shape[d];
    if (mergeable) {
      g.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) g.strides[k].back() = strides[k][d];
    } else {
      g.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) g.strides[k].push_back(strides[k][d]);
    }
  }
  if (g.shape.empty()) {  // a single element
    g.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) g.strides[k].push_back(0);
  }
  return g;
}

// Visits elements [begin, end) of g in row-major order as maximal runs along the last
// dimension: run(count, offsets) where offsets[k] is operand k's offset of the run's first
// element; inside the run operand k advances by g.strides[k].back().
template <size_t N, class F>
void for_each_run(const Geometry<N>& g, int64_t begin, int64_t end, F&& run) {
  if (end <= begin) return;
  const size_t nd = g.shape.size();
  Shape index(nd, 0);
  std::array<int64_t, N> offsets{};
  int64_t rest = begin;
  for (size_t d = nd; d-- > 0;) {
    index[d] = rest % g.shape[d];
    rest /= g.shape[d];
    for (size_t k = 0; k < N; ++k) offsets[k] += index[d] * g.strides[k][d];
  }
  for (int64_t pos = begin; pos < end;) {
    const int64_t count = std::min(end - pos, g.shape[nd - 1] - index[nd - 1]);
    run(count, offsets);
    pos += count;
    index[nd - 1] += count;
    for (size_t k = 0; k < N; ++k) offsets[k] += count * g.strides[k][nd - 1];
    // Carry into the outer dimensions.
    for (size_t d = nd - 1; d > 0 && index[d] == g.shape[d]; --d) {
      index[d] = 0;
      ++index[d - 1];
      for (size_t k = 0; k < N; ++k) offsets[k] += g.strides[k][d - 1] - g.shape[d] * g.strides[k][d];
    }
  }
}

// dst <- src elementwise (same shape; values converted to dst's dtype, bool as != 0), in
// parallel over elements. dst must not overlap src.
void copy_strided(Tensor dst, const Tensor& src);

// x if it is contiguous, otherwise a contiguous copy.
Tensor contiguous_raw(const Tensor& x);

// The strides that let a tensor of (shape, strides) be viewed as new_shape without a copy,
// following PyTorch's rule; false if a dimension of new_shape would span non-uniformly
// strided memory.
bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape& new_strides);

// A view of x as new_shape (numel must agree) when the geometry allows, else a contiguous copy.
Tensor reshape_raw(const Tensor& x, const Shape& new_shape);

// x[..., start:start+length, ...] along dim (dim already wrapped, window already checked).
Tensor narrow_raw(const Tensor& x, int64_t dim, int64_t start, int64_t length);

}  // namespace harnet::shape_detail
