// Elementwise operators with NumPy/PyTorch broadcasting. Each has a forward and a backward
// (except comparisons, which return bool masks and are not differentiable).
//   out shape = broadcast_shapes(a.shape(), b.shape()); a gradient flowing back to a
//   broadcast input is summed over the broadcast dimensions (sum_to).
#pragma once

#include <optional>

#include "autograd/tensor.h"

namespace harnet {

// The broadcast result of two shapes; throws naming op and both shapes if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sums `grad` over leading and size-1 dimensions so that it has `shape` (the adjoint of
// broadcasting). Differentiable.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// ---- binary, broadcasting. Both operands must have the same floating dtype.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// pow's gradient w.r.t. the exponent is out * log(base): NaN for base < 0, and 0 where
// base == 0 and exponent >= 0 (PyTorch's convention). w.r.t. base: 0 where exponent == 0.
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor pow(const Tensor& base, double exponent);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- unary
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);   // gradient 0 at 0, as PyTorch (sign(x))
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);  // gradient 0 at 0
// approximate: "none" (exact, erf) or "tanh", as torch.nn.functional.gelu.
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
// Either bound may be absent; the gradient passes where min <= x <= max (PyTorch).
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// ---- selection
// cond (bool) broadcast with a and b; the gradient goes to a where cond, to b elsewhere.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// value where mask (bool, broadcast to x's shape) is true; gradient zero there.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// ---- comparisons (bool result, broadcasting, no gradient)
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
// Elementwise finiteness check (bool); all_finite() is the whole-tensor test.
Tensor isfinite(const Tensor& x);
bool all_finite(const Tensor& x);

}  // namespace harnet
