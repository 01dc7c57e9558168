// Reshape: the target shape comes from input 1 (0 copies the input dim unless allowzero, -1 is inferred).
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class ReshapeKernel : public ReshapeLikeKernel {
 public:
  explicit ReshapeKernel(bool allow_zero) : ReshapeLikeKernel("Reshape"), allow_zero_(allow_zero) {}

 protected:
  Result<Shape> OutputShape(const KernelContext& ctx) override {
    const Shape& in = ctx.input(0).shape;
    FERRY_ASSIGN_OR_RETURN(std::vector<int64_t> target, ReadConstantInts(ctx, 1, "Reshape", "shape"));
    if (ctx.input(1).rank() != 1) {
      return InvalidArgument("Reshape: input 'shape' must be 1-D, got shape {}", ShapeToString(ctx.input(1).shape));
    }
    Shape bounded = target;
    for (int64_t& d : bounded) d = d == -1 ? 1 : d;
    for (int64_t d : bounded) {
      if (d < 0) return InvalidArgument("Reshape: shape {} has invalid dim {}", ShapeToString(target), d);
    }
    FERRY_RETURN_IF_ERROR(CheckComputedShape(bounded, "Reshape"));
    Shape out(target.size());
    int64_t infer = -1;
    int64_t known = 1;
    bool has_zero = false;
    for (size_t i = 0; i < target.size(); ++i) {
      int64_t d = target[i];
      if (d == -1) {
        if (infer >= 0) return InvalidArgument("Reshape: shape {} has more than one -1", ShapeToString(target));
        infer = static_cast<int64_t>(i);
        continue;
      }
      if (d < -1) return InvalidArgument("Reshape: shape {} has invalid dim {}", ShapeToString(target), d);
      if (d == 0) {
        has_zero = true;
        if (!allow_zero_) {
          if (i >= in.size()) {
            return InvalidArgument("Reshape: shape {} copies dim {} (0) but the input has rank {}",
                                   ShapeToString(target), i, in.size());
          }
          d = in[i];
        }
      }
      out[i] = d;
      known *= d;
    }
    if (infer >= 0) {
      if (allow_zero_ && has_zero) {
        return InvalidArgument("Reshape: shape {} has both 0 and -1 while allowzero is set", ShapeToString(target));
      }
      const int64_t total = ctx.input(0).numel();
      if (known == 0 || total % known != 0) {
        return InvalidArgument("Reshape: cannot infer the -1 dim of {} for input shape {}", ShapeToString(target),
                               ShapeToString(in));
      }
      out[infer] = total / known;
    }
    return out;
  }

 private:
  const bool allow_zero_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateReshape(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Reshape", "input 0"));
  // allowzero only exists from opset 14; older models may not rely on it.
  const bool allow_zero = def.opset >= 14 && def.attrs.Int("allowzero", 0) != 0;
  return MakeKernel<ReshapeKernel>(allow_zero);
}

}  // namespace ferry::cpu
