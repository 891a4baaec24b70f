// Elementwise operators: forward and backward side by side. Every kernel is a map over
// broadcast operands (ops/broadcast.h); a gradient flowing back to a broadcast input is
// summed back to its shape with sum_to, whose order depends only on the shapes, so the
// gradients are bit-identical for any thread count.
#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/broadcast.h"
#include "ops/vec_math.h"

namespace harnet {

namespace {

void check_defined(const Tensor& t, const char* op, const char* arg) {
  HARNET_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

bool try_broadcast(const Shape& a, const Shape& b, Shape& out) {
  const size_t nd = std::max(a.size(), b.size());
  out.assign(nd, 1);
  for (size_t i = 0; i < nd; ++i) {
    // Right-aligned: position i from the end.
    const int64_t sa = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t sb = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (sa != sb && sa != 1 && sb != 1) return false;
    out[nd - 1 - i] = sa == 1 ? sb : sa;
  }
  return true;
}

// Checks a binary operator's operands (defined, same dtype, floating if arithmetic) and
// returns the broadcast shape of the result.
Shape binary_shape(const char* op, const Tensor& a, const Tensor& b, bool floating_only) {
  check_defined(a, op, "a");
  check_defined(b, op, "b");
  HARNET_CHECK(a.dtype() == b.dtype(), op, ": operands must have the same dtype, got ", dtype_name(a.dtype()),
               " and ", dtype_name(b.dtype()), " (shapes ", a.shape(), " and ", b.shape(), ")");
  HARNET_CHECK(!floating_only || is_floating(a.dtype()), op,
               ": expected floating tensors (float32 or float64), got ", dtype_name(a.dtype()), " (shapes ",
               a.shape(), " and ", b.shape(), ")");
  return broadcast_shapes(a.shape(), b.shape(), op);
}

// The gradient for an input of `shape` from a gradient of the (broadcast) output shape.
Tensor reduce_to(const Tensor& grad, const Shape& shape) {
  return grad.shape() == shape ? grad : sum_to_kernel(grad, shape);
}

// out = op(a, b), both of a floating dtype T; op is a generic lambda.
template <class Op>
Tensor map_floating(const char* name, const Shape& shape, Op op, const Tensor& a, const Tensor& b) {
  return dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    return map_broadcast<T, T, T>(shape, op, a, b);
  });
}

template <class Op>
Tensor map_floating(const char* name, Op op, const Tensor& x) {
  check_defined(x, name, "x");
  return dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    return map_broadcast<T, T>(x.shape(), op, x);
  });
}

// grad (shape of x) combined with one saved tensor of the same shape: op(g, saved).
template <class Op>
Tensor grad_map(const Tensor& grad, const Tensor& saved, Op op) {
  return map_floating("backward", grad.shape(), op, grad, saved);
}

}  // namespace

// ---------------------------------------------------------------- broadcasting

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  Shape out;
  HARNET_CHECK(try_broadcast(a, b, out), op, ": shapes ", a, " and ", b, " cannot be broadcast");
  return out;
}

// sum_to: x [*, s...] -> shape [s'...] where each s' is s or 1. Backward: the gradient of
// `shape` is broadcast back to x's shape.
Tensor sum_to(const Tensor& grad, const Shape& shape) {
  check_defined(grad, "sum_to", "grad");
  Shape broadcast;
  HARNET_CHECK(shape.size() <= grad.shape().size() && try_broadcast(grad.shape(), shape, broadcast) &&
                   broadcast == grad.shape(),
               "sum_to: shape ", shape, " does not broadcast to the gradient's shape ", grad.shape());
  HARNET_CHECK(is_floating(grad.dtype()), "sum_to: expected a floating tensor (float32 or float64), got ",
               dtype_name(grad.dtype()), " of shape ", grad.shape());
  if (grad.shape() == shape) return grad;
  Tensor out = sum_to_kernel(grad, shape);
  return record_op("sum_to", {grad}, out, [grad_shape = grad.shape()](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{broadcast_copy(g, grad_shape)};
  });
}

// ---------------------------------------------------------------- binary arithmetic
// a [sa], b [sb] -> out [broadcast(sa, sb)]; each gradient is reduced back with sum_to.

Tensor add(const Tensor& a, const Tensor& b) {
  const Shape shape = binary_shape("add", a, b, true);
  Tensor out = map_floating("add", shape, [](auto x, auto y) { return x + y; }, a, b);
  return record_op("add", {a, b}, out,
                   [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& need) {
                     return std::vector<Tensor>{need[0] ? reduce_to(g, sa) : Tensor(),
                                                need[1] ? reduce_to(g, sb) : Tensor()};
                   });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  const Shape shape = binary_shape("sub", a, b, true);
  Tensor out = map_floating("sub", shape, [](auto x, auto y) { return x - y; }, a, b);
  return record_op("sub", {a, b}, out,
                   [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& need) {
                     return std::vector<Tensor>{need[0] ? reduce_to(g, sa) : Tensor(),
                                                need[1] ? neg(reduce_to(g, sb)) : Tensor()};
                   });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  const Shape shape = binary_shape("mul", a, b, true);
  Tensor out = map_floating("mul", shape, [](auto x, auto y) { return x * y; }, a, b);
  return record_op("mul", {a, b}, out, [a, b, shape](const Tensor& g, const std::vector<bool>& need) {
    auto times = [](auto x, auto y) { return x * y; };
    return std::vector<Tensor>{need[0] ? reduce_to(map_floating("mul", shape, times, g, b), a.shape()) : Tensor(),
                               need[1] ? reduce_to(map_floating("mul", shape, times, g, a), b.shape()) : Tensor()};
  });
}

// d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 (PyTorch's formula, from the inputs).
Tensor div(const Tensor& a, const Tensor& b) {
  const Shape shape = binary_shape("div", a, b, true);
  Tensor out = map_floating("div", shape, [](auto x, auto y) { return x / y; }, a, b);
  return record_op("div", {a, b}, out, [a, b, shape](const Tensor& g, const std::vector<bool>& need) {
    std::vector<Tensor> grads(2);
    if (need[0]) grads[0] = reduce_to(map_floating("div", shape, [](auto x, auto y) { return x / y; }, g, b), a.shape());
    if (need[1]) {
      grads[1] = dispatch_floating(g.dtype(), "div", [&](auto tag) {
        using T = decltype(tag);
        return reduce_to(map_broadcast<T, T, T, T>(shape, [](T gv, T av, T bv) { return -gv * av / (bv * bv); }, g, a, b),
                         b.shape());
      });
    }
    return grads;
  });
}

// pow(base, exponent): out = base^exponent.
//   d/dbase     = exponent * base^(exponent - 1), and 0 where exponent == 0;
//   d/dexponent = out * log(base), and 0 where base == 0 and exponent >= 0 (PyTorch's
//   convention: the limit of the one-sided derivative). For base < 0 the log is NaN and so
//   is that gradient, as in PyTorch.
Tensor pow(const Tensor& base, const Tensor& exponent) {
  const Shape shape = binary_shape("pow", base, exponent, true);
  Tensor out = map_floating("pow", shape, [](auto x, auto y) { return std::pow(x, y); }, base, exponent);
  const Tensor saved_out = out.detach();  // the node must not own its own output (a cycle)
  return record_op("pow", {base, exponent}, out,
                   [base, exponent, saved_out, shape](const Tensor& g, const std::vector<bool>& need) {
                     return dispatch_floating(g.dtype(), "pow", [&](auto tag) {
                       using T = decltype(tag);
                       std::vector<Tensor> grads(2);
                       if (need[0]) {
                         grads[0] = reduce_to(map_broadcast<T, T, T, T>(
                                                  shape,
                                                  [](T gv, T x, T e) {
                                                    return e == T(0) ? T(0) : gv * e * std::pow(x, e - T(1));
                                                  },
                                                  g, base, exponent),
                                              base.shape());
                       }
                       if (need[1]) {
                         grads[1] = reduce_to(map_broadcast<T, T, T, T, T>(
                                                  shape,
                                                  [](T gv, T x, T e, T y) {
                                                    return (x == T(0) && e >= T(0)) ? T(0) : gv * y * std::log(x);
                                                  },
                                                  g, base, exponent, saved_out),
                                              exponent.shape());
                       }
                       return grads;
                     });
                   });
}

// ---------------------------------------------------------------- tensor-scalar arithmetic
// The scalar is converted to the tensor's dtype, as PyTorch does with Python numbers.

namespace {

void check_floating(const Tensor& x, const char* op) {
  check_defined(x, op, "x");
  HARNET_CHECK(is_floating(x.dtype()), op, ": expected a floating tensor (float32 or float64), got ",
               dtype_name(x.dtype()), " of shape ", x.shape());
}

// out = op(x, T(s)).
template <class Op>
Tensor map_scalar(const char* name, const Tensor& x, double s, Op op) {
  check_floating(x, name);
  return dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T sv = static_cast<T>(s);
    return map_broadcast<T, T>(x.shape(), [sv, op](T v) { return op(v, sv); }, x);
  });
}

Tensor scale(const Tensor& g, double s) {
  return map_scalar("backward", g, s, [](auto v, auto c) { return v * c; });
}

// s - x and s / x, the forms behind `double - Tensor` and `double / Tensor`.
Tensor rsub(double s, const Tensor& x) {
  Tensor out = map_scalar("sub", x, s, [](auto v, auto c) { return c - v; });
  return record_op("sub", {x}, out, [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{neg(g)}; });
}

// d(s/x)/dx = -s / x^2.
Tensor rdiv(double s, const Tensor& x) {
  Tensor out = map_scalar("div", x, s, [](auto v, auto c) { return c / v; });
  return record_op("div", {x}, out, [x, s](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{dispatch_floating(g.dtype(), "div", [&](auto tag) {
      using T = decltype(tag);
      const T sv = static_cast<T>(s);
      return map_broadcast<T, T, T>(g.shape(), [sv](T gv, T v) { return -gv * sv / (v * v); }, g, x);
    })};
  });
}

}  // namespace

Tensor add(const Tensor& a, double b) {
  Tensor out = map_scalar("add", a, b, [](auto v, auto c) { return v + c; });
  return record_op("add", {a}, out, [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor sub(const Tensor& a, double b) {
  Tensor out = map_scalar("sub", a, b, [](auto v, auto c) { return v - c; });
  return record_op("sub", {a}, out, [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = map_scalar("mul", a, b, [](auto v, auto c) { return v * c; });
  return record_op("mul", {a}, out,
                   [b](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{scale(g, b)}; });
}

Tensor div(const Tensor& a, double b) {
  Tensor out = map_scalar("div", a, b, [](auto v, auto c) { return v / c; });
  return record_op("div", {a}, out, [b](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{map_scalar("div", g, b, [](auto v, auto c) { return v / c; })};
  });
}

// x^e; exponents with an exact cheaper form (0, 1, 2, 3, 0.5, -0.5, -1) use it, as
// PyTorch does. Gradient e * x^(e-1), zero everywhere when e == 0 (PyTorch).
Tensor pow(const Tensor& base, double exponent) {
  check_floating(base, "pow");
  Tensor out = dispatch_floating(base.dtype(), "pow", [&](auto tag) {
    using T = decltype(tag);
    const T e = static_cast<T>(exponent);
    if (exponent == 0.0) return full(base.shape(), 1.0, base.dtype());
    if (exponent == 1.0) return base.contiguous_copy();
    if (exponent == 2.0) return map_broadcast<T, T>(base.shape(), [](T v) { return v * v; }, base);
    if (exponent == 3.0) return map_broadcast<T, T>(base.shape(), [](T v) { return v * v * v; }, base);
    if (exponent == 0.5) return map_broadcast<T, T>(base.shape(), [](T v) { return std::sqrt(v); }, base);
    if (exponent == -0.5) return map_broadcast<T, T>(base.shape(), [](T v) { return T(1) / std::sqrt(v); }, base);
    if (exponent == -1.0) return map_broadcast<T, T>(base.shape(), [](T v) { return T(1) / v; }, base);
    return map_broadcast<T, T>(base.shape(), [e](T v) { return std::pow(v, e); }, base);
  });
  return record_op("pow", {base}, out, [base, exponent](const Tensor& g, const std::vector<bool>&) {
    if (exponent == 0.0) return std::vector<Tensor>{zeros_like(g)};
    return std::vector<Tensor>{dispatch_floating(g.dtype(), "pow", [&](auto tag) {
      using T = decltype(tag);
      const T e = static_cast<T>(exponent);
      if (exponent == 2.0)
        return map_broadcast<T, T, T>(g.shape(), [](T gv, T v) { return gv * T(2) * v; }, g, base);
      return map_broadcast<T, T, T>(g.shape(), [e](T gv, T v) { return gv * e * std::pow(v, e - T(1)); }, g, base);
    })};
  });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }

// ---------------------------------------------------------------- unary
// x [s] -> out [s]. Backward kernels read x or the saved output (detached: a node must not
// own its own output).

Tensor neg(const Tensor& x) {
  Tensor out = map_floating("neg", [](auto v) { return -v; }, x);
  return record_op("neg", {x}, out, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{map_floating("neg", [](auto v) { return -v; }, g)};
  });
}

// d exp(x) = exp(x)
Tensor exp(const Tensor& x) {
  Tensor out = map_floating("exp", [](auto v) { return vecmath::exp_of(v); }, x);
  const Tensor y = out.detach();
  return record_op("exp", {x}, out, [y](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, y, [](auto gv, auto yv) { return gv * yv; })};
  });
}

// d log(x) = 1 / x
Tensor log(const Tensor& x) {
  Tensor out = map_floating("log", [](auto v) { return vecmath::log_of(v); }, x);
  return record_op("log", {x}, out, [x](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, x, [](auto gv, auto v) { return gv / v; })};
  });
}

// d sqrt(x) = 1 / (2 sqrt(x))
Tensor sqrt(const Tensor& x) {
  Tensor out = map_floating("sqrt", [](auto v) { return std::sqrt(v); }, x);
  const Tensor y = out.detach();
  return record_op("sqrt", {x}, out, [y](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, y, [](auto gv, auto yv) { return gv / (yv + yv); })};
  });
}

// d |x| = sign(x), 0 at 0.
Tensor abs(const Tensor& x) {
  Tensor out = map_floating("abs", [](auto v) { return std::abs(v); }, x);
  return record_op("abs", {x}, out, [x](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, x, [](auto gv, auto v) {
      using T = decltype(v);
      return gv * (T(v > T(0)) - T(v < T(0)));  // arithmetic, not branches: vectorises
    })};
  });
}

// d tanh(x) = 1 - tanh(x)^2
Tensor tanh(const Tensor& x) {
  Tensor out = map_floating("tanh", [](auto v) { return vecmath::tanh_of(v); }, x);
  const Tensor y = out.detach();
  return record_op("tanh", {x}, out, [y](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, y, [](auto gv, auto yv) { return gv * (decltype(yv)(1) - yv * yv); })};
  });
}

// sigmoid(x) = 1 / (1 + exp(-x)); d sigmoid = (1 - y) y
Tensor sigmoid(const Tensor& x) {
  Tensor out = map_floating("sigmoid", [](auto v) { return vecmath::sigmoid_of(v); }, x);
  const Tensor y = out.detach();
  return record_op("sigmoid", {x}, out, [y](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, y, [](auto gv, auto yv) { return gv * (decltype(yv)(1) - yv) * yv; })};
  });
}

namespace {

// Where the gradient of relu passes: bit i % 64 of word i / 64 is set where y[i] > 0 (or is
// NaN: !(y <= 0)). A bit per element instead of the output itself: the backward needs
// nothing else, and after a conv -> batch norm -> ReLU -> pool chain nothing else keeps
// the output alive (the pool saves its argmax positions, not its input).
// 64 flags (bytes 0 / 1) <-> the bits of a word, eight at a time: multiplying eight 0 / 1
// bytes by kGather puts byte k's flag at bit 56 + k; multiplying a byte by kSpread copies it
// to every byte, of which kPick keeps bit k in byte k.
constexpr uint64_t kGather = 0x0102040810204080, kSpread = 0x0101010101010101, kPick = 0x8040201008040201;

uint64_t pack_flags(const uint8_t* flags) {
  uint64_t word = 0;
  for (int k = 0; k < 8; ++k) {
    uint64_t eight;
    std::memcpy(&eight, flags + 8 * k, 8);
    word |= ((eight * kGather) >> 56) << (8 * k);
  }
  return word;
}

void unpack_flags(uint64_t word, uint8_t* flags) {
  for (int k = 0; k < 8; ++k) {
    const uint64_t picked = (((word >> (8 * k)) & 0xff) * kSpread) & kPick;
    const uint64_t eight = ((picked + 0x7f7f7f7f7f7f7f7f) >> 7) & kSpread;  // a picked bit -> 1
    std::memcpy(flags + 8 * k, &eight, 8);
  }
}

// The loops over a word's flags have a constant trip count, so they vectorise.
// y = relu(x) over `count` <= 64 elements and their pass bits.
template <class T>
uint64_t relu_word(const T* __restrict x, int64_t count, T* __restrict y) {
  uint8_t flags[64] = {};
  auto relu_at = [&](int64_t i) {
    const T v = vecmath::select(x[i] < T(0), T(0), x[i]);  // NaN is not < 0: it passes through
    y[i] = v;
    flags[i] = static_cast<uint8_t>(!(v <= T(0)));
  };
  if (count == 64) {
    for (int64_t i = 0; i < 64; ++i) relu_at(i);
  } else {
    for (int64_t i = 0; i < count; ++i) relu_at(i);
  }
  return pack_flags(flags);
}

template <class T>
void masked_copy(const T* __restrict g, uint64_t word, int64_t count, T* __restrict out) {
  uint8_t flags[64];
  unpack_flags(word, flags);
  if (count == 64) {
    for (int64_t i = 0; i < 64; ++i) out[i] = vecmath::select(flags[i] != 0, g[i], T(0));
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = vecmath::select(flags[i] != 0, g[i], T(0));
  }
}

// y = relu(x) and its pass bits, x and y contiguous with n elements.
template <class T>
void relu_forward(const T* x, int64_t n, T* y, uint64_t* bits) {
  const int64_t words = (n + 63) / 64, full = n / 64;
  parallel_for(0, full, std::max<int64_t>(1, kGrainSize / 64), [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) bits[w] = relu_word(x + w * 64, 64, y + w * 64);
  });
  if (full < words) bits[full] = relu_word(x + full * 64, n - full * 64, y + full * 64);
}

// grad_x[i] = mask bit i ? g[i] : 0, g contiguous.
template <class T>
void relu_backward(const T* g, const uint64_t* bits, int64_t n, T* grad_x) {
  const int64_t words = (n + 63) / 64, full = n / 64;
  parallel_for(0, full, std::max<int64_t>(1, kGrainSize / 64), [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) masked_copy(g + w * 64, bits[w], 64, grad_x + w * 64);
  });
  if (full < words) masked_copy(g + full * 64, bits[full], n - full * 64, grad_x + full * 64);
}

}  // namespace

// relu(x) = max(x, 0), NaN propagated; the gradient passes where the output is > 0.
Tensor relu(const Tensor& x) {
  if (!any_requires_grad({x}))
    return map_floating("relu", [](auto v) {
      using T = decltype(v);
      return vecmath::select(v < T(0), T(0), v);  // NaN is not < 0: it passes through
    }, x);
  const Tensor in = x.is_contiguous() ? x.detach() : x.contiguous_copy();
  const int64_t n = in.numel();
  Tensor out = empty(in.shape(), in.dtype());
  Tensor mask = empty({(n + 63) / 64}, kInt64);
  dispatch_floating(in.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    relu_forward<T>(in.data<T>(), n, out.data<T>(), reinterpret_cast<uint64_t*>(mask.data<int64_t>()));
  });
  return record_op("relu", {x}, out, [mask, n](const Tensor& grad, const std::vector<bool>&) {
    const Tensor g = grad.is_contiguous() ? grad : grad.contiguous_copy();
    Tensor grad_x = empty(g.shape(), g.dtype());
    dispatch_floating(g.dtype(), "relu", [&](auto tag) {
      using T = decltype(tag);
      relu_backward<T>(g.data<T>(), reinterpret_cast<const uint64_t*>(mask.data<int64_t>()), n, grad_x.data<T>());
    });
    return std::vector<Tensor>{grad_x};
  });
}

namespace {
constexpr double kInvSqrt2Pi = M_2_SQRTPI * M_SQRT1_2 * 0.5;  // phi(0) = 1 / sqrt(2 pi)
constexpr double kBeta = M_SQRT2 * M_2_SQRTPI * 0.5;         // sqrt(2 / pi)
constexpr double kKappa = 0.044715;
}  // namespace

// PyTorch's GELU formulas:
//   exact: x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;  d = Phi(x) + x * phi(x)
//          (float32 evaluates Phi without the cancellation of 1 + erf for x < 0)
//   tanh:  x/2 * (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
//          d = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
Tensor gelu(const Tensor& x, const std::string& approximate) {
  HARNET_CHECK(approximate == "none" || approximate == "tanh",
               "gelu: approximate must be \"none\" or \"tanh\", got \"", approximate, "\"");
  const bool use_tanh = approximate == "tanh";
  Tensor out;
  if (use_tanh) {
    out = map_floating("gelu", [](auto v) {
      using T = decltype(v);
      const T inner = T(kBeta) * (v + T(kKappa) * v * v * v);
      return T(0.5) * v * (T(1) + vecmath::tanh_of(inner));
    }, x);
  } else {
    out = map_floating("gelu", [](auto v) { return v * vecmath::normal_cdf_of(v); }, x);
  }
  return record_op("gelu", {x}, out, [x, use_tanh](const Tensor& g, const std::vector<bool>&) {
    if (use_tanh) {
      return std::vector<Tensor>{grad_map(g, x, [](auto gv, auto v) {
        using T = decltype(v);
        const T v2 = v * v;
        const T inner = T(kBeta) * (v + T(kKappa) * v2 * v);
        const T t = vecmath::tanh_of(inner);
        const T left = T(0.5) * v;
        const T right = T(1) + t;
        const T left_derivative = T(0.5) * right;
        const T right_derivative = (T(1) - t * t) * T(kBeta) * (T(1) + T(3 * kKappa) * v2);
        return gv * (left_derivative + left * right_derivative);
      })};
    }
    return std::vector<Tensor>{grad_map(g, x, [](auto gv, auto v) {
      using T = decltype(v);
      const T cdf = vecmath::normal_cdf_of(v);
      const T pdf = T(kInvSqrt2Pi) * vecmath::exp_of(T(-0.5) * v * v);
      return gv * (cdf + v * pdf);
    })};
  });
}

// clamp(x, min, max) = min(max(x, min), max), NaN propagated; if min > max every element
// becomes max (PyTorch). The gradient passes where min <= x <= max (both inclusive).
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  HARNET_CHECK(min.has_value() || max.has_value(), "clamp: at least one of min and max must be given (shape ",
               x.defined() ? shape_str(x.shape()) : std::string("undefined"), ")");
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  const bool nan_bound = std::isnan(lo) || std::isnan(hi);
  Tensor out = map_floating("clamp", [lo, hi, nan_bound](auto v) {
    using T = decltype(v);
    if (nan_bound) return std::numeric_limits<T>::quiet_NaN();  // a NaN bound gives NaN, as in PyTorch
    const T below = vecmath::select(v < T(lo), T(lo), v);
    return vecmath::select(below > T(hi), T(hi), below);
  }, x);
  return record_op("clamp", {x}, out, [x, lo, hi](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_map(g, x, [lo, hi](auto gv, auto v) {
      using T = decltype(v);
      return vecmath::select((v >= T(lo)) & (v <= T(hi)), gv, T(0));
    })};
  });
}

// ---------------------------------------------------------------- selection

// where(cond [sc], a [sa], b [sb]) -> out [broadcast(sc, sa, sb)]
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "cond");
  check_defined(a, "where", "a");
  check_defined(b, "where", "b");
  HARNET_CHECK(cond.dtype() == kBool, "where: the condition must be a bool tensor, got ", dtype_name(cond.dtype()),
               " of shape ", cond.shape());
  HARNET_CHECK(a.dtype() == b.dtype(), "where: a and b must have the same dtype, got ", dtype_name(a.dtype()),
               " and ", dtype_name(b.dtype()));
  HARNET_CHECK(is_floating(a.dtype()), "where: expected floating a and b (float32 or float64), got ",
               dtype_name(a.dtype()));
  Shape ab, shape;
  HARNET_CHECK(try_broadcast(a.shape(), b.shape(), ab) && try_broadcast(cond.shape(), ab, shape),
               "where: shapes ", cond.shape(), " (condition), ", a.shape(), " and ", b.shape(),
               " cannot be broadcast");
  Tensor out = dispatch_floating(a.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    return map_broadcast<T, bool, T, T>(shape, [](bool c, T x, T y) { return vecmath::select(c, x, y); }, cond, a,
                                        b);
  });
  return record_op("where", {a, b}, out, [cond, shape, sa = a.shape(), sb = b.shape()](
                                             const Tensor& g, const std::vector<bool>& need) {
    return dispatch_floating(g.dtype(), "where", [&](auto tag) {
      using T = decltype(tag);
      std::vector<Tensor> grads(2);
      if (need[0])
        grads[0] = reduce_to(map_broadcast<T, T, bool>(shape, [](T gv, bool c) { return c ? gv : T(0); }, g, cond), sa);
      if (need[1])
        grads[1] = reduce_to(map_broadcast<T, T, bool>(shape, [](T gv, bool c) { return c ? T(0) : gv; }, g, cond), sb);
      return grads;
    });
  });
}

// masked_fill(x [s], mask [broadcastable to s], value) -> out [s]
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill", "x");
  check_defined(mask, "masked_fill", "mask");
  HARNET_CHECK(mask.dtype() == kBool, "masked_fill: the mask must be a bool tensor, got ", dtype_name(mask.dtype()),
               " of shape ", mask.shape());
  Shape shape;
  HARNET_CHECK(try_broadcast(x.shape(), mask.shape(), shape) && shape == x.shape(), "masked_fill: mask of shape ",
               mask.shape(), " cannot be broadcast to the input's shape ", x.shape());
  Tensor out = dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T fill;
    if constexpr (std::is_same_v<T, bool>) fill = value != 0.0;
    else fill = static_cast<T>(value);
    return map_broadcast<T, T, bool>(shape, [fill](T v, bool m) { return m ? fill : v; }, x, mask);
  });
  return record_op("masked_fill", {x}, out, [mask](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{dispatch_floating(g.dtype(), "masked_fill", [&](auto tag) {
      using T = decltype(tag);
      return map_broadcast<T, T, bool>(g.shape(), [](T gv, bool m) { return m ? T(0) : gv; }, g, mask);
    })};
  });
}

// ---------------------------------------------------------------- comparisons

namespace {

template <class Cmp>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, Cmp cmp) {
  const Shape shape = binary_shape(op, a, b, false);
  return dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return map_broadcast<bool, T, T>(shape, [cmp](T x, T y) { return cmp(x, y); }, a, b);
  });
}

// A tensor against a number. A floating tensor compares with the number converted to its
// dtype (PyTorch's treatment of Python scalars); int64 and bool tensors compare exactly
// against an integral number and in double precision otherwise (so 2 == 2.5 is false).
template <class Cmp>
Tensor compare_scalar(const char* op, const Tensor& a, double s, Cmp cmp) {
  check_defined(a, op, "a");
  return dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T sv = static_cast<T>(s);
      return map_broadcast<bool, T>(a.shape(), [cmp, sv](T x) { return cmp(x, sv); }, a);
    } else {
      if constexpr (std::is_same_v<T, int64_t>) {
        constexpr double kInt64Limit = 9223372036854775808.0;  // 2^63
        if (std::trunc(s) == s && s >= -kInt64Limit && s < kInt64Limit) {
          const int64_t sv = static_cast<int64_t>(s);
          return map_broadcast<bool, T>(a.shape(), [cmp, sv](T x) { return cmp(x, sv); }, a);
        }
      }
      return map_broadcast<bool, T>(a.shape(), [cmp, s](T x) { return cmp(static_cast<double>(x), s); }, a);
    }
  });
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto x, auto y) { return x >= y; }); }
Tensor eq(const Tensor& a, double b) { return compare_scalar("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor lt(const Tensor& a, double b) { return compare_scalar("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor gt(const Tensor& a, double b) { return compare_scalar("gt", a, b, [](auto x, auto y) { return x > y; }); }

// ---------------------------------------------------------------- finiteness

namespace {

// Counts elements whose exponent bits are all ones (inf or NaN): integer operations only,
// so the loop vectorises.
template <class T>
int64_t count_nonfinite(const T* p, int64_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr Bits kExponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, p + i, sizeof(T));
    count += (bits & kExponent) == kExponent;
  }
  return count;
}

}  // namespace

Tensor isfinite(const Tensor& x) {
  check_defined(x, "isfinite", "x");
  if (!is_floating(x.dtype())) return full(x.shape(), 1.0, kBool);  // integers are always finite
  return dispatch_floating(x.dtype(), "isfinite", [&](auto tag) {
    using T = decltype(tag);
    return map_broadcast<bool, T>(x.shape(), [](T v) { return std::isfinite(v); }, x);
  });
}

bool all_finite(const Tensor& x) {
  check_defined(x, "all_finite", "x");
  if (!is_floating(x.dtype())) return true;
  const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
  return dispatch_floating(xc.dtype(), "all_finite", [&](auto tag) {
    using T = decltype(tag);
    const T* p = xc.data<T>();
    const int64_t bad = parallel_reduce(
        int64_t{0}, xc.numel(), kGrainSize, int64_t{0}, [&](int64_t b, int64_t e) { return count_nonfinite(p + b, e - b); },
        [](int64_t acc, int64_t part) { return acc + part; });
    return bad == 0;
  });
}

}  // namespace harnet
