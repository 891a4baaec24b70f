// Matrix products: matmul (torch.matmul), bmm (torch.bmm) and linear (F.linear). Every
// product is a sequence of gemm() calls (ops/blas.h) on 2-d blocks of the operands, read in
// place whenever their strides allow it (a transposed view becomes a transpose flag) and
// copied to contiguous memory otherwise.
//
// matmul / bmm, after a 1-d a is promoted to [1, k] and a 1-d b to [k, 1]:
//   a [*a_batch, n, k] x b [*b_batch, k, m] -> out [*batch, n, m],  batch = broadcast(a_batch, b_batch)
// and backward, for each output batch index o (g = d loss / d out):
//   grad_a[o] = g[o] b[o]^T   [n, m] x [m, k] -> [n, k]
//   grad_b[o] = a[o]^T g[o]   [k, n] x [n, m] -> [k, m]
// summed, in increasing o, over the output batch indices that a (b) was broadcast to.
//
// Results are bit-identical for any thread count: gemm's own split depends on the shape
// only, each output or gradient matrix is written by one task, and broadcast gradients
// accumulate in a fixed order.
#include "ops/linalg.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/blas.h"

namespace harnet {

namespace {

// A product of at least this many multiply-adds is one gemm splits across threads itself.
constexpr int64_t kLargeProduct = int64_t{1} << 18;

// ---------------------------------------------------------------- operands

// A stack of matrices as gemm reads them: the last two dimensions of `tensor` are the
// [rows, cols] matrices, each row-major with leading dimension ld or, when transposed, the
// transpose of a row-major [cols, rows] matrix. The other dimensions are batch dimensions
// with arbitrary strides.
struct GemmOperand {
  Tensor tensor;  // detached: the saved operand must not keep the graph alive
  int64_t rows = 0, cols = 0;
  bool transposed = false;
  int64_t ld = 1;
};

// Whether BLAS can read a [rows, cols] block with these strides in place, and how. The
// stride of a size-1 dimension is never used, so it may be anything.
bool blas_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, bool& transposed,
                 int64_t& ld) {
  if (cols == 1 || col_stride == 1) {
    ld = rows == 1 ? std::max<int64_t>(cols, 1) : row_stride;
    if (ld >= std::max<int64_t>(cols, 1) && ld <= INT_MAX) {
      transposed = false;
      return true;
    }
  }
  if (rows == 1 || row_stride == 1) {
    ld = cols == 1 ? std::max<int64_t>(rows, 1) : col_stride;
    if (ld >= std::max<int64_t>(rows, 1) && ld <= INT_MAX) {
      transposed = true;
      return true;
    }
  }
  return false;
}

// t has at least 2 dimensions.
GemmOperand gemm_operand(const Tensor& t) {
  GemmOperand op;
  const int64_t d = t.dim();
  op.rows = t.shape()[d - 2];
  op.cols = t.shape()[d - 1];
  if (blas_layout(op.rows, op.cols, t.strides()[d - 2], t.strides()[d - 1], op.transposed, op.ld)) {
    op.tensor = t.detach();
  } else {
    op.tensor = t.contiguous_copy();
    op.transposed = false;
    op.ld = std::max<int64_t>(op.cols, 1);
  }
  return op;
}

// ---------------------------------------------------------------- batches

// Output batch indices grouped by the operand matrix they read, for the backward
// reduction: group i is members[start[i] .. start[i+1]), in increasing order.
struct BatchGroups {
  std::vector<int64_t> start;
  std::vector<int64_t> members;
  int64_t count() const { return static_cast<int64_t>(start.size()) - 1; }
};

// Which matrices of a and b each output batch index multiplies.
struct BatchPlan {
  Shape batch;                              // broadcast batch shape of the output
  int64_t count = 1;                        // its number of elements
  std::vector<int64_t> a_offset, b_offset;  // per output index: element offset of the matrix
  BatchGroups a_groups, b_groups;
};

// Per output batch dimension, the operand's element stride and its index stride in its
// own (contiguous) batch; both 0 where the operand is broadcast.
struct BatchStrides {
  Shape element, index;
  int64_t count = 1;  // number of matrices in the operand
};

BatchStrides batch_strides(const Tensor& t, const Shape& batch) {
  const int64_t out_rank = static_cast<int64_t>(batch.size());
  const int64_t rank = t.dim() - 2;
  BatchStrides s{Shape(static_cast<size_t>(out_rank), 0), Shape(static_cast<size_t>(out_rank), 0), 1};
  int64_t index_stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    const int64_t size = t.shape()[static_cast<size_t>(d)];
    const size_t out_d = static_cast<size_t>(out_rank - rank + d);
    if (size != 1) {
      s.element[out_d] = t.strides()[static_cast<size_t>(d)];
      s.index[out_d] = index_stride;
    }
    index_stride *= size;
  }
  s.count = index_stride;
  return s;
}

BatchGroups group_by(const std::vector<int64_t>& index_of_output, int64_t count) {
  BatchGroups g;
  g.start.assign(static_cast<size_t>(count) + 1, 0);
  for (int64_t i : index_of_output) ++g.start[static_cast<size_t>(i) + 1];
  for (size_t i = 1; i < g.start.size(); ++i) g.start[i] += g.start[i - 1];
  g.members.resize(index_of_output.size());
  std::vector<int64_t> fill(g.start.begin(), g.start.end() - 1);
  for (size_t o = 0; o < index_of_output.size(); ++o)
    g.members[static_cast<size_t>(fill[static_cast<size_t>(index_of_output[o])]++)] = static_cast<int64_t>(o);
  return g;
}

// a_shape / b_shape: the caller's shapes, for the error message.
BatchPlan make_batch_plan(const char* op, const GemmOperand& a, const GemmOperand& b, const Shape& a_shape,
                          const Shape& b_shape) {
  const Shape& as = a.tensor.shape();
  const Shape& bs = b.tensor.shape();
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  BatchPlan plan;
  plan.batch.assign(std::max(a_batch.size(), b_batch.size()), 1);
  for (size_t i = 0; i < plan.batch.size(); ++i) {  // i counts from the right
    const int64_t sa = i < a_batch.size() ? a_batch[a_batch.size() - 1 - i] : 1;
    const int64_t sb = i < b_batch.size() ? b_batch[b_batch.size() - 1 - i] : 1;
    HARNET_CHECK(sa == sb || sa == 1 || sb == 1, op, ": batch dimensions ", a_batch, " and ", b_batch,
                 " of shapes ", a_shape, " and ", b_shape, " cannot be broadcast");
    plan.batch[plan.batch.size() - 1 - i] = sa == 1 ? sb : sa;
  }
  plan.count = shape_numel(plan.batch);

  const BatchStrides a_strides = batch_strides(a.tensor, plan.batch);
  const BatchStrides b_strides = batch_strides(b.tensor, plan.batch);
  const size_t n = static_cast<size_t>(plan.count);
  plan.a_offset.resize(n);
  plan.b_offset.resize(n);
  std::vector<int64_t> a_index(n), b_index(n);
  Shape idx(plan.batch.size(), 0);
  for (size_t o = 0; o < n; ++o) {
    int64_t ao = 0, bo = 0, ai = 0, bi = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      ao += idx[d] * a_strides.element[d];
      bo += idx[d] * b_strides.element[d];
      ai += idx[d] * a_strides.index[d];
      bi += idx[d] * b_strides.index[d];
    }
    plan.a_offset[o] = ao;
    plan.b_offset[o] = bo;
    a_index[o] = ai;
    b_index[o] = bi;
    for (size_t d = idx.size(); d-- > 0;) {  // next multi-index, row-major
      if (++idx[d] < plan.batch[d]) break;
      idx[d] = 0;
    }
  }
  plan.a_groups = group_by(a_index, a_strides.count);
  plan.b_groups = group_by(b_index, b_strides.count);
  return plan;
}

// Whether a's batch dimensions and rows flatten into one [batch * rows, cols] row-major
// matrix, so that a product with a batch-less b is one GEMM (as PyTorch folds them).
bool rows_fold(const GemmOperand& a) {
  if (a.transposed) return false;
  const Tensor& t = a.tensor;
  int64_t expected = a.ld * a.rows;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    const int64_t size = t.shape()[static_cast<size_t>(d)];
    if (size == 1) continue;
    if (t.strides()[static_cast<size_t>(d)] != expected) return false;
    expected *= size;
  }
  return true;
}

// Runs product(i) for i in [0, count). Across the batch in parallel when that keeps every
// thread busy; otherwise serially, so that gemm splits each large product itself. Both
// give the same values: gemm's split never depends on where it runs.
template <class F>
void for_each_product(int64_t count, int64_t work_per_product, F&& product) {
  const int64_t threads = get_num_threads();
  const int64_t work = std::max<int64_t>(work_per_product, 1);
  if (count == 1 || (work >= kLargeProduct && count < 2 * threads)) {
    for (int64_t i = 0; i < count; ++i) product(i);
    return;
  }
  parallel_for(0, count, std::max<int64_t>(1, kGrainSize / work), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) product(i);
  });
}

// ---------------------------------------------------------------- matmul kernels

// out [batch, n, m] (contiguous) = a [.., n, k] x b [.., k, m].
template <class T>
void matmul_forward(const GemmOperand& a, const GemmOperand& b, const BatchPlan& plan, bool fold, T* out) {
  const int64_t n = a.rows, k = a.cols, m = b.cols;
  const T* a_data = a.tensor.data<T>();
  const T* b_data = b.tensor.data<T>();
  if (fold) {
    gemm<T>(false, b.transposed, plan.count * n, m, k, T(1), a_data, a.ld, b_data, b.ld, T(0), out, m);
    return;
  }
  for_each_product(plan.count, n * m * k, [&](int64_t o) {
    gemm<T>(a.transposed, b.transposed, n, m, k, T(1), a_data + plan.a_offset[static_cast<size_t>(o)], a.ld,
            b_data + plan.b_offset[static_cast<size_t>(o)], b.ld, T(0), out + o * n * m, m);
  });
}

// grad_a [a_batch, n, k] (contiguous) from g [batch, n, m] (contiguous): g[o] b[o]^T summed
// over the output indices of each a matrix. b[o]^T is b's storage read with the flag flipped.
template <class T>
void matmul_grad_a(const GemmOperand& a, const GemmOperand& b, const BatchPlan& plan, bool fold, const T* g,
                   T* grad_a) {
  const int64_t n = a.rows, k = a.cols, m = b.cols;
  const T* b_data = b.tensor.data<T>();
  if (fold) {
    gemm<T>(false, !b.transposed, plan.count * n, k, m, T(1), g, m, b_data, b.ld, T(0), grad_a, k);
    return;
  }
  const BatchGroups& groups = plan.a_groups;
  const int64_t per_matrix = groups.count() > 0 ? plan.count / groups.count() : 0;
  for_each_product(groups.count(), n * k * m * per_matrix, [&](int64_t i) {
    T* c = grad_a + i * n * k;
    const int64_t s0 = groups.start[static_cast<size_t>(i)], s1 = groups.start[static_cast<size_t>(i) + 1];
    if (s0 == s1) std::fill(c, c + n * k, T(0));  // broadcast against an empty batch
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t o = groups.members[static_cast<size_t>(s)];
      gemm<T>(false, !b.transposed, n, k, m, T(1), g + o * n * m, m, b_data + plan.b_offset[static_cast<size_t>(o)],
              b.ld, s == s0 ? T(0) : T(1), c, k);
    }
  });
}

// grad_b [b_batch, k, m] (contiguous): a[o]^T g[o] summed over the output indices of each b matrix.
template <class T>
void matmul_grad_b(const GemmOperand& a, const GemmOperand& b, const BatchPlan& plan, bool fold, const T* g,
                   T* grad_b) {
  const int64_t n = a.rows, k = a.cols, m = b.cols;
  const T* a_data = a.tensor.data<T>();
  if (fold) {  // the whole batch is one [count * n, k] matrix: one GEMM with inner size count * n
    gemm<T>(true, false, k, m, plan.count * n, T(1), a_data, a.ld, g, m, T(0), grad_b, m);
    return;
  }
  const BatchGroups& groups = plan.b_groups;
  const int64_t per_matrix = groups.count() > 0 ? plan.count / groups.count() : 0;
  for_each_product(groups.count(), n * k * m * per_matrix, [&](int64_t i) {
    T* c = grad_b + i * k * m;
    const int64_t s0 = groups.start[static_cast<size_t>(i)], s1 = groups.start[static_cast<size_t>(i) + 1];
    if (s0 == s1) std::fill(c, c + k * m, T(0));
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t o = groups.members[static_cast<size_t>(s)];
      gemm<T>(!a.transposed, false, k, m, n, T(1), a_data + plan.a_offset[static_cast<size_t>(o)], a.ld,
              g + o * n * m, m, s == s0 ? T(0) : T(1), c, m);
    }
  });
}

// ---------------------------------------------------------------- checks

void check_operands(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  HARNET_CHECK(a.defined() && b.defined(), op, ": ", a.defined() ? b_name : a_name, " is an undefined tensor");
  HARNET_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), op,
               ": expected floating tensors (float32 or float64), got ", a_name, " ", dtype_name(a.dtype()),
               " and ", b_name, " ", dtype_name(b.dtype()));
  HARNET_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", a_name, " is ", dtype_name(a.dtype()), " but ",
               b_name, " is ", dtype_name(b.dtype()));
}

// The product of a2 [.., n, k] and b2 [.., k, m] (a and b promoted to at least 2-d), shaped
// out_shape, with its backward recorded against the caller's a and b.
Tensor batched_product(const char* op, const Tensor& a, const Tensor& b, const Tensor& a2, const Tensor& b2,
                       const Shape& out_shape) {
  auto ga = std::make_shared<const GemmOperand>(gemm_operand(a2));
  auto gb = std::make_shared<const GemmOperand>(gemm_operand(b2));
  auto plan = std::make_shared<const BatchPlan>(make_batch_plan(op, *ga, *gb, a.shape(), b.shape()));
  const bool fold = plan->b_groups.count() == 1 && plan->count > 1 && rows_fold(*ga);

  Tensor out = empty(out_shape, a.dtype());
  dispatch_floating(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    matmul_forward<T>(*ga, *gb, *plan, fold, out.data<T>());
  });

  return record_op(op, {a, b}, out,
                   [op, ga, gb, plan, fold, a_shape = a.shape(), b_shape = b.shape()](
                       const Tensor& grad, const std::vector<bool>& needs) {
                     const Tensor g = grad.is_contiguous() ? grad : grad.contiguous_copy();
                     Tensor grad_a, grad_b;
                     dispatch_floating(g.dtype(), op, [&](auto tag) {
                       using T = decltype(tag);
                       // The contiguous layout of a's shape is that of its promoted [a_batch, n, k].
                       if (needs[0]) {
                         grad_a = empty(a_shape, g.dtype());
                         matmul_grad_a<T>(*ga, *gb, *plan, fold, g.data<T>(), grad_a.data<T>());
                       }
                       if (needs[1]) {
                         grad_b = empty(b_shape, g.dtype());
                         matmul_grad_b<T>(*ga, *gb, *plan, fold, g.data<T>(), grad_b.data<T>());
                       }
                     });
                     return std::vector<Tensor>{grad_a, grad_b};
                   });
}

// ---------------------------------------------------------------- linear kernels

// x [.., in] as a [rows, in] matrix: a view when the leading dimensions flatten with one
// stride, else a view of a contiguous copy.
Tensor as_rows(const Tensor& x) {
  const int64_t d = x.dim(), in = x.shape()[static_cast<size_t>(d - 1)];
  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  int64_t row_stride = -1, expected = 0;
  bool flattens = true;
  for (int64_t i = d - 2; i >= 0 && flattens; --i) {
    const int64_t size = x.shape()[static_cast<size_t>(i)], stride = x.strides()[static_cast<size_t>(i)];
    if (size == 1) continue;
    if (row_stride < 0) {
      row_stride = stride;
      expected = stride * size;
    } else if (stride == expected) {
      expected *= size;
    } else {
      flattens = false;
    }
  }
  if (row_stride < 0) row_stride = std::max<int64_t>(in, 1);  // one row: its stride is never used
  if (flattens) return x.as_strided({rows, in}, {row_stride, x.strides()[static_cast<size_t>(d - 1)]}, x.offset());
  return x.contiguous_copy().as_strided({rows, in}, {std::max<int64_t>(in, 1), 1}, 0);
}

// Column sums of g [rows, cols] (contiguous) into sums [cols]: fixed chunks of rows summed
// row by row, partials combined in chunk order, so the result is thread-count independent.
template <class T>
void column_sums(const T* g, int64_t rows, int64_t cols, T* sums) {
  using Partial = std::vector<T>;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(cols, 1));
  const Partial total = parallel_reduce(
      int64_t{0}, rows, grain, Partial(static_cast<size_t>(cols), T(0)),
      [&](int64_t r0, int64_t r1) {
        Partial partial(static_cast<size_t>(cols), T(0));
        for (int64_t r = r0; r < r1; ++r) {
          const T* row = g + r * cols;
          for (int64_t j = 0; j < cols; ++j) partial[static_cast<size_t>(j)] += row[j];
        }
        return partial;
      },
      [cols](Partial acc, const Partial& partial) {
        for (int64_t j = 0; j < cols; ++j) acc[static_cast<size_t>(j)] += partial[static_cast<size_t>(j)];
        return acc;
      });
  std::copy(total.begin(), total.end(), sums);
}

}  // namespace

// ---------------------------------------------------------------- matmul

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", "a", a, "b", b);
  HARNET_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got shapes ",
               a.shape(), " and ", b.shape());
  const bool a_vector = a.dim() == 1, b_vector = b.dim() == 1;
  // [k] -> [1, k] and [k] -> [k, 1]; the stride of the new size-1 dimension is never read.
  const Tensor a2 = a_vector ? a.as_strided({1, a.shape()[0]}, {0, a.strides()[0]}, a.offset()) : a;
  const Tensor b2 = b_vector ? b.as_strided({b.shape()[0], 1}, {b.strides()[0], 0}, b.offset()) : b;
  const int64_t k_a = a2.shape().back(), k_b = b2.shape()[static_cast<size_t>(b2.dim() - 2)];
  HARNET_CHECK(k_a == k_b, "matmul: shapes ", a.shape(), " and ", b.shape(), " are not aligned (", k_a, " != ", k_b,
               ")");

  // Output shape: the broadcast batch, then n unless a was a vector, then m unless b was.
  const Shape a_batch(a2.shape().begin(), a2.shape().end() - 2), b_batch(b2.shape().begin(), b2.shape().end() - 2);
  Shape out_shape(std::max(a_batch.size(), b_batch.size()), 1);
  for (size_t i = 0; i < out_shape.size(); ++i) {
    const int64_t sa = i < a_batch.size() ? a_batch[a_batch.size() - 1 - i] : 1;
    const int64_t sb = i < b_batch.size() ? b_batch[b_batch.size() - 1 - i] : 1;
    out_shape[out_shape.size() - 1 - i] = sa == 1 ? sb : sa;  // checked by make_batch_plan
  }
  if (!a_vector) out_shape.push_back(a2.shape()[static_cast<size_t>(a2.dim() - 2)]);
  if (!b_vector) out_shape.push_back(b2.shape().back());
  return batched_product("matmul", a, b, a2, b2, out_shape);
}

// ---------------------------------------------------------------- bmm

// a [B, n, k] x b [B, k, m] -> [B, n, m]
Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands("bmm", "a", a, "b", b);
  HARNET_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-d tensors, got shapes ", a.shape(), " and ",
               b.shape());
  HARNET_CHECK(a.shape()[0] == b.shape()[0], "bmm: batch sizes of shapes ", a.shape(), " and ", b.shape(),
               " differ (", a.shape()[0], " != ", b.shape()[0], ")");
  HARNET_CHECK(a.shape()[2] == b.shape()[1], "bmm: shapes ", a.shape(), " and ", b.shape(), " are not aligned (",
               a.shape()[2], " != ", b.shape()[1], ")");
  return batched_product("bmm", a, b, a, b, {a.shape()[0], a.shape()[1], b.shape()[2]});
}

// ---------------------------------------------------------------- linear

// x [.., in], weight [out, in], bias [out] -> y [.., out] = x weight^T + bias: one GEMM
// over all leading dimensions, x as [rows, in]. The bias is written into y first and the
// GEMM adds to it (beta = 1). Backward, g [rows, out]:
//   grad_x = g weight        [rows, out] x [out, in]   one GEMM
//   grad_w = g^T x           [out, rows] x [rows, in]  one GEMM, inner size rows
//   grad_b = column sums of g                           fixed-order reduction
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_operands("linear", "input", x, "weight", weight);
  HARNET_CHECK(x.dim() >= 1, "linear: input needs at least 1 dimension, got shape ", x.shape());
  HARNET_CHECK(weight.dim() == 2, "linear: weight must be 2-d [out_features, in_features], got shape ",
               weight.shape());
  const int64_t in = x.shape().back(), out_features = weight.shape()[0];
  HARNET_CHECK(weight.shape()[1] == in, "linear: input shape ", x.shape(), " and weight shape ", weight.shape(),
               " are not aligned (", in, " != ", weight.shape()[1], ")");
  if (bias.defined()) {
    check_operands("linear", "input", x, "bias", bias);
    HARNET_CHECK(bias.dim() == 1 && bias.shape()[0] == out_features, "linear: bias must have shape [",
                 out_features, "] for weight shape ", weight.shape(), ", got ", bias.shape());
  }

  auto gx = std::make_shared<const GemmOperand>(gemm_operand(as_rows(x)));
  auto gw = std::make_shared<const GemmOperand>(gemm_operand(weight));
  const int64_t rows = gx->rows;
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(out_features);

  Tensor y = empty(out_shape, x.dtype());
  dispatch_floating(x.dtype(), "linear", [&](auto tag) {
    using T = decltype(tag);
    T* yd = y.data<T>();
    if (bias.defined()) {
      const T* bd = bias.data<T>();
      const int64_t bs = bias.strides()[0];
      parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(out_features, 1)),
                   [&](int64_t r0, int64_t r1) {
                     for (int64_t r = r0; r < r1; ++r)
                       for (int64_t j = 0; j < out_features; ++j) yd[r * out_features + j] = bd[j * bs];
                   });
    }
    // weight^T: weight's storage read with its flag flipped.
    gemm<T>(gx->transposed, !gw->transposed, rows, out_features, in, T(1), gx->tensor.data<T>(), gx->ld,
            gw->tensor.data<T>(), gw->ld, bias.defined() ? T(1) : T(0), yd, out_features);
  });

  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record_op("linear", inputs, y,
                   [gx, gw, x_shape = x.shape(), w_shape = weight.shape(), has_bias = bias.defined()](
                       const Tensor& grad, const std::vector<bool>& needs) {
                     const Tensor g = grad.is_contiguous() ? grad : grad.contiguous_copy();
                     const int64_t rows = gx->rows, in = gx->cols, out_features = gw->rows;
                     std::vector<Tensor> grads(has_bias ? 3 : 2);
                     dispatch_floating(g.dtype(), "linear", [&](auto tag) {
                       using T = decltype(tag);
                       const T* gd = g.data<T>();
                       if (needs[0]) {
                         grads[0] = empty(x_shape, g.dtype());
                         gemm<T>(false, gw->transposed, rows, in, out_features, T(1), gd, out_features,
                                 gw->tensor.data<T>(), gw->ld, T(0), grads[0].data<T>(), in);
                       }
                       if (needs[1]) {
                         grads[1] = empty(w_shape, g.dtype());
                         gemm<T>(true, gx->transposed, out_features, in, rows, T(1), gd, out_features,
                                 gx->tensor.data<T>(), gx->ld, T(0), grads[1].data<T>(), in);
                       }
                       if (has_bias && needs[2]) {
                         grads[2] = empty({out_features}, g.dtype());
                         column_sums<T>(gd, rows, out_features, grads[2].data<T>());
                       }
                     });
                     return grads;
                   });
}

}  // namespace harnet
