// Broadcast iteration: the loop machinery behind the elementwise operators, for any family
// that maps a function over broadcast operands (internal to ops/, not part of the API).
//
// Every operand is seen through the loop shape with its own element strides, 0 along the
// dimensions where it is broadcast. Before looping, size-1 dimensions are dropped and
// adjacent dimensions merged wherever every operand allows it: same-shape contiguous
// operands become one flat run, and a bias [C] added to [N, C] becomes an [N, C] loop
// whose inner run is contiguous in both. The loop is split over the output elements with
// parallel_for (serial below kGrainSize); the innermost run goes to a kernel written as a
// plain loop that the compiler vectorises.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>

#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace harnet {

// Strides (in elements) through which `t` is read when broadcast to `shape`: t's shape is
// right-aligned against shape, and broadcast or missing dimensions get stride 0. The
// caller has checked that t.shape() broadcasts to shape (broadcast_shapes).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// A loop over N operands after dropping size-1 dimensions and merging adjacent ones.
template <size_t N>
struct LoopGeometry {
  Shape sizes;                   // merged loop dimensions, outermost first
  std::array<Shape, N> strides;  // per operand, in elements, one per entry of sizes
  int64_t numel = 0;
};

template <size_t N>
LoopGeometry<N> make_loop_geometry(const Shape& shape, const std::array<Shape, N>& strides) {
  LoopGeometry<N> g;
  g.numel = shape_numel(shape);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // contributes no movement to any operand
    if (!g.sizes.empty()) {
      // Dimension d continues the previous (outer) one if, for every operand, one step of
      // the outer dimension equals shape[d] steps of d.
      bool mergeable = true;
      for (size_t k = 0; k < N && mergeable; ++k) mergeable = g.strides[k].back() == strides[k][d] * shape[d];
      if (mergeable) {
        g.sizes.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) g.strides[k].back() = strides[k][d];
        continue;
      }
    }
    g.sizes.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) g.strides[k].push_back(strides[k][d]);
  }
  return g;
}

// Visits the loop elements [begin, end) in row-major order as runs along the innermost
// dimension: f(n, offsets) where offsets[k] is operand k's element offset of the run's
// first element; within the run, operand k moves by g.strides[k].back().
template <size_t N, class F>
void for_each_run(const LoopGeometry<N>& g, int64_t begin, int64_t end, F&& f) {
  if (begin >= end) return;
  std::array<int64_t, N> offsets{};
  const size_t nd = g.sizes.size();
  if (nd == 0) {  // a single element
    f(end - begin, offsets);
    return;
  }
  // The multi-index of `begin`.
  int64_t index[64];  // rank is bounded by the dimensions a Tensor can have in practice
  HARNET_CHECK(nd <= 64, "broadcast loop: more than 64 dimensions");
  int64_t rest = begin;
  for (size_t d = nd; d-- > 0;) {
    index[d] = rest % g.sizes[d];
    rest /= g.sizes[d];
    for (size_t k = 0; k < N; ++k) offsets[k] += index[d] * g.strides[k][d];
  }
  const size_t last = nd - 1;
  int64_t pos = begin;
  while (true) {
    const int64_t n = std::min(g.sizes[last] - index[last], end - pos);
    f(n, offsets);
    pos += n;
    if (pos >= end) return;
    // The run reached the end of the innermost dimension: rewind it and carry outward.
    for (size_t k = 0; k < N; ++k) offsets[k] -= index[last] * g.strides[k][last];
    index[last] = 0;
    for (size_t d = last; d-- > 0;) {
      for (size_t k = 0; k < N; ++k) offsets[k] += g.strides[k][d];
      if (++index[d] < g.sizes[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= g.strides[k][d] * g.sizes[d];
      index[d] = 0;
    }
  }
}

namespace detail {

template <class>
using TensorRef = const Tensor&;

// out[i] = op(in[i]...) over one run. Stride 1 everywhere is the common case and gets a
// loop the compiler vectorises; for two inputs, a stride-0 operand (a broadcast scalar
// along the run) is hoisted so that loop vectorises too.
template <class Out, class... In, class Op, size_t... I>
void map_run(int64_t n, Out* out, const std::tuple<const In*...>& in, const std::array<int64_t, sizeof...(In)>& stride,
             Op& op, std::index_sequence<I...>) {
  if (((stride[I] == 1) && ...)) {
    for (int64_t i = 0; i < n; ++i) out[i] = op(std::get<I>(in)[i]...);
    return;
  }
  if constexpr (sizeof...(In) == 2) {
    const auto* a = std::get<0>(in);
    const auto* b = std::get<1>(in);
    if (stride[0] == 1 && stride[1] == 0) {
      const auto bv = *b;
      for (int64_t i = 0; i < n; ++i) out[i] = op(a[i], bv);
      return;
    }
    if (stride[0] == 0 && stride[1] == 1) {
      const auto av = *a;
      for (int64_t i = 0; i < n; ++i) out[i] = op(av, b[i]);
      return;
    }
  }
  for (int64_t i = 0; i < n; ++i) out[i] = op(std::get<I>(in)[i * stride[I]]...);
}

template <class Out, class... In, class Op, size_t... I>
Tensor map_broadcast_impl(const Shape& out_shape, Op& op, std::index_sequence<I...> seq,
                          const std::array<const Tensor*, sizeof...(In)>& inputs) {
  Tensor out = empty(out_shape, dtype_of<Out>());
  const int64_t n = out.numel();
  if (n == 0) return out;
  Out* o = out.data<Out>();
  const std::tuple<const In*...> base{inputs[I]->template data<In>()...};

  // Fast path: every input already has the output's shape and is contiguous.
  if (((inputs[I]->shape() == out_shape && inputs[I]->is_contiguous()) && ...)) {
    const std::array<int64_t, sizeof...(In)> ones{(static_cast<void>(I), int64_t{1})...};
    parallel_for(0, n, kGrainSize, [&](int64_t b, int64_t e) {
      map_run<Out, In...>(e - b, o + b, std::tuple<const In*...>{std::get<I>(base) + b...}, ones, op, seq);
    });
    return out;
  }

  constexpr size_t N = 1 + sizeof...(In);
  const LoopGeometry<N> geometry = make_loop_geometry<N>(
      out_shape, std::array<Shape, N>{contiguous_strides(out_shape), broadcast_strides(*inputs[I], out_shape)...});
  std::array<int64_t, sizeof...(In)> inner{};
  if (!geometry.sizes.empty()) inner = {geometry.strides[1 + I].back()...};
  parallel_for(0, n, kGrainSize, [&](int64_t b, int64_t e) {
    for_each_run(geometry, b, e, [&](int64_t run, const std::array<int64_t, N>& off) {
      map_run<Out, In...>(run, o + off[0], std::tuple<const In*...>{std::get<I>(base) + off[1 + I]...}, inner, op,
                          seq);
    });
  });
  return out;
}

}  // namespace detail

// A new contiguous tensor of shape out_shape and dtype Out with
//   out[i] = op(inputs[i]...)
// where each input (of C++ element type In, checked) is broadcast to out_shape and may be
// strided. No autograd: operators record their own backward around it.
//   Tensor y = map_broadcast<float, float, float>(shape, [](float a, float b) { return a + b; }, a, b);
template <class Out, class... In, class Op>
Tensor map_broadcast(const Shape& out_shape, Op op, detail::TensorRef<In>... inputs) {
  return detail::map_broadcast_impl<Out, In...>(out_shape, op, std::index_sequence_for<In...>{},
                                                std::array<const Tensor*, sizeof...(In)>{&inputs...});
}

// `x` broadcast to `shape` and materialised as a new contiguous tensor (no autograd).
Tensor broadcast_copy(const Tensor& x, const Shape& shape);

// Sums `x` over its leading dimensions and over the dimensions where `shape` has size 1,
// returning a new tensor of `shape` (no autograd; the adjoint of broadcast_copy). The
// summation order depends only on the shapes, never on the thread count, so results are
// bit-identical for any number of threads. The caller checks that shape broadcasts to
// x.shape().
Tensor sum_to_kernel(const Tensor& x, const Shape& shape);

}  // namespace harnet
