// The linear algebra family: gemm against the naive reference (every transpose, odd and
// tiled sizes, alpha/beta, thread-count independence), matmul / bmm / linear values on
// hand-computed examples, torch.matmul's shape rules, strided operands, backward values,
// error messages and no-grad mode.
#include <gtest/gtest.h>

#include <cblas.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/blas.h"
#include "ops/linalg.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;
using harnet::testing::expect_error;

// Sets the thread count for a scope and restores the previous one.
template <class T>
std::vector<T> random_values(int64_t n, Generator& gen) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(gen.normal());
  return v;
}

// ---------------------------------------------------------------- gemm

struct GemmShape {
  int64_t m, n, k;
};

// gemm (or gemm_untiled) and gemm_reference on the same inputs, with leading dimensions
// padded beyond the matrix (so ld is really used) and C prefilled; compares within a
// rounding bound.
template <class T>
void check_gemm_against_reference(const GemmShape& s, bool ta, bool tb, T alpha, T beta, uint64_t seed,
                                  bool untiled = false) {
  Generator gen(seed);
  const int64_t a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k;
  const int64_t b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = s.n + 2;
  const std::vector<T> a = random_values<T>(a_rows * lda, gen), b = random_values<T>(b_rows * ldb, gen);
  std::vector<T> c = random_values<T>(s.m * ldc, gen);
  if (beta == T(0)) std::fill(c.begin(), c.end(), std::numeric_limits<T>::quiet_NaN());  // must be ignored
  std::vector<T> expected = c;
  (untiled ? gemm_untiled<T> : gemm<T>)(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(),
                                        ldc);
  gemm_reference<T>(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, expected.data(), ldc);

  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  int64_t bad = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      // Error bound of a k-term sum: proportional to the sum of |products|.
      double abs_sum = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double av = ta ? a[static_cast<size_t>(p * lda + i)] : a[static_cast<size_t>(i * lda + p)];
        const double bv = tb ? b[static_cast<size_t>(j * ldb + p)] : b[static_cast<size_t>(p * ldb + j)];
        abs_sum += std::fabs(av * bv);
      }
      const double got = c[static_cast<size_t>(i * ldc + j)], want = expected[static_cast<size_t>(i * ldc + j)];
      const double bound = tol * (std::fabs(alpha) * abs_sum + std::fabs(want) + 1.0);
      if (!(std::fabs(got - want) <= bound) && bad++ < 3)
        ADD_FAILURE() << "m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta << " tb=" << tb << " at (" << i
                      << ", " << j << "): " << got << " vs reference " << want;
    }
  }
  EXPECT_EQ(bad, 0);
  // Padding columns of C beyond n are never written.
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = s.n; j < ldc; ++j) {
      const T got = c[static_cast<size_t>(i * ldc + j)], want = expected[static_cast<size_t>(i * ldc + j)];
      EXPECT_TRUE(got == want || (std::isnan(got) && std::isnan(want))) << "padding written at " << i << ", " << j;
    }
}

// Odd small sizes, a size that is not split, sizes tiled along rows, along columns and both,
// and small m, n with a long k, split along k (one tile in 3 or 8 chunks, two tiles in 2).
const std::vector<GemmShape> kGemmShapes = {{1, 1, 1},       {7, 5, 3},      {13, 1, 9},     {1, 17, 4},
                                            {300, 200, 150}, {1100, 24, 40}, {40, 2100, 40}, {530, 520, 70},
                                            {40, 30, 1000},  {200, 50, 2100}, {530, 40, 600}};

template <class T>
void gemm_against_reference_all(bool untiled) {
  uint64_t seed = 0;
  for (const GemmShape& s : kGemmShapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_gemm_against_reference<T>(s, ta, tb, T(1), T(0), ++seed, untiled);
        check_gemm_against_reference<T>(s, ta, tb, T(-0.5), T(0.75), ++seed, untiled);
      }
}

TEST(Gemm, MatchesReferenceFloat) { gemm_against_reference_all<float>(false); }
TEST(Gemm, MatchesReferenceDouble) { gemm_against_reference_all<double>(false); }
TEST(Gemm, UntiledMatchesReferenceFloat) { gemm_against_reference_all<float>(true); }
TEST(Gemm, UntiledMatchesReferenceDouble) { gemm_against_reference_all<double>(true); }

// OpenBLAS falls back to its generic pre-AVX kernels on CPUs newer than it knows; the library
// then runs the best set the CPU supports (ops/blas.h), unless OPENBLAS_CORETYPE chose one. The
// switch needs an OpenBLAS that carries every set (DYNAMIC_ARCH, as Debian's).
TEST(Gemm, OpenBlasRunsKernelsTheCpuSupports) {
  const std::string kernels = blas_kernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(kernels, openblas_get_corename());
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool dynamic = std::string(openblas_get_config()).find("DYNAMIC_ARCH") != std::string::npos;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || !avx2 || !dynamic)
    GTEST_SKIP() << "OPENBLAS_CORETYPE set, no AVX2 and FMA, or an OpenBLAS for one CPU: " << openblas_get_config();
  for (const char* generic : {"Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2",
                              "Penryn", "Dunnington", "Nehalem"})
    EXPECT_NE(kernels, generic) << openblas_get_config();
}

TEST(Gemm, ZeroInnerSizeScalesC) {
  for (auto product : {gemm<double>, gemm_untiled<double>}) {
    std::vector<double> c = {1, 2, 3, 4};
    product(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.5, c.data(), 2);
    EXPECT_EQ(c, (std::vector<double>{0.5, 1, 1.5, 2}));
    std::fill(c.begin(), c.end(), std::numeric_limits<double>::quiet_NaN());
    product(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.0, c.data(), 2);
    EXPECT_EQ(c, (std::vector<double>{0, 0, 0, 0}));
  }
}

TEST(Gemm, BadLeadingDimensionIsAnError) {
  std::vector<float> a(6), b(6), c(4);
  for (auto product : {gemm<float>, gemm_untiled<float>})
    expect_error([&] { product(false, false, 2, 2, 3, 1.f, a.data(), 2, b.data(), 2, 0.f, c.data(), 2); },
                 "gemm: lda=2");
}

// The result must not depend on the thread count, nor on running inside a parallel region
// (where gemm does not split). 200x100x100 is a product whose halves OpenBLAS computes
// differently from the whole (its small-matrix kernels), which a thread-dependent split
// would expose. The last three are split along k, whose partials must be summed in the
// same order whichever thread computed them.
template <class T>
void gemm_thread_independent() {
  for (const GemmShape& s : {GemmShape{200, 100, 100}, GemmShape{300, 200, 150}, GemmShape{530, 520, 70},
                             GemmShape{40, 2100, 40}, GemmShape{40, 30, 1000}, GemmShape{530, 40, 600},
                             GemmShape{384, 128, 3840}}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Generator gen(7);
        const std::vector<T> a = random_values<T>(s.m * s.k, gen), b = random_values<T>(s.k * s.n, gen);
        const std::vector<T> c0 = random_values<T>(s.m * s.n, gen);
        const int64_t lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
        auto run = [&] {
          std::vector<T> c = c0;
          gemm<T>(ta, tb, s.m, s.n, s.k, T(1.5), a.data(), lda, b.data(), ldb, T(0.5), c.data(), s.n);
          return c;
        };
        std::vector<T> one, two, nested;
        {
          ScopedThreads threads(1);
          one = run();
        }
        {
          ScopedThreads threads(2);
          two = run();
          // Inside a parallel region: two tasks, each computing the whole product.
          std::vector<std::vector<T>> per_task(2);
          parallel_for(0, 2, 1, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) per_task[static_cast<size_t>(t)] = run();
          });
          nested = per_task[1];
        }
        EXPECT_TRUE(one == two) << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
        EXPECT_TRUE(one == nested) << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
      }
  }
}

TEST(Gemm, IdenticalForAnyThreadCountFloat) { gemm_thread_independent<float>(); }
TEST(Gemm, IdenticalForAnyThreadCountDouble) { gemm_thread_independent<double>(); }

// ---------------------------------------------------------------- matmul values

Tensor values(const std::vector<double>& v, const Shape& shape, DType dtype = kFloat64) {
  return from_vector(v, shape, dtype);
}

TEST(Matmul, TwoByThreeTimesThreeByTwo) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor a = values({1, 2, 3, 4, 5, 6}, {2, 3}, dtype);
    Tensor b = values({7, 8, 9, 10, 11, 12}, {3, 2}, dtype);
    Tensor c = matmul(a, b);
    EXPECT_EQ(c.shape(), (Shape{2, 2}));
    EXPECT_EQ(c.dtype(), dtype);
    EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{58, 64, 139, 154}));
  }
}

TEST(Matmul, VectorTimesVectorIsAZeroDimDot) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor c = matmul(values({1, 2, 3}, {3}, dtype), values({4, 5, 6}, {3}, dtype));
    EXPECT_EQ(c.shape(), Shape{});
    EXPECT_EQ(c.item(), 32.0);
  }
}

TEST(Matmul, VectorTimesMatrixDropsThePromotedDim) {
  Tensor c = matmul(values({1, 2}, {2}), values({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_EQ(c.shape(), (Shape{3}));
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{9, 12, 15}));
}

TEST(Matmul, MatrixTimesVectorDropsThePromotedDim) {
  Tensor c = matmul(values({1, 2, 3, 4, 5, 6}, {2, 3}), values({1, 0, -1}, {3}));
  EXPECT_EQ(c.shape(), (Shape{2}));
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{-2, -2}));
}

TEST(Matmul, ShapeRules) {
  Generator gen(0);
  auto shape_of = [&](const Shape& a, const Shape& b) {
    return matmul(randn(a, gen), randn(b, gen)).shape();
  };
  EXPECT_EQ(shape_of({2, 1, 3, 4}, {5, 4, 6}), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(shape_of({5, 4, 6}, {2, 1, 6, 3}), (Shape{2, 5, 4, 3}));
  EXPECT_EQ(shape_of({3, 4}, {2, 4, 5}), (Shape{2, 3, 5}));
  EXPECT_EQ(shape_of({2, 3, 4}, {4, 5}), (Shape{2, 3, 5}));
  EXPECT_EQ(shape_of({4}, {2, 4, 5}), (Shape{2, 5}));
  EXPECT_EQ(shape_of({2, 3, 4}, {4}), (Shape{2, 3}));
  EXPECT_EQ(shape_of({1, 3, 4}, {7, 1, 4, 2}), (Shape{7, 1, 3, 2}));
  EXPECT_EQ(shape_of({0, 3, 4}, {4, 2}), (Shape{0, 3, 2}));
  EXPECT_EQ(shape_of({3, 0}, {0, 2}), (Shape{3, 2}));
  // An empty inner dimension sums nothing.
  EXPECT_EQ(matmul(randn({3, 0}, gen), randn({0, 2}, gen)).to_vector<double>(), std::vector<double>(6, 0.0));
}

// out[i, j] = a[i, 0] @ b[j] for a [2, 1, 3, 4] and b [5, 4, 6], against plain loops.
TEST(Matmul, BroadcastBatchValues) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Generator gen(3);
    Tensor a = randn({2, 1, 3, 4}, gen, dtype), b = randn({5, 4, 6}, gen, dtype);
    Tensor c = matmul(a, b);
    ASSERT_EQ(c.shape(), (Shape{2, 5, 3, 6}));
    const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = c.to_vector<double>();
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 5; ++j)
        for (int r = 0; r < 3; ++r)
          for (int q = 0; q < 6; ++q) {
            double want = 0;
            for (int p = 0; p < 4; ++p) want += av[static_cast<size_t>(i * 12 + r * 4 + p)] * bv[static_cast<size_t>(j * 24 + p * 6 + q)];
            EXPECT_NEAR(cv[static_cast<size_t>(((i * 5 + j) * 3 + r) * 6 + q)], want, 1e-5)
                << dtype_name(dtype) << " at " << i << "," << j << "," << r << "," << q;
          }
  }
}

// A view with the last two strides swapped, over a contiguous tensor of the reversed shape.
Tensor transposed_view(const Tensor& t) {
  Shape shape = t.shape(), strides = t.strides();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return t.as_strided(shape, strides, t.offset());
}

TEST(Matmul, StridedOperandsGiveTheSameValuesAsContiguousOnes) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Generator gen(5);
    Tensor at = randn({4, 3}, gen, dtype), b = randn({4, 5}, gen, dtype);
    Tensor a_view = transposed_view(at);  // [3, 4], strides [1, 3]
    ASSERT_FALSE(a_view.is_contiguous());
    EXPECT_EQ(matmul(a_view, b).to_vector<double>(), matmul(a_view.contiguous_copy(), b).to_vector<double>());

    // Batch dimensions with a stride that is not the matrix size, and a padded leading dim:
    // the [3, 2, 4] view of a [2, 3, 4] tensor with its first two dims swapped.
    Tensor base = randn({2, 3, 4}, gen, dtype);
    Tensor swapped = base.as_strided({3, 2, 4}, {4, 12, 1}, 0);
    Tensor w = randn({3, 4, 2}, gen, dtype);
    EXPECT_EQ(matmul(swapped, w).to_vector<double>(), matmul(swapped.contiguous_copy(), w).to_vector<double>());
    // A 2-d b whose rows are padded (leading dimension 3 for 2 columns): one folded GEMM for a.
    Tensor padded = randn({4, 3}, gen, dtype).as_strided({4, 2}, {3, 1}, 1);
    Tensor a3 = randn({2, 3, 4}, gen, dtype);
    EXPECT_EQ(matmul(a3, padded).to_vector<double>(), matmul(a3, padded.contiguous_copy()).to_vector<double>());

    // A vector with stride 2 and an expanded (stride 0) vector.
    Tensor storage = randn({8}, gen, dtype);
    Tensor every_other = storage.as_strided({4}, {2}, 1);
    Tensor m = randn({4, 3}, gen, dtype);
    EXPECT_EQ(matmul(every_other, m).to_vector<double>(), matmul(every_other.contiguous_copy(), m).to_vector<double>());
    Tensor expanded = storage.as_strided({4}, {0}, 2);
    EXPECT_EQ(matmul(expanded, m).to_vector<double>(), matmul(expanded.contiguous_copy(), m).to_vector<double>());
  }
}

// ---------------------------------------------------------------- matmul backward

TEST(Matmul, BackwardByHand) {
  Tensor a = values({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor b = values({5, 6}, {2, 1}).set_requires_grad(true);
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{17, 39}));
  c.backward(values({1, 2}, {2, 1}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{5, 6, 10, 12}));  // g b^T
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{7, 10}));         // a^T g
}

TEST(Matmul, BackwardSumsOverBroadcastBatch) {
  // a [2] against b [3, 2, 1]: out [3, 1]; grad_a sums b[i] over i, grad_b[i] = a for each i.
  Tensor a = values({1, 2}, {2}).set_requires_grad(true);
  Tensor b = values({1, 0, 2, 2, 3, 4}, {3, 2, 1}).set_requires_grad(true);
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{3, 1}));
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{1, 6, 11}));
  c.backward(ones({3, 1}, kFloat64));
  EXPECT_EQ(a.grad().shape(), (Shape{2}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{6, 6}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 2, 1, 2, 1, 2}));
}

TEST(Matmul, BackwardOfBroadcastBothWaysMatchesLoops) {
  // a [2, 1, 2, 3] x b [3, 3, 2] -> [2, 3, 2, 2]; grad_a[i] = sum_j g[i, j] b[j]^T,
  // grad_b[j] = sum_i a[i]^T g[i, j].
  Generator gen(11);
  Tensor a = randn({2, 1, 2, 3}, gen, kFloat64).set_requires_grad(true);
  Tensor b = randn({3, 3, 2}, gen, kFloat64).set_requires_grad(true);
  Tensor g = randn({2, 3, 2, 2}, gen, kFloat64);
  matmul(a, b).backward(g);
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), gv = g.to_vector<double>();
  std::vector<double> ga(12, 0.0), gb(18, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int r = 0; r < 2; ++r)
        for (int p = 0; p < 3; ++p)
          for (int q = 0; q < 2; ++q) {
            const double gval = gv[static_cast<size_t>(((i * 3 + j) * 2 + r) * 2 + q)];
            ga[static_cast<size_t>(i * 6 + r * 3 + p)] += gval * bv[static_cast<size_t>(j * 6 + p * 2 + q)];
            gb[static_cast<size_t>(j * 6 + p * 2 + q)] += av[static_cast<size_t>(i * 6 + r * 3 + p)] * gval;
          }
  const std::vector<double> got_a = a.grad().to_vector<double>(), got_b = b.grad().to_vector<double>();
  for (size_t e = 0; e < ga.size(); ++e) EXPECT_NEAR(got_a[e], ga[e], 1e-12) << "grad_a " << e;
  for (size_t e = 0; e < gb.size(); ++e) EXPECT_NEAR(got_b[e], gb[e], 1e-12) << "grad_b " << e;
}

TEST(Matmul, BackwardIntoATransposedLeaf) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor base = values({1, 3, 5, 2, 4, 6}, {2, 3}, dtype);  // a = base^T = [[1, 2], [3, 4], [5, 6]]
    Tensor a = transposed_view(base).set_requires_grad(true);
    Tensor b = values({1, 1, 2, -1}, {2, 2}, dtype).set_requires_grad(true);
    Tensor c = matmul(a, b);
    EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{5, -1, 11, -1, 17, -1}));
    c.backward(ones({3, 2}, dtype));
    EXPECT_EQ(a.grad().shape(), (Shape{3, 2}));
    EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{2, 1, 2, 1, 2, 1}));  // row sums of b
    EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{9, 9, 12, 12}));     // column sums of a
  }
}

// Forward and backward of batched and broadcast products, bit-identical for 1 and 2 threads.
TEST(Matmul, IdenticalForAnyThreadCount) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {{{8, 64, 48}, {48, 40}},          // folded into one GEMM
                                   {{48, 64}, {8, 64, 40}},          // a broadcast: chained GEMMs
                                   {{2, 1, 30, 20}, {6, 20, 10}},    // both broadcast, many small products
                                   {{300, 260}, {3, 260, 530}}};     // few large products, split inside gemm
  for (const Case& c : cases) {
    auto run = [&](int threads) {
      ScopedThreads scoped(threads);
      Generator gen(21);
      Tensor a = randn(c.a, gen).set_requires_grad(true), b = randn(c.b, gen).set_requires_grad(true);
      Tensor out = matmul(a, b);
      out.backward(randn(out.shape(), gen));
      return std::vector<std::vector<float>>{out.to_vector<float>(), a.grad().to_vector<float>(),
                                             b.grad().to_vector<float>()};
    };
    EXPECT_TRUE(run(1) == run(2)) << shape_str(c.a) << " @ " << shape_str(c.b);
  }
}

// ---------------------------------------------------------------- bmm

TEST(Bmm, Values) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor a = values({1, 2, 3, 4, 1, 0, 0, 1}, {2, 2, 2}, dtype);
    Tensor b = values({1, 1, 1, 1, 2, 3, 4, 5}, {2, 2, 2}, dtype);
    Tensor c = bmm(a, b);
    EXPECT_EQ(c.shape(), (Shape{2, 2, 2}));
    EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{3, 3, 7, 7, 2, 3, 4, 5}));
  }
}

TEST(Bmm, BackwardByHand) {
  Tensor a = values({1, 2, 3, 4}, {2, 1, 2}).set_requires_grad(true);
  Tensor b = values({1, 2, 3, 4}, {2, 2, 1}).set_requires_grad(true);
  Tensor c = bmm(a, b);  // [[1*1 + 2*2]], [[3*3 + 4*4]]
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{5, 25}));
  c.backward(values({1, 2}, {2, 1, 1}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{1, 2, 6, 8}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 2, 6, 8}));
}

// ---------------------------------------------------------------- linear

TEST(Linear, ValuesWithAndWithoutBias) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = values({1, 2, 3, 4, 5, 6}, {3, 2}, dtype);
    Tensor w = values({1, 0, 0, 1, 1, 1}, {3, 2}, dtype);
    Tensor b = values({10, 20, 30}, {3}, dtype);
    Tensor y = linear(x, w, b);
    EXPECT_EQ(y.shape(), (Shape{3, 3}));
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{11, 22, 33, 13, 24, 37, 15, 26, 41}));
    EXPECT_EQ(linear(x, w).to_vector<double>(), (std::vector<double>{1, 2, 3, 3, 4, 7, 5, 6, 11}));
  }
}

TEST(Linear, LeadingDimsAndVectorInput) {
  Generator gen(2);
  Tensor x = randn({2, 3, 4}, gen, kFloat64), w = randn({5, 4}, gen, kFloat64), b = randn({5}, gen, kFloat64);
  Tensor y = linear(x, w, b);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const std::vector<double> yv = y.to_vector<double>();
  for (int r = 0; r < 6; ++r)
    for (int o = 0; o < 5; ++o) {
      double want = bv[static_cast<size_t>(o)];
      for (int i = 0; i < 4; ++i) want += xv[static_cast<size_t>(r * 4 + i)] * wv[static_cast<size_t>(o * 4 + i)];
      EXPECT_NEAR(yv[static_cast<size_t>(r * 5 + o)], want, 1e-12);
    }
  Tensor v = linear(values({1, -1}, {2}), values({1, 2, 3, 4, 5, 6}, {3, 2}), values({0, 1, 2}, {3}));
  EXPECT_EQ(v.shape(), (Shape{3}));
  EXPECT_EQ(v.to_vector<double>(), (std::vector<double>{-1, 0, 1}));
}

TEST(Linear, StridedInputsGiveTheSameValues) {
  Generator gen(4);
  Tensor xt = randn({4, 3}, gen, kFloat32), wt = randn({4, 2}, gen, kFloat32), b = randn({2}, gen, kFloat32);
  Tensor x = transposed_view(xt), w = transposed_view(wt);  // [3, 4] and [2, 4]
  EXPECT_EQ(linear(x, w, b).to_vector<float>(), linear(x.contiguous_copy(), w.contiguous_copy(), b).to_vector<float>());
  // A 3-d input whose leading dims do not flatten, and a strided bias.
  Tensor base = randn({2, 3, 4}, gen, kFloat32);
  Tensor x3 = base.as_strided({3, 2, 4}, {4, 12, 1}, 0);
  Tensor bias_storage = randn({4}, gen, kFloat32);
  Tensor strided_bias = bias_storage.as_strided({2}, {2}, 1);
  Tensor w2 = randn({2, 4}, gen, kFloat32);
  EXPECT_EQ(linear(x3, w2, strided_bias).to_vector<float>(),
            linear(x3.contiguous_copy(), w2, strided_bias.contiguous_copy()).to_vector<float>());
}

TEST(Linear, BackwardByHand) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = values({1, 2, 3, 4}, {2, 2}, dtype).set_requires_grad(true);
    Tensor w = values({1, 2, 3, 4, 5, 6}, {3, 2}, dtype).set_requires_grad(true);
    Tensor b = values({0, 0, 0}, {3}, dtype).set_requires_grad(true);
    linear(x, w, b).backward(values({1, 0, 2, 0, 1, -1}, {2, 3}, dtype));
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{11, 14, -2, -2}));        // g W
    EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 4, -1, 0}));     // g^T x
    EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 1, 1}));               // column sums
    EXPECT_EQ(x.grad().dtype(), dtype);
  }
}

TEST(Linear, BackwardOfThreeDimInputSumsOverAllLeadingDims) {
  Tensor x = ones({2, 3, 2}, kFloat64).set_requires_grad(true);
  Tensor w = values({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor b = zeros({2}, kFloat64).set_requires_grad(true);
  linear(x, w, b).backward(ones({2, 3, 2}, kFloat64));
  EXPECT_EQ(x.grad().shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6}));
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{6, 6, 6, 6}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{6, 6}));
}

// HARNet-like sizes: forward and all three gradients bit-identical for 1 and 2 threads.
TEST(Linear, IdenticalForAnyThreadCount) {
  auto run = [](int threads) {
    ScopedThreads scoped(threads);
    Generator gen(9);
    Tensor x = randn({8, 60, 96}, gen).set_requires_grad(true);
    Tensor w = randn({64, 96}, gen).set_requires_grad(true);
    Tensor b = randn({64}, gen).set_requires_grad(true);
    Tensor y = linear(x, w, b);
    y.backward(randn(y.shape(), gen));
    return std::vector<std::vector<float>>{y.to_vector<float>(), x.grad().to_vector<float>(),
                                           w.grad().to_vector<float>(), b.grad().to_vector<float>()};
  };
  EXPECT_TRUE(run(1) == run(2));
}

// ---------------------------------------------------------------- errors and grad mode

TEST(LinalgErrors, Matmul) {
  Generator gen(0);
  expect_error([&] { matmul(randn({2, 3}, gen), randn({4, 5}, gen)); },
               "matmul: shapes [2, 3] and [4, 5] are not aligned (3 != 4)");
  expect_error([&] { matmul(randn({3}, gen), randn({4}, gen)); }, "matmul: shapes [3] and [4] are not aligned (3 != 4)");
  expect_error([&] { matmul(randn({2, 3, 4}, gen), randn({3, 4, 5}, gen)); },
               "matmul: batch dimensions [2] and [3] of shapes [2, 3, 4] and [3, 4, 5] cannot be broadcast");
  expect_error([&] { matmul(scalar_tensor(2.0), randn({3}, gen)); },
               "matmul: both arguments need at least 1 dimension, got shapes [] and [3]");
  expect_error([&] { matmul(zeros({2, 2}, kInt64), zeros({2, 2}, kInt64)); },
               "matmul: expected floating tensors (float32 or float64), got a int64 and b int64");
  expect_error([&] { matmul(randn({2, 2}, gen, kFloat32), randn({2, 2}, gen, kFloat64)); },
               "matmul: dtype mismatch, a is float32 but b is float64");
  expect_error([&] { matmul(Tensor(), randn({2}, gen)); }, "matmul: a is an undefined tensor");
}

TEST(LinalgErrors, Bmm) {
  Generator gen(0);
  expect_error([&] { bmm(randn({2, 3}, gen), randn({2, 3, 4}, gen)); },
               "bmm: expected 3-d tensors, got shapes [2, 3] and [2, 3, 4]");
  expect_error([&] { bmm(randn({2, 3, 4}, gen), randn({3, 4, 5}, gen)); },
               "bmm: batch sizes of shapes [2, 3, 4] and [3, 4, 5] differ (2 != 3)");
  expect_error([&] { bmm(randn({2, 3, 4}, gen), randn({2, 5, 6}, gen)); },
               "bmm: shapes [2, 3, 4] and [2, 5, 6] are not aligned (4 != 5)");
  expect_error([&] { bmm(zeros({1, 2, 2}, kBool), zeros({1, 2, 2}, kBool)); }, "bmm: expected floating tensors");
}

TEST(LinalgErrors, Linear) {
  Generator gen(0);
  expect_error([&] { linear(randn({2, 3}, gen), randn({4, 5}, gen)); },
               "linear: input shape [2, 3] and weight shape [4, 5] are not aligned (3 != 5)");
  expect_error([&] { linear(randn({2, 3}, gen), randn({3}, gen)); },
               "linear: weight must be 2-d [out_features, in_features], got shape [3]");
  expect_error([&] { linear(randn({2, 3}, gen), randn({4, 3}, gen), randn({3}, gen)); },
               "linear: bias must have shape [4] for weight shape [4, 3], got [3]");
  expect_error([&] { linear(scalar_tensor(1.0), randn({4, 1}, gen)); },
               "linear: input needs at least 1 dimension, got shape []");
  expect_error([&] { linear(randn({2, 3}, gen), randn({4, 3}, gen), zeros({4}, kInt64)); },
               "linear: expected floating tensors");
  expect_error([&] { linear(randn({2, 3}, gen, kFloat64), randn({4, 3}, gen, kFloat32)); },
               "linear: dtype mismatch, input is float64 but weight is float32");
}

TEST(LinalgGradMode, NoGraphUnderNoGradGuard) {
  Generator gen(0);
  Tensor a = randn({2, 3}, gen).set_requires_grad(true), b = randn({3, 2}, gen).set_requires_grad(true);
  Tensor a3 = randn({1, 2, 3}, gen).set_requires_grad(true), b3 = randn({1, 3, 2}, gen).set_requires_grad(true);
  Tensor w = randn({4, 3}, gen).set_requires_grad(true), bias = randn({4}, gen).set_requires_grad(true);
  {
    NoGradGuard guard;
    for (const Tensor& t : {matmul(a, b), bmm(a3, b3), linear(a, w, bias)}) {
      EXPECT_FALSE(t.requires_grad());
      EXPECT_EQ(t.grad_fn(), nullptr);
    }
  }
  EXPECT_EQ(matmul(a, b).grad_fn()->name(), "matmul");
  EXPECT_EQ(bmm(a3, b3).grad_fn()->name(), "bmm");
  EXPECT_EQ(linear(a, w, bias).grad_fn()->name(), "linear");
  // Only the bias requires grad: still recorded.
  EXPECT_TRUE(linear(a.detach(), w.detach(), bias).requires_grad());
}

}  // namespace
}  // namespace harnet
