// Tile: output dim d is repeats[d] copies of input dim d. Viewing output dim d as [repeats[d], dim_d] makes
// it a strided copy with stride 0 over the repeat index.
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class TileKernel : public StridedCopyKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Tile: input 'input' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Tile", "input 0"));
    FERRY_ASSIGN_OR_RETURN(std::vector<int64_t> repeats, ReadConstantInts(ctx, 1, "Tile", "repeats"));
    const int64_t r = x.rank();
    if (static_cast<int64_t>(repeats.size()) != r) {
      return InvalidArgument("Tile: repeats has {} entries but the input has rank {}", repeats.size(), r);
    }
    const std::vector<int64_t> in_strides = RowMajorStrides(x.shape);
    Shape out(static_cast<size_t>(r));
    Shape view;
    std::vector<int64_t> strides;
    for (int64_t d = 0; d < r; ++d) {
      if (repeats[d] < 0) return InvalidArgument("Tile: repeats[{}] = {} is negative", d, repeats[d]);
      FERRY_RETURN_IF_ERROR(CheckComputedShape({x.shape[d], repeats[d]}, "Tile"));
      out[d] = x.shape[d] * repeats[d];
      view.push_back(repeats[d]);
      strides.push_back(0);
      view.push_back(x.shape[d]);
      strides.push_back(in_strides[d]);
    }
    FERRY_RETURN_IF_ERROR(CheckComputedShape(out, "Tile"));
    copy_.Init(view, strides, 0, DataTypeSize(x.dtype));
    ctx.set_output(0, x.dtype, std::move(out));
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateTile(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Tile", "input 0"));
  return MakeKernel<TileKernel>();
}

}  // namespace ferry::cpu
