// Tensor: an N-dimensional, strided view of a shared Storage, plus the autograd fields
// (requires_grad, grad, grad_fn). A Tensor is a cheap handle (one shared pointer): copies
// alias the same tensor, as in PyTorch. A default-constructed Tensor is "undefined".
//
// This file knows nothing about operators. Differentiable functions (add, matmul,
// reshape, ...) are free functions in ops/; the view primitives here (as_strided,
// contiguous_copy, cast) do no autograd bookkeeping and are what ops/ builds on.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "autograd/dtype.h"
#include "autograd/error.h"
#include "autograd/storage.h"

namespace harnet {

using Shape = std::vector<int64_t>;

class Node;
class Generator;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }

  // ---- metadata
  const Shape& shape() const;
  const Shape& strides() const;  // in elements
  int64_t offset() const;        // in elements, into storage
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;

  // ---- element access (no autograd). data<T>() points at element [0,...,0]; it throws if
  // T does not match dtype(). Indexing through it must use strides() unless contiguous.
  template <class T> T* data();
  template <class T> const T* data() const;
  void* raw_data();
  const void* raw_data() const;
  // The single value of a one-element tensor, converted to double.
  double item() const;
  // All elements in logical (row-major) order, converted to T.
  template <class T> std::vector<T> to_vector() const;

  // ---- autograd
  bool requires_grad() const;
  // Only floating leaf tensors may be marked. Returns *this for chaining.
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const;  // no grad_fn
  Tensor grad() const;   // undefined until a backward reaches this leaf
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops the gradient (PyTorch's set_to_none=True)
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;
  // Reverse-mode differentiation from this tensor. A non-scalar needs grad_output of the
  // same shape. The graph is freed afterwards unless retain_graph.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  // Same data, no history, requires_grad false.
  Tensor detach() const;

  // ---- raw (non-differentiable) primitives for ops/
  // A view with the given geometry over the same storage; checked against the storage size.
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
  // A new contiguous tensor with the same values (always copies).
  Tensor contiguous_copy() const;
  // A new contiguous tensor converted to dtype (always copies).
  Tensor cast(DType dtype) const;
  // Copies src's values into this tensor (same shape; dtype converted), in place.
  void copy_from(const Tensor& src);
  // Fills every element in place.
  void fill_(double value);

  std::string to_string() const;  // readable printing, like PyTorch's repr

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;

  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;         // which output of grad_fn this tensor is
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- shape helpers
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
// Wraps a possibly negative dimension into [0, ndim); throws naming op otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// ---- factories. dtype defaults to float32.
Tensor empty(const Shape& shape, DType dtype = kFloat32);
Tensor zeros(const Shape& shape, DType dtype = kFloat32);
Tensor ones(const Shape& shape, DType dtype = kFloat32);
Tensor full(const Shape& shape, double value, DType dtype = kFloat32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor scalar_tensor(double value, DType dtype = kFloat32);  // shape []
// [start, end) with step, like torch.arange.
Tensor arange(double start, double end, double step = 1.0, DType dtype = kFloat32);
Tensor arange(int64_t end, DType dtype = kInt64);
// Copies values (row-major) into a new tensor of the given shape; sizes must agree.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype = dtype_of<T>());
Tensor tensor(std::initializer_list<double> values, DType dtype = kFloat32);  // 1-d
// Uniform in [low, high), standard normal, integers in [low, high): all from gen.
Tensor rand(const Shape& shape, Generator& gen, DType dtype = kFloat32, double low = 0.0, double high = 1.0);
Tensor randn(const Shape& shape, Generator& gen, DType dtype = kFloat32, double mean = 0.0, double std = 1.0);
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, DType dtype = kInt64);

}  // namespace harnet
