// Transpose: output dim i is input dim perm[i] (default: reversed dims). A strided copy: contiguous inner runs
// are memcpy'd (e.g. [B,S,H,dk] -> [B,H,S,dk] copies rows of dk), true transposes go through cache tiles.
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class TransposeKernel : public StridedCopyKernel {
 public:
  explicit TransposeKernel(std::vector<int64_t> perm) : perm_(std::move(perm)) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Transpose: input 'data' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Transpose", "input 0"));
    const int64_t rank = x.rank();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
    }
    if (static_cast<int64_t>(perm.size()) != rank) {
      return InvalidArgument("Transpose: perm has {} entries but the input has rank {}", perm.size(), rank);
    }
    for (int64_t& p : perm) {
      FERRY_ASSIGN_OR_RETURN(p, ResolveAxis(p, rank, "Transpose", "perm entry"));
    }
    FERRY_RETURN_IF_ERROR(CheckUniqueAxes(perm, rank, "Transpose"));
    const std::vector<int64_t> in_strides = RowMajorStrides(x.shape);
    Shape out(static_cast<size_t>(rank));
    std::vector<int64_t> strides(static_cast<size_t>(rank));
    for (int64_t i = 0; i < rank; ++i) {
      out[i] = x.shape[perm[i]];
      strides[i] = in_strides[perm[i]];
    }
    copy_.Init(out, strides, 0, DataTypeSize(x.dtype));
    ctx.set_output(0, x.dtype, std::move(out));
    return Status::Ok();
  }

 private:
  const std::vector<int64_t> perm_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateTranspose(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Transpose", "input 0"));
  return MakeKernel<TransposeKernel>(def.attrs.Ints("perm"));
}

}  // namespace ferry::cpu
