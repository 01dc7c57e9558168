// InstanceNormalization (opset 6+): each (n, c) slice of X [N, C, D1, ...] is normalized by its own mean and
// variance, then scaled by scale[c] and shifted by B[c].
#include <cmath>
#include <memory>

#include "kernels/cpu/linalg_norm_stats.h"
#include "kernels/cpu/linalg_util.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

class InstanceNormKernel final : public Kernel {
 public:
  explicit InstanceNormKernel(const KernelDef& def) : epsilon_(def.attrs.Float("epsilon", 1e-5f)) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    dtype_ = x.dtype;
    FERRY_RETURN_IF_ERROR(CheckTypeIn("input 0", dtype_, {DataType::kFloat, DataType::kDouble}, false));
    if (x.rank() < 2) return InvalidArgument("input must have rank >= 2 (N, C, ...), got {}", ShapeToString(x.shape));
    channels_ = x.shape[1];
    rows_ = x.shape[0] * channels_;
    inner_ = ProductOf(x.shape, 2, x.shape.size());
    const char* names[] = {"scale", "B"};
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) return InvalidArgument("input {} is required", names[i - 1]);
      const TensorView& p = ctx.input(i);
      if (p.dtype != dtype_) {
        return InvalidArgument("input {} has type {} but the input has type {}", names[i - 1], DataTypeName(p.dtype),
                               DataTypeName(dtype_));
      }
      if (p.numel() != channels_) {
        return InvalidArgument("input {} of shape {} does not match {} channels", names[i - 1], ShapeToString(p.shape),
                               channels_);
      }
    }
    ctx.set_output(0, dtype_, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    if (dtype_ == DataType::kFloat) return Run<float>(ctx);
    return Run<double>(ctx);
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx) {
    const T* x = ctx.input(0).as<const T>();
    const T* scale = ctx.input(1).as<const T>();
    const T* bias = ctx.input(2).as<const T>();
    T* y = ctx.output(0).as<T>();
    if (inner_ == 0) return Status::Ok();
    ParallelFor(rows_, ctx.num_threads(), inner_ * 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t c = r % channels_;
        const T* xr = x + r * inner_;
        T* yr = y + r * inner_;
        const MeanVar mv = RowMeanVar(xr, inner_);
        const double mul = static_cast<double>(scale[c]) / std::sqrt(mv.var + static_cast<double>(epsilon_));
        const T m = static_cast<T>(mul), mean = static_cast<T>(mv.mean), b = bias[c];
#pragma omp simd
        for (int64_t i = 0; i < inner_; ++i) yr[i] = (xr[i] - mean) * m + b;
      }
    });
    return Status::Ok();
  }

  const float epsilon_;
  DataType dtype_ = DataType::kUndefined;
  int64_t channels_ = 0, rows_ = 0, inner_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateInstanceNormalization(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckTypeIn("input 0", DefInputType(def, 0), {DataType::kFloat, DataType::kDouble}, true));
  if (def.num_outputs > 1) {
    return InvalidArgument("InstanceNormalization has one output, the node declares {}", def.num_outputs);
  }
  return MakeKernel<InstanceNormKernel>(def);
}

}  // namespace ferry::cpu
