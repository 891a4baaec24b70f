// Element types. float32 is the working type, float64 serves gradient checks;
// int64 holds indices and class labels, bool holds masks. Only floating types
// take part in autograd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "autograd/error.h"

namespace harnet {

enum class DType : uint8_t { Float32, Float64, Int64, Bool };

constexpr DType kFloat32 = DType::Float32;
constexpr DType kFloat64 = DType::Float64;
constexpr DType kInt64 = DType::Int64;
constexpr DType kBool = DType::Bool;

const char* dtype_name(DType dtype);  // "float32", ...
size_t dtype_size(DType dtype);
inline bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// Calls f(T{}) with T the C++ type of a floating dtype; throws for other dtypes.
//   dispatch_floating(x.dtype(), "relu", [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default:
      throw Error(str_cat(op, ": expected a floating tensor (float32 or float64), got ", dtype_name(dtype)));
  }
}

// Same for every dtype.
template <class F>
decltype(auto) dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    case DType::Bool: return f(bool{});
  }
  throw Error("dispatch_all: unknown dtype");
}

}  // namespace harnet
