#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/autograd.h"
#include "autograd/generator.h"

namespace harnet {

namespace {

// Central differences of a function whose true derivative is 0 come out around 1e-10 for
// values of order 1; anything above this is a real gradient, whatever atol says.
constexpr double kNumericNoise = 1e-7;

// Evaluates fn on inputs with no graph and returns the output flattened to doubles.
std::vector<double> evaluate(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  return fn(inputs).to_vector<double>();
}

// The caller's inputs stay untouched: the check runs on fresh leaves with their own storage.
std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      leaves.push_back(t);
      continue;
    }
    Tensor copy = t.contiguous_copy();
    if (t.requires_grad()) copy.set_requires_grad(true);
    leaves.push_back(copy);
  }
  return leaves;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  GradcheckResult result;
  std::vector<Tensor> leaves = fresh_leaves(inputs);
  std::vector<size_t> diff;  // indices of the inputs being differentiated
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i].defined() || !leaves[i].requires_grad()) continue;
    HARNET_CHECK(leaves[i].dtype() == kFloat64, "gradcheck: input ", i, " must be float64, got ",
                 dtype_name(leaves[i].dtype()));
    diff.push_back(i);
  }
  HARNET_CHECK(!diff.empty(), "gradcheck: no input requires grad");

  Tensor out = fn(leaves);
  HARNET_CHECK(out.dtype() == kFloat64, "gradcheck: the function must return float64, got ", dtype_name(out.dtype()));
  const int64_t n_out = out.numel();
  std::ostringstream why;
  bool ok = true;
  if (!out.requires_grad()) {
    result.message = "the output does not require grad: the operation recorded no backward";
    return result;
  }

  // Analytic Jacobian, one row per output element: backward with a one-hot grad_output.
  // jac_a[k][i] is d out[i] / d input_k, flattened as [numel_k][n_out].
  std::vector<std::vector<double>> jac_a(diff.size()), jac_n(diff.size());
  for (size_t k = 0; k < diff.size(); ++k) {
    jac_a[k].assign(static_cast<size_t>(leaves[diff[k]].numel() * n_out), 0.0);
    jac_n[k].assign(jac_a[k].size(), 0.0);
  }
  for (int64_t o = 0; o < n_out; ++o) {
    for (size_t k : diff) leaves[k].zero_grad();
    Tensor seed = zeros(out.shape(), kFloat64);
    seed.data<double>()[o] = 1.0;
    out.backward(seed, /*retain_graph=*/true);
    for (size_t k = 0; k < diff.size(); ++k) {
      Tensor g = leaves[diff[k]].grad();
      if (!g.defined()) continue;  // the input did not reach the output: zero row
      std::vector<double> gv = g.to_vector<double>();
      for (size_t e = 0; e < gv.size(); ++e) jac_a[k][e * static_cast<size_t>(n_out) + static_cast<size_t>(o)] = gv[e];
    }
  }

  // Numeric Jacobian by central differences, one column per input element.
  for (size_t k = 0; k < diff.size(); ++k) {
    Tensor& x = leaves[diff[k]];
    double* p = x.data<double>();
    for (int64_t e = 0; e < x.numel(); ++e) {
      const double saved = p[e];
      p[e] = saved + opt.eps;
      std::vector<double> plus = evaluate(fn, leaves);
      p[e] = saved - opt.eps;
      std::vector<double> minus = evaluate(fn, leaves);
      p[e] = saved;
      for (int64_t o = 0; o < n_out; ++o)
        jac_n[k][static_cast<size_t>(e * n_out + o)] = (plus[static_cast<size_t>(o)] - minus[static_cast<size_t>(o)]) / (2 * opt.eps);
    }
  }

  for (size_t k = 0; k < diff.size() && ok; ++k) {
    bool any_analytic = false, any_numeric = false;
    for (size_t j = 0; j < jac_a[k].size(); ++j) {
      const double a = jac_a[k][j], n = jac_n[k][j];
      const double abs_err = std::fabs(a - n);
      result.max_abs_error = std::max(result.max_abs_error, abs_err);
      result.max_rel_error = std::max(result.max_rel_error, abs_err / std::max(std::fabs(n), opt.atol));
      any_analytic |= a != 0.0;
      any_numeric |= std::fabs(n) > kNumericNoise;
      if (ok && !(abs_err <= opt.atol + opt.rtol * std::fabs(n))) {  // also catches NaN
        ok = false;
        why << "input " << diff[k] << ": Jacobian mismatch at input element " << j / static_cast<size_t>(n_out)
            << ", output element " << j % static_cast<size_t>(n_out) << ": analytic " << a << ", numeric " << n;
      }
    }
    if (ok && opt.check_nonzero && any_numeric && !any_analytic) {
      ok = false;
      why << "input " << diff[k] << ": every analytic gradient is zero but numeric ones are not";
    }
  }

  // Accumulation: backward twice without zeroing must give twice the gradient.
  if (ok && opt.check_accumulation) {
    Generator gen(1234);
    Tensor seed = randn(out.shape(), gen, kFloat64);
    for (size_t k : diff) leaves[k].zero_grad();
    out.backward(seed, /*retain_graph=*/true);
    std::vector<std::vector<double>> first;
    for (size_t k : diff) first.push_back(leaves[k].grad().defined() ? leaves[k].grad().to_vector<double>()
                                                                      : std::vector<double>());
    out.backward(seed, /*retain_graph=*/true);
    for (size_t k = 0; k < diff.size() && ok; ++k) {
      Tensor g = leaves[diff[k]].grad();
      if (!g.defined()) continue;
      std::vector<double> second = g.to_vector<double>();
      for (size_t e = 0; e < second.size(); ++e) {
        if (std::fabs(second[e] - 2 * first[k][e]) > 1e-12 * (1 + std::fabs(first[k][e]))) {
          ok = false;
          why << "input " << diff[k] << ": a second backward did not accumulate (element " << e << ": "
              << second[e] << " after two passes, " << first[k][e] << " after one)";
          break;
        }
      }
    }
  }

  // The graph must be freed with its last output: a backward closure that captured its own
  // output (rather than out.detach()) forms a reference cycle and leaks every saved tensor.
  if (ok) {
    std::weak_ptr<Node> node = out.grad_fn();
    out = Tensor();
    leaves.clear();
    if (!node.expired()) {
      ok = false;
      why << "the graph outlives its output: a backward closure keeps a tensor that refers back to its own "
             "node (save out.detach(), not out)";
    }
  }

  result.passed = ok;
  result.message = why.str();
  return result;
}

}  // namespace harnet
