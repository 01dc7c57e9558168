// Tensors: a typed, row-major, dense view of memory (TensorView) and an owning tensor (Tensor).
//
// A TensorView does not own its data: whoever made it (an arena, a Tensor, a request buffer) must outlive it; it
// says which device's memory the data is in. A Tensor owns 64-byte-aligned host memory through a shared_ptr, so copies
// share data (copy-on-nothing: callers that need a private copy call Clone()), or, made by Alias, shares someone else's
// buffer (read-only, element-aligned). Neither type is synchronized.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/status.h"

namespace ferry {

using Shape = std::vector<int64_t>;

// Product of dims (1 for a scalar); saturates at INT64_MAX instead of overflowing. REQUIRES: every dim >= 0
// (a negative dim gives a negative product, saturated at INT64_MIN).
int64_t NumElements(const Shape& shape);
// "[2, 3, 4]"
std::string ShapeToString(const Shape& shape);
// Row-major strides in elements.
std::vector<int64_t> RowMajorStrides(const Shape& shape);

// Where a tensor's bytes live: the ordinal of a device in the device registry (backends/device_registry.h).
// Host memory is kHostLocation, the CPU's ordinal; other memory may not be read or written by host code.
using Location = int;
inline constexpr Location kHostLocation = 0;

struct TensorView {
  DataType dtype = DataType::kUndefined;
  Shape shape;
  void* data = nullptr;
  Location location = kHostLocation;

  int64_t numel() const { return NumElements(shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DataTypeSize(dtype); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled host tensor. Fails on negative dims or sizes over 2^40 bytes.
  static Result<Tensor> Allocate(DataType dtype, const Shape& shape);
  // The same without the zero fill: the contents are unspecified until written. For callers that write every
  // element (decoders); memory the caller never writes is never touched, so a request that declares more than
  // it carries costs address space, not resident memory.
  static Result<Tensor> AllocateUninitialized(DataType dtype, const Shape& shape);
  // Copies `bytes` (must equal the tensor's byte size) into a new tensor.
  static Result<Tensor> FromBytes(DataType dtype, const Shape& shape, const void* bytes, size_t size);
  template <typename T>
  static Tensor FromVector(const Shape& shape, const std::vector<T>& values);
  // A tensor over bytes it does not own, without a copy: `data` (the tensor's byte size of it) must stay valid
  // while `owner` lives, and the tensor and its copies keep `owner` alive (e.g. the aliasing shared_ptr of a
  // request body, so a binary input reaches the kernels without a copy). The data is read-only: nothing may
  // write through data() (kernels never write their inputs; Clone() first otherwise). `data` need only be
  // aligned to the element size, not to 64 bytes. Fails on negative dims, sizes over 2^40 bytes, types
  // without a size, or a misaligned or null `data` (null is fine for 0 elements).
  static Result<Tensor> Alias(std::shared_ptr<const void> owner, const void* data, DataType dtype, const Shape& shape);

  DataType dtype() const { return view_.dtype; }
  const Shape& shape() const { return view_.shape; }
  int64_t numel() const { return view_.numel(); }
  size_t nbytes() const { return view_.nbytes(); }
  void* data() const { return view_.data; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(view_.data);
  }
  const TensorView& view() const { return view_; }
  bool defined() const { return view_.dtype != DataType::kUndefined; }

  // Same data, new shape. REQUIRES: same element count.
  Tensor Reshaped(const Shape& shape) const;
  // Rows [first, first + count) along dim 0, sharing this tensor's memory (no copy; the result keeps it alive).
  // REQUIRES: rank >= 1, 0 <= first, 0 <= count, first + count <= shape()[0].
  Tensor Rows(int64_t first, int64_t count) const;
  Tensor Clone() const;

 private:
  static Result<Tensor> Allocate(DataType dtype, const Shape& shape, bool zero);
  TensorView view_;
  std::shared_ptr<void> storage_;
};

template <typename T>
Tensor Tensor::FromVector(const Shape& shape, const std::vector<T>& values) {
  Tensor t = Allocate(DataTypeOf<T>::value, shape).value();
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) t.as<T>()[i] = values[i];
  return t;
}

// Reads element i of a numeric tensor as double / int64, whatever its type (for small shape-like tensors).
double ElementAsDouble(const TensorView& t, int64_t i);
int64_t ElementAsInt64(const TensorView& t, int64_t i);

// 64-byte-aligned allocation helpers shared by tensors and arenas; zero-filled unless `zero` is false.
std::shared_ptr<void> AllocateAligned(size_t bytes, bool zero = true);

}  // namespace ferry
