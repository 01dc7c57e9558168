// Unsqueeze: inserts size-1 dims at the listed output positions (axes attribute before opset 13, input from 13).
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class UnsqueezeKernel : public ReshapeLikeKernel {
 public:
  UnsqueezeKernel(bool axes_from_input, std::vector<int64_t> axes)
      : ReshapeLikeKernel("Unsqueeze"), axes_from_input_(axes_from_input), axes_(std::move(axes)) {}

 protected:
  Result<Shape> OutputShape(const KernelContext& ctx) override {
    const Shape& in = ctx.input(0).shape;
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_) {
      FERRY_ASSIGN_OR_RETURN(axes, ReadConstantInts(ctx, 1, "Unsqueeze", "axes"));
    }
    const int64_t out_rank = static_cast<int64_t>(in.size() + axes.size());
    for (int64_t& a : axes) {
      FERRY_ASSIGN_OR_RETURN(a, ResolveAxis(a, out_rank, "Unsqueeze", "axis"));
    }
    FERRY_RETURN_IF_ERROR(CheckUniqueAxes(axes, out_rank, "Unsqueeze"));
    std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
    for (int64_t a : axes) inserted[a] = true;
    Shape out;
    size_t next = 0;
    for (int64_t d = 0; d < out_rank; ++d) out.push_back(inserted[d] ? 1 : in[next++]);
    return out;
  }

 private:
  const bool axes_from_input_;
  const std::vector<int64_t> axes_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateUnsqueeze(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Unsqueeze", "input 0"));
  const bool from_input = def.opset >= 13;
  if (!from_input && !def.attrs.Has("axes")) return InvalidArgument("Unsqueeze: attribute 'axes' is required");
  if (from_input && (def.input_present.size() < 2 || !def.input_present[1])) {
    return InvalidArgument("Unsqueeze: input 'axes' is required from opset 13");
  }
  return MakeKernel<UnsqueezeKernel>(from_input, def.attrs.Ints("axes"));
}

}  // namespace ferry::cpu
