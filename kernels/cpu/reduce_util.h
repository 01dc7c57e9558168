// Helpers shared by the reduce kernel family (reductions, ArgMax/ArgMin, TopK, CumSum, Resize/Upsample):
// type checks that name the input at fault, axis normalization, reading shape-like inputs in Prepare, and a
// dtype -> C++ type dispatcher.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/kernel.h"

namespace ferry::cpu::reduce {

// The element type of input i as known at load (kUndefined when absent or unknown).
inline DataType DefInputType(const KernelDef& def, size_t i) {
  return i < def.input_types.size() ? def.input_types[i] : DataType::kUndefined;
}

// OK when `t` is one of `allowed`, or when it is kUndefined and `allow_unknown` (load time: checked again in
// Prepare). Otherwise: "<what> has type X; supported: a, b, c".
Status CheckType(std::string_view what, DataType t, std::initializer_list<DataType> allowed, bool allow_unknown);

// Maps axis from [-rank, rank) to [0, rank); `what` names the attribute in the error.
Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank, std::string_view what);

// Product of shape[begin, end).
int64_t ProductOf(const Shape& shape, int64_t begin, int64_t end);

// Reads input i (a scalar or 1-D int32/int64 tensor) whose value must be known in Prepare.
// Fails with "input '<name>' must be a constant" when it is not.
Result<std::vector<int64_t>> ReadKnownInts(const KernelContext& ctx, size_t i, std::string_view name);

// Reads input i (a 1-D float/double tensor) whose value must be known in Prepare.
Result<std::vector<double>> ReadKnownFloats(const KernelContext& ctx, size_t i, std::string_view name);

// Calls fn.template operator()<T>() for the C++ type of dtype, for the numeric types the family computes in
// (float, double, int8, uint8, int16, uint16, int32, uint32, int64, uint64). Returns false for others.
template <typename F>
bool DispatchNumeric(DataType dtype, F&& fn) {
  switch (dtype) {
    case DataType::kFloat:
      fn.template operator()<float>();
      return true;
    case DataType::kDouble:
      fn.template operator()<double>();
      return true;
    case DataType::kInt8:
      fn.template operator()<int8_t>();
      return true;
    case DataType::kUInt8:
      fn.template operator()<uint8_t>();
      return true;
    case DataType::kInt16:
      fn.template operator()<int16_t>();
      return true;
    case DataType::kUInt16:
      fn.template operator()<uint16_t>();
      return true;
    case DataType::kInt32:
      fn.template operator()<int32_t>();
      return true;
    case DataType::kUInt32:
      fn.template operator()<uint32_t>();
      return true;
    case DataType::kInt64:
      fn.template operator()<int64_t>();
      return true;
    case DataType::kUInt64:
      fn.template operator()<uint64_t>();
      return true;
    default:
      return false;
  }
}

// A kernel whose typed implementation is made in Prepare from the type of one input, so a node whose input
// type is unknown at load still runs. The factory checks the type (refusing with a clear Status).
class TypedByInput final : public Kernel {
 public:
  using Make = std::function<Result<std::unique_ptr<Kernel>>(DataType)>;
  explicit TypedByInput(Make make, size_t input = 0) : make_(std::move(make)), input_(input) {}

  Status Prepare(KernelContext& ctx) override {
    const DataType t = ctx.input(input_).dtype;
    if (!impl_ || t != dtype_) {
      FERRY_ASSIGN_OR_RETURN(impl_, make_(t));
      dtype_ = t;
    }
    return impl_->Prepare(ctx);
  }
  Status Compute(KernelContext& ctx) override { return impl_->Compute(ctx); }

 private:
  Make make_;
  size_t input_;
  DataType dtype_ = DataType::kUndefined;
  std::unique_ptr<Kernel> impl_;
};

}  // namespace ferry::cpu::reduce
