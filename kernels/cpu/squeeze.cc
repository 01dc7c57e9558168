// Squeeze: removes the listed size-1 dims (axes attribute before opset 13, optional input from 13), or every
// size-1 dim when no axes are given.
#include <algorithm>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class SqueezeKernel : public ReshapeLikeKernel {
 public:
  SqueezeKernel(bool axes_from_input, bool has_axes, std::vector<int64_t> axes)
      : ReshapeLikeKernel("Squeeze"), axes_from_input_(axes_from_input), has_axes_(has_axes), axes_(std::move(axes)) {}

 protected:
  Result<Shape> OutputShape(const KernelContext& ctx) override {
    const Shape& in = ctx.input(0).shape;
    const int64_t rank = static_cast<int64_t>(in.size());
    std::vector<int64_t> axes = axes_;
    bool has_axes = has_axes_;
    if (axes_from_input_ && ctx.has_input(1)) {
      FERRY_ASSIGN_OR_RETURN(axes, ReadConstantInts(ctx, 1, "Squeeze", "axes"));
      has_axes = true;
    }
    // An empty axes list squeezes every size-1 dim, as when it is absent (onnxruntime does the same).
    has_axes = has_axes && !axes.empty();
    std::vector<bool> drop(in.size(), false);
    if (!has_axes) {
      for (size_t d = 0; d < in.size(); ++d) drop[d] = in[d] == 1;
    } else {
      for (int64_t& a : axes) {
        FERRY_ASSIGN_OR_RETURN(a, ResolveAxis(a, rank, "Squeeze", "axis"));
        if (in[a] != 1) {
          return InvalidArgument("Squeeze: cannot squeeze axis {} of shape {}: its size is not 1", a,
                                 ShapeToString(in));
        }
      }
      FERRY_RETURN_IF_ERROR(CheckUniqueAxes(axes, rank, "Squeeze"));
      for (int64_t a : axes) drop[a] = true;
    }
    Shape out;
    for (size_t d = 0; d < in.size(); ++d) {
      if (!drop[d]) out.push_back(in[d]);
    }
    return out;
  }

 private:
  const bool axes_from_input_;
  const bool has_axes_;
  const std::vector<int64_t> axes_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateSqueeze(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Squeeze", "input 0"));
  const bool from_input = def.opset >= 13;
  const bool has_axes = !from_input && def.attrs.Has("axes");
  return MakeKernel<SqueezeKernel>(from_input, has_axes, def.attrs.Ints("axes"));
}

}  // namespace ferry::cpu
