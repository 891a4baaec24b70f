// dropout (torch.nn.functional.dropout): a counter-based mask, drawn in parallel.
//
// The keep decision of element i is a pure function of the call's key (one 64-bit draw from
// the generator) and i: element pair k = i / 2 takes the 64-bit value
//   h_k = mix64(key + (k + 1) * golden)        (the k-th output of a SplitMix64 stream at key)
// and element i its low (i even) or high (i odd) 32 bits u_i; it is kept when
// u_i >= threshold = round(p * 2^32), i.e. with probability 1 - p to within 2^-32 (for p < 1;
// p = 1 zeroes everything without a draw).
// SplitMix64's consecutive outputs pass BigCrush, and no state is carried from one element to
// the next, so any split of the elements among threads gives the same mask.
//
//   forward:  out = input * m,  m = keep ? 1 / (1 - p) : 0   (input [*], mask bool [*])
//   backward: grad_input = grad_out * m
#include "ops/dropout.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "autograd/autograd.h"
#include "autograd/parallel.h"

namespace harnet {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// SplitMix64's output function (a bijection of 64-bit words).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Elements whose 32 random bits are below this are dropped: round(p * 2^32), at most
// 2^32 - 1 (a p within 2^-33 of 1 keeps an element with probability 2^-32 instead of 0).
uint32_t drop_threshold(double p) {
  return static_cast<uint32_t>(std::min(std::nearbyint(p * 4294967296.0), 4294967295.0));
}

// GNU vectors (GCC and Clang): the block kernel below is branch-free vector code.
typedef uint64_t U64x4 __attribute__((vector_size(32)));
typedef uint32_t U32x8 __attribute__((vector_size(32)));
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef int32_t I32x4 __attribute__((vector_size(16)));
typedef int64_t I64x4 __attribute__((vector_size(32)));
typedef int8_t I8x8 __attribute__((vector_size(8)));
typedef float Float8 __attribute__((vector_size(32)));
typedef double Double4 __attribute__((vector_size(32)));
static_assert(std::endian::native == std::endian::little,
              "element_bits8 reads a 64-bit lane's low half as the even element");

// Keep lanes (all ones) or drop lanes (0) of the 8 elements i0 .. i0 + 7 (i0 even), i.e. of
// the pairs i0 / 2 .. i0 / 2 + 3: mix64 on four 64-bit lanes at once; in little-endian order
// the eight 32-bit halves are the elements' bits, element 2k the low half of pair k.
inline I32x8 keep_lanes8(uint64_t key, int64_t i0, uint32_t threshold) {
  const uint64_t pair = static_cast<uint64_t>(i0 / 2);
  U64x4 z = U64x4{pair + 1, pair + 2, pair + 3, pair + 4} * kGolden + key;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z = z ^ (z >> 31);
  U32x8 bits;
  std::memcpy(&bits, &z, sizeof bits);
  return bits >= threshold;
}

// The 32 random bits of element i alone (the same value as keep_lanes8 compares).
inline uint32_t element_bits(uint64_t key, int64_t i) {
  const uint64_t h = mix64(key + static_cast<uint64_t>(i / 2 + 1) * kGolden);
  return static_cast<uint32_t>(i % 2 == 0 ? h : h >> 32);
}

// out = x * m and mask = keep for 8 elements, m = scale where kept and +0 where dropped
// (bit operations on the lanes: branch-free, whatever the random mask).
inline void apply_block8(const float* x, float* out, bool* mask, I32x8 keep, float scale) {
  Float8 xv, m;
  std::memcpy(&xv, x, sizeof xv);
  const I32x8 bits = keep & std::bit_cast<int32_t>(scale);
  std::memcpy(&m, &bits, sizeof m);
  xv *= m;
  std::memcpy(out, &xv, sizeof xv);
  const I8x8 flags = __builtin_convertvector(keep, I8x8) & 1;
  std::memcpy(mask, &flags, sizeof flags);
}

inline void apply_block8(const double* x, double* out, bool* mask, I32x8 keep, double scale) {
  for (int half = 0; half < 2; ++half) {
    I32x4 keep4;
    std::memcpy(&keep4, reinterpret_cast<const char*>(&keep) + half * sizeof keep4, sizeof keep4);
    const I64x4 bits = __builtin_convertvector(keep4, I64x4) & std::bit_cast<int64_t>(scale);
    Double4 xv, m;
    std::memcpy(&xv, x + 4 * half, sizeof xv);
    std::memcpy(&m, &bits, sizeof m);
    xv *= m;
    std::memcpy(out + 4 * half, &xv, sizeof xv);
  }
  const I8x8 flags = __builtin_convertvector(keep, I8x8) & 1;
  std::memcpy(mask, &flags, sizeof flags);
}

// out[i] = x[i] * m_i and mask[i] = keep_i for i in [0, n), with m_i = scale if kept and 0
// otherwise: blocks of 8 elements in parallel, then the tail. Multiplying by m (not
// selecting) keeps input * 0 = NaN for a NaN input, as PyTorch's input * noise does.
template <class T>
void dropout_forward(const T* x, T* out, bool* mask, int64_t n, uint64_t key, uint32_t threshold, T scale) {
  const int64_t blocks = n / 8;
  parallel_for(0, blocks, kGrainSize / 8, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      apply_block8(x + 8 * b, out + 8 * b, mask + 8 * b, keep_lanes8(key, 8 * b, threshold), scale);
  });
  for (int64_t i = 8 * blocks; i < n; ++i) {
    const bool keep = element_bits(key, i) >= threshold;
    mask[i] = keep;
    out[i] = x[i] * (keep ? scale : T(0));
  }
}

// grad_x[i] = g[i] * m_i.
template <class T>
void dropout_backward(const T* g, const bool* mask, T* grad_x, int64_t n, T scale) {
  parallel_for(0, n, kGrainSize, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) grad_x[i] = g[i] * (static_cast<T>(mask[i]) * scale);
  });
}

void check_p(double p) {
  HARNET_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p has to be between 0 and 1, but got ", p);
}

}  // namespace

Tensor dropout(const Tensor& input, double p, bool training, Generator& gen) {
  check_p(p);
  HARNET_CHECK(input.defined(), "dropout: input is an undefined tensor");
  HARNET_CHECK(is_floating(input.dtype()), "dropout: expected a floating input (float32 or float64), got ",
               dtype_name(input.dtype()));
  if (!training || p == 0.0 || input.numel() == 0) return input;

  const Tensor x = input.is_contiguous() ? input : input.contiguous_copy();
  Tensor mask = empty(input.shape(), kBool);
  Tensor out = empty(input.shape(), input.dtype());
  // p == 1 drops everything and, like PyTorch, draws nothing from the generator.
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  dispatch_floating(input.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    if (p < 1.0) {
      dropout_forward<T>(x.data<T>(), out.data<T>(), mask.data<bool>(), x.numel(), gen.next_u64(), drop_threshold(p),
                         static_cast<T>(scale));
    } else {
      const T* xp = x.data<T>();
      T* yp = out.data<T>();
      bool* mp = mask.data<bool>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        yp[i] = xp[i] * T(0);
        mp[i] = false;
      }
    }
  });
  return record_op("dropout", {input}, out, [mask, scale](const Tensor& grad, const std::vector<bool>&) {
    const Tensor g = grad.is_contiguous() ? grad : grad.contiguous_copy();
    Tensor grad_x = empty(g.shape(), g.dtype());
    dispatch_floating(g.dtype(), "dropout", [&](auto tag) {
      using T = decltype(tag);
      dropout_backward<T>(g.data<T>(), mask.data<bool>(), grad_x.data<T>(), g.numel(), static_cast<T>(scale));
    });
    return std::vector<Tensor>{grad_x};
  });
}

Tensor dropout_mask_reference(const Shape& shape, double p, Generator& gen) {
  check_p(p);
  const uint64_t key = gen.next_u64();
  const double threshold = std::min(std::nearbyint(p * 4294967296.0), 4294967295.0);
  const int64_t n = shape_numel(shape);
  std::vector<bool> keep(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    // Pair i / 2 of the SplitMix64 stream at key; element i its low (even) or high (odd) half.
    const uint64_t h = mix64(key + static_cast<uint64_t>(i / 2 + 1) * kGolden);
    const uint64_t bits = i % 2 == 0 ? h & 0xFFFFFFFFull : h >> 32;
    keep[static_cast<size_t>(i)] = static_cast<double>(bits) >= threshold;
  }
  return from_vector(keep, shape, kBool);
}

}  // namespace harnet
