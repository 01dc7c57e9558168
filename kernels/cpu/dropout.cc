// Dropout for inference: output = input and the optional mask is all "kept". Training mode is random, so it
// is refused unless the ratio is 0 (then it is the identity as well).
#include <cstring>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class DropoutKernel : public Kernel {
 public:
  explicit DropoutKernel(int opset) : opset_(opset) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Dropout: input 'data' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Dropout", "input 0"));
    if (opset_ >= 12 && ctx.has_input(2)) {
      if (!ctx.input_known(2)) return InvalidArgument("Dropout: input 'training_mode' must be a constant");
      const TensorView& tm = ctx.input(2);
      if (tm.numel() != 1) return InvalidArgument("Dropout: input 'training_mode' must have one element");
      if (ElementAsInt64(tm, 0) != 0) {
        double ratio = 0.5;
        if (ctx.has_input(1)) {
          if (!ctx.input_known(1)) return InvalidArgument("Dropout: input 'ratio' must be a constant");
          if (ctx.input(1).numel() != 1) return InvalidArgument("Dropout: input 'ratio' must have one element");
          ratio = ctx.input(1).dtype == DataType::kFloat16 ? -1.0 : ElementAsDouble(ctx.input(1), 0);
        }
        if (ratio != 0.0) {
          return Unimplemented("Dropout: training_mode=true with a nonzero ratio (random masking) is not supported");
        }
      }
    }
    ctx.set_output(0, x.dtype, x.shape);
    if (ctx.num_outputs() > 1) {
      // Before opset 10 the mask has the data's type; from 10 it is bool.
      mask_type_ = opset_ >= 10 ? DataType::kBool : x.dtype;
      FERRY_RETURN_IF_ERROR(StoreScalar(mask_type_, 1.0, one_));
      ctx.set_output(1, mask_type_, x.shape);
    }
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    ParallelCopy(ctx.output(0).data, x.data, x.nbytes(), ctx.num_threads());
    if (ctx.num_outputs() > 1 && ctx.output(1).data != nullptr) {
      FillElements(ctx.output(1).data, one_, DataTypeSize(mask_type_), x.numel());
    }
    return Status::Ok();
  }

 private:
  const int opset_;
  DataType mask_type_ = DataType::kBool;
  unsigned char one_[8] = {};
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateDropout(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Dropout", "input 0"));
  // Before opset 7 the mode is an attribute, and its default (is_test = 0) is training.
  if (def.opset < 7 && def.attrs.Int("is_test", 0) == 0) {
    return Unimplemented("Dropout: is_test=0 (training mode, random masking) is not supported");
  }
  // A training_mode fed per request could turn random masking on at run time: only a constant is served.
  const bool has_mode = def.input_present.size() > 2 && def.input_present[2];
  if (has_mode && (def.input_constant.size() <= 2 || !def.input_constant[2])) {
    return Unimplemented("Dropout: input 'training_mode' must be an initializer (training mode is not supported)");
  }
  return MakeKernel<DropoutKernel>(def.opset);
}

}  // namespace ferry::cpu
