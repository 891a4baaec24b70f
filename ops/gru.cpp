// The GRU (torch.nn.GRU semantics): the cell's fused forward and backward steps, plugged into
// the multi-layer, bidirectional driver of ops/recurrent_impl.h; the naive reference; and the
// reference composed of differentiable primitives.
//
// Per layer and direction, gates laid out [r | z | n] along G*H = 3H columns. PyTorch's b_hn
// sits inside the reset product, so the hidden projection cannot be added into the input one:
//   forward
//     gates [T*N, 3H] = x [T*N, I] W_ih^T                     one GEMM for all time steps
//     step t: hh [N, 3H] = h_{t-1} [N, H] W_hh^T              one GEMM per step
//             r = sigmoid(gates_r + b_ir + hh_r + b_hr)       fused pass over [N, H]:
//             z = sigmoid(gates_z + b_iz + hh_z + b_hz)
//             hn = hh_n + b_hn,  n = tanh(gates_n + b_in + r hn)
//             h_t = (1 - z) n + z h_{t-1}
//   saved: activations r, z, n (over the gates), h_{t-1} (h_prev), hn.
//   backward, dh = grad_out_t + dh_rec:
//     dn = dh (1 - z) (1 - n^2)     dz = dh (h_{t-1} - n) z(1-z)     dr = dn hn r(1-r)
//     gradient of the input projection  [dr | dz | dn]        (also b_ih's)
//     gradient of the hidden projection [dr | dz | dn r]      (also b_hh's)
//     dh_rec = dh z + [dr | dz | dn r] [N, 3H] W_hh [3H, H]    one GEMM per step (beta = 1)
//   then over all steps: grad W_hh = dgates_h^T h_prev, grad W_ih = dgates_x^T x,
//   grad x = dgates_x W_ih, one GEMM each.
#include <cmath>
#include <vector>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/recurrent_impl.h"
#include "ops/shape.h"
#include "ops/vec_math.h"

namespace harnet {

namespace {

using rnn_detail::BlockGradSums;
using rnn_detail::BlockRange;
using rnn_detail::DirectionArgs;
using rnn_detail::DirectionGradArgs;
using rnn_detail::from_time_major;
using rnn_detail::initial_state;
using rnn_detail::load_initial_state;
using rnn_detail::RnnShape;
using rnn_detail::SeqLayout;
using rnn_detail::sigmoid_ref;
using rnn_detail::to_time_major;
using rnn_detail::values_or_zeros;

// One row of the forward pass over the H units. g*: the input projection in, the activations
// r, z, n out; h*: the hidden projection of this row. (Every stream is its own restrict
// parameter: GCC vectorises the loop only when it sees they cannot alias.)
template <class T>
inline void gru_forward_row(int64_t H, T* __restrict gr, T* __restrict gz, T* __restrict gn, const T* __restrict hr,
                            const T* __restrict hz, const T* __restrict hnn, const T* __restrict bxr,
                            const T* __restrict bxz, const T* __restrict bxn, const T* __restrict bhr,
                            const T* __restrict bhz, const T* __restrict bhn, const T* __restrict h_prev,
                            T* __restrict hn_out, T* __restrict h_out, T* __restrict h_next) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = vecmath::sigmoid_of(gr[j] + bxr[j] + hr[j] + bhr[j]);
    const T z = vecmath::sigmoid_of(gz[j] + bxz[j] + hz[j] + bhz[j]);
    const T hn = hnn[j] + bhn[j];
    const T n = vecmath::tanh_of(gn[j] + bxn[j] + r * hn);
    const T h = (T(1) - z) * n + z * h_prev[j];
    gr[j] = r;
    gz[j] = z;
    gn[j] = n;
    hn_out[j] = hn;
    h_out[j] = h;
    h_next[j] = h;
  }
}

// One row of the backward pass: gradients of both projections from the activations and
// dh = output gradient + dh_rec; dh_rec becomes the direct part dh z of the gradient flowing to
// h_{t-1} (the GEMM adds the rest). Both are added to the task's bias sums.
template <class T>
inline void gru_backward_row(int64_t H, const T* __restrict ar, const T* __restrict az, const T* __restrict an,
                             const T* __restrict hn, const T* __restrict h_prev, const T* __restrict grad_h,
                             T* __restrict dh_rec, T* __restrict dxr, T* __restrict dxz, T* __restrict dxn,
                             T* __restrict dhr, T* __restrict dhz, T* __restrict dhn, T* __restrict sxr,
                             T* __restrict sxz, T* __restrict sxn, T* __restrict shr, T* __restrict shz,
                             T* __restrict shn) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = ar[j], z = az[j], n = an[j];
    const T dh = grad_h[j] + dh_rec[j];
    const T dn = dh * (T(1) - z) * (T(1) - n * n);
    const T dz = dh * (h_prev[j] - n) * z * (T(1) - z);
    const T dr = dn * hn[j] * r * (T(1) - r);
    const T d_hn = dn * r;
    dh_rec[j] = dh * z;
    dxr[j] = dr;
    dxz[j] = dz;
    dxn[j] = dn;
    dhr[j] = dr;
    dhz[j] = dz;
    dhn[j] = d_hn;
    sxr[j] += dr;
    sxz[j] += dz;
    sxn[j] += dn;
    shr[j] += dr;
    shz[j] += dz;
    shn[j] += d_hn;
  }
}

struct GruCell {
  static constexpr const char* kName = "gru";
  static constexpr int64_t kGates = 3;
  static constexpr int kStates = 1;
  static constexpr bool kSeparateHiddenGrad = true;

  // gates [rows, 3H]; h_prev, a = hn [rows, H].
  struct Buffers {
    Tensor gates, h_prev, a, b;
  };
  static Buffers allocate(int64_t rows, int64_t H, DType dtype, bool for_backward) {
    Buffers buf;
    buf.gates = empty({rows, kGates * H}, dtype);
    buf.h_prev = empty({rows, H}, dtype);
    if (for_backward) buf.a = empty({rows, H}, dtype);
    return buf;
  }

  template <class T>
  static void forward_block(const DirectionArgs<T>& a, const BlockRange& block) {
    const RnnShape& s = *a.shape;
    const SeqLayout& layout = s.layout;
    const int64_t H = s.H, GH = kGates * H, DH = s.D * H, nb = block.size();
    const std::vector<T> no_bias(static_cast<size_t>(GH), T(0));
    const T* bias_x = a.b_ih ? a.b_ih : no_bias.data();
    const T* bias_h = a.b_hh ? a.b_hh : no_bias.data();
    std::vector<T> hh(static_cast<size_t>(nb * GH));  // the block's hidden projection
    std::vector<T> scratch(static_cast<size_t>(H));   // hn when nothing is saved
    load_initial_state(layout, H, s.time(a.d, 0), block, a.state0[0], a.h_prev);

    for (int64_t step = 0; step < s.T; ++step) {
      const int64_t t = s.time(a.d, step);
      const bool last = step + 1 == s.T;
      const int64_t t_next = last ? t : s.time(a.d, step + 1);
      // hh [nb, 3H] = h_{t-1} [nb, H] W_hh^T
      gemm<T>(false, true, nb, GH, H, T(1), a.h_prev + layout.row(t, block.n0) * H, layout.batch_rows * H, a.w_hh, H,
              T(0), hh.data(), GH);
      for (int64_t n = block.n0; n < block.n1; ++n) {
        const int64_t r = layout.row(t, n);
        T* h_next = last ? a.state_n[0] + n * H : a.h_prev + layout.row(t_next, n) * H;
        T* g = a.gates + r * GH;
        const T* p = hh.data() + (n - block.n0) * GH;
        gru_forward_row<T>(H, g, g + H, g + 2 * H, p, p + H, p + 2 * H, bias_x, bias_x + H, bias_x + 2 * H, bias_h,
                           bias_h + H, bias_h + 2 * H, a.h_prev + r * H, a.a ? a.a + r * H : scratch.data(),
                           a.out + r * DH + a.d * H, h_next);
      }
    }
  }

  template <class T>
  static void backward_block(const DirectionGradArgs<T>& a, const BlockRange& block, BlockGradSums<T>& sums) {
    const RnnShape& s = *a.shape;
    const SeqLayout& layout = s.layout;
    const int64_t H = s.H, GH = kGates * H, DH = s.D * H, nb = block.size();
    std::vector<T> dh_rec(a.grad_state_n[0] + block.n0 * H, a.grad_state_n[0] + block.n1 * H);  // [nb, H]
    for (int64_t step = s.T - 1; step >= 0; --step) {
      const int64_t t = s.time(a.d, step);
      for (int64_t n = block.n0; n < block.n1; ++n) {
        const int64_t r = layout.row(t, n);
        const T* act = a.gates + r * GH;
        T* gx = a.grad_gates_x + r * GH;
        T* gh = a.grad_gates_h + r * GH;
        T* sx = sums.x.data();
        T* sh = sums.h.data();
        gru_backward_row<T>(H, act, act + H, act + 2 * H, a.a + r * H, a.h_prev + r * H, a.grad_out + r * DH + a.d * H,
                            dh_rec.data() + (n - block.n0) * H, gx, gx + H, gx + 2 * H, gh, gh + H, gh + 2 * H, sx,
                            sx + H, sx + 2 * H, sh, sh + H, sh + 2 * H);
      }
      // dh_{t-1} [nb, H] = dh z + dgates_h_t [nb, 3H] W_hh [3H, H]
      gemm<T>(false, false, nb, H, GH, T(1), a.grad_gates_h + layout.row(t, block.n0) * GH, layout.batch_rows * GH,
              a.w_hh, H, T(1), dh_rec.data(), H);
    }
    std::copy(dh_rec.begin(), dh_rec.end(), a.grad_state0[0] + block.n0 * H);
  }
};

}  // namespace

std::vector<std::string> gru_weight_names(int64_t num_layers, bool bidirectional, bool bias) {
  return rnn_detail::rnn_weight_names(num_layers, bidirectional, bias);
}

std::vector<Shape> gru_weight_shapes(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bidirectional,
                                     bool bias) {
  return rnn_detail::rnn_weight_shapes(3, input_size, hidden_size, num_layers, bidirectional, bias);
}

GruResult gru(const Tensor& input, const std::vector<Tensor>& weights, const GruOptions& options, const Tensor& h0) {
  std::vector<Tensor> out = rnn_detail::rnn_forward<GruCell>(input, weights, options, {"h0"}, {h0});
  return {out[0], out[1]};
}

// Plain loops: every pre-activation is its own dot product, step after step.
GruResult gru_reference(const Tensor& input, const std::vector<Tensor>& weights, const GruOptions& options,
                        const Tensor& h0) {
  const RnnShape s = rnn_detail::check_rnn_arguments("gru_reference", 3, input, weights, options, {"h0"}, {h0});
  const SeqLayout& layout = s.layout;
  const int64_t H = s.H, D = s.D, N = s.N, DH = D * H;
  GruResult result;
  dispatch_floating(input.dtype(), "gru_reference", [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> x = input.to_vector<T>();  // row (t, n) of the layout: logical order
    const std::vector<T> h_init = values_or_zeros<T>(h0, s.L * D * N * H);
    std::vector<T> h_last(static_cast<size_t>(s.L * D * N * H));
    std::vector<T> out;
    for (int64_t l = 0; l < s.L; ++l) {
      if (rnn_detail::dropout_before(options, l)) {
        const std::vector<T> mask = rnn_dropout_mask(s.output_shape, options.dropout, *options.generator, input.dtype())
                                        .template to_vector<T>();
        for (size_t e = 0; e < x.size(); ++e) x[e] *= mask[e];
      }
      const int64_t in = s.layer_input_size(l);
      out.assign(static_cast<size_t>(s.rows() * DH), T(0));
      for (int64_t d = 0; d < D; ++d) {
        const std::vector<T> w_ih = weights[s.weight_index(l, d, 0)].to_vector<T>();
        const std::vector<T> w_hh = weights[s.weight_index(l, d, 1)].to_vector<T>();
        std::vector<T> b_ih(static_cast<size_t>(3 * H), T(0)), b_hh(b_ih);
        if (s.bias) {
          b_ih = weights[s.weight_index(l, d, 2)].to_vector<T>();
          b_hh = weights[s.weight_index(l, d, 3)].to_vector<T>();
        }
        const size_t state = static_cast<size_t>((l * D + d) * N * H);
        std::vector<T> h(h_init.begin() + state, h_init.begin() + state + N * H);
        for (int64_t step = 0; step < s.T; ++step) {
          const int64_t t = s.time(d, step);
          std::vector<T> h_new(h.size());
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x.data() + layout.row(t, n) * in;
            std::vector<T> gi(static_cast<size_t>(3 * H)), gh(gi.size());
            for (int64_t k = 0; k < 3 * H; ++k) {
              T acc_i = b_ih[static_cast<size_t>(k)], acc_h = b_hh[static_cast<size_t>(k)];
              for (int64_t j = 0; j < in; ++j) acc_i += w_ih[static_cast<size_t>(k * in + j)] * xr[j];
              for (int64_t j = 0; j < H; ++j)
                acc_h += w_hh[static_cast<size_t>(k * H + j)] * h[static_cast<size_t>(n * H + j)];
              gi[static_cast<size_t>(k)] = acc_i;
              gh[static_cast<size_t>(k)] = acc_h;
            }
            for (int64_t j = 0; j < H; ++j) {
              const size_t uj = static_cast<size_t>(j), uh = static_cast<size_t>(H);
              const T r = sigmoid_ref(gi[uj] + gh[uj]);
              const T z = sigmoid_ref(gi[uh + uj] + gh[uh + uj]);
              const T nv = std::tanh(gi[2 * uh + uj] + r * gh[2 * uh + uj]);
              const T hv = (T(1) - z) * nv + z * h[static_cast<size_t>(n * H + j)];
              h_new[static_cast<size_t>(n * H + j)] = hv;
              out[static_cast<size_t>(layout.row(t, n) * DH + d * H + j)] = hv;
            }
          }
          h = h_new;
        }
        std::copy(h.begin(), h.end(), h_last.begin() + state);
      }
      x = out;
    }
    result.output = from_vector(out, s.output_shape, input.dtype());
    result.h_n = from_vector(h_last, s.state_shape, input.dtype());
  });
  return result;
}

GruResult gru_reference_autograd(const Tensor& input, const std::vector<Tensor>& weights, const GruOptions& options,
                                 const Tensor& h0) {
  const RnnShape s =
      rnn_detail::check_rnn_arguments("gru_reference_autograd", 3, input, weights, options, {"h0"}, {h0});
  const DType dtype = input.dtype();
  Tensor x = to_time_major(input, s, options.batch_first);  // [T, N, I_l]
  std::vector<Tensor> h_last;
  for (int64_t l = 0; l < s.L; ++l) {
    if (rnn_detail::dropout_before(options, l)) {
      const Tensor mask = rnn_dropout_mask(s.output_shape, options.dropout, *options.generator, dtype);
      x = mul(x, to_time_major(mask, s, options.batch_first));
    }
    const int64_t in = s.layer_input_size(l);
    std::vector<Tensor> direction_outputs;
    for (int64_t d = 0; d < s.D; ++d) {
      const Tensor w_ih_t = transpose(weights[s.weight_index(l, d, 0)], 0, 1);  // [I_l, 3H]
      const Tensor w_hh_t = transpose(weights[s.weight_index(l, d, 1)], 0, 1);  // [H, 3H]
      Tensor h = initial_state(h0, l * s.D + d, s, dtype);
      std::vector<Tensor> hs(static_cast<size_t>(s.T));
      for (int64_t step = 0; step < s.T; ++step) {
        const int64_t t = s.time(d, step);
        const Tensor x_t = reshape(narrow(x, 0, t, 1), {s.N, in});
        Tensor gi = matmul(x_t, w_ih_t), gh = matmul(h, w_hh_t);  // [N, 3H]
        if (s.bias) {
          gi = add(gi, weights[s.weight_index(l, d, 2)]);
          gh = add(gh, weights[s.weight_index(l, d, 3)]);
        }
        const std::vector<Tensor> i_parts = split(gi, s.H, 1), h_parts = split(gh, s.H, 1);
        const Tensor r = sigmoid(add(i_parts[0], h_parts[0]));
        const Tensor z = sigmoid(add(i_parts[1], h_parts[1]));
        const Tensor n = tanh(add(i_parts[2], mul(r, h_parts[2])));
        h = add(mul(1.0 - z, n), mul(z, h));
        hs[static_cast<size_t>(t)] = h;
      }
      direction_outputs.push_back(stack(hs, 0));  // [T, N, H]
      h_last.push_back(h);
    }
    x = s.D == 1 ? direction_outputs[0] : cat(direction_outputs, 2);
  }
  return {from_time_major(x, s, options.batch_first), reshape(stack(h_last, 0), s.state_shape)};
}

}  // namespace harnet
