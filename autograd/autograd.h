// The reverse-mode engine. An operator that wants a gradient records a Node holding the
// edges to its inputs and a backward function written next to its forward (see
// record_op). Tensor::backward() runs the nodes reachable from the root in reverse
// topological order; gradients reaching a node along several paths are summed before it
// runs; leaves accumulate into .grad. The engine knows nothing about particular operators.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace harnet {

// Where the gradient of one input goes: into the output slot of another node, or into a
// leaf's .grad. Both empty: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t output_nr = 0;
  std::shared_ptr<TensorImpl> leaf;
  bool needed() const { return fn != nullptr || leaf != nullptr; }
};

class Node {
 public:
  // grads_out[k]: gradient of output k (zeros if it did not reach the node);
  // returns one gradient per input, undefined where needs_grad[i] is false.
  using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads_out,
                                                       const std::vector<bool>& needs_grad)>;

  Node(std::string name, std::vector<Edge> next, BackwardFn fn)
      : name_(std::move(name)), next_(std::move(next)), backward_(std::move(fn)) {}

  const std::string& name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }
  bool released() const { return released_; }

  // Shapes and dtypes of the outputs, so missing output gradients can be zero-filled and
  // returned gradients checked.
  struct OutputMeta {
    Shape shape;
    DType dtype;
  };
  std::vector<OutputMeta>& outputs() { return outputs_; }
  const std::vector<OutputMeta>& outputs() const { return outputs_; }

  std::vector<Tensor> apply(const std::vector<Tensor>& grads_out);
  // Frees the backward closure and with it every tensor it saved.
  void release();

 private:
  std::string name_;
  std::vector<Edge> next_;
  BackwardFn backward_;
  std::vector<OutputMeta> outputs_;
  bool released_ = false;
};

// How many graph nodes record_op / record_multi_output_op have created in this process (all
// threads): benchmarks and tests check that inference under NoGradGuard records none.
int64_t graph_nodes_created();

// ---- grad mode
bool grad_enabled();

// Thread-local RAII guard: no graph is recorded while it lives.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True if grad mode is on and any input requires a gradient.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records a node for a single-output op when needed: attaches grad_fn to `output`, marks it
// requires_grad and returns it. `backward(grad, needs_grad)` returns one gradient per input.
//   return record_op("mul", {a, b}, out, [a, b](const Tensor& g, const std::vector<bool>& need) {
//     return std::vector<Tensor>{need[0] ? mul(g, b) : Tensor(), need[1] ? mul(g, a) : Tensor()};
//   });
using SingleBackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad, const std::vector<bool>& needs_grad)>;
Tensor record_op(const char* name, const std::vector<Tensor>& inputs, Tensor output,
                 SingleBackwardFn backward);

// Same for ops with several outputs; each output gets grad_fn with its own output_nr.
void record_multi_output_op(const char* name, const std::vector<Tensor>& inputs,
                            std::vector<Tensor>& outputs, Node::BackwardFn backward);

// The engine entry point behind Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace harnet
