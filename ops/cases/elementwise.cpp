// Gradcheck rows of the elementwise family: broadcasting ([3,1,4] with [2,4], 0-d
// operands, size-1 dimensions), non-contiguous inputs, tensor-scalar forms and every
// option. Inputs stay away from the points where an op is not differentiable.
#include <cmath>
#include <initializer_list>
#include <string>

#include "autograd/autograd.h"
#include "ops/elementwise.h"
#include "ops/op_cases.h"

namespace harnet {

namespace {

// Uniform float64 leaf in [low, high).
Tensor leaf(const Shape& shape, Generator& gen, double low = -1.0, double high = 1.0) {
  return rand(shape, gen, kFloat64, low, high).set_requires_grad(true);
}

// Uniform in [low, high) but at least `margin` away from every kink (clamp bounds, 0 for
// relu and abs), so central differences never straddle one.
Tensor leaf_avoiding(const Shape& shape, Generator& gen, std::initializer_list<double> kinks, double low = -1.0,
                     double high = 1.0, double margin = 0.05) {
  Tensor x = rand(shape, gen, kFloat64, low, high);
  double* p = x.data<double>();
  for (int64_t i = 0; i < x.numel(); ++i)
    for (double k : kinks)
      if (std::fabs(p[i] - k) < margin) p[i] = k + (p[i] < k ? -2 * margin : 2 * margin);
  return x.set_requires_grad(true);
}

Tensor mask(const Shape& shape, Generator& gen) {
  Tensor m = empty(shape, kBool);
  for (int64_t i = 0; i < m.numel(); ++i) m.data<bool>()[i] = gen.uniform() < 0.5;
  return m;
}

// The transpose of a contiguous 2-d x as a strided (non-contiguous) view, with a backward
// that scatters the gradient back through the same strides: the ops under test then read
// a non-contiguous input while the gradient still reaches the leaf.
Tensor transposed(const Tensor& x) {
  const Shape shape{x.size(1), x.size(0)};
  const Shape strides{x.strides()[1], x.strides()[0]};
  Tensor view = x.as_strided(shape, strides, x.offset());
  return record_op("transposed_view", {x}, view, [xshape = x.shape(), shape, strides](const Tensor& g,
                                                                                     const std::vector<bool>&) {
    Tensor gx = zeros(xshape, g.dtype());
    gx.as_strided(shape, strides, 0).copy_from(g);
    return std::vector<Tensor>{gx};
  });
}

using Inputs = std::vector<Tensor>;

void add_case(std::vector<OpCase>& cases, const char* op, const std::string& shapes,
              std::function<Inputs(Generator&)> make_inputs, GradcheckFn fn) {
  cases.push_back(OpCase{op, shapes, std::move(make_inputs), std::move(fn)});
}

// Rows for a binary op f(a, b) with every broadcasting pattern; a's and b's values come
// from [low_a, high_a) and [low_b, high_b).
void binary_rows(std::vector<OpCase>& cases, const char* op, Tensor (*f)(const Tensor&, const Tensor&),
                 double low_a, double high_a, double low_b, double high_b) {
  auto two = [=](Shape sa, Shape sb) {
    return [=](Generator& g) { return Inputs{leaf(sa, g, low_a, high_a), leaf(sb, g, low_b, high_b)}; };
  };
  auto apply = [f](const Inputs& in) { return f(in[0], in[1]); };
  add_case(cases, op, "[3,1,4] x [2,4]", two({3, 1, 4}, {2, 4}), apply);
  add_case(cases, op, "[2,4] x [3,1,4]", two({2, 4}, {3, 1, 4}), apply);
  add_case(cases, op, "[2,3] x [] (0-d)", two({2, 3}, {}), apply);
  add_case(cases, op, "[] (0-d) x [2,3]", two({}, {2, 3}), apply);
  add_case(cases, op, "[4,1] x [1,5]", two({4, 1}, {1, 5}), apply);
  add_case(cases, op, "[5] x [5] same shape", two({5}, {5}), apply);
  add_case(cases, op, "[] x [] (0-d both)", two({}, {}), apply);
  // a is a [4,3] leaf read transposed as [3,4]; b [3,1] broadcasts along the rows.
  add_case(cases, op, "[4,3]^T (strided) x [3,1]", two({4, 3}, {3, 1}),
           [f](const Inputs& in) { return f(transposed(in[0]), in[1]); });
  add_case(cases, op, "[2,3] x [3,2]^T (strided)", two({2, 3}, {3, 2}),
           [f](const Inputs& in) { return f(in[0], transposed(in[1])); });
}

// Rows for a unary op: odd size, 0-d, size-1 dims, a strided input.
// `options` describes the arguments other than x (e.g. "approximate=tanh").
void unary_rows(std::vector<OpCase>& cases, const char* op, std::function<Tensor(const Tensor&)> f,
                std::function<Tensor(const Shape&, Generator&)> make, const std::string& options = "") {
  auto one = [make](Shape s) { return [make, s](Generator& g) { return Inputs{make(s, g)}; }; };
  auto apply = [f](const Inputs& in) { return f(in[0]); };
  const std::string suffix = options.empty() ? "" : ", " + options;
  add_case(cases, op, "[7]" + suffix, one({7}), apply);
  add_case(cases, op, "[] (0-d)" + suffix, one({}), apply);
  add_case(cases, op, "[2,1,3]" + suffix, one({2, 1, 3}), apply);
  add_case(cases, op, "[4,3]^T (strided)" + suffix, one({4, 3}),
           [f](const Inputs& in) { return f(transposed(in[0])); });
}

}  // namespace

void add_elementwise_cases(std::vector<OpCase>& cases) {
  // ---- binary, tensor-tensor
  binary_rows(cases, "add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, -1, 1, -1, 1);
  binary_rows(cases, "sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, -1, 1, -1, 1);
  binary_rows(cases, "mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, -1, 1, -1, 1);
  binary_rows(cases, "div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, -1, 1, 0.5, 1.5);
  binary_rows(cases, "pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, 0.5, 2, -1.5, 1.5);
  // pow at base 0: the exponent's gradient is 0 there by convention (exponent >= 0); the
  // base's gradient e * 0^(e-1) is finite for e >= 1.
  add_case(
      cases, "pow", "[4] with zeros in base x [4] in [1, 2]",
      [](Generator& g) {
        Tensor base = rand({4}, g, kFloat64, 0.5, 1.5);
        base.data<double>()[1] = 0.0;
        base.data<double>()[3] = 0.0;
        return Inputs{base.set_requires_grad(false), leaf({4}, g, 1.2, 2.0)};
      },
      [](const Inputs& in) { return pow(in[0], in[1]); });

  // ---- tensor-scalar forms and operators
  auto single = [](Shape s, double low, double high) {
    return [s, low, high](Generator& g) { return Inputs{leaf(s, g, low, high)}; };
  };
  add_case(cases, "add", "[3,4] + 2.5", single({3, 4}, -1, 1), [](const Inputs& in) { return add(in[0], 2.5); });
  add_case(cases, "add", "-1.5 + [4,3]^T (operator)", single({4, 3}, -1, 1),
           [](const Inputs& in) { return -1.5 + transposed(in[0]); });
  add_case(cases, "sub", "[3,4] - 0.5", single({3, 4}, -1, 1), [](const Inputs& in) { return sub(in[0], 0.5); });
  add_case(cases, "sub", "2.0 - [2,3] (operator)", single({2, 3}, -1, 1),
           [](const Inputs& in) { return 2.0 - in[0]; });
  add_case(cases, "sub", "-[2,3] (unary operator)", single({2, 3}, -1, 1), [](const Inputs& in) { return -in[0]; });
  add_case(cases, "mul", "[3,4] * -1.7", single({3, 4}, -1, 1), [](const Inputs& in) { return mul(in[0], -1.7); });
  add_case(cases, "mul", "3.0 * [4,3]^T (operator)", single({4, 3}, -1, 1),
           [](const Inputs& in) { return 3.0 * transposed(in[0]); });
  add_case(cases, "mul", "[2,3] * [2,3] (operator)", [](Generator& g) {
    return Inputs{leaf({2, 3}, g), leaf({2, 3}, g)};
  }, [](const Inputs& in) { return in[0] * in[1]; });
  add_case(cases, "div", "[3,4] / 0.3", single({3, 4}, -1, 1), [](const Inputs& in) { return div(in[0], 0.3); });
  add_case(cases, "div", "1.5 / [2,3] (operator)", single({2, 3}, 0.5, 2),
           [](const Inputs& in) { return 1.5 / in[0]; });
  add_case(cases, "div", "[3] / [2,3] (operator, both)", [](Generator& g) {
    return Inputs{leaf({3}, g), leaf({2, 3}, g, 0.5, 2)};
  }, [](const Inputs& in) { return in[0] / in[1]; });
  // Every exponent with a special forward path, and general ones.
  for (const char* e : {"2", "3", "0.5", "-0.5", "-1", "1", "1.7", "-2.3", "0"}) {
    const double exponent = std::stod(e);
    add_case(cases, "pow", std::string("[3,4] ^ ") + e, single({3, 4}, 0.5, 2),
             [exponent](const Inputs& in) { return pow(in[0], exponent); });
  }
  add_case(cases, "pow", "[4,3]^T (strided) ^ 2", single({4, 3}, -1, 1),
           [](const Inputs& in) { return pow(transposed(in[0]), 2.0); });

  // ---- unary
  auto uniform = [](double low, double high) {
    return [low, high](const Shape& s, Generator& g) { return leaf(s, g, low, high); };
  };
  auto avoiding_zero = [](const Shape& s, Generator& g) { return leaf_avoiding(s, g, {0.0}); };
  unary_rows(cases, "neg", [](const Tensor& x) { return neg(x); }, uniform(-1, 1));
  unary_rows(cases, "exp", [](const Tensor& x) { return exp(x); }, uniform(-2, 2));
  unary_rows(cases, "log", [](const Tensor& x) { return log(x); }, uniform(0.3, 3));
  unary_rows(cases, "sqrt", [](const Tensor& x) { return sqrt(x); }, uniform(0.3, 3));
  unary_rows(cases, "abs", [](const Tensor& x) { return abs(x); }, avoiding_zero);
  unary_rows(cases, "tanh", [](const Tensor& x) { return tanh(x); }, uniform(-2, 2));
  unary_rows(cases, "sigmoid", [](const Tensor& x) { return sigmoid(x); }, uniform(-3, 3));
  unary_rows(cases, "relu", [](const Tensor& x) { return relu(x); }, avoiding_zero);
  unary_rows(cases, "gelu", [](const Tensor& x) { return gelu(x); }, uniform(-3, 3), "approximate=none");
  unary_rows(cases, "gelu", [](const Tensor& x) { return gelu(x, "tanh"); }, uniform(-3, 3), "approximate=tanh");
  auto avoiding_bounds = [](const Shape& s, Generator& g) { return leaf_avoiding(s, g, {-0.4, 0.6}); };
  unary_rows(cases, "clamp", [](const Tensor& x) { return clamp(x, -0.4, 0.6); }, avoiding_bounds,
             "min=-0.4 max=0.6");
  unary_rows(cases, "clamp", [](const Tensor& x) { return clamp(x, -0.4, std::nullopt); }, avoiding_bounds,
             "min=-0.4 only");
  unary_rows(cases, "clamp", [](const Tensor& x) { return clamp(x, std::nullopt, 0.6); }, avoiding_bounds,
             "max=0.6 only");

  // ---- selection
  auto where_case = [&cases](const char* shapes, Shape sc, Shape sa, Shape sb) {
    add_case(cases, "where", shapes,
             [=](Generator& g) { return Inputs{mask(sc, g), leaf(sa, g), leaf(sb, g)}; },
             [](const Inputs& in) { return where(in[0], in[1], in[2]); });
  };
  where_case("cond [3,1], a [3,4], b [4]", {3, 1}, {3, 4}, {4});
  where_case("cond [], a [2,3], b [2,3]", {}, {2, 3}, {2, 3});
  where_case("cond [2,3], a [], b [2,1]", {2, 3}, {}, {2, 1});
  where_case("cond [3,1,4], a [2,4], b [1]", {3, 1, 4}, {2, 4}, {1});
  add_case(
      cases, "where", "cond [3,4], a [4,3]^T (strided), b [3,4]",
      [](Generator& g) { return Inputs{mask({3, 4}, g), leaf({4, 3}, g), leaf({3, 4}, g)}; },
      [](const Inputs& in) { return where(in[0], transposed(in[1]), in[2]); });

  auto masked_fill_case = [&cases](const char* shapes, Shape sx, Shape sm) {
    add_case(cases, "masked_fill", shapes, [=](Generator& g) { return Inputs{leaf(sx, g), mask(sm, g)}; },
             [](const Inputs& in) { return masked_fill(in[0], in[1], -2.5); });
  };
  masked_fill_case("x [3,4], mask [3,4]", {3, 4}, {3, 4});
  masked_fill_case("x [3,4], mask [4]", {3, 4}, {4});
  masked_fill_case("x [2,3,4], mask [3,1]", {2, 3, 4}, {3, 1});
  masked_fill_case("x [5], mask []", {5}, {});
  masked_fill_case("x [], mask []", {}, {});
  add_case(
      cases, "masked_fill", "x [4,3]^T (strided), mask [1,4]",
      [](Generator& g) { return Inputs{leaf({4, 3}, g), mask({1, 4}, g)}; },
      [](const Inputs& in) { return masked_fill(transposed(in[0]), in[1], 1e9); });

  // ---- sum_to
  auto sum_to_case = [&cases](const char* shapes, Shape sx, Shape target) {
    add_case(cases, "sum_to", shapes, [=](Generator& g) { return Inputs{leaf(sx, g)}; },
             [target](const Inputs& in) { return sum_to(in[0], target); });
  };
  sum_to_case("[2,3,4] -> [3,1]", {2, 3, 4}, {3, 1});
  sum_to_case("[2,3,4] -> [2,1,4]", {2, 3, 4}, {2, 1, 4});
  sum_to_case("[5,3] -> [3] (bias)", {5, 3}, {3});
  sum_to_case("[4,5] -> [] (all)", {4, 5}, {});
  sum_to_case("[2,3] -> [1,1]", {2, 3}, {1, 1});
  sum_to_case("[3,1,4] -> [1,4]", {3, 1, 4}, {1, 4});
  sum_to_case("[2,3] -> [2,3] (identity)", {2, 3}, {2, 3});
  add_case(
      cases, "sum_to", "[4,3]^T (strided) -> [1,4]", [](Generator& g) { return Inputs{leaf({4, 3}, g)}; },
      [](const Inputs& in) { return sum_to(transposed(in[0]), {1, 4}); });
}

}  // namespace harnet
