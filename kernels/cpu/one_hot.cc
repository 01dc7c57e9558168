// OneHot: inserts a dim of size `depth` at `axis`; position indices[p] (negative counts from the end) along
// it holds values[1] and all others values[0]. Indices outside [-depth, depth) give an all-off row.
#include <cstring>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class OneHotKernel : public Kernel {
 public:
  explicit OneHotKernel(int64_t axis) : axis_(axis) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) {
      return InvalidArgument("OneHot: inputs 'indices', 'depth' and 'values' are required");
    }
    const TensorView& ind = ctx.input(0);
    // Indices and depth are read through ElementAsInt64 (non-integers are truncated, as the spec says).
    if (!IsPlainNumericType(ind.dtype)) {
      return Unimplemented("OneHot: indices have type {}; supported: integer types, float, double",
                           DataTypeName(ind.dtype));
    }
    if (!ctx.input_known(1)) return InvalidArgument("OneHot: input 'depth' must be a constant");
    const TensorView& depth = ctx.input(1);
    if (!IsPlainNumericType(depth.dtype) || depth.numel() != 1) {
      return InvalidArgument("OneHot: depth must be a numeric scalar (got {} of shape {})", DataTypeName(depth.dtype),
                             ShapeToString(depth.shape));
    }
    depth_ = ElementAsInt64(depth, 0);
    if (depth_ <= 0) return InvalidArgument("OneHot: depth must be positive, got {}", depth_);
    const TensorView& values = ctx.input(2);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(values.dtype, "OneHot", "values"));
    if (values.numel() != 2) {
      return InvalidArgument("OneHot: values must have 2 elements [off, on], got shape {}",
                             ShapeToString(values.shape));
    }
    const int64_t out_rank = ind.rank() + 1;
    FERRY_ASSIGN_OR_RETURN(axis_n_, ResolveAxis(axis_, out_rank, "OneHot", "axis"));
    Shape out = ind.shape;
    out.insert(out.begin() + axis_n_, depth_);
    FERRY_RETURN_IF_ERROR(CheckComputedShape(out, "OneHot"));
    ctx.set_output(0, values.dtype, std::move(out));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& ind = ctx.input(0);
    const TensorView& values = ctx.input(2);
    TensorView& y = ctx.output(0);
    const size_t elem = DataTypeSize(values.dtype);
    const char* off_value = static_cast<const char*>(values.data);
    const char* on_value = off_value + elem;
    char* dst = static_cast<char*>(y.data);
    FillElements(dst, off_value, elem, y.numel());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis_n_; ++d) outer *= ind.shape[d];
    for (int64_t d = axis_n_; d < ind.rank(); ++d) inner *= ind.shape[d];
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = ElementAsInt64(ind, o * inner + i);
        if (v < 0) v += depth_;
        if (v < 0 || v >= depth_) continue;
        std::memcpy(dst + static_cast<size_t>((o * depth_ + v) * inner + i) * elem, on_value, elem);
      }
    }
    return Status::Ok();
  }

 private:
  const int64_t axis_;
  int64_t axis_n_ = 0;
  int64_t depth_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateOneHot(const KernelDef& def) {
  const DataType it = InputType(def, 0);
  if (it != DataType::kUndefined && !IsPlainNumericType(it)) {
    return Unimplemented("OneHot: indices have type {}; supported: integer types, float, double", DataTypeName(it));
  }
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 2), "OneHot", "values"));
  return MakeKernel<OneHotKernel>(def.attrs.Int("axis", -1));
}

}  // namespace ferry::cpu
