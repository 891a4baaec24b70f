// Reductions over any set of dimensions, with keepdim. Parallel reductions combine
// per-chunk partials in a fixed order: identical results run to run for a thread count.
// An empty dims list means "all dimensions".
#pragma once

#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace harnet {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// correction 1 is the unbiased estimator (torch.var's default), 0 the population variance.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction = 1, bool keepdim = false);
// Over all dimensions, unbiased; var(x, {}, correction) chooses the correction. (No
// var(x, correction) overload: var(x, {1}) must mean "over dim 1".)
Tensor var(const Tensor& x);
// Largest / smallest values (torch.amax / amin); the gradient is shared evenly among ties.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// torch.max(x, dim): values and int64 indices (first occurrence); gradient to that index.
std::pair<Tensor, Tensor> max_with_indices(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min_with_indices(const Tensor& x, int64_t dim, bool keepdim = false);
// int64 indices of the first maximum / minimum; without dim, into the flattened tensor.
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace harnet
