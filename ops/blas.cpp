#include "ops/blas.h"

#include <cblas.h>

#include <algorithm>
#include <climits>

#include "autograd/error.h"
#include "autograd/parallel.h"

namespace harnet {

namespace {

// Below this many multiply-adds a product is not worth splitting across threads.
constexpr int64_t kParallelGemmWork = int64_t{1} << 18;
// Tiles of C are kTileSize..2*kTileSize-1 long in a split dimension: big enough that the
// repeated packing of the shared operand costs a few percent at most.
constexpr int64_t kTileSize = 256;
// With this many tiles along one dimension there is enough parallelism; the other one stays whole.
constexpr int64_t kEnoughTiles = 8;
// Tile lengths are multiples of this, so BLAS micro-kernels run on full register blocks.
constexpr int64_t kTileAlign = 16;

void blas_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

void blas_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
               const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

// How C is cut into tiles, each computed by its own BLAS call. It depends on the shape only,
// never on the thread count or on whether we already run inside a parallel region: OpenBLAS
// does not compute a block of C alone bit-identically to the same block inside a larger
// product (it picks kernels, e.g. its small-matrix ones, by size, and they round
// differently), so a thread-dependent split would make results thread-dependent.
struct Tiling {
  int64_t tile_m, tile_n;    // tile size
  int64_t tiles_m, tiles_n;  // tile count
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

Tiling make_tiling(int64_t m, int64_t n, int64_t k) {
  // In double: m * n * k may exceed int64 for sizes BLAS still accepts.
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kParallelGemmWork)
    return {m, n, 1, 1};
  int64_t tiles_m = std::max<int64_t>(1, m / kTileSize);
  int64_t tiles_n = std::max<int64_t>(1, n / kTileSize);
  if (tiles_m >= kEnoughTiles) tiles_n = 1;
  else if (tiles_n >= kEnoughTiles) tiles_m = 1;
  // Even tiles rounded up to the alignment; the last one takes the remainder.
  const int64_t tile_m = std::min(m, ceil_div(ceil_div(m, tiles_m), kTileAlign) * kTileAlign);
  const int64_t tile_n = std::min(n, ceil_div(ceil_div(n, tiles_n), kTileAlign) * kTileAlign);
  return {tile_m, tile_n, ceil_div(m, tile_m), ceil_div(n, tile_n)};
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  HARNET_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  if (m == 0 || n == 0) return;
  HARNET_CHECK(ldc >= n, "gemm: ldc=", ldc, " is smaller than n=", n);
  if (k == 0) {  // BLAS leaves C alone for k = 0 only when beta = 1; be explicit
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  // The row-major [rows, cols] matrices BLAS reads: a is [k, m] if trans_a else [m, k], etc.
  HARNET_CHECK(lda >= (trans_a ? m : k), "gemm: lda=", lda, " is too small for a ", (trans_a ? k : m), "x",
               (trans_a ? m : k), " matrix");
  HARNET_CHECK(ldb >= (trans_b ? k : n), "gemm: ldb=", ldb, " is too small for a ", (trans_b ? n : k), "x",
               (trans_b ? k : n), " matrix");
  // OpenBLAS takes 32-bit ints (Debian's build is not ILP64).
  HARNET_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX,
               "gemm: sizes m=", m, " n=", n, " k=", k, " or leading dimensions exceed the 32-bit range of BLAS");

  const Tiling t = make_tiling(m, n, k);
  auto run_tile = [&](int64_t tile) {
    const int64_t r0 = (tile / t.tiles_n) * t.tile_m, c0 = (tile % t.tiles_n) * t.tile_n;
    const int64_t rows = std::min(t.tile_m, m - r0), cols = std::min(t.tile_n, n - c0);
    const T* a_block = trans_a ? a + r0 : a + r0 * lda;  // rows r0.. of op(A)
    const T* b_block = trans_b ? b + c0 * ldb : b + c0;  // columns c0.. of op(B)
    blas_call(trans_a, trans_b, rows, cols, k, alpha, a_block, lda, b_block, ldb, beta, c + r0 * ldc + c0, ldc);
  };
  const int64_t tiles = t.tiles_m * t.tiles_n;
  if (tiles == 1) {
    run_tile(0);
    return;
  }
  // OpenBLAS runs single-threaded (TBB owns the cores): the tiles are the parallel tasks.
  // parallel_for runs them serially on one thread or inside another parallel region.
  parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t tile = t0; tile < t1; ++tile) run_tile(tile);
  });
}

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const T bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      c[i * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * c[i * ldc + j]);
    }
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);
template void gemm_reference<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                    const float*, int64_t, float, float*, int64_t);
template void gemm_reference<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     const double*, int64_t, double, double*, int64_t);

}  // namespace harnet
