#include "autograd/autograd.h"

#include <atomic>
#include <deque>
#include <unordered_map>

namespace harnet {

// ---------------------------------------------------------------- grad mode

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// ---------------------------------------------------------------- nodes

std::vector<Tensor> Node::apply(const std::vector<Tensor>& grads_out) {
  HARNET_CHECK(!released_, "backward through '", name_,
               "' a second time: its graph was freed by the first backward; pass retain_graph=true to the "
               "first call to backward twice");
  std::vector<bool> needs(next_.size());
  for (size_t i = 0; i < next_.size(); ++i) needs[i] = next_[i].needed();
  return backward_(grads_out, needs);
}

void Node::release() {
  backward_ = nullptr;
  released_ = true;
}

namespace {

std::vector<Edge> make_edges(const std::vector<Tensor>& inputs) {
  std::vector<Edge> edges(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || !t.requires_grad()) continue;
    if (t.grad_fn()) {
      edges[i].fn = t.grad_fn();
      edges[i].output_nr = t.output_nr();
    } else {
      edges[i].leaf = t.impl_ptr();
    }
  }
  return edges;
}

void attach(const std::shared_ptr<Node>& node, Tensor& output, uint32_t output_nr) {
  HARNET_CHECK(is_floating(output.dtype()), node->name(), ": cannot record a gradient for an output of dtype ",
               dtype_name(output.dtype()));
  TensorImpl* impl = output.impl();
  impl->grad_fn = node;
  impl->output_nr = output_nr;
  impl->requires_grad = true;
  node->outputs().push_back({output.shape(), output.dtype()});
}

// a + b for two gradients of one shape and dtype (the engine's only arithmetic).
Tensor add_gradients(const Tensor& a, const Tensor& b) {
  Tensor out = a.contiguous_copy();
  Tensor bc = b.is_contiguous() ? b : b.contiguous_copy();
  dispatch_floating(out.dtype(), "backward", [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* x = bc.data<T>();
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) o[i] += x[i];
  });
  return out;
}

void check_gradient(const Node& node, size_t input, const Tensor& grad, const Shape& shape, DType dtype) {
  HARNET_CHECK(grad.shape() == shape && grad.dtype() == dtype, "backward of '", node.name(),
               "' returned a gradient of shape ", grad.shape(), " ", dtype_name(grad.dtype()), " for input ",
               input, " of shape ", shape, " ", dtype_name(dtype));
}

// True if nothing else can see grad's memory: the engine's handle is the only one on the
// TensorImpl and the impl the only one on the Storage (no views, no saved copies, not the
// same tensor handed to two inputs), and it is a plain, dense, contiguous tensor that
// fills its storage exactly. Such a gradient can become leaf.grad without a copy.
bool can_adopt(const Tensor& grad) {
  const std::shared_ptr<TensorImpl>& impl = grad.impl_ptr();
  if (!impl || impl.use_count() != 1 || !impl->storage || impl->storage.use_count() != 1) return false;
  if (impl->requires_grad || impl->grad_fn || impl->grad.defined() || impl->offset != 0) return false;
  if (impl->strides != contiguous_strides(impl->shape)) return false;
  return impl->storage->nbytes() == static_cast<size_t>(shape_numel(impl->shape)) * dtype_size(impl->dtype);
}

void accumulate_into_leaf(TensorImpl& leaf, const Tensor& grad) {
  if (!leaf.grad.defined()) {
    // Own the memory: the gradient handed over may alias another tensor; adopt it only
    // when nothing else holds it.
    leaf.grad = can_adopt(grad) ? grad : grad.contiguous_copy();
  } else {
    leaf.grad = add_gradients(leaf.grad, grad);
  }
}

}  // namespace

namespace {
std::atomic<int64_t> g_nodes_created{0};
}

int64_t graph_nodes_created() { return g_nodes_created.load(std::memory_order_relaxed); }

Tensor record_op(const char* name, const std::vector<Tensor>& inputs, Tensor output, SingleBackwardFn backward) {
  if (!any_requires_grad(inputs)) return output;
  g_nodes_created.fetch_add(1, std::memory_order_relaxed);
  auto node = std::make_shared<Node>(
      name, make_edges(inputs),
      [fn = std::move(backward)](const std::vector<Tensor>& grads_out, const std::vector<bool>& needs) {
        return fn(grads_out[0], needs);
      });
  attach(node, output, 0);
  return output;
}

void record_multi_output_op(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                            Node::BackwardFn backward) {
  if (!any_requires_grad(inputs)) return;
  g_nodes_created.fetch_add(1, std::memory_order_relaxed);
  auto node = std::make_shared<Node>(name, make_edges(inputs), std::move(backward));
  for (size_t k = 0; k < outputs.size(); ++k) attach(node, outputs[k], static_cast<uint32_t>(k));
}

// ---------------------------------------------------------------- the engine

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  HARNET_CHECK(root.defined(), "backward: called on an undefined tensor");
  HARNET_CHECK(root.requires_grad(),
               "backward: the tensor does not require grad and has no grad_fn (nothing to differentiate)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    HARNET_CHECK(root.numel() == 1, "backward: grad can be implicitly created only for scalar outputs; got shape ",
                 root.shape(), ", pass grad_output of that shape");
    seed = ones(root.shape(), root.dtype());
  }
  HARNET_CHECK(seed.shape() == root.shape(), "backward: grad_output shape ", seed.shape(),
               " does not match the output shape ", root.shape());
  if (seed.dtype() != root.dtype()) seed = seed.cast(root.dtype());

  NoGradGuard no_grad;  // gradients are plain values: no graph of the backward pass
  if (!root.grad_fn()) {
    accumulate_into_leaf(*root.impl(), seed);
    return;
  }

  // 1. Every node reachable from the root, and how many edges lead into each.
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{root.grad_fn().get()};
  pending[root.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& e : node->next()) {
      if (!e.fn) continue;
      auto [it, inserted] = pending.try_emplace(e.fn.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(e.fn.get());
    }
  }

  // 2. Run nodes once all their incoming gradients have been summed (Kahn's order).
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  buffers[root.grad_fn().get()].resize(root.grad_fn()->outputs().size());
  buffers[root.grad_fn().get()][root.output_nr()] = seed;
  std::deque<std::shared_ptr<Node>> ready{root.grad_fn()};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.front();
    ready.pop_front();
    std::vector<Tensor> grads_out = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    grads_out.resize(node->outputs().size());
    for (size_t k = 0; k < grads_out.size(); ++k)
      if (!grads_out[k].defined()) grads_out[k] = zeros(node->outputs()[k].shape, node->outputs()[k].dtype);

    std::vector<Tensor> grads_in = node->apply(grads_out);
    HARNET_CHECK(grads_in.size() == node->next().size(), "backward of '", node->name(), "' returned ",
                 grads_in.size(), " gradients for ", node->next().size(), " inputs");
    for (size_t i = 0; i < grads_in.size(); ++i) {
      const Edge& e = node->next()[i];
      if (!e.needed()) continue;
      const Tensor& g = grads_in[i];
      if (e.fn) {
        if (g.defined()) {
          const Node::OutputMeta& meta = e.fn->outputs()[e.output_nr];
          check_gradient(*node, i, g, meta.shape, meta.dtype);
          std::vector<Tensor>& slot = buffers[e.fn.get()];
          slot.resize(e.fn->outputs().size());
          Tensor& acc = slot[e.output_nr];
          acc = acc.defined() ? add_gradients(acc, g) : g;
        }
        if (--pending[e.fn.get()] == 0) ready.push_back(e.fn);
      } else if (g.defined()) {
        check_gradient(*node, i, g, e.leaf->shape, e.leaf->dtype);
        accumulate_into_leaf(*e.leaf, g);
      }
    }
    if (!retain_graph) node->release();
  }
}

}  // namespace harnet
