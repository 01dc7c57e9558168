// DepthToSpace: [N, C, H, W] -> [N, C / b^2, H * b, W * b], moving channel blocks into spatial blocks (mode DCR:
// depth-column-row, the default; CRD: column-row-depth). The output viewed as [N, C', H, b, W, b] reads the
// input at fixed strides, so it is one strided copy.
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class DepthToSpaceKernel : public StridedCopyKernel {
 public:
  DepthToSpaceKernel(int64_t block, bool crd) : block_(block), crd_(crd) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("DepthToSpace: input is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "DepthToSpace", "input 0"));
    if (x.rank() != 4) return InvalidArgument("DepthToSpace: input must be 4-D, got {}", ShapeToString(x.shape));
    const int64_t b = block_;
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
    if (c % (b * b) != 0) {
      return InvalidArgument("DepthToSpace: channels {} are not divisible by blocksize^2 = {}", c, b * b);
    }
    const int64_t co = c / (b * b);
    const int64_t sn = c * h * w, sc = h * w, sh = w, sw = 1;
    // Output coordinates (n, c', h, i, w, j) read input channel (i * b + j) * C' + c' (DCR) or
    // c' * b^2 + i * b + j (CRD) at spatial (h, w).
    const std::vector<int64_t> strides = crd_ ? std::vector<int64_t>{sn, b * b * sc, sh, b * sc, sw, sc}
                                              : std::vector<int64_t>{sn, sc, sh, b * co * sc, sw, co * sc};
    copy_.Init(Shape{n, co, h, b, w, b}, strides, 0, DataTypeSize(x.dtype));
    ctx.set_output(0, x.dtype, Shape{n, co, h * b, w * b});
    return Status::Ok();
  }

 private:
  const int64_t block_;
  const bool crd_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateDepthToSpace(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "DepthToSpace", "input 0"));
  const int64_t b = def.attrs.Int("blocksize", 0);
  if (b <= 0 || b > 65536) {
    return InvalidArgument("DepthToSpace: attribute 'blocksize' must be in [1, 65536], got {}", b);
  }
  const std::string mode = def.opset >= 11 ? def.attrs.String("mode", "DCR") : "DCR";
  if (mode != "DCR" && mode != "CRD") {
    return Unimplemented("DepthToSpace: mode \"{}\" is not supported (supported: DCR, CRD)", mode);
  }
  return MakeKernel<DepthToSpaceKernel>(b, mode == "CRD");
}

}  // namespace ferry::cpu
