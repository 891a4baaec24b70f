// GEMM for row-major matrices, C = alpha * op(A) * op(B) + beta * C, with
// op(X) = X or X^T. gemm() calls OpenBLAS (single-threaded, see autograd/parallel.h) and
// splits large products into tiles of C run as TBB tasks. The tiles depend on (m, n, k)
// only, so the result is bit-identical for any thread count and inside or outside a
// parallel region. gemm_untiled() is one BLAS call; gemm_reference() is the naive triple
// loop kept to test them against.
#pragma once

#include <cstdint>
#include <string>

namespace harnet {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The whole product as one BLAS call on the calling thread (no tiles, no split of k), for
// callers that run many independent products in parallel themselves: BLAS is fastest on
// the whole product. Same arguments and checks as gemm(). Its values differ from gemm()'s
// tiled ones in the last bits, so a caller must choose between the two by shape alone.
template <class T>
void gemm_untiled(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The name of the kernel set OpenBLAS runs ("SkylakeX", "Haswell", "Zen", ...). Where OpenBLAS
// does not know the CPU and falls back to its generic pre-AVX kernels although the CPU has AVX2
// and FMA, the library switches it to the best set the CPU supports when it loads (several times
// faster); OPENBLAS_CORETYPE, if set, is left to decide.
const std::string& blas_kernels();

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace harnet
