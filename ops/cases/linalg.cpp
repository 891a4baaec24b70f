// Gradcheck rows of the linear algebra family: matmul in every promotion and broadcast
// form, bmm, linear with and without bias, and operands that are strided views.
#include "autograd/autograd.h"
#include "ops/linalg.h"
#include "ops/op_cases.h"

namespace harnet {

namespace {

// A differentiable permuted view of x (view dim i is x's dim perm[i]), built here from the
// raw as_strided so the rows exercise non-contiguous operands without depending on the
// shape family. Backward: the gradient permuted back.
Tensor permuted(const Tensor& x, const Shape& perm) {
  Shape shape(perm.size()), strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    shape[i] = x.shape()[static_cast<size_t>(perm[i])];
    strides[i] = x.strides()[static_cast<size_t>(perm[i])];
  }
  Tensor view = x.as_strided(shape, strides, x.offset());
  return record_op("permuted", {x}, view, [perm, x_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    const Tensor gc = g.contiguous_copy();
    Shape back_strides(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) back_strides[static_cast<size_t>(perm[i])] = gc.strides()[i];
    return std::vector<Tensor>{gc.as_strided(x_shape, back_strides, 0).contiguous_copy()};
  });
}

// Float64 inputs of the given shapes, standard normal, all differentiated.
std::function<std::vector<Tensor>(Generator&)> normal_inputs(std::vector<Shape> shapes) {
  return [shapes](Generator& gen) {
    std::vector<Tensor> inputs;
    for (const Shape& s : shapes) inputs.push_back(randn(s, gen, kFloat64).set_requires_grad(true));
    return inputs;
  };
}

void add_product(std::vector<OpCase>& cases, const char* op, const char* shapes, std::vector<Shape> input_shapes,
                 GradcheckFn fn) {
  cases.push_back({op, shapes, normal_inputs(std::move(input_shapes)), std::move(fn)});
}

Tensor matmul_of(const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }
Tensor bmm_of(const std::vector<Tensor>& in) { return bmm(in[0], in[1]); }

}  // namespace

void add_linalg_cases(std::vector<OpCase>& cases) {
  // ---- matmul: promotion of 1-d operands
  add_product(cases, "matmul", "[5] @ [5] (dot, 0-d)", {{5}, {5}}, matmul_of);
  add_product(cases, "matmul", "[4] @ [4,3]", {{4}, {4, 3}}, matmul_of);
  add_product(cases, "matmul", "[3,4] @ [4]", {{3, 4}, {4}}, matmul_of);
  add_product(cases, "matmul", "[3] @ [2,3,2]", {{3}, {2, 3, 2}}, matmul_of);
  add_product(cases, "matmul", "[2,2,3] @ [3]", {{2, 2, 3}, {3}}, matmul_of);
  // ---- matmul: 2-d and batches
  add_product(cases, "matmul", "[3,4] @ [4,5]", {{3, 4}, {4, 5}}, matmul_of);
  add_product(cases, "matmul", "[1,1] @ [1,3] (size-1 dims)", {{1, 1}, {1, 3}}, matmul_of);
  add_product(cases, "matmul", "[3,2,4] @ [4,3] (3-d x 2-d)", {{3, 2, 4}, {4, 3}}, matmul_of);
  add_product(cases, "matmul", "[4,3] @ [2,3,2] (2-d x 3-d)", {{4, 3}, {2, 3, 2}}, matmul_of);
  add_product(cases, "matmul", "[2,1,2,3] @ [3,3,2] (broadcast both)", {{2, 1, 2, 3}, {3, 3, 2}}, matmul_of);
  add_product(cases, "matmul", "[1,3,2,2] @ [2,1,2,3] (broadcast both)", {{1, 3, 2, 2}, {2, 1, 2, 3}}, matmul_of);
  add_product(cases, "matmul", "[2,1,3] @ [1,3,1]", {{2, 1, 3}, {1, 3, 1}}, matmul_of);
  // ---- matmul: strided operands
  add_product(cases, "matmul", "[4,3]^T @ [4,2] (transposed a)", {{4, 3}, {4, 2}},
              [](const std::vector<Tensor>& in) { return matmul(permuted(in[0], {1, 0}), in[1]); });
  add_product(cases, "matmul", "[3,4] @ [2,4]^T (transposed b)", {{3, 4}, {2, 4}},
              [](const std::vector<Tensor>& in) { return matmul(in[0], permuted(in[1], {1, 0})); });
  add_product(cases, "matmul", "[2,4,3]^T(-1,-2) @ [4,2]", {{2, 4, 3}, {4, 2}},
              [](const std::vector<Tensor>& in) { return matmul(permuted(in[0], {0, 2, 1}), in[1]); });
  add_product(cases, "matmul", "[2,3,4] permuted to [3,2,4] @ [1,4,2]", {{2, 3, 4}, {1, 4, 2}},
              [](const std::vector<Tensor>& in) { return matmul(permuted(in[0], {1, 0, 2}), in[1]); });
  add_product(cases, "matmul", "[3] @ [4,3]^T (1-d x transposed b)", {{3}, {4, 3}},
              [](const std::vector<Tensor>& in) { return matmul(in[0], permuted(in[1], {1, 0})); });

  // ---- bmm
  add_product(cases, "bmm", "[2,3,4] @ [2,4,2]", {{2, 3, 4}, {2, 4, 2}}, bmm_of);
  add_product(cases, "bmm", "[1,3,4] @ [1,4,2]", {{1, 3, 4}, {1, 4, 2}}, bmm_of);
  add_product(cases, "bmm", "[3,2,2] @ [2,3,3] permuted to [3,2,3]", {{3, 2, 2}, {2, 3, 3}},
              [](const std::vector<Tensor>& in) { return bmm(in[0], permuted(in[1], {1, 0, 2})); });
  add_product(cases, "bmm", "[2,3,2]^T(-1,-2) @ [2,2,3]^T(-1,-2)", {{2, 3, 2}, {2, 2, 3}},
              [](const std::vector<Tensor>& in) { return bmm(permuted(in[0], {0, 2, 1}), permuted(in[1], {0, 2, 1})); });

  // ---- linear
  add_product(cases, "linear", "x [3,4], W [2,4], b [2]", {{3, 4}, {2, 4}, {2}},
              [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); });
  add_product(cases, "linear", "x [3,4], W [2,4], no bias", {{3, 4}, {2, 4}},
              [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); });
  add_product(cases, "linear", "x [2,3,4], W [2,4], b [2]", {{2, 3, 4}, {2, 4}, {2}},
              [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); });
  add_product(cases, "linear", "x [5], W [3,5], b [3]", {{5}, {3, 5}, {3}},
              [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); });
  add_product(cases, "linear", "x [4,3]^T, W [4,2]^T, b [2]", {{4, 3}, {4, 2}, {2}},
              [](const std::vector<Tensor>& in) {
                return linear(permuted(in[0], {1, 0}), permuted(in[1], {1, 0}), in[2]);
              });
  add_product(cases, "linear", "x [2,3,4] permuted to [3,2,4], W [3,4]", {{2, 3, 4}, {3, 4}},
              [](const std::vector<Tensor>& in) { return linear(permuted(in[0], {1, 0, 2}), in[1]); });
}

}  // namespace harnet
