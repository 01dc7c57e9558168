// Expand: broadcasts the input to the numpy-style broadcast of its shape and input 1 (a constant); broadcast
// dims read with stride 0.
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class ExpandKernel : public StridedCopyKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Expand: input 'input' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Expand", "input 0"));
    FERRY_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadConstantInts(ctx, 1, "Expand", "shape"));
    const int64_t xr = x.rank();
    const int64_t sr = static_cast<int64_t>(shape.size());
    const int64_t r = std::max(xr, sr);
    const std::vector<int64_t> in_strides = RowMajorStrides(x.shape);
    Shape out(static_cast<size_t>(r));
    std::vector<int64_t> strides(static_cast<size_t>(r), 0);
    for (int64_t d = 0; d < r; ++d) {
      const int64_t xd = d - (r - xr);  // the input dim aligned with output dim d, or < 0
      const int64_t sd = d - (r - sr);
      const int64_t a = xd >= 0 ? x.shape[xd] : 1;
      const int64_t b = sd >= 0 ? shape[sd] : 1;
      if (b < 0) return InvalidArgument("Expand: shape {} has a negative dim", ShapeToString(shape));
      if (a != b && a != 1 && b != 1) {
        return InvalidArgument("Expand: input shape {} cannot be broadcast to {}", ShapeToString(x.shape),
                               ShapeToString(shape));
      }
      out[d] = a == 1 ? b : a;
      if (xd >= 0 && a != 1) strides[d] = in_strides[xd];
    }
    FERRY_RETURN_IF_ERROR(CheckComputedShape(out, "Expand"));
    copy_.Init(out, strides, 0, DataTypeSize(x.dtype));
    ctx.set_output(0, x.dtype, std::move(out));
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateExpand(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Expand", "input 0"));
  return MakeKernel<ExpandKernel>();
}

}  // namespace ferry::cpu
