// Shape and indexing operators. view/reshape/transpose/permute/narrow/slice/expand/squeeze/
// unsqueeze return views sharing storage (no copy) when the geometry allows, with PyTorch's
// semantics; the rest copy. All are differentiable in their floating inputs.
#pragma once

#include <vector>

#include "autograd/tensor.h"

namespace harnet {

// One dimension may be -1 (inferred). view requires a compatible (viewable) geometry and
// throws otherwise; reshape copies only when a view is impossible.
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
// A view with size-1 (or matching) dimensions broadcast to shape; -1 keeps a size.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);  // x itself if already contiguous
Tensor clone(const Tensor& x);       // always a new contiguous copy
Tensor to(const Tensor& x, DType dtype);  // differentiable between floating dtypes

Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
// Pieces of split_size along dim (the last may be smaller), or of the given sizes.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
// x[..., start:start+length, ...] along dim (a view).
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// x[..., start:end:step, ...] along dim (a view); negative start/end count from the end and
// are clamped, as in Python slicing. step >= 1.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
// index: 1-d int64 tensor; out has index.numel() entries along dim.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j][k] = x[index[i][j][k]][j][k] (dim 0) etc.; index int64 with x's ndim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

}  // namespace harnet
