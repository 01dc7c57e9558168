// Small helpers shared by the linalg and normalization kernels: type checks, axis handling, broadcasting.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "kernels/kernel.h"

namespace ferry::cpu {

// The load-time type of input i, kUndefined when absent or unknown.
inline DataType DefInputType(const KernelDef& def, size_t i) {
  return i < def.input_types.size() ? def.input_types[i] : DataType::kUndefined;
}

inline bool DefHasInput(const KernelDef& def, size_t i) { return i < def.input_present.size() && def.input_present[i]; }

// OK when t is one of `allowed`, or when t is kUndefined and allow_undefined (load time: Prepare checks again).
inline Status CheckTypeIn(const char* what, DataType t, std::initializer_list<DataType> allowed, bool allow_undefined) {
  if (t == DataType::kUndefined && allow_undefined) return Status::Ok();
  std::string names;
  for (DataType a : allowed) {
    if (a == t) return Status::Ok();
    if (!names.empty()) names += ", ";
    names += DataTypeName(a);
  }
  return Unimplemented("{} has type {}; supported: {}", what, DataTypeName(t), names);
}

// Maps axis from [-rank, rank + extra) to [0, rank + extra); `extra` is 1 where axis == rank is meaningful.
inline Result<int64_t> LinalgAxis(int64_t axis, int64_t rank, int64_t extra = 0) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank + extra) {
    return InvalidArgument("axis {} is out of range for an input of rank {}", axis, rank);
  }
  return a;
}

inline int64_t ProductOf(const Shape& s, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) n *= s[i];
  return n;
}

// True when `from` broadcasts to `to` in ONNX's unidirectional sense (right-aligned, each dim 1 or equal).
inline bool UnidirectionalBroadcastable(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i] != 1 && from[i] != to[off + i]) return false;
  }
  return true;
}

// Writes src, whose shape broadcasts unidirectionally to dst_shape, expanded to dst_shape.
// REQUIRES: UnidirectionalBroadcastable(src_shape, dst_shape).
template <typename T>
void ExpandTo(const T* src, const Shape& src_shape, const Shape& dst_shape, T* dst) {
  const size_t r = dst_shape.size(), off = r - src_shape.size();
  std::vector<int64_t> src_stride(r, 0);
  int64_t stride = 1;
  for (size_t i = r; i-- > off;) {
    int64_t d = src_shape[i - off];
    src_stride[i] = d == 1 ? 0 : stride;
    stride *= d;
  }
  const int64_t total = NumElements(dst_shape);
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t rem = flat, s = 0;
    for (size_t i = r; i-- > 0;) {
      s += (rem % dst_shape[i]) * src_stride[i];
      rem /= dst_shape[i];
    }
    dst[flat] = src[s];
  }
}

// Calls fn(std::type_identity<T>{}) for the element type T of a GEMM-family kernel (float, double, int32, int64,
// uint32, uint64) and returns its Status; any other type is an Internal error naming `op`.
template <typename Fn>
Status DispatchGemmType(DataType t, const char* op, Fn&& fn) {
  switch (t) {
    case DataType::kFloat:
      return fn(std::type_identity<float>{});
    case DataType::kDouble:
      return fn(std::type_identity<double>{});
    case DataType::kInt32:
      return fn(std::type_identity<int32_t>{});
    case DataType::kInt64:
      return fn(std::type_identity<int64_t>{});
    case DataType::kUInt32:
      return fn(std::type_identity<uint32_t>{});
    case DataType::kUInt64:
      return fn(std::type_identity<uint64_t>{});
    default:
      return Internal("{}: unexpected type {}", op, DataTypeName(t));
  }
}

}  // namespace ferry::cpu
