// GEMM for row-major matrices, C = alpha * op(A) * op(B) + beta * C, with
// op(X) = X or X^T. gemm() calls OpenBLAS (single-threaded, see autograd/parallel.h) and
// splits large products into tiles of C run as TBB tasks. The tiles depend on (m, n, k)
// only, so the result is bit-identical for any thread count and inside or outside a
// parallel region. gemm_reference() is the naive triple loop kept to test it against.
#pragma once

#include <cstdint>

namespace harnet {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace harnet
