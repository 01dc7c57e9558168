// EyeLike: a 2-D tensor shaped like the input with ones on the k-th diagonal and zeros elsewhere, of type
// `dtype` (default: the input's type).
#include <cstring>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class EyeLikeKernel : public Kernel {
 public:
  EyeLikeKernel(DataType dtype, int64_t k) : dtype_(dtype), k_(k) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("EyeLike: input is missing");
    const TensorView& x = ctx.input(0);
    if (x.rank() != 2) return InvalidArgument("EyeLike: input must be 2-D, got {}", ShapeToString(x.shape));
    out_type_ = dtype_ == DataType::kUndefined ? x.dtype : dtype_;
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(out_type_, "EyeLike", "output"));
    FERRY_RETURN_IF_ERROR(StoreScalar(out_type_, 1.0, one_));
    ctx.set_output(0, out_type_, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    TensorView& y = ctx.output(0);
    const size_t elem = DataTypeSize(out_type_);
    if (y.nbytes() != 0) std::memset(y.data, 0, y.nbytes());
    const int64_t rows = y.shape[0], cols = y.shape[1];
    char* dst = static_cast<char*>(y.data);
    for (int64_t i = 0; i < rows; ++i) {
      if (k_ >= cols - i || k_ < -i) continue;  // column i + k is outside [0, cols)
      std::memcpy(dst + static_cast<size_t>(i * cols + i + k_) * elem, one_, elem);
    }
    return Status::Ok();
  }

 private:
  const DataType dtype_;
  const int64_t k_;
  DataType out_type_ = DataType::kFloat;
  unsigned char one_[16] = {};
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateEyeLike(const KernelDef& def) {
  DataType dtype = DataType::kUndefined;
  if (def.attrs.Has("dtype")) {
    const int64_t v = def.attrs.Int("dtype", 0);
    if (v < 0 || v > INT32_MAX || !IsKnownDataType(static_cast<int32_t>(v))) {
      return Unimplemented("EyeLike: dtype {} is not supported", v);
    }
    dtype = static_cast<DataType>(v);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeType(dtype, "EyeLike", "attribute 'dtype'"));
  }
  return MakeKernel<EyeLikeKernel>(dtype, def.attrs.Int("k", 0));
}

}  // namespace ferry::cpu
