// Gradcheck rows for the reductions (ops/reduce.h).
#include "ops/reduce.h"

#include <numeric>

#include "autograd/autograd.h"
#include "ops/op_cases.h"

namespace harnet {

namespace {

// A differentiable view of x with its dims permuted (perm[k] is the x dim that becomes dim k):
// a non-contiguous input for the op under test, built from the core alone.
Tensor permuted_view(const Tensor& x, const std::vector<int64_t>& perm) {
  Shape shape, strides;
  for (int64_t d : perm) {
    shape.push_back(x.shape()[static_cast<size_t>(d)]);
    strides.push_back(x.strides()[static_cast<size_t>(d)]);
  }
  Tensor view = x.as_strided(shape, strides, x.offset());
  return record_op("permuted_view", {x}, view, [perm, in_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = zeros(in_shape, g.dtype());
    Shape view_shape, view_strides;
    for (int64_t d : perm) {
      view_shape.push_back(in_shape[static_cast<size_t>(d)]);
      view_strides.push_back(gx.strides()[static_cast<size_t>(d)]);
    }
    gx.as_strided(view_shape, view_strides, 0).copy_from(g);
    return std::vector<Tensor>{gx};
  });
}

Tensor random_input(const Shape& shape, Generator& gen) { return randn(shape, gen, kFloat64).set_requires_grad(true); }

// Values 0.1 apart in random order (plus a little noise): max/min have no ties, and no two
// values come within the finite-difference step of each other.
Tensor distinct_input(const Shape& shape, Generator& gen) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t k = n - 1; k > 0; --k)
    std::swap(order[static_cast<size_t>(k)], order[static_cast<size_t>(gen.integer(0, k + 1))]);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k)
    values[static_cast<size_t>(k)] = 0.1 * double(order[static_cast<size_t>(k)]) - 1.0 + 0.01 * gen.uniform();
  return from_vector(values, shape, kFloat64).set_requires_grad(true);
}

using MakeInput = Tensor (*)(const Shape&, Generator&);

void add_unary(std::vector<OpCase>& cases, const std::string& op, const std::string& shapes, Shape shape,
               MakeInput make, std::function<Tensor(const Tensor&)> f) {
  cases.push_back({op, shapes, [shape, make](Generator& gen) { return std::vector<Tensor>{make(shape, gen)}; },
                   [f](const std::vector<Tensor>& in) { return f(in[0]); }});
}

}  // namespace

void add_reduce_cases(std::vector<OpCase>& cases) {
  // ---- sum
  add_unary(cases, "sum", "[3,4,5] all dims", {3, 4, 5}, random_input, [](const Tensor& x) { return sum(x); });
  add_unary(cases, "sum", "[3,4,5] dims {1}", {3, 4, 5}, random_input, [](const Tensor& x) { return sum(x, {1}); });
  add_unary(cases, "sum", "[3,4,5] dims {0,2} keepdim", {3, 4, 5}, random_input, [](const Tensor& x) {
    return sum(x, {0, 2}, true);
  });
  add_unary(cases, "sum", "[2,3,4] dims {-3,-1}", {2, 3, 4}, random_input, [](const Tensor& x) {
    return sum(x, {-3, -1});
  });
  add_unary(cases, "sum", "[4,1,3] dims {0,2} (size-1 dim between)", {4, 1, 3}, random_input, [](const Tensor& x) {
    return sum(x, {0, 2});
  });
  add_unary(cases, "sum", "[4,5]^T dims {0} keepdim (non-contiguous)", {4, 5}, random_input, [](const Tensor& x) {
    return sum(permuted_view(x, {1, 0}), {0}, true);
  });
  add_unary(cases, "sum", "[2,3,4] permuted (2,0,1) dims {1,2}", {2, 3, 4}, random_input, [](const Tensor& x) {
    return sum(permuted_view(x, {2, 0, 1}), {1, 2});
  });
  add_unary(cases, "sum", "[] (0-d)", {}, random_input, [](const Tensor& x) { return sum(x); });
  add_unary(cases, "sum", "[3,4] dims {} keepdim", {3, 4}, random_input,
            [](const Tensor& x) { return sum(x, {}, true); });

  // ---- mean
  add_unary(cases, "mean", "[3,4,5] all dims", {3, 4, 5}, random_input, [](const Tensor& x) { return mean(x); });
  add_unary(cases, "mean", "[3,4,5] dims {-1}", {3, 4, 5}, random_input, [](const Tensor& x) { return mean(x, {-1}); });
  add_unary(cases, "mean", "[3,4,5] dims {0,2} keepdim", {3, 4, 5}, random_input, [](const Tensor& x) {
    return mean(x, {0, 2}, true);
  });
  add_unary(cases, "mean", "[5,3]^T dims {1} (non-contiguous)", {5, 3}, random_input, [](const Tensor& x) {
    return mean(permuted_view(x, {1, 0}), {1});
  });

  // ---- var
  add_unary(cases, "var", "[3,4,5] all dims, correction 1", {3, 4, 5}, random_input,
            [](const Tensor& x) { return var(x); });
  add_unary(cases, "var", "[3,4,5] dims {1}", {3, 4, 5}, random_input,
            [](const Tensor& x) { return var(x, std::vector<int64_t>{1}); });
  add_unary(cases, "var", "[3,4,5] dims {0,2} correction 0 keepdim", {3, 4, 5}, random_input, [](const Tensor& x) {
    return var(x, {0, 2}, 0, true);
  });
  add_unary(cases, "var", "[4,6] dims {-1} correction 2", {4, 6}, random_input,
            [](const Tensor& x) { return var(x, {-1}, 2); });
  add_unary(cases, "var", "[4,5]^T dims {0} (non-contiguous)", {4, 5}, random_input, [](const Tensor& x) {
    return var(permuted_view(x, {1, 0}), std::vector<int64_t>{0});
  });

  // ---- max / min (amax / amin)
  for (const bool is_max : {true, false}) {
    const std::string op = is_max ? "max" : "min";
    auto ext = [is_max](const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
      return is_max ? max(x, dims, keepdim) : min(x, dims, keepdim);
    };
    add_unary(cases, op, "[3,4,5] all elements", {3, 4, 5}, distinct_input,
              [is_max](const Tensor& x) { return is_max ? max(x) : min(x); });
    add_unary(cases, op, "[3,4,5] dims {1}", {3, 4, 5}, distinct_input,
              [ext](const Tensor& x) { return ext(x, {1}, false); });
    add_unary(cases, op, "[3,4,5] dims {0,2} keepdim", {3, 4, 5}, distinct_input, [ext](const Tensor& x) {
      return ext(x, {0, 2}, true);
    });
    add_unary(cases, op, "[2,3,4] dims {-1,-2}", {2, 3, 4}, distinct_input, [ext](const Tensor& x) {
      return ext(x, {-1, -2}, false);
    });
    add_unary(cases, op, "[4,5]^T dims {0} (non-contiguous)", {4, 5}, distinct_input, [ext](const Tensor& x) {
      return ext(permuted_view(x, {1, 0}), {0}, false);
    });
  }

  // ---- max / min with indices (the values are differentiated; indices are int64)
  for (const bool is_max : {true, false}) {
    const std::string op = is_max ? "max_with_indices" : "min_with_indices";
    auto ext = [is_max](const Tensor& x, int64_t dim, bool keepdim) {
      return (is_max ? max_with_indices(x, dim, keepdim) : min_with_indices(x, dim, keepdim)).first;
    };
    add_unary(cases, op, "[3,4,5] dim 1", {3, 4, 5}, distinct_input,
              [ext](const Tensor& x) { return ext(x, 1, false); });
    add_unary(cases, op, "[3,4,5] dim -1 keepdim", {3, 4, 5}, distinct_input,
              [ext](const Tensor& x) { return ext(x, -1, true); });
    add_unary(cases, op, "[7] dim 0", {7}, distinct_input, [ext](const Tensor& x) { return ext(x, 0, false); });
    add_unary(cases, op, "[4,5]^T dim 1 (non-contiguous)", {4, 5}, distinct_input, [ext](const Tensor& x) {
      return ext(permuted_view(x, {1, 0}), 1, false);
    });
  }
}

}  // namespace harnet
