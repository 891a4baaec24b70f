#include "ops/blas.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>

#include <strings.h>

#include "autograd/allocator.h"
#include "autograd/error.h"
#include "autograd/parallel.h"

// Exported by an OpenBLAS built with DYNAMIC_ARCH (Debian's is): drop the kernel set chosen at
// load time, and choose again (from OPENBLAS_CORETYPE if set, else from the CPU model). Weak, so
// that an OpenBLAS built for one fixed CPU, which has neither, links too.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

namespace harnet {

namespace {

// OpenBLAS picks its kernels by CPU model, and on a model newer than it knows it falls back to
// its generic SSE3 kernels ("Prescott"): Debian 12's OpenBLAS 0.3.21 does so on recent Xeons,
// where sgemm 1024 on 2 cores then runs at 28 GFLOP/s against 177-199 with its AVX-512 kernels.
// When the load-time choice is such a pre-AVX set but the CPU (and the OS) supports AVX2 and FMA,
// choose again with the best set the CPU runs: SkylakeX (AVX-512 F, CD, BW, DQ, VL) or Haswell
// (AVX2, FMA). OPENBLAS_CORETYPE, when the user sets it, is left to decide. Returns the kernel
// set's name. Runs once, before main (a static initialiser below), while there is one thread.
std::string select_blas_kernels() {
  const std::string chosen = openblas_get_corename();
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || gotoblas_dynamic_init == nullptr ||
      gotoblas_dynamic_quit == nullptr)
    return chosen;
  static const char* const kPreAvx[] = {"Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias",
                                        "Atom",    "Core2",  "Penryn",     "Dunnington", "Nehalem"};
  if (std::none_of(std::begin(kPreAvx), std::end(kPreAvx),
                   [&](const char* name) { return strcasecmp(name, chosen.c_str()) == 0; }))
    return chosen;
  __builtin_cpu_init();
  const char* better = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    better = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    better = "Haswell";
  if (better == nullptr) return chosen;
  // gotoblas_dynamic_init reads the choice from the environment; the variable is removed again,
  // so that the process's environment is as it was.
  setenv("OPENBLAS_CORETYPE", better, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
  return openblas_get_corename();
}

// Selects the kernels when the library loads, before main, whether or not blas_kernels() is called.
const bool g_blas_kernels_selected = !blas_kernels().empty();

// Below this many multiply-adds a product is not worth splitting across threads.
constexpr int64_t kParallelGemmWork = int64_t{1} << 18;
// Tiles of C are kTileSize..2*kTileSize-1 long in a split dimension: big enough that the
// repeated packing of the shared operand costs a few percent at most.
constexpr int64_t kTileSize = 256;
// With this many tiles along one dimension there is enough parallelism; the other one stays whole.
constexpr int64_t kEnoughTiles = 8;
// Tile lengths are multiples of this, so BLAS micro-kernels run on full register blocks.
constexpr int64_t kTileAlign = 16;
// Split along k: a product with fewer tiles of C than this (small m and n, e.g. a weight
// gradient g^T x over a long batch) has too little parallelism in C alone...
constexpr int64_t kSplitKBelowTiles = 4;
// ...so k is cut into chunks of at least this length, enough to make tiles * chunks reach
// kEnoughTiles; each chunk's partial product goes to its own buffer and the partials are
// summed in chunk order.
constexpr int64_t kMinChunkK = 256;

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
  int64_t chunk_k = 0, chunks_k = 1;  // split of k (chunks_k = 1: none)
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
  Tiling t{tile_m, tile_n, ceil_div(m, tile_m), ceil_div(n, tile_n), k, 1};
  // Like the tiles, the split of k depends on the shape only, never on the thread count.
  const int64_t tiles = t.tiles_m * t.tiles_n;
  if (tiles < kSplitKBelowTiles) {
    const int64_t chunks = std::min(ceil_div(kEnoughTiles, tiles), k / kMinChunkK);
    if (chunks > 1) {
      t.chunk_k = ceil_div(ceil_div(k, chunks), kTileAlign) * kTileAlign;
      t.chunks_k = ceil_div(k, t.chunk_k);
    }
  }
  return t;
}

// C = beta * C + alpha * (P_0 + P_1 + ...), P_i = op(A) op(B) over the i-th chunk of k,
// each computed tile by tile into its own buffer and summed in chunk order, so the result
// is the same whichever thread computes which partial.
template <class T>
void gemm_split_k(const Tiling& t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                  const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int64_t tiles = t.tiles_m * t.tiles_n;
  const int64_t mn = m * n;
  auto partials = scratch_buffer<T>(t.chunks_k * mn);  // cached: the same sizes recur
  parallel_for(0, t.chunks_k * tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t chunk = task / tiles, tile = task % tiles;
      const int64_t p0 = chunk * t.chunk_k, depth = std::min(t.chunk_k, k - p0);
      const int64_t r0 = (tile / t.tiles_n) * t.tile_m, c0 = (tile % t.tiles_n) * t.tile_n;
      const int64_t rows = std::min(t.tile_m, m - r0), cols = std::min(t.tile_n, n - c0);
      // Rows r0.. and columns p0.. of op(A); rows p0.. and columns c0.. of op(B).
      const T* a_block = trans_a ? a + p0 * lda + r0 : a + r0 * lda + p0;
      const T* b_block = trans_b ? b + c0 * ldb + p0 : b + p0 * ldb + c0;
      T* p = partials.get() + chunk * mn + r0 * n + c0;
      blas_call(trans_a, trans_b, rows, cols, depth, T(1), a_block, lda, b_block, ldb, T(0), p, n);
    }
  });
  // Elementwise, in chunk order for every element: independent of how rows are split.
  const int64_t row_grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, n * t.chunks_k));
  parallel_for(0, m, row_grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T* c_row = c + i * ldc;
      T* sum = partials.get() + i * n;  // row i of chunk 0 collects the sum
      for (int64_t chunk = 1; chunk < t.chunks_k; ++chunk) {
        const T* p_row = sum + chunk * mn;
        for (int64_t j = 0; j < n; ++j) sum[j] += p_row[j];
      }
      if (beta == T(0)) {
        for (int64_t j = 0; j < n; ++j) c_row[j] = alpha * sum[j];
      } else {
        for (int64_t j = 0; j < n; ++j) c_row[j] = beta * c_row[j] + alpha * sum[j];
      }
    }
  });
}

// The argument checks and the degenerate sizes shared by gemm() and gemm_untiled(): true
// when a BLAS call is still needed.
template <class T>
bool gemm_needs_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T beta, int64_t lda, int64_t ldb,
                     T* c, int64_t ldc) {
  HARNET_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  if (m == 0 || n == 0) return false;
  HARNET_CHECK(ldc >= n, "gemm: ldc=", ldc, " is smaller than n=", n);
  if (k == 0) {  // BLAS leaves C alone for k = 0 only when beta = 1; be explicit
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return false;
  }
  // The row-major [rows, cols] matrices BLAS reads: a is [k, m] if trans_a else [m, k], etc.
  HARNET_CHECK(lda >= (trans_a ? m : k), "gemm: lda=", lda, " is too small for a ", (trans_a ? k : m), "x",
               (trans_a ? m : k), " matrix");
  HARNET_CHECK(ldb >= (trans_b ? k : n), "gemm: ldb=", ldb, " is too small for a ", (trans_b ? n : k), "x",
               (trans_b ? k : n), " matrix");
  // OpenBLAS takes 32-bit ints (Debian's build is not ILP64).
  HARNET_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX,
               "gemm: sizes m=", m, " n=", n, " k=", k, " or leading dimensions exceed the 32-bit range of BLAS");
  return true;
}

}  // namespace

template <class T>
void gemm_untiled(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (gemm_needs_blas(trans_a, trans_b, m, n, k, beta, lda, ldb, c, ldc))
    blas_call(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (!gemm_needs_blas(trans_a, trans_b, m, n, k, beta, lda, ldb, c, ldc)) return;

  const Tiling t = make_tiling(m, n, k);
  if (t.chunks_k > 1) {
    gemm_split_k(t, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
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

const std::string& blas_kernels() {
  static const std::string kernels = select_blas_kernels();
  return kernels;
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);
template void gemm_untiled<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                  const float*, int64_t, float, float*, int64_t);
template void gemm_untiled<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                   const double*, int64_t, double, double*, int64_t);
template void gemm_reference<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                    const float*, int64_t, float, float*, int64_t);
template void gemm_reference<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     const double*, int64_t, double, double*, int64_t);

}  // namespace harnet
