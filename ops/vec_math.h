// float32 elementary functions written for the auto-vectoriser (internal to ops/).
//
// The C library's expf/tanhf/erff are scalar calls, so a loop over them runs one element
// at a time. These are branch-free (selects, not jumps), use only arithmetic, FMA, integer
// bit operations and conversions, and are inline: a plain loop over them compiles to AVX2
// code. Accuracy is within a few ulp of the correctly rounded result (tests/
// test_elementwise.cpp checks them against the C library over dense ranges). float64, which
// serves gradient checks, keeps the C library (see the *_of helpers at the end).
//
// Polynomials are Taylor series where those converge fast enough, otherwise Chebyshev
// interpolants fitted for this file (degree and maximum error noted at each).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace harnet::vecmath {

namespace detail {

constexpr float kLog2e = 1.44269504088896341f;
// ln 2 split so that n * kLn2Hi is exact for the |n| <= 256 that occur.
constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.42860682030941723212e-6f;
// Adding then subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to an integer
// (round to nearest) without a call.
constexpr float kRoundMagic = 12582912.0f;

inline float round_to_integer(float v) { return (v + kRoundMagic) - kRoundMagic; }

// c ? a : b as bit operations. A conditional expression would do, but GCC (under the
// default -ftrapping-math) may turn it into a branch around the floating-point work of
// one arm, and a loop with a branch is not vectorised.
inline float select(bool c, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) | (std::bit_cast<uint32_t>(b) & ~mask));
}

// v with NaN replaced by 0, for the integer path: converting NaN to an integer is undefined.
inline float nan_to_zero(float v) { return select(v == v, v, 0.0f); }

// 2^n for an integer n in [-126, 127], from the exponent bits.
inline float exp2_int(int32_t n) { return std::bit_cast<float>((n + 127) << 23); }

}  // namespace detail

// e^x. x = n ln2 + r with |r| <= ln2 / 2; e^r by its Taylor series to r^7 (truncation
// error < 6e-9 relative); 2^n applied as two factors so that results in the subnormal
// range are rounded once. Overflows to inf above ~88.72, underflows to 0 below ~-103.9;
// NaN propagates.
inline float exp(float x) {
  using namespace detail;
  // Selects, not fmin/fmax (library calls): NaN passes through both and reaches r below.
  float clamped = select(x < -104.0f, -104.0f, x);
  clamped = select(clamped > 89.0f, 89.0f, clamped);
  const float n = round_to_integer(nan_to_zero(clamped) * kLog2e);
  float r = std::fma(n, -kLn2Hi, clamped);
  r = std::fma(n, -kLn2Lo, r);
  float p = 1.0f / 5040;
  p = std::fma(p, r, 1.0f / 720);
  p = std::fma(p, r, 1.0f / 120);
  p = std::fma(p, r, 1.0f / 24);
  p = std::fma(p, r, 1.0f / 6);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni >> 1;
  return (p * exp2_int(half)) * exp2_int(ni - half);
}

// ln x. x = 2^k m with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m - 1) / (m + 1),
// |s| <= 0.1716, by its Taylor series 2 s (1 + s^2/3 + ... + s^10/11) (truncation < 3e-9
// relative); ln x = k ln2 + ln m. Subnormals are scaled into the normal range first;
// ln 0 = -inf, ln of a negative number or NaN is NaN, ln inf = inf.
inline float log(float x) {
  using namespace detail;
  const bool subnormal = x < 0x1p-126f;  // also true for 0 and negatives, replaced at the end
  const float scaled = select(subnormal, x * 0x1p23f, x);
  const int32_t bits = std::bit_cast<int32_t>(scaled);
  int32_t k = ((bits >> 23) & 0xff) - 127 - 23 * static_cast<int32_t>(subnormal);
  float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const bool upper = m > 1.41421356f;
  m = select(upper, 0.5f * m, m);
  k += static_cast<int32_t>(upper);
  const float f = m - 1.0f;  // exact
  const float s = f / (2.0f + f);
  const float s2 = s * s;
  float p = 1.0f / 11;
  p = std::fma(p, s2, 1.0f / 9);
  p = std::fma(p, s2, 1.0f / 7);
  p = std::fma(p, s2, 1.0f / 5);
  p = std::fma(p, s2, 1.0f / 3);
  const float two_s = s + s;
  const float log_m = std::fma(two_s * s2, p, two_s);
  const float kf = static_cast<float>(k);
  float result = std::fma(kf, kLn2Hi, std::fma(kf, kLn2Lo, log_m));
  constexpr float kInf = std::numeric_limits<float>::infinity();
  result = select(x == kInf, kInf, result);
  result = select(x == 0.0f, -kInf, result);
  return select(x >= 0.0f, result, std::numeric_limits<float>::quiet_NaN());  // false for NaN too
}

// e^x - 1 for x in [0, 20] (what tanh needs), accurate also near 0: x = n ln2 + r,
// e^r - 1 = r + r^2 (1/2 + r/6 + ... + r^6/8!) (truncation < 6e-10 relative), then
// 2^n (e^r - 1) + (2^n - 1), a sum of non-negative terms.
inline float expm1_nonnegative(float x) {
  using namespace detail;
  const float n = round_to_integer(nan_to_zero(x) * kLog2e);
  float r = std::fma(n, -kLn2Hi, x);
  r = std::fma(n, -kLn2Lo, r);
  float p = 1.0f / 40320;
  p = std::fma(p, r, 1.0f / 5040);
  p = std::fma(p, r, 1.0f / 720);
  p = std::fma(p, r, 1.0f / 120);
  p = std::fma(p, r, 1.0f / 24);
  p = std::fma(p, r, 1.0f / 6);
  p = std::fma(p, r, 0.5f);
  const float em1_r = std::fma(r * r, p, r);
  const float scale = exp2_int(static_cast<int32_t>(n));
  return std::fma(scale, em1_r, scale - 1.0f);
}

// tanh(x) = sign(x) E / (E + 2) with E = e^{2|x|} - 1: no cancellation anywhere. |x| is
// capped at 10, where tanh rounds to 1.
inline float tanh(float x) {
  const float absolute = std::fabs(x);
  const float magnitude = detail::select(absolute > 10.0f, 10.0f, absolute);
  const float e = expm1_nonnegative(magnitude + magnitude);
  return std::copysign(e / (e + 2.0f), x);
}

// 1 / (1 + e^-x)
inline float sigmoid(float x) { return 1.0f / (1.0f + vecmath::exp(-x)); }

// The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, accurate in relative terms
// in both tails (unlike 1 + erf(x), which cancels for negative x).
//   |x| <= 1: Phi = 1/2 + x C(x^2), C of degree 5 (error < 3e-10).
//   |x| >  1: Phi(-u) = erfc(z) / 2 with z = u / sqrt 2, written G(t) e^{-z^2} where
//             G = erfc(z) e^{z^2} / 2 is smooth in t = 2 / (2 + z): degree 10 on u in
//             [1, 13.5] (relative error < 1.2e-9). e^{-u^2/2} is computed from u^2 split
//             exactly into hi + lo. Beyond 13.5, Phi(-u) is below the float range: 0.
inline float normal_cdf(float x) {
  const float u = std::fabs(x);
  const float s = x * x;
  // Centre. C in w = 2 s - 1.
  const float w = std::fma(s, 2.0f, -1.0f);
  float c = -2.39391824e-07f;
  c = std::fma(c, w, 5.89693445e-06f);
  c = std::fma(c, w, -0.000122311336f);
  c = std::fma(c, w, 0.00208862266f);
  c = std::fma(c, w, -0.0286762156f);
  c = std::fma(c, w, 0.368048996f);
  const float centre = std::fma(x, c, 0.5f);
  // Tails. G in v = 3.53622366 t - 1.61254834 (t in [0.17322104, 0.73879613]).
  const float z = u * 0.707106781186547524f;
  const float t = 2.0f / (2.0f + z);
  const float v = std::fma(t, 3.53622366f, -1.61254834f);
  float g = -2.01549e-08f;
  g = std::fma(g, v, -4.51596947e-07f);
  g = std::fma(g, v, 9.9205522e-07f);
  g = std::fma(g, v, 8.24744075e-06f);
  g = std::fma(g, v, -2.34422005e-05f);
  g = std::fma(g, v, -0.000184959034f);
  g = std::fma(g, v, 0.000342246261f);
  g = std::fma(g, v, 0.00697753159f);
  g = std::fma(g, v, 0.0353513397f);
  g = std::fma(g, v, 0.10929291f);
  g = std::fma(g, v, 0.109813899f);
  const float hi = u * u;
  const float lo = std::fma(u, u, -hi);
  const float gaussian = vecmath::exp(-0.5f * hi) * std::fma(-0.5f, lo, 1.0f);
  float lower_tail = g * gaussian;  // Phi(-u)
  lower_tail = detail::select(u > 13.5f, 0.0f, lower_tail);
  const float tail = detail::select(x < 0.0f, lower_tail, 1.0f - lower_tail);
  return detail::select(u <= 1.0f, centre, tail);
}

// c ? a : b for float or double as bit operations (see detail::select), for the selects in
// elementwise kernels.
template <class T>
T select(bool c, T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const Bits mask = Bits(0) - static_cast<Bits>(c);
  return std::bit_cast<T>((std::bit_cast<Bits>(a) & mask) | (std::bit_cast<Bits>(b) & ~mask));
}

// ---- dispatch: the vectorisable version for float, the C library for double.
template <class T>
T exp_of(T x) {
  if constexpr (sizeof(T) == 4) return vecmath::exp(x);
  else return std::exp(x);
}
template <class T>
T log_of(T x) {
  if constexpr (sizeof(T) == 4) return vecmath::log(x);
  else return std::log(x);
}
template <class T>
T tanh_of(T x) {
  if constexpr (sizeof(T) == 4) return vecmath::tanh(x);
  else return std::tanh(x);
}
template <class T>
T sigmoid_of(T x) {
  if constexpr (sizeof(T) == 4) return vecmath::sigmoid(x);
  else return T(1) / (T(1) + std::exp(-x));
}
template <class T>
T normal_cdf_of(T x) {
  if constexpr (sizeof(T) == 4) return vecmath::normal_cdf(x);
  else return T(0.5) * std::erfc(-x * T(M_SQRT1_2));  // erfc: no cancellation for x < 0
}

}  // namespace harnet::vecmath
