// Winograd's minimal filtering F(4, 3) for 3-tap correlations along image rows: a conv2d with
// kernel (1, 3), padding (0, 1), stride 1, dilation 1 and one group (HARNet's joint-axis
// kernels), forward and backward. x [N, C, H, W], w [O, C, 1, 3], out [N, O, H, W], all
// contiguous. ops/conv.cpp chooses these kernels by shape; the tests also call them directly.
//
// Each run of four outputs y[4i .. 4i + 3] of a row comes from the six inputs
// d = x[4i - 1 .. 4i + 4] (zeros past the row's ends) and the taps g as
//   y = A^T [(G g) . (B^T d)]   (the interpolation points 0, 1, -1, 2, -2 and infinity):
//   B^T d = (4 d0 - 5 d2 + d4, (d4 - 4 d2) + (d3 - 4 d1), (d4 - 4 d2) - (d3 - 4 d1),
//            (d4 - d2) + 2 (d3 - d1), (d4 - d2) - 2 (d3 - d1), 4 d1 - 5 d3 + d5),
//   G g = (g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6, (g0 + 2 g1 + 4 g2) / 24,
//          (g0 - 2 g1 + 4 g2) / 24, g2),
//   A^T m = (m0 + m1 + m2 + m3 + m4, (m1 - m2) + 2 (m3 - m4), (m1 + m2) + 4 (m3 + m4),
//            (m1 - m2) + 8 (m3 - m4) + m5):
// six products per four outputs instead of twelve. Over channels the products are six GEMMs,
// one per transformed position xi: M_xi [O, tiles] = U_xi [O, C] x V_xi [C, tiles], with the
// tiles of a group of image rows side by side. A row whose length W leaves one output over
// (W % 4 == 1) computes that last output directly instead of in a tile three-quarters
// padding: y[W - 1] = g0 x[W - 2] + g1 x[W - 1], one more GEMM [O, 2C] x [2C, rows] (13
// outputs: 3 x 6 + 2 = 20 products instead of 39). Other remainders take a padded tile.
//
// The input gradient is the same correlation of grad_out with the transposed kernel, its taps
// reversed. The weight gradient is the dual F(3, 4): with e = grad_out[4i .. 4i + 3] (zero
// past the row's end),
//   grad_g += G^T [(A e) . (B^T d)],
//   A e = (e0, e0 + e1 + e2 + e3, e0 - e1 + e2 - e3, e0 + 2 e1 + 4 e2 + 8 e3,
//          e0 - 2 e1 + 4 e2 - 8 e3, e3),
// i.e. six GEMMs P_xi [O, C] += E_xi [O, tiles] x V_xi [C, tiles]^T over all tiles, then
// grad_g = G^T P; a directly computed last output adds its two taps' products.
#pragma once

#include <cstdint>

namespace harnet {

struct WinogradConv {
  int64_t batch = 0, in_channels = 0, out_channels = 0, height = 0, width = 0;
};

// out [N, O, H, W] = the correlation of x [N, C, H, W] with w [O, C, 1, 3] (+ bias [O] if set).
template <class T>
void winograd_conv_forward(const WinogradConv& shape, const T* x, const T* w, const T* bias, T* out);

// grad_x [N, C, H, W], grad_w [O, C, 1, 3] and grad_b [O] from x, w and grad_out [N, O, H, W],
// each computed only when its pointer is set. grad_w and grad_b sum the batch in chunks of
// samples fixed by the shape: bit-identical for any thread count.
template <class T>
void winograd_conv_backward(const WinogradConv& shape, const T* x, const T* w, const T* grad_out, T* grad_x,
                            T* grad_w, T* grad_b);

}  // namespace harnet
