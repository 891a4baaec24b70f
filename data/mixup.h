// Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018) of a training
// batch: every sample blended with another one of the same batch, and the loss the same blend
// of the two samples' losses,
//
//   x_b <- w x_b + (1 - w) x_{b-1},   loss = w CE(logits, y) + (1 - w) CE(logits, y_partner),
//
// one weight w per batch, drawn from Beta(alpha, alpha) and folded into [0.5, 1] (w and 1 - w
// are equally likely), so that y stays the label of the larger part. The partner of sample b is
// sample b - 1 (the batch rolled by one, as torchvision's MixUp pairs them); the batches are
// shuffled each epoch, so the pairs change. Larger alpha blends more: 1 draws w uniformly.
#pragma once

#include <cstdint>

#include "autograd/tensor.h"
#include "data/loader.h"

namespace harnet {

// Beta(alpha, alpha) folded into [0.5, 1], from a Generator seeded with `seed` (the same seed,
// the same weight). alpha > 0; throws otherwise.
double draw_mixup_weight(double alpha, uint64_t seed);

// Blends batch.x in place with weight w (see the file comment) and returns the partner labels
// y_partner [B] (batch.y rolled by one). batch.y, indices and window starts are left as they
// are. w in [0, 1]; a batch of one is blended with itself (unchanged).
Tensor mix_batch(Batch& batch, double weight);

}  // namespace harnet
