#include "common/tensor.h"

#include <cstdlib>
#include <cstring>

namespace ferry {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    // Saturates instead of overflowing (undefined behaviour): a shape built from a hostile batch size or dims
    // reads as "more than anything fits", which every size check then refuses.
    int64_t product;
    if (__builtin_mul_overflow(n, d, &product)) return (d < 0) != (n < 0) ? INT64_MIN : INT64_MAX;
    n = product;
  }
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::vector<int64_t> RowMajorStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::shared_ptr<void> AllocateAligned(size_t bytes, bool zero) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) return nullptr;
  if (zero) std::memset(p, 0, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Result<Tensor> Tensor::Allocate(DataType dtype, const Shape& shape) { return Allocate(dtype, shape, true); }

Result<Tensor> Tensor::AllocateUninitialized(DataType dtype, const Shape& shape) {
  return Allocate(dtype, shape, false);
}

Result<Tensor> Tensor::Allocate(DataType dtype, const Shape& shape, bool zero) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("negative dimension in shape {}", ShapeToString(shape));
    if (d > 0 && n > (int64_t{1} << 40) / d)
      return ResourceExhausted("tensor of shape {} is too large", ShapeToString(shape));
    n *= d;
  }
  size_t elem = DataTypeSize(dtype);
  if (elem == 0) return Unimplemented("tensors of type {} are not supported", DataTypeName(dtype));
  if (static_cast<uint64_t>(n) * elem > (uint64_t{1} << 40)) {
    return ResourceExhausted("tensor of shape {} is too large", ShapeToString(shape));
  }
  Tensor t;
  t.storage_ = AllocateAligned(static_cast<size_t>(n) * elem, zero);
  if (!t.storage_) return ResourceExhausted("out of memory allocating {} bytes", static_cast<size_t>(n) * elem);
  t.view_ = TensorView{dtype, shape, t.storage_.get()};
  return t;
}

Result<Tensor> Tensor::FromBytes(DataType dtype, const Shape& shape, const void* bytes, size_t size) {
  FERRY_ASSIGN_OR_RETURN(Tensor t, Allocate(dtype, shape));
  if (size != t.nbytes()) {
    return InvalidArgument("expected {} bytes for a {} tensor of shape {}, got {}", t.nbytes(), DataTypeName(dtype),
                           ShapeToString(shape), size);
  }
  if (size) std::memcpy(t.data(), bytes, size);
  return t;
}

Result<Tensor> Tensor::Alias(std::shared_ptr<const void> owner, const void* data, DataType dtype, const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("negative dimension in shape {}", ShapeToString(shape));
    if (d > 0 && n > (int64_t{1} << 40) / d)
      return ResourceExhausted("tensor of shape {} is too large", ShapeToString(shape));
    n *= d;
  }
  const size_t elem = DataTypeSize(dtype);
  if (elem == 0) return Unimplemented("tensors of type {} are not supported", DataTypeName(dtype));
  if (n > 0 && data == nullptr) return InvalidArgument("alias of a {} tensor without data", ShapeToString(shape));
  if (reinterpret_cast<uintptr_t>(data) % elem != 0) {
    return InvalidArgument("alias of a {} tensor at an address not aligned to {} bytes", DataTypeName(dtype), elem);
  }
  Tensor t;
  t.storage_ = std::const_pointer_cast<void>(std::move(owner));
  t.view_ = TensorView{dtype, shape, const_cast<void*>(data)};
  return t;
}

Tensor Tensor::Rows(int64_t first, int64_t count) const {
  Tensor t = *this;
  const int64_t total = view_.shape[0];
  const size_t row_bytes = total > 0 ? nbytes() / static_cast<size_t>(total) : 0;
  t.view_.shape[0] = count;
  t.view_.data = static_cast<char*>(view_.data) + static_cast<size_t>(first) * row_bytes;
  return t;
}

Tensor Tensor::Reshaped(const Shape& shape) const {
  Tensor t = *this;
  t.view_.shape = shape;
  return t;
}

Tensor Tensor::Clone() const {
  if (!defined()) return Tensor();
  Tensor t = Allocate(dtype(), shape()).value();
  if (nbytes()) std::memcpy(t.data(), data(), nbytes());
  return t;
}

template <typename R>
static R ElementAs(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DataType::kFloat:
      return static_cast<R>(t.as<float>()[i]);
    case DataType::kDouble:
      return static_cast<R>(t.as<double>()[i]);
    case DataType::kInt64:
      return static_cast<R>(t.as<int64_t>()[i]);
    case DataType::kInt32:
      return static_cast<R>(t.as<int32_t>()[i]);
    case DataType::kInt16:
      return static_cast<R>(t.as<int16_t>()[i]);
    case DataType::kInt8:
      return static_cast<R>(t.as<int8_t>()[i]);
    case DataType::kUInt8:
      return static_cast<R>(t.as<uint8_t>()[i]);
    case DataType::kUInt16:
      return static_cast<R>(t.as<uint16_t>()[i]);
    case DataType::kUInt32:
      return static_cast<R>(t.as<uint32_t>()[i]);
    case DataType::kUInt64:
      return static_cast<R>(t.as<uint64_t>()[i]);
    case DataType::kBool:
      return static_cast<R>(t.as<bool>()[i]);
    default:
      return R{};
  }
}

double ElementAsDouble(const TensorView& t, int64_t i) { return ElementAs<double>(t, i); }
int64_t ElementAsInt64(const TensorView& t, int64_t i) { return ElementAs<int64_t>(t, i); }

}  // namespace ferry
