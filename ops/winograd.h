// Winograd's minimal filtering F(2, 3) for 3-tap correlations along image rows: a conv2d with
// kernel (1, 3), padding (0, 1), stride 1, dilation 1 and one group (HARNet's joint-axis
// kernels), forward and backward. x [N, C, H, W], w [O, C, 1, 3], out [N, O, H, W], all
// contiguous. ops/conv.cpp chooses these kernels by shape; the tests also call them directly.
//
// Each pair of outputs y[2i], y[2i + 1] of a row comes from the four inputs
// d = x[2i - 1 .. 2i + 2] (zeros past the row's ends) and the taps g as
//   y = A^T [(G g) . (B^T d)],  B^T d = (d0 - d2, d1 + d2, d2 - d1, d1 - d3),
//   G g = (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2),  A^T m = (m0 + m1 + m2, m1 - m2 - m3):
// four products per output pair instead of six. Over channels the products are four GEMMs,
// one per transformed position xi: M_xi [O, tiles] = U_xi [O, C] x V_xi [C, tiles], with the
// tiles of several samples side by side. The input gradient is the same correlation of
// grad_out with the transposed kernel, its taps reversed. The weight gradient is the dual
// F(3, 2): with e = grad_out[2i .. 2i + 1] (zero past the row's end),
//   grad_g += G^T [(A e) . (B^T d)],  A e = (e0, e0 + e1, e0 - e1, -e1),
// i.e. four GEMMs P_xi [O, C] += E_xi [O, tiles] x V_xi [C, tiles]^T over all tiles, then
// grad_g = (P0 + (P1 + P2) / 2, (P1 - P2) / 2, (P1 + P2) / 2 + P3).
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
