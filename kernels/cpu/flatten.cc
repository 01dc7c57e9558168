// Flatten: [d_0, ..., d_{r-1}] -> [d_0 * ... * d_{axis-1}, d_axis * ... * d_{r-1}].
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class FlattenKernel : public ReshapeLikeKernel {
 public:
  explicit FlattenKernel(int64_t axis) : ReshapeLikeKernel("Flatten"), axis_(axis) {}

 protected:
  Result<Shape> OutputShape(const KernelContext& ctx) override {
    const Shape& in = ctx.input(0).shape;
    const int64_t rank = static_cast<int64_t>(in.size());
    // Unlike most axes, Flatten's may equal rank (everything goes into the first dim).
    if (axis_ < -rank || axis_ > rank) {
      return InvalidArgument("Flatten: axis {} is out of range for rank {} (valid: [{}, {}])", axis_, rank, -rank,
                             rank);
    }
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= in[d];
    return Shape{outer, inner};
  }

 private:
  const int64_t axis_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateFlatten(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Flatten", "input 0"));
  return MakeKernel<FlattenKernel>(def.attrs.Int("axis", 1));
}

}  // namespace ferry::cpu
