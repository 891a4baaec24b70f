// The machinery shared by the recurrent operators (internal to ops/lstm.cpp and ops/gru.cpp):
// argument checks, the memory layout of sequences, and the driver that runs a multi-layer,
// optionally bidirectional network of some cell (LSTM, GRU) forward and backward.
//
// Layout. Every per-time-step quantity (a layer's input and output, the gates, the saved
// states) is a row-major matrix [T*N, width] whose rows are in the caller's order: row
// t*N + n for [T, N, .] input, n*T + t for batch_first [N, T, .]. The input is used in place
// and the output is written in place, with no transposition; the N rows of one time step are
// a matrix with a row stride (N rows apart or 1 apart), which GEMM reads directly.
//
// Work split. One GEMM per layer and direction projects the inputs of all time steps. The
// recurrence is independent across directions and across batch rows, so it runs as tasks
// (direction, block of batch rows), each going through all T steps on its own: no
// synchronisation per step. The blocks depend on N only, never on the thread count, and gemm's
// own split depends on the shape only: results are bit-identical for any number of threads.
//
// Backward (backpropagation through time), per layer from the top: the same tasks run the
// steps in reverse, producing the gate gradients of every step (one GEMM per step for the
// gradient flowing to the previous hidden state); then per direction ONE GEMM each for the
// gradients of W_hh (inner size T*N), W_ih and the layer input, and bias gradients from sums
// the tasks accumulated in a fixed order.
//
// A cell type provides (T = float or double):
//   kName, kGates (G), kStates (1: h; 2: h and c), kSeparateHiddenGrad (whether the gradient of
//   the W_hh projection differs from that of the W_ih projection: GRU's reset gate),
//   struct Buffers { Tensor gates /*[rows, G*H]*/, h_prev /*[rows, H]*/, a, b; } saved per
//     (layer, direction); allocate(rows, H, dtype, for_backward);
//   forward_block<T>(const DirectionArgs<T>&, const BlockRange&) and
//   backward_block<T>(const DirectionGradArgs<T>&, const BlockRange&, BlockGradSums<T>&).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/parallel.h"
#include "ops/blas.h"
#include "ops/recurrent.h"

namespace harnet::rnn_detail {

// ---------------------------------------------------------------- geometry

// Where row (t, n) of a [T*N, width] sequence matrix is.
struct SeqLayout {
  int64_t T = 0, N = 0;
  int64_t step_rows = 0;   // rows between time steps t and t+1
  int64_t batch_rows = 0;  // rows between batch entries n and n+1
  int64_t row(int64_t t, int64_t n) const { return t * step_rows + n * batch_rows; }
};

// The validated arguments of a recurrent operator.
struct RnnShape {
  const char* op = "";
  int64_t gates = 0;  // G
  bool batched = true;
  int64_t T = 0, N = 0, I = 0, H = 0, D = 1, L = 1;
  bool bias = true;
  SeqLayout layout;
  Shape output_shape;  // [T, N, D*H], [N, T, D*H] or [T, D*H]
  Shape state_shape;   // [L*D, N, H] or [L*D, H]
  int64_t rows() const { return T * N; }
  int64_t layer_input_size(int64_t l) const { return l == 0 ? I : D * H; }
  int64_t weights_per_direction() const { return bias ? 4 : 2; }
  // Index into the flat weight list of weight k (0 w_ih, 1 w_hh, 2 b_ih, 3 b_hh) of (l, d).
  size_t weight_index(int64_t l, int64_t d, int64_t k) const {
    return static_cast<size_t>((l * D + d) * weights_per_direction() + k);
  }
  // Processing step s of direction d happens at time t.
  int64_t time(int64_t d, int64_t s) const { return d == 0 ? s : T - 1 - s; }
};

// Checks everything and throws naming op, the argument and the shapes. state_names: "h0" (and
// "c0"), paired with the caller's initial states (undefined = zeros).
RnnShape check_rnn_arguments(const char* op, int64_t gates, const Tensor& input, const std::vector<Tensor>& weights,
                             const RnnOptions& options, const std::vector<const char*>& state_names,
                             const std::vector<Tensor>& states);

std::vector<std::string> rnn_weight_names(int64_t num_layers, bool bidirectional, bool bias);
std::vector<Shape> rnn_weight_shapes(int64_t gates, int64_t input_size, int64_t hidden_size, int64_t num_layers,
                                     bool bidirectional, bool bias);

// Dropout is applied to the input of layer l (the output of layer l-1).
inline bool dropout_before(const RnnOptions& o, int64_t layer) { return layer > 0 && o.training && o.dropout > 0.0; }

// x itself if contiguous (detached: the saved copy must not keep a graph alive), else a copy.
inline Tensor contiguous_detached(const Tensor& x) { return x.is_contiguous() ? x.detach() : x.contiguous_copy(); }

// Blocks of batch rows that one task carries through all time steps: about kBatchBlock rows
// (enough for an efficient GEMM per step), a function of N only.
constexpr int64_t kBatchBlock = 32;
struct BlockRange {
  int64_t n0 = 0, n1 = 0;
  int64_t size() const { return n1 - n0; }
};
struct BatchBlocks {
  int64_t count = 1, size = 1, N = 0;
  BlockRange operator[](int64_t b) const { return {b * size, std::min(N, (b + 1) * size)}; }
};
inline BatchBlocks batch_blocks(int64_t N) {
  BatchBlocks blocks;
  blocks.N = N;
  blocks.count = (N + kBatchBlock - 1) / kBatchBlock;
  blocks.size = (N + blocks.count - 1) / blocks.count;
  blocks.count = (N + blocks.size - 1) / blocks.size;
  return blocks;
}

// ---------------------------------------------------------------- helpers of the cells

// Initial state rows of a block: state0 [N, H] or zeros, written at the rows of time t.
template <class T>
void load_initial_state(const SeqLayout& layout, int64_t H, int64_t t, const BlockRange& block, const T* state0,
                        T* dst) {
  for (int64_t n = block.n0; n < block.n1; ++n) {
    T* row = dst + layout.row(t, n) * H;
    if (state0)
      std::copy(state0 + n * H, state0 + (n + 1) * H, row);
    else
      std::fill(row, row + H, T(0));
  }
}

// ---- for the naive references
template <class T>
T sigmoid_ref(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// The values of an optional tensor, or n zeros.
template <class T>
std::vector<T> values_or_zeros(const Tensor& t, int64_t n) {
  return t.defined() ? t.template to_vector<T>() : std::vector<T>(static_cast<size_t>(n), T(0));
}

// ---- for the references composed of differentiable primitives
// The [N, H] state of (layer, direction) index k from states [L*D, N, H] (or [L*D, H]), or zeros.
Tensor initial_state(const Tensor& states, int64_t k, const RnnShape& s, DType dtype);
// A [T, N, F] (time-major) view of a tensor in the caller's layout, and back.
Tensor to_time_major(const Tensor& x, const RnnShape& s, bool batch_first);
Tensor from_time_major(const Tensor& x, const RnnShape& s, bool batch_first);

// ---------------------------------------------------------------- what a cell sees

// One (layer, direction) going forward. Pointers into contiguous buffers; states [N, H].
template <class T>
struct DirectionArgs {
  const RnnShape* shape = nullptr;
  int64_t d = 0;                            // 0 forward in time, 1 reverse
  const T* w_hh = nullptr;                  // [G*H, H]
  const T* b_ih = nullptr;                  // [G*H] or null (no bias)
  const T* b_hh = nullptr;                  // [G*H] or null
  const T* state0[2] = {nullptr, nullptr};  // initial h (and c), [N, H] or null for zeros
  T* state_n[2] = {nullptr, nullptr};       // final h (and c), [N, H]
  T* out = nullptr;                         // layer output [rows, D*H]; direction d writes columns d*H..
  T* gates = nullptr;                       // [rows, G*H]: the input projection in, activations out
  T* h_prev = nullptr;                      // [rows, H]: row (t, n) gets the hidden state entering step t
  T* a = nullptr;                           // cell-specific saved buffers [rows, H] (may be null)
  T* b = nullptr;
};

// One (layer, direction) going backward.
template <class T>
struct DirectionGradArgs {
  const RnnShape* shape = nullptr;
  int64_t d = 0;
  const T* w_hh = nullptr;
  const T* gates = nullptr;  // saved buffers, as DirectionArgs
  const T* h_prev = nullptr;
  const T* a = nullptr;
  const T* b = nullptr;
  const T* grad_out = nullptr;                    // gradient of the layer output [rows, D*H]
  const T* grad_state_n[2] = {nullptr, nullptr};  // gradients of the final states [N, H]
  T* grad_state0[2] = {nullptr, nullptr};         // gradients of the initial states [N, H] (written)
  T* grad_gates_x = nullptr;                      // [rows, G*H]: gradient of the input projection (+ b_ih)
  T* grad_gates_h = nullptr;  // [rows, G*H]: of the hidden projection (+ b_hh); may equal grad_gates_x
};

// Bias gradients of one task, summed over its rows in a fixed order.
template <class T>
struct BlockGradSums {
  std::vector<T> x, h;  // [G*H] each
};

// ---------------------------------------------------------------- saved for backward

template <class Cell>
struct RnnSaved {
  RnnShape shape;
  std::vector<Tensor> weights;                  // contiguous, detached
  std::vector<Tensor> layer_inputs;             // [rows, I_l] per layer, after dropout
  std::vector<Tensor> masks;                    // dropout mask applied to layer l's input, or undefined
  std::vector<typename Cell::Buffers> buffers;  // per (l, d), index l*D + d
  Shape input_shape;
};

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* data_or_null(Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class Cell>
std::vector<Tensor> rnn_backward(const RnnSaved<Cell>& saved, const std::vector<Tensor>& grads_out,
                                 const std::vector<bool>& needs);

// ---------------------------------------------------------------- forward

// Runs the network; returns {output, state_n...} recorded as one autograd node named Cell::kName.
template <class Cell>
std::vector<Tensor> rnn_forward(const Tensor& input, const std::vector<Tensor>& weights, const RnnOptions& options,
                                const std::vector<const char*>& state_names, const std::vector<Tensor>& states) {
  constexpr int kStates = Cell::kStates;
  auto saved = std::make_shared<RnnSaved<Cell>>();
  saved->shape = check_rnn_arguments(Cell::kName, Cell::kGates, input, weights, options, state_names, states);
  saved->input_shape = input.shape();
  const RnnShape& s = saved->shape;
  const DType dtype = input.dtype();
  const bool for_backward = any_requires_grad({input}) || any_requires_grad(weights) || any_requires_grad(states);

  for (const Tensor& w : weights) saved->weights.push_back(contiguous_detached(w));
  const std::vector<Tensor>& W = saved->weights;
  std::vector<Tensor> states0(kStates);
  for (int k = 0; k < kStates; ++k)
    if (states[static_cast<size_t>(k)].defined())
      states0[static_cast<size_t>(k)] = contiguous_detached(states[static_cast<size_t>(k)]);

  const int64_t rows = s.rows(), H = s.H, D = s.D, GH = s.gates * s.H;
  Tensor output = empty(s.output_shape, dtype);
  std::vector<Tensor> states_n;
  for (int k = 0; k < kStates; ++k) states_n.push_back(empty(s.state_shape, dtype));
  const BatchBlocks blocks = batch_blocks(s.N);

  dispatch_floating(dtype, Cell::kName, [&](auto tag) {
    using T = decltype(tag);
    Tensor x = contiguous_detached(input);  // [rows, I] in the layout
    for (int64_t l = 0; l < s.L; ++l) {
      Tensor mask;
      if (dropout_before(options, l)) {
        // x = previous output * mask, elementwise over [rows, D*H].
        mask = rnn_dropout_mask(s.output_shape, options.dropout, *options.generator, dtype);
        Tensor dropped = empty(s.output_shape, dtype);
        const T* xv = x.data<T>();
        const T* mv = mask.data<T>();
        T* dv = dropped.data<T>();
        const int64_t n = dropped.numel();
        parallel_for(0, n, kGrainSize, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) dv[i] = xv[i] * mv[i];
        });
        x = dropped;
      }
      if (for_backward) {
        saved->layer_inputs.push_back(x);
        saved->masks.push_back(mask);
      }
      const int64_t in = s.layer_input_size(l);
      Tensor out = l + 1 == s.L ? output : empty(s.output_shape, dtype);

      std::vector<DirectionArgs<T>> dirs(static_cast<size_t>(D));
      std::vector<typename Cell::Buffers> layer_buffers;  // kept for backward, else freed after the layer
      for (int64_t d = 0; d < D; ++d) {
        typename Cell::Buffers buf = Cell::allocate(rows, H, dtype, for_backward);
        // The input projection of every time step: gates [rows, G*H] = x [rows, I_l] W_ih^T.
        gemm<T>(false, true, rows, GH, in, T(1), x.data<T>(), in, W[s.weight_index(l, d, 0)].data<T>(), in, T(0),
                buf.gates.template data<T>(), GH);
        DirectionArgs<T>& a = dirs[static_cast<size_t>(d)];
        a.shape = &s;
        a.d = d;
        a.w_hh = W[s.weight_index(l, d, 1)].data<T>();
        if (s.bias) {
          a.b_ih = W[s.weight_index(l, d, 2)].data<T>();
          a.b_hh = W[s.weight_index(l, d, 3)].data<T>();
        }
        for (int k = 0; k < kStates; ++k) {
          if (states0[static_cast<size_t>(k)].defined())
            a.state0[k] = states0[static_cast<size_t>(k)].data<T>() + (l * D + d) * s.N * H;
          a.state_n[k] = states_n[static_cast<size_t>(k)].data<T>() + (l * D + d) * s.N * H;
        }
        a.out = out.data<T>();
        a.gates = buf.gates.template data<T>();
        a.h_prev = buf.h_prev.template data<T>();
        a.a = data_or_null<T>(buf.a);
        a.b = data_or_null<T>(buf.b);
        layer_buffers.push_back(buf);
      }
      // The recurrence: tasks (direction, batch block), each through all time steps.
      parallel_for(0, D * blocks.count, 1, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k)
          Cell::template forward_block<T>(dirs[static_cast<size_t>(k / blocks.count)], blocks[k % blocks.count]);
      });
      if (for_backward) saved->buffers.insert(saved->buffers.end(), layer_buffers.begin(), layer_buffers.end());
      x = out;
    }
  });

  std::vector<Tensor> outputs{output};
  for (Tensor& t : states_n) outputs.push_back(t);
  if (!for_backward) return outputs;

  std::vector<Tensor> inputs{input};
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  inputs.insert(inputs.end(), states.begin(), states.end());
  record_multi_output_op(Cell::kName, inputs, outputs,
                         [saved](const std::vector<Tensor>& grads_out, const std::vector<bool>& needs) {
                           return rnn_backward<Cell>(*saved, grads_out, needs);
                         });
  return outputs;
}

// ---------------------------------------------------------------- backward

// Column sums of the task partials of one direction, in block order.
template <class T>
void sum_block_partials(const std::vector<BlockGradSums<T>>& partials, size_t first, int64_t count, bool hidden, T* out,
                        int64_t width) {
  std::fill(out, out + width, T(0));
  for (int64_t b = 0; b < count; ++b) {
    const std::vector<T>& p =
        hidden ? partials[first + static_cast<size_t>(b)].h : partials[first + static_cast<size_t>(b)].x;
    for (int64_t j = 0; j < width; ++j) out[j] += p[static_cast<size_t>(j)];
  }
}

// grads_out: gradients of {output, state_n...}; returns one per input {input, weights...,
// states0...}, undefined where not needed.
template <class Cell>
std::vector<Tensor> rnn_backward(const RnnSaved<Cell>& saved, const std::vector<Tensor>& grads_out,
                                 const std::vector<bool>& needs) {
  constexpr int kStates = Cell::kStates;
  const RnnShape& s = saved.shape;
  const int64_t rows = s.rows(), H = s.H, D = s.D, GH = s.gates * s.H, N = s.N;
  const std::vector<Tensor>& W = saved.weights;
  const std::vector<Tensor>& layer_inputs = saved.layer_inputs;
  const std::vector<Tensor>& masks = saved.masks;
  const size_t n_weights = W.size();
  const DType dtype = saved.weights[0].dtype();
  std::vector<Tensor> grads(1 + n_weights + kStates);
  const BatchBlocks blocks = batch_blocks(N);

  auto need_weight = [&](int64_t l, int64_t d, int64_t k) { return needs[1 + s.weight_index(l, d, k)]; };
  auto need_state0 = [&](int k) { return needs[1 + n_weights + static_cast<size_t>(k)]; };
  // Whether anything at or below layer l (weights of layers < l, the input, the initial
  // states) needs the gradient of layer l's input.
  auto need_below = [&](int64_t l) {
    if (needs[0]) return true;
    for (int k = 0; k < kStates; ++k)
      if (need_state0(k)) return true;
    for (int64_t m = 0; m < l; ++m)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t k = 0; k < s.weights_per_direction(); ++k)
          if (need_weight(m, d, k)) return true;
    return false;
  };

  dispatch_floating(dtype, Cell::kName, [&](auto tag) {
    using T = decltype(tag);
    Tensor grad_out = contiguous_detached(grads_out[0]);  // [rows, D*H]
    std::vector<Tensor> grad_state_n;
    for (int k = 0; k < kStates; ++k)
      grad_state_n.push_back(contiguous_detached(grads_out[1 + static_cast<size_t>(k)]));
    std::vector<Tensor> grad_state0;  // [L*D, N, H]: the caller's gradient, or scratch
    for (int k = 0; k < kStates; ++k) grad_state0.push_back(empty(s.state_shape, dtype));

    for (int64_t l = s.L - 1; l >= 0; --l) {
      std::vector<DirectionGradArgs<T>> dirs(static_cast<size_t>(D));
      std::vector<Tensor> grad_gates_x(static_cast<size_t>(D)), grad_gates_h(static_cast<size_t>(D));
      for (int64_t d = 0; d < D; ++d) {
        const typename Cell::Buffers& buf = saved.buffers[static_cast<size_t>(l * D + d)];
        grad_gates_x[static_cast<size_t>(d)] = empty({rows, GH}, dtype);
        grad_gates_h[static_cast<size_t>(d)] =
            Cell::kSeparateHiddenGrad ? empty({rows, GH}, dtype) : grad_gates_x[static_cast<size_t>(d)];
        DirectionGradArgs<T>& a = dirs[static_cast<size_t>(d)];
        a.shape = &s;
        a.d = d;
        a.w_hh = W[s.weight_index(l, d, 1)].data<T>();
        a.gates = buf.gates.template data<T>();
        a.h_prev = buf.h_prev.template data<T>();
        a.a = data_or_null<T>(buf.a);
        a.b = data_or_null<T>(buf.b);
        a.grad_out = grad_out.data<T>();
        for (int k = 0; k < kStates; ++k) {
          const int64_t offset = (l * D + d) * N * H;
          a.grad_state_n[k] = grad_state_n[static_cast<size_t>(k)].data<T>() + offset;
          a.grad_state0[k] = grad_state0[static_cast<size_t>(k)].data<T>() + offset;
        }
        a.grad_gates_x = grad_gates_x[static_cast<size_t>(d)].data<T>();
        a.grad_gates_h = grad_gates_h[static_cast<size_t>(d)].data<T>();
      }
      std::vector<BlockGradSums<T>> sums(static_cast<size_t>(D * blocks.count));
      parallel_for(0, D * blocks.count, 1, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
          BlockGradSums<T>& partial = sums[static_cast<size_t>(k)];
          partial.x.assign(static_cast<size_t>(GH), T(0));
          if (Cell::kSeparateHiddenGrad) partial.h.assign(static_cast<size_t>(GH), T(0));
          Cell::template backward_block<T>(dirs[static_cast<size_t>(k / blocks.count)], blocks[k % blocks.count],
                                           partial);
        }
      });

      // Weight and bias gradients: ONE GEMM each over all T*N rows.
      const Tensor& x = layer_inputs[static_cast<size_t>(l)];
      const int64_t in = s.layer_input_size(l);
      for (int64_t d = 0; d < D; ++d) {
        const T* ggx = grad_gates_x[static_cast<size_t>(d)].template data<T>();
        const T* ggh = grad_gates_h[static_cast<size_t>(d)].template data<T>();
        const typename Cell::Buffers& buf = saved.buffers[static_cast<size_t>(l * D + d)];
        if (need_weight(l, d, 0)) {  // grad W_ih [G*H, I_l] = grad_gates_x^T x
          Tensor g = empty(W[s.weight_index(l, d, 0)].shape(), dtype);
          gemm<T>(true, false, GH, in, rows, T(1), ggx, GH, x.data<T>(), in, T(0), g.data<T>(), in);
          grads[1 + s.weight_index(l, d, 0)] = g;
        }
        if (need_weight(l, d, 1)) {  // grad W_hh [G*H, H] = grad_gates_h^T h_prev
          Tensor g = empty({GH, H}, dtype);
          gemm<T>(true, false, GH, H, rows, T(1), ggh, GH, buf.h_prev.template data<T>(), H, T(0), g.data<T>(), H);
          grads[1 + s.weight_index(l, d, 1)] = g;
        }
        const size_t first = static_cast<size_t>(d * blocks.count);
        if (s.bias && need_weight(l, d, 2)) {
          Tensor g = empty({GH}, dtype);
          sum_block_partials<T>(sums, first, blocks.count, false, g.data<T>(), GH);
          grads[1 + s.weight_index(l, d, 2)] = g;
        }
        if (s.bias && need_weight(l, d, 3)) {
          Tensor g = empty({GH}, dtype);
          sum_block_partials<T>(sums, first, blocks.count, Cell::kSeparateHiddenGrad, g.data<T>(), GH);
          grads[1 + s.weight_index(l, d, 3)] = g;
        }
      }

      // Gradient of the layer input: grad_x [rows, I_l] = sum_d grad_gates_x[d] W_ih[d], one GEMM each.
      const bool below = need_below(l);
      if (!below) break;
      if (l == 0 && !needs[0]) continue;
      Tensor grad_x = empty(l == 0 ? saved.input_shape : s.output_shape, dtype);
      for (int64_t d = 0; d < D; ++d)
        gemm<T>(false, false, rows, in, GH, T(1), grad_gates_x[static_cast<size_t>(d)].template data<T>(), GH,
                W[s.weight_index(l, d, 0)].data<T>(), in, d == 0 ? T(0) : T(1), grad_x.data<T>(), in);
      if (l == 0) {
        grads[0] = grad_x;
        continue;
      }
      const Tensor& mask = masks[static_cast<size_t>(l)];
      if (mask.defined()) {  // through the dropout: times the same mask
        T* gv = grad_x.data<T>();
        const T* mv = mask.data<T>();
        const int64_t n = grad_x.numel();
        parallel_for(0, n, kGrainSize, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) gv[i] *= mv[i];
        });
      }
      grad_out = grad_x;
    }
    for (int k = 0; k < kStates; ++k)
      if (need_state0(k)) grads[1 + n_weights + static_cast<size_t>(k)] = grad_state0[static_cast<size_t>(k)];
  });
  return grads;
}

}  // namespace harnet::rnn_detail
