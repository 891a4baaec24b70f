// Numerically stable softmax and log-softmax along one dimension (max subtracted first).
#pragma once

#include "autograd/tensor.h"

namespace harnet {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace harnet
