#include "kernels/cpu/reduce_util.h"

#include <cmath>

namespace ferry::cpu::reduce {

Status CheckType(std::string_view what, DataType t, std::initializer_list<DataType> allowed, bool allow_unknown) {
  if (t == DataType::kUndefined && allow_unknown) return Status::Ok();
  std::string names;
  for (DataType a : allowed) {
    if (a == t) return Status::Ok();
    if (!names.empty()) names += ", ";
    names += DataTypeName(a);
  }
  if (t == DataType::kUndefined) return InvalidArgument("{} has an unknown type; supported: {}", what, names);
  return Unimplemented("{} has type {}; supported: {}", what, DataTypeName(t), names);
}

Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank) {
    return InvalidArgument("{} {} is out of range for rank {}", what, axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

int64_t ProductOf(const Shape& shape, int64_t begin, int64_t end) {
  int64_t p = 1;
  for (int64_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

Result<std::vector<int64_t>> ReadKnownInts(const KernelContext& ctx, size_t i, std::string_view name) {
  if (!ctx.input_known(i)) return InvalidArgument("input '{}' must be a constant", name);
  const TensorView& t = ctx.input(i);
  if (t.dtype != DataType::kInt64 && t.dtype != DataType::kInt32) {
    return InvalidArgument("input '{}' has type {}; expected int64 or int32", name, DataTypeName(t.dtype));
  }
  if (t.rank() > 1)
    return InvalidArgument("input '{}' must be a scalar or 1-D, got shape {}", name, ShapeToString(t.shape));
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  for (int64_t k = 0; k < t.numel(); ++k) v[k] = ElementAsInt64(t, k);
  return v;
}

Result<std::vector<double>> ReadKnownFloats(const KernelContext& ctx, size_t i, std::string_view name) {
  if (!ctx.input_known(i)) return InvalidArgument("input '{}' must be a constant", name);
  const TensorView& t = ctx.input(i);
  if (t.dtype != DataType::kFloat && t.dtype != DataType::kDouble) {
    return Unimplemented("input '{}' has type {}; supported: float, double", name, DataTypeName(t.dtype));
  }
  if (t.rank() > 1) return InvalidArgument("input '{}' must be 1-D, got shape {}", name, ShapeToString(t.shape));
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t k = 0; k < t.numel(); ++k) {
    v[k] = ElementAsDouble(t, k);
    if (!std::isfinite(v[k])) return InvalidArgument("input '{}' element {} is not finite", name, k);
  }
  return v;
}

}  // namespace ferry::cpu::reduce
