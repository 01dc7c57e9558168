// Identity: output = input.
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class IdentityKernel : public ReshapeLikeKernel {
 public:
  IdentityKernel() : ReshapeLikeKernel("Identity") {}

 protected:
  Result<Shape> OutputShape(const KernelContext& ctx) override { return ctx.input(0).shape; }
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateIdentity(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Identity", "input 0"));
  return MakeKernel<IdentityKernel>();
}

}  // namespace ferry::cpu
