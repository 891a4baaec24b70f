// Matrix products, with torch.matmul semantics: 1-d operands are promoted and the added
// dimension removed afterwards; batch dimensions broadcast. Backed by OpenBLAS GEMM
// (ops/blas.h), parallel over batches (or over rows of one large product) with oneTBB.
#pragma once

#include "autograd/tensor.h"

namespace harnet {

Tensor matmul(const Tensor& a, const Tensor& b);
// Strictly 3-d [B, n, k] x [B, k, m] -> [B, n, m], as torch.bmm.
Tensor bmm(const Tensor& a, const Tensor& b);
// x [.., in] times weight [out, in] transposed, plus bias [out]: torch.nn.functional.linear.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace harnet
