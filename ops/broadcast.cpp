#include "ops/broadcast.h"

#include <cstring>
#include <vector>

namespace harnet {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  const Shape& tshape = t.shape();
  const Shape& tstrides = t.strides();
  Shape strides(shape.size(), 0);
  const size_t lead = shape.size() - tshape.size();
  for (size_t d = 0; d < tshape.size(); ++d)
    strides[lead + d] = tshape[d] == 1 ? 0 : tstrides[d];
  return strides;
}

Tensor broadcast_copy(const Tensor& x, const Shape& shape) {
  return dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return map_broadcast<T, T>(shape, [](T v) { return v; }, x);
  });
}

// ---------------------------------------------------------------- sum_to

namespace {

// Sum of p[0, n) with 16 independent accumulators (vectorised, and more accurate than one
// running sum), combined pairwise. The order depends only on n.
template <class T>
T contiguous_sum(const T* p, int64_t n) {
  constexpr int kLanes = 16;
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) lanes[j] += p[i + j];
  T tail = 0;
  for (; i < n; ++i) tail += p[i];
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  return lanes[0] + tail;
}

// Below this many outputs, a reduction whose innermost dimension is kept is split along
// the reduced dimensions into fixed chunks with one partial result per chunk (otherwise
// there would be too few outputs to share among threads).
constexpr int64_t kMinOutputsToSplitOutputs = 4096;

// The dimensions of a contiguous `x` after dropping size-1 ones and merging neighbours of
// the same kind, split into the kept ones (outputs) and the reduced ones. Strides are x's.
struct ReductionDims {
  LoopGeometry<2> kept;     // operand 0: the output (contiguous), operand 1: x
  LoopGeometry<1> reduced;  // operand 0: x
  bool innermost_reduced = false;
};

ReductionDims split_dims(const Shape& xshape, const Shape& target) {
  // Merge runs of same-kind dimensions (valid because x is contiguous).
  struct Dim {
    int64_t size;
    bool reduced;
  };
  std::vector<Dim> dims;
  const size_t lead = xshape.size() - target.size();
  for (size_t d = 0; d < xshape.size(); ++d) {
    if (xshape[d] == 1) continue;
    const bool reduced = d < lead || target[d - lead] == 1;
    if (!dims.empty() && dims.back().reduced == reduced) dims.back().size *= xshape[d];
    else dims.push_back({xshape[d], reduced});
  }
  ReductionDims r;
  int64_t xstride = 1, out_stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    if (dims[i].reduced) {
      r.reduced.sizes.insert(r.reduced.sizes.begin(), dims[i].size);
      r.reduced.strides[0].insert(r.reduced.strides[0].begin(), xstride);
    } else {
      r.kept.sizes.insert(r.kept.sizes.begin(), dims[i].size);
      r.kept.strides[0].insert(r.kept.strides[0].begin(), out_stride);
      r.kept.strides[1].insert(r.kept.strides[1].begin(), xstride);
      out_stride *= dims[i].size;
    }
    xstride *= dims[i].size;
  }
  r.kept.numel = shape_numel(r.kept.sizes);
  r.reduced.numel = shape_numel(r.reduced.sizes);
  r.innermost_reduced = !dims.empty() && dims.back().reduced;
  return r;
}

// Innermost dimension reduced, e.g. [C, T] -> [C, 1]: each output is a sum of contiguous
// runs of length L (the innermost reduced dimension), the runs added in row-major order.
template <class T>
void sum_inner_reduced(const T* x, T* out, const ReductionDims& dims) {
  const int64_t outputs = dims.kept.numel, reduced = dims.reduced.numel;
  const int64_t run = dims.reduced.sizes.back();
  if (outputs == 1 && run == reduced) {
    // A full sum: fixed chunks of kGrainSize, combined in order (thread-count independent).
    out[0] = parallel_reduce(
        int64_t{0}, reduced, kGrainSize, T(0), [&](int64_t b, int64_t e) { return contiguous_sum(x + b, e - b); },
        [](T acc, T part) { return acc + part; });
    return;
  }
  // The reduced dimensions other than the innermost one.
  LoopGeometry<1> outer;
  outer.sizes.assign(dims.reduced.sizes.begin(), dims.reduced.sizes.end() - 1);
  outer.strides[0].assign(dims.reduced.strides[0].begin(), dims.reduced.strides[0].end() - 1);
  outer.numel = reduced / run;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / reduced);
  parallel_for(0, outputs, grain, [&](int64_t o0, int64_t o1) {
    for_each_run(dims.kept, o0, o1, [&](int64_t n, const std::array<int64_t, 2>& off) {
      const int64_t out_step = dims.kept.strides[0].empty() ? 0 : dims.kept.strides[0].back();
      const int64_t x_step = dims.kept.strides[1].empty() ? 0 : dims.kept.strides[1].back();
      for (int64_t i = 0; i < n; ++i) {
        const T* xo = x + off[1] + i * x_step;
        T acc = 0;
        for_each_run(outer, 0, outer.numel, [&](int64_t m, const std::array<int64_t, 1>& roff) {
          const int64_t step = outer.strides[0].empty() ? 0 : outer.strides[0].back();
          for (int64_t j = 0; j < m; ++j) acc += contiguous_sum(xo + roff[0] + j * step, run);
        });
        out[off[0] + i * out_step] = acc;
      }
    });
  });
}

// dst[o - o_begin] += x[...] for the outputs [o_begin, o_end) and the reduced positions
// [r_begin, r_end), in row-major order of the reduced positions. The innermost dimension
// is kept, so each step adds contiguous runs of x to contiguous runs of dst; the runs of
// the output range are listed once, not re-derived for every reduced position.
template <class T>
void accumulate_rows(const T* x, T* dst, const ReductionDims& dims, int64_t o_begin, int64_t o_end, int64_t r_begin,
                     int64_t r_end) {
  struct Run {
    int64_t dst_offset, x_offset, length;
  };
  std::vector<Run> runs;
  for_each_run(dims.kept, o_begin, o_end, [&](int64_t n, const std::array<int64_t, 2>& off) {
    runs.push_back({off[0] - o_begin, off[1], n});
  });
  const int64_t r_step = dims.reduced.strides[0].empty() ? 0 : dims.reduced.strides[0].back();
  for_each_run(dims.reduced, r_begin, r_end, [&](int64_t m, const std::array<int64_t, 1>& roff) {
    for (int64_t j = 0; j < m; ++j) {
      const T* xr = x + roff[0] + j * r_step;
      for (const Run& run : runs) {
        T* d = dst + run.dst_offset;
        const T* s = xr + run.x_offset;
        for (int64_t i = 0; i < run.length; ++i) d[i] += s[i];
      }
    }
  });
}

// Innermost dimension kept, e.g. a bias gradient [N, C] -> [C]. With many outputs each
// task owns a range of outputs and walks every reduced position; with few, the reduced
// positions are cut into fixed chunks (sizes depend only on the shapes) whose partial
// sums are added in chunk order.
template <class T>
void sum_inner_kept(const T* x, T* out, const ReductionDims& dims) {
  const int64_t outputs = dims.kept.numel, reduced = dims.reduced.numel;
  int64_t chunk = reduced;
  if (outputs < kMinOutputsToSplitOutputs && outputs * reduced > kGrainSize)
    chunk = (kGrainSize + outputs - 1) / outputs;
  const int64_t chunks = (reduced + chunk - 1) / chunk;
  if (chunks == 1) {
    parallel_for(0, outputs, std::max<int64_t>(1, kGrainSize / reduced), [&](int64_t o0, int64_t o1) {
      std::fill(out + o0, out + o1, T(0));
      accumulate_rows(x, out + o0, dims, o0, o1, 0, reduced);
    });
    return;
  }
  std::vector<T> partials(static_cast<size_t>(chunks * outputs), T(0));
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      accumulate_rows(x, partials.data() + c * outputs, dims, 0, outputs, c * chunk, std::min(reduced, (c + 1) * chunk));
  });
  parallel_for(0, outputs, std::max<int64_t>(1, kGrainSize / chunks), [&](int64_t o0, int64_t o1) {
    std::copy(partials.begin() + o0, partials.begin() + o1, out + o0);
    for (int64_t c = 1; c < chunks; ++c) {
      const T* p = partials.data() + c * outputs;
      for (int64_t o = o0; o < o1; ++o) out[o] += p[o];
    }
  });
}

}  // namespace

Tensor sum_to_kernel(const Tensor& x, const Shape& shape) {
  return dispatch_floating(x.dtype(), "sum_to", [&](auto tag) {
    using T = decltype(tag);
    if (x.shape() == shape) return x.contiguous_copy();
    if (x.numel() == 0 || shape_numel(shape) == 0) return zeros(shape, x.dtype());  // empty sums are 0
    const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
    Tensor out = empty(shape, x.dtype());
    const ReductionDims dims = split_dims(xc.shape(), shape);
    const T* src = xc.data<T>();
    T* dst = out.data<T>();
    if (dims.reduced.numel == 1) {
      // Only size-1 dimensions differ: the values are unchanged.
      std::memcpy(dst, src, static_cast<size_t>(out.numel()) * sizeof(T));
    } else if (dims.innermost_reduced) {
      sum_inner_reduced(src, dst, dims);
    } else {
      sum_inner_kept(src, dst, dims);
    }
    return out;
  });
}

}  // namespace harnet
