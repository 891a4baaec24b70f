#include "autograd/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"

namespace harnet {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "unknown";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  // A 0-d tensor accepts dim 0 and -1, as in PyTorch.
  int64_t n = std::max<int64_t>(ndim, 1);
  HARNET_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " out of range for a tensor with ", ndim,
               " dimensions (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

// ---------------------------------------------------------------- metadata

const TensorImpl& Tensor::checked() const {
  HARNET_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
const Shape& Tensor::strides() const { return checked().strides; }
int64_t Tensor::offset() const { return checked().offset; }
DType Tensor::dtype() const { return checked().dtype; }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked().storage; }
int64_t Tensor::numel() const { return shape_numel(shape()); }

int64_t Tensor::size(int64_t d) const {
  // wrap_dim accepts 0 and -1 for a 0-d tensor, but it has no size to return.
  HARNET_CHECK(dim() > 0, "size: dimension ", d, " requested but the tensor is 0-d (shape [])");
  return shape()[static_cast<size_t>(wrap_dim(d, dim(), "size"))];
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked();
  int64_t expected = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] == 1) continue;  // the stride of a size-1 dimension does not matter
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

template <class T>
T* Tensor::data() {
  const TensorImpl& t = checked();
  HARNET_CHECK(t.dtype == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">: tensor has dtype ",
               dtype_name(t.dtype));
  return static_cast<T*>(t.storage->data()) + t.offset;
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int64_t* Tensor::data<int64_t>();
template bool* Tensor::data<bool>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int64_t* Tensor::data<int64_t>() const;
template const bool* Tensor::data<bool>() const;

void* Tensor::raw_data() {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data()) + t.offset * dtype_size(t.dtype);
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

namespace {

// Calls f(element_offset) for every element of a strided geometry in row-major order.
template <class F>
void for_each_offset(const Shape& shape, const Shape& strides, int64_t base, F&& f) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const size_t nd = shape.size();
  if (nd == 0) {
    f(base);
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  int64_t off = base;
  for (int64_t done = 0; done < n; done += inner) {
    for (int64_t i = 0; i < inner; ++i) f(off + i * inner_stride);
    // advance the outer index
    for (size_t d = nd - 1; d-- > 0;) {
      off += strides[d];
      if (++idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Calls f(dst_offset, src_offset, count) for rows [row_begin, row_end) of a geometry walked
// by two strided operands in lockstep, a row being a run along the last dimension (count =
// shape.back() elements, operand k advancing by its last stride). shape has >= 1 dimension.
template <class F>
void for_each_row_pair(const Shape& shape, const Shape& dst_strides, int64_t dst_base, const Shape& src_strides,
                       int64_t src_base, int64_t row_begin, int64_t row_end, F&& f) {
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t d_off = dst_base, s_off = src_base, rest = row_begin;
  for (size_t d = nd - 1; d-- > 0;) {
    idx[d] = rest % shape[d];
    rest /= shape[d];
    d_off += idx[d] * dst_strides[d];
    s_off += idx[d] * src_strides[d];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    f(d_off, s_off, shape[nd - 1]);
    for (size_t d = nd - 1; d-- > 0;) {
      d_off += dst_strides[d];
      s_off += src_strides[d];
      if (++idx[d] < shape[d]) break;
      d_off -= dst_strides[d] * shape[d];
      s_off -= src_strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

template <class Dst, class Src>
Dst convert(Src v) {
  if constexpr (std::is_same_v<Dst, bool>) {
    return v != Src(0);
  } else {
    return static_cast<Dst>(v);
  }
}

}  // namespace

template <class T>
std::vector<T> Tensor::to_vector() const {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(numel()));
  dispatch_all(dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* base = static_cast<const S*>(storage()->data());
    for_each_offset(shape(), strides(), offset(), [&](int64_t o) { out.push_back(convert<T>(base[o])); });
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

double Tensor::item() const {
  HARNET_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return to_vector<double>()[0];
}

// ---------------------------------------------------------------- autograd fields

bool Tensor::requires_grad() const { return checked().requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  TensorImpl& t = const_cast<TensorImpl&>(checked());
  HARNET_CHECK(t.grad_fn == nullptr,
               "set_requires_grad: only leaf tensors can be marked; use detach() on a computed tensor first");
  HARNET_CHECK(!requires_grad || is_floating(t.dtype),
               "set_requires_grad: only floating tensors can require gradients, got ", dtype_name(t.dtype));
  t.requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }
Tensor Tensor::grad() const { return checked().grad; }

void Tensor::set_grad(const Tensor& grad) {
  TensorImpl& t = const_cast<TensorImpl&>(checked());
  if (grad.defined()) {
    HARNET_CHECK(grad.shape() == t.shape && grad.dtype() == t.dtype, "set_grad: gradient ", grad.shape(), " ",
                 dtype_name(grad.dtype()), " does not match tensor ", t.shape, " ", dtype_name(t.dtype));
  }
  t.grad = grad;
}

void Tensor::zero_grad() { const_cast<TensorImpl&>(checked()).grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }
uint32_t Tensor::output_nr() const { return checked().output_nr; }

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  run_backward(*this, grad_output, retain_graph);
}

Tensor Tensor::detach() const {
  const TensorImpl& t = checked();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->offset = t.offset;
  impl->dtype = t.dtype;
  return Tensor(impl);
}

// ---------------------------------------------------------------- raw primitives

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  const TensorImpl& t = checked();
  HARNET_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides,
               " differ in length");
  HARNET_CHECK(offset >= 0, "as_strided: negative offset ", offset);
  int64_t max_off = offset;
  bool empty_view = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    HARNET_CHECK(shape[i] >= 0 && strides[i] >= 0, "as_strided: negative size or stride in shape ", shape,
                 " strides ", strides);
    if (shape[i] == 0) empty_view = true;
    else max_off += (shape[i] - 1) * strides[i];
  }
  const int64_t capacity = static_cast<int64_t>(t.storage->nbytes() / dtype_size(t.dtype));
  HARNET_CHECK(empty_view || max_off < capacity, "as_strided: view ", shape, " with strides ", strides,
               " at offset ", offset, " exceeds the storage of ", capacity, " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype;
  return Tensor(impl);
}

Tensor Tensor::contiguous_copy() const { return cast(dtype()); }

Tensor Tensor::cast(DType dtype) const {
  Tensor out = empty(shape(), dtype);
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  HARNET_CHECK(src.shape() == shape(), "copy_from: source shape ", src.shape(), " differs from destination ",
               shape());
  dispatch_all(dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_all(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      const S* sbase = static_cast<const S*>(src.storage()->data());
      D* dbase = static_cast<D*>(storage()->data());
      if (is_contiguous() && src.is_contiguous()) {
        const S* s = sbase + src.offset();
        D* d = dbase + offset();
        const int64_t n = numel();
        if constexpr (std::is_same_v<D, S>) {
          if (n > 0 && d != s) std::memmove(d, s, static_cast<size_t>(n) * sizeof(D));
        } else {
          for (int64_t i = 0; i < n; ++i) d[i] = convert<D>(s[i]);
        }
        return;
      }
      if (storage() != src.storage() && dim() > 0) {
        // Separate memory: copy row by row in lockstep, in parallel over rows.
        const int64_t inner = shape().back(), rows = numel() / std::max<int64_t>(inner, 1);
        const int64_t d_step = strides().back(), s_step = src.strides().back();
        parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(inner, 1)),
                     [&](int64_t r0, int64_t r1) {
                       for_each_row_pair(shape(), strides(), offset(), src.strides(), src.offset(), r0, r1,
                                         [&](int64_t d_off, int64_t s_off, int64_t count) {
                                           D* d = dbase + d_off;
                                           const S* s = sbase + s_off;
                                           for (int64_t i = 0; i < count; ++i)
                                             d[i * d_step] = convert<D>(s[i * s_step]);
                                         });
                     });
        return;
      }
      // Shared memory (the two may overlap): gather the source in logical order, then
      // scatter into the destination.
      std::vector<D> values;
      values.reserve(static_cast<size_t>(numel()));
      for_each_offset(src.shape(), src.strides(), src.offset(),
                      [&](int64_t o) { values.push_back(convert<D>(sbase[o])); });
      size_t k = 0;
      for_each_offset(shape(), strides(), offset(), [&](int64_t o) { dbase[o] = values[k++]; });
    });
  });
}

void Tensor::fill_(double value) {
  dispatch_all(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T v = convert<T>(value);
    T* base = static_cast<T*>(storage()->data());
    for_each_offset(shape(), strides(), offset(), [&](int64_t o) { base[o] = v; });
  });
}

// ---------------------------------------------------------------- printing

namespace {

void print_values(std::ostream& os, const std::vector<double>& v, const Shape& shape, size_t dim, size_t& k,
                  int indent, DType dtype, int width) {
  // Long dimensions are summarised as PyTorch does: first 3, "...", last 3.
  constexpr int64_t kEdge = 3, kSummariseAbove = 1000;
  const bool summarise = static_cast<int64_t>(v.size()) > kSummariseAbove;
  if (dim == shape.size()) {
    double x = v[k++];
    std::ostringstream cell;
    if (dtype == DType::Bool) cell << (x != 0 ? "True" : "False");
    else if (dtype == DType::Int64) cell << static_cast<int64_t>(x);
    else cell << std::setprecision(dtype == DType::Float64 ? 8 : 4) << x;
    os << std::setw(width) << cell.str();
    return;
  }
  const int64_t n = shape[dim];
  const int64_t block = shape_numel(Shape(shape.begin() + static_cast<long>(dim) + 1, shape.end()));
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * kEdge && i == kEdge) {
      os << "...";
      k += static_cast<size_t>((n - 2 * kEdge) * block);
      i = n - kEdge - 1;
      os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
      continue;
    }
    print_values(os, v, shape, dim + 1, k, indent + 1, dtype, width);
    if (i + 1 < n) os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
  }
  os << "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> v = to_vector<double>();
  int width = 0;
  for (double x : v) {
    std::ostringstream cell;
    if (dtype() == DType::Bool) cell << (x != 0 ? "True" : "False");
    else if (dtype() == DType::Int64) cell << static_cast<int64_t>(x);
    else cell << std::setprecision(dtype() == DType::Float64 ? 8 : 4) << x;
    width = std::max<int>(width, static_cast<int>(cell.str().size()));
  }
  std::ostringstream os;
  os << "tensor(";
  size_t k = 0;
  print_values(os, v, shape(), 0, k, 7, dtype(), width);
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (grad_fn()) os << ", grad_fn=" << grad_fn()->name();
  else if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

// ---------------------------------------------------------------- factories

Tensor empty(const Shape& shape, DType dtype) {
  for (int64_t s : shape) HARNET_CHECK(s >= 0, "empty: negative dimension in shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.numel() > 0) std::memset(t.raw_data(), 0, static_cast<size_t>(t.numel()) * dtype_size(dtype));
  return t;
}
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  HARNET_CHECK(step != 0.0, "arange: step must be non-zero");
  HARNET_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), "arange: non-finite bound");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n}, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = convert<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor arange(int64_t end, DType dtype) { return arange(0.0, static_cast<double>(end), 1.0, dtype); }

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype) {
  HARNET_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
               " values do not fill shape ", shape);
  Tensor t = empty(shape, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using D = decltype(tag);
    D* p = t.data<D>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = convert<D>(values[i]);
  });
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, DType);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, DType);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, DType);
template Tensor from_vector<int>(const std::vector<int>&, const Shape&, DType);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, DType);

Tensor tensor(std::initializer_list<double> values, DType dtype) {
  return from_vector(std::vector<double>(values), {static_cast<int64_t>(values.size())}, dtype);
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, double low, double high) {
  Tensor t = empty(shape, dtype);
  dispatch_floating(dtype, "rand", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(low + (high - low) * gen.uniform());
  });
  return t;
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, double mean, double std) {
  Tensor t = empty(shape, dtype);
  dispatch_floating(dtype, "randn", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(mean + std * gen.normal());
  });
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, DType dtype) {
  HARNET_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  Tensor t = empty(shape, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = convert<T>(gen.integer(low, high));
  });
  return t;
}

}  // namespace harnet
