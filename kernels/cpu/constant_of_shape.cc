// ConstantOfShape: a tensor of the shape given by input 0 (a constant), filled with the one element of the
// `value` attribute (float 0 when absent).
#include <cstring>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class ConstantOfShapeKernel : public Kernel {
 public:
  ConstantOfShapeKernel(DataType dtype, const void* value) : dtype_(dtype) {
    std::memcpy(value_, value, DataTypeSize(dtype));
  }

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("ConstantOfShape: input 'input' is missing");
    FERRY_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadConstantInts(ctx, 0, "ConstantOfShape", "input"));
    if (ctx.input(0).rank() != 1) {
      return InvalidArgument("ConstantOfShape: input must be 1-D, got shape {}", ShapeToString(ctx.input(0).shape));
    }
    FERRY_RETURN_IF_ERROR(CheckComputedShape(shape, "ConstantOfShape"));
    ctx.set_output(0, dtype_, std::move(shape));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    FillElements(ctx.output(0).data, value_, DataTypeSize(dtype_), ctx.output(0).numel());
    return Status::Ok();
  }

 private:
  const DataType dtype_;
  unsigned char value_[16] = {};
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateConstantOfShape(const KernelDef& def) {
  const Tensor* t = def.attrs.TensorAttr("value");
  if (t == nullptr) {
    if (def.attrs.Has("value")) return InvalidArgument("ConstantOfShape: attribute 'value' is not a tensor");
    const float zero = 0.f;
    return MakeKernel<ConstantOfShapeKernel>(DataType::kFloat, &zero);
  }
  FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(t->dtype(), "ConstantOfShape", "attribute 'value'"));
  if (t->numel() != 1) {
    return InvalidArgument("ConstantOfShape: attribute 'value' must have one element, got shape {}",
                           ShapeToString(t->shape()));
  }
  return MakeKernel<ConstantOfShapeKernel>(t->dtype(), t->data());
}

}  // namespace ferry::cpu
