// SpaceToDepth: [N, C, H, W] -> [N, C * b^2, H / b, W / b], the inverse of DepthToSpace (DCR). The output
// viewed as [N, b, b, C, H / b, W / b] reads the input at fixed strides, so it is one strided copy.
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class SpaceToDepthKernel : public StridedCopyKernel {
 public:
  explicit SpaceToDepthKernel(int64_t block) : block_(block) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("SpaceToDepth: input is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "SpaceToDepth", "input 0"));
    if (x.rank() != 4) return InvalidArgument("SpaceToDepth: input must be 4-D, got {}", ShapeToString(x.shape));
    const int64_t b = block_;
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
    if (h % b != 0 || w % b != 0) {
      return InvalidArgument("SpaceToDepth: spatial dims {}x{} are not divisible by blocksize {}", h, w, b);
    }
    const int64_t sn = c * h * w, sc = h * w, sh = w, sw = 1;
    // Output coordinates (n, i, j, c, h', w') read input (n, c, h' * b + i, w' * b + j).
    copy_.Init(Shape{n, b, b, c, h / b, w / b}, {sn, sh, sw, sc, b * sh, b * sw}, 0, DataTypeSize(x.dtype));
    ctx.set_output(0, x.dtype, Shape{n, c * b * b, h / b, w / b});
    return Status::Ok();
  }

 private:
  const int64_t block_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateSpaceToDepth(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "SpaceToDepth", "input 0"));
  const int64_t b = def.attrs.Int("blocksize", 0);
  if (b <= 0 || b > 65536) {
    return InvalidArgument("SpaceToDepth: attribute 'blocksize' must be in [1, 65536], got {}", b);
  }
  return MakeKernel<SpaceToDepthKernel>(b);
}

}  // namespace ferry::cpu
