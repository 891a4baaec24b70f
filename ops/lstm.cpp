// The LSTM (torch.nn.LSTM semantics): the cell's fused forward and backward steps, plugged into
// the multi-layer, bidirectional driver of ops/recurrent_impl.h; the naive reference; and the
// reference composed of differentiable primitives.
//
// Per layer and direction, gates laid out [i | f | g | o] along G*H = 4H columns:
//   forward
//     gates   [T*N, 4H] = x [T*N, I] W_ih^T                  one GEMM for all time steps
//     step t: gates_t  += h_{t-1} [N, H] W_hh^T              one GEMM per step (in place)
//             i, f, g, o = sigmoid/sigmoid/tanh/sigmoid(gates_t + b_ih + b_hh)   fused pass
//             c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)     same pass; activations overwrite gates_t
//   saved: activations, h_{t-1} (h_prev), c_{t-1} (c_prev), tanh(c_t).
//   backward, dh and dc flowing back from step t+1 (dh_n, dc_n at the last step):
//     dh  = grad_out_t + dh_rec
//     dc  = dc_next + dh o (1 - tanh^2 c_t)
//     di = dc g i(1-i)   df = dc c_{t-1} f(1-f)   dg = dc i (1-g^2)   do = dh tanh(c_t) o(1-o)
//     dc_next = dc f                                         fused pass, per step
//     dh_rec  = dgates_t [N, 4H] W_hh [4H, H]                 one GEMM per step
//   then, over all steps at once: grad W_hh = dgates^T h_prev, grad W_ih = dgates^T x,
//   grad x = dgates W_ih (one GEMM each); grad b_ih = grad b_hh = column sums of dgates.
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

// One row (one batch entry at one step) of the forward pass, over the H units. The gate
// pre-activations are overwritten by their activations.
template <class T>
inline void lstm_forward_row(int64_t H, T* __restrict gi, T* __restrict gf, T* __restrict gg, T* __restrict go,
                             const T* __restrict bi, const T* __restrict bf, const T* __restrict bg,
                             const T* __restrict bo, const T* __restrict c_prev, T* __restrict c_next,
                             T* __restrict h_out, T* __restrict h_next, T* __restrict tanh_c) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = vecmath::sigmoid_of(gi[j] + bi[j]);
    const T f = vecmath::sigmoid_of(gf[j] + bf[j]);
    const T g = vecmath::tanh_of(gg[j] + bg[j]);
    const T o = vecmath::sigmoid_of(go[j] + bo[j]);
    const T c = f * c_prev[j] + i * g;
    const T tc = vecmath::tanh_of(c);
    const T h = o * tc;
    gi[j] = i;
    gf[j] = f;
    gg[j] = g;
    go[j] = o;
    c_next[j] = c;
    tanh_c[j] = tc;
    h_out[j] = h;
    h_next[j] = h;
  }
}

// One row of the backward pass: gate gradients from the activations (i, f, g, o), the incoming
// dh (output gradient plus the recurrent one) and dc; dc becomes the gradient flowing to
// c_{t-1}. The gate gradients are also added to the task's bias sums. (Every stream is its own
// restrict parameter: GCC vectorises the loop only when it sees they cannot alias.)
template <class T>
inline void lstm_backward_row(int64_t H, const T* __restrict ai, const T* __restrict af, const T* __restrict ag,
                              const T* __restrict ao, const T* __restrict c_prev, const T* __restrict tanh_c,
                              const T* __restrict grad_h, const T* __restrict dh_rec, T* __restrict dc,
                              T* __restrict di_out, T* __restrict df_out, T* __restrict dg_out, T* __restrict do_out,
                              T* __restrict si, T* __restrict sf, T* __restrict sg, T* __restrict so) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = ai[j], f = af[j], g = ag[j], o = ao[j], tc = tanh_c[j];
    const T dh = grad_h[j] + dh_rec[j];
    const T dct = dc[j] + dh * o * (T(1) - tc * tc);
    const T d_o = dh * tc * o * (T(1) - o);
    const T d_i = dct * g * i * (T(1) - i);
    const T d_g = dct * i * (T(1) - g * g);
    const T d_f = dct * c_prev[j] * f * (T(1) - f);
    dc[j] = dct * f;
    di_out[j] = d_i;
    df_out[j] = d_f;
    dg_out[j] = d_g;
    do_out[j] = d_o;
    si[j] += d_i;
    sf[j] += d_f;
    sg[j] += d_g;
    so[j] += d_o;
  }
}

struct LstmCell {
  static constexpr const char* kName = "lstm";
  static constexpr int64_t kGates = 4;
  static constexpr int kStates = 2;
  static constexpr bool kSeparateHiddenGrad = false;

  // gates [rows, 4H]; h_prev, a = c_prev, b = tanh(c_t) [rows, H] (b only for backward).
  struct Buffers {
    Tensor gates, h_prev, a, b;
  };
  static Buffers allocate(int64_t rows, int64_t H, DType dtype, bool for_backward) {
    Buffers buf;
    buf.gates = empty({rows, kGates * H}, dtype);
    buf.h_prev = empty({rows, H}, dtype);
    buf.a = empty({rows, H}, dtype);
    if (for_backward) buf.b = empty({rows, H}, dtype);
    return buf;
  }

  template <class T>
  static void forward_block(const DirectionArgs<T>& a, const BlockRange& block) {
    const RnnShape& s = *a.shape;
    const SeqLayout& layout = s.layout;
    const int64_t H = s.H, GH = kGates * H, DH = s.D * H, nb = block.size();
    std::vector<T> bias(static_cast<size_t>(GH), T(0));  // b_ih + b_hh, added in the fused pass
    if (a.b_ih)
      for (int64_t j = 0; j < GH; ++j) bias[static_cast<size_t>(j)] = a.b_ih[j] + a.b_hh[j];
    std::vector<T> scratch(static_cast<size_t>(H));  // tanh(c_t) when nothing is saved
    T* c_prev = a.a;
    load_initial_state(layout, H, s.time(a.d, 0), block, a.state0[0], a.h_prev);
    load_initial_state(layout, H, s.time(a.d, 0), block, a.state0[1], c_prev);

    for (int64_t step = 0; step < s.T; ++step) {
      const int64_t t = s.time(a.d, step);
      const bool last = step + 1 == s.T;
      const int64_t t_next = last ? t : s.time(a.d, step + 1);
      // gates_t [nb, 4H] += h_{t-1} [nb, H] W_hh^T; the block's rows are batch_rows apart.
      T* gates_t = a.gates + layout.row(t, block.n0) * GH;
      gemm<T>(false, true, nb, GH, H, T(1), a.h_prev + layout.row(t, block.n0) * H, layout.batch_rows * H, a.w_hh, H,
              T(1), gates_t, layout.batch_rows * GH);
      for (int64_t n = block.n0; n < block.n1; ++n) {
        const int64_t r = layout.row(t, n);
        T* g = a.gates + r * GH;
        T* h_next = last ? a.state_n[0] + n * H : a.h_prev + layout.row(t_next, n) * H;
        T* c_next = last ? a.state_n[1] + n * H : c_prev + layout.row(t_next, n) * H;
        const T* b = bias.data();
        lstm_forward_row<T>(H, g, g + H, g + 2 * H, g + 3 * H, b, b + H, b + 2 * H, b + 3 * H, c_prev + r * H, c_next,
                            a.out + r * DH + a.d * H, h_next, a.b ? a.b + r * H : scratch.data());
      }
    }
  }

  template <class T>
  static void backward_block(const DirectionGradArgs<T>& a, const BlockRange& block, BlockGradSums<T>& sums) {
    const RnnShape& s = *a.shape;
    const SeqLayout& layout = s.layout;
    const int64_t H = s.H, GH = kGates * H, DH = s.D * H, nb = block.size();
    // dh_rec: the gradient reaching h_t through step t+1; dc likewise for c_t. [nb, H] each.
    std::vector<T> dh_rec(a.grad_state_n[0] + block.n0 * H, a.grad_state_n[0] + block.n1 * H);
    std::vector<T> dc(a.grad_state_n[1] + block.n0 * H, a.grad_state_n[1] + block.n1 * H);
    for (int64_t step = s.T - 1; step >= 0; --step) {
      const int64_t t = s.time(a.d, step);
      for (int64_t n = block.n0; n < block.n1; ++n) {
        const int64_t r = layout.row(t, n), local = (n - block.n0) * H;
        const T* act = a.gates + r * GH;
        T* dgates = a.grad_gates_x + r * GH;
        T* sum = sums.x.data();
        lstm_backward_row<T>(H, act, act + H, act + 2 * H, act + 3 * H, a.a + r * H, a.b + r * H,
                             a.grad_out + r * DH + a.d * H, dh_rec.data() + local, dc.data() + local, dgates,
                             dgates + H, dgates + 2 * H, dgates + 3 * H, sum, sum + H, sum + 2 * H, sum + 3 * H);
      }
      // dh_{t-1} [nb, H] = dgates_t [nb, 4H] W_hh [4H, H]
      gemm<T>(false, false, nb, H, GH, T(1), a.grad_gates_x + layout.row(t, block.n0) * GH, layout.batch_rows * GH,
              a.w_hh, H, T(0), dh_rec.data(), H);
    }
    std::copy(dh_rec.begin(), dh_rec.end(), a.grad_state0[0] + block.n0 * H);
    std::copy(dc.begin(), dc.end(), a.grad_state0[1] + block.n0 * H);
  }
};

// ---------------------------------------------------------------- naive reference

}  // namespace

std::vector<std::string> lstm_weight_names(int64_t num_layers, bool bidirectional, bool bias) {
  return rnn_detail::rnn_weight_names(num_layers, bidirectional, bias);
}

std::vector<Shape> lstm_weight_shapes(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bidirectional,
                                      bool bias) {
  return rnn_detail::rnn_weight_shapes(4, input_size, hidden_size, num_layers, bidirectional, bias);
}

LstmResult lstm(const Tensor& input, const std::vector<Tensor>& weights, const LstmOptions& options, const Tensor& h0,
                const Tensor& c0) {
  std::vector<Tensor> out = rnn_detail::rnn_forward<LstmCell>(input, weights, options, {"h0", "c0"}, {h0, c0});
  return {out[0], out[1], out[2]};
}

// Plain loops: every gate pre-activation is its own dot product, step after step.
LstmResult lstm_reference(const Tensor& input, const std::vector<Tensor>& weights, const LstmOptions& options,
                          const Tensor& h0, const Tensor& c0) {
  const RnnShape s =
      rnn_detail::check_rnn_arguments("lstm_reference", 4, input, weights, options, {"h0", "c0"}, {h0, c0});
  const SeqLayout& layout = s.layout;
  const int64_t H = s.H, D = s.D, N = s.N, DH = D * H;
  LstmResult result;
  dispatch_floating(input.dtype(), "lstm_reference", [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> x = input.to_vector<T>();  // row (t, n) of the layout: logical order
    const std::vector<T> h_init = values_or_zeros<T>(h0, s.L * D * N * H);
    const std::vector<T> c_init = values_or_zeros<T>(c0, s.L * D * N * H);
    std::vector<T> h_last(static_cast<size_t>(s.L * D * N * H)), c_last(h_last.size());
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
        std::vector<T> b_ih(static_cast<size_t>(4 * H), T(0)), b_hh(b_ih);
        if (s.bias) {
          b_ih = weights[s.weight_index(l, d, 2)].to_vector<T>();
          b_hh = weights[s.weight_index(l, d, 3)].to_vector<T>();
        }
        const size_t state = static_cast<size_t>((l * D + d) * N * H);
        std::vector<T> h(h_init.begin() + state, h_init.begin() + state + N * H);
        std::vector<T> c(c_init.begin() + state, c_init.begin() + state + N * H);
        for (int64_t step = 0; step < s.T; ++step) {
          const int64_t t = s.time(d, step);
          std::vector<T> h_new(h.size());
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x.data() + layout.row(t, n) * in;
            std::vector<T> pre(static_cast<size_t>(4 * H));
            for (int64_t k = 0; k < 4 * H; ++k) {
              T acc = b_ih[static_cast<size_t>(k)] + b_hh[static_cast<size_t>(k)];
              for (int64_t j = 0; j < in; ++j) acc += w_ih[static_cast<size_t>(k * in + j)] * xr[j];
              for (int64_t j = 0; j < H; ++j)
                acc += w_hh[static_cast<size_t>(k * H + j)] * h[static_cast<size_t>(n * H + j)];
              pre[static_cast<size_t>(k)] = acc;
            }
            for (int64_t j = 0; j < H; ++j) {
              const T i = sigmoid_ref(pre[static_cast<size_t>(j)]);
              const T f = sigmoid_ref(pre[static_cast<size_t>(H + j)]);
              const T g = std::tanh(pre[static_cast<size_t>(2 * H + j)]);
              const T o = sigmoid_ref(pre[static_cast<size_t>(3 * H + j)]);
              T& cell = c[static_cast<size_t>(n * H + j)];
              cell = f * cell + i * g;
              const T hv = o * std::tanh(cell);
              h_new[static_cast<size_t>(n * H + j)] = hv;
              out[static_cast<size_t>(layout.row(t, n) * DH + d * H + j)] = hv;
            }
          }
          h = h_new;
        }
        std::copy(h.begin(), h.end(), h_last.begin() + state);
        std::copy(c.begin(), c.end(), c_last.begin() + state);
      }
      x = out;
    }
    result.output = from_vector(out, s.output_shape, input.dtype());
    result.h_n = from_vector(h_last, s.state_shape, input.dtype());
    result.c_n = from_vector(c_last, s.state_shape, input.dtype());
  });
  return result;
}

// ---------------------------------------------------------------- composed of primitives

LstmResult lstm_reference_autograd(const Tensor& input, const std::vector<Tensor>& weights, const LstmOptions& options,
                                   const Tensor& h0, const Tensor& c0) {
  const RnnShape s =
      rnn_detail::check_rnn_arguments("lstm_reference_autograd", 4, input, weights, options, {"h0", "c0"}, {h0, c0});
  const DType dtype = input.dtype();
  Tensor x = to_time_major(input, s, options.batch_first);  // [T, N, I_l]
  std::vector<Tensor> h_last, c_last;
  for (int64_t l = 0; l < s.L; ++l) {
    if (rnn_detail::dropout_before(options, l)) {
      const Tensor mask = rnn_dropout_mask(s.output_shape, options.dropout, *options.generator, dtype);
      x = mul(x, to_time_major(mask, s, options.batch_first));
    }
    const int64_t in = s.layer_input_size(l);
    std::vector<Tensor> direction_outputs;
    for (int64_t d = 0; d < s.D; ++d) {
      const Tensor w_ih_t = transpose(weights[s.weight_index(l, d, 0)], 0, 1);  // [I_l, 4H]
      const Tensor w_hh_t = transpose(weights[s.weight_index(l, d, 1)], 0, 1);  // [H, 4H]
      Tensor h = initial_state(h0, l * s.D + d, s, dtype);
      Tensor c = initial_state(c0, l * s.D + d, s, dtype);
      std::vector<Tensor> hs(static_cast<size_t>(s.T));
      for (int64_t step = 0; step < s.T; ++step) {
        const int64_t t = s.time(d, step);
        const Tensor x_t = reshape(narrow(x, 0, t, 1), {s.N, in});
        Tensor gates = add(matmul(x_t, w_ih_t), matmul(h, w_hh_t));  // [N, 4H]
        if (s.bias) gates = add(add(gates, weights[s.weight_index(l, d, 2)]), weights[s.weight_index(l, d, 3)]);
        const std::vector<Tensor> parts = split(gates, s.H, 1);
        const Tensor i = sigmoid(parts[0]), f = sigmoid(parts[1]), g = tanh(parts[2]), o = sigmoid(parts[3]);
        c = add(mul(f, c), mul(i, g));
        h = mul(o, tanh(c));
        hs[static_cast<size_t>(t)] = h;
      }
      direction_outputs.push_back(stack(hs, 0));  // [T, N, H]
      h_last.push_back(h);
      c_last.push_back(c);
    }
    x = s.D == 1 ? direction_outputs[0] : cat(direction_outputs, 2);
  }
  return {from_time_major(x, s, options.batch_first), reshape(stack(h_last, 0), s.state_shape),
          reshape(stack(c_last, 0), s.state_shape)};
}

}  // namespace harnet
