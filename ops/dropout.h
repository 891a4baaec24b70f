// Dropout with torch.nn.functional.dropout's semantics (inverted dropout).
//
// In training each element is kept with probability 1 - p and scaled by 1 / (1 - p), or
// zeroed: out = input * mask * scale, so the expected value is unchanged. The backward
// multiplies the gradient by the same saved mask and scale. In evaluation (training false),
// or when p == 0 or the input is empty, the input itself is returned; p == 1 zeroes every
// element (input * 0, as PyTorch; a NaN input stays NaN).
//
// The mask is counter-based: each call that draws a mask (0 < p < 1) takes exactly one 64-bit
// key from the generator, and the keep decision of element i (in row-major order) is a fixed
// function of (key, i). The same generator state therefore gives the same mask for any thread
// count and any memory layout of the input, and the elements are drawn in parallel.
#pragma once

#include "autograd/generator.h"
#include "autograd/tensor.h"

namespace harnet {

// p in [0, 1], else an error naming p.
Tensor dropout(const Tensor& input, double p, bool training, Generator& gen);

// The naive reference: the bool keep-mask of `shape` that dropout(input of that shape, p,
// true, gen) draws (0 < p < 1), computed element by element, serially, from the definition.
// Advances gen exactly as dropout does.
Tensor dropout_mask_reference(const Shape& shape, double p, Generator& gen);

}  // namespace harnet
