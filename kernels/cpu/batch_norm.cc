// BatchNormalization (opset 6+), inference mode only: Y = (X - mean) / sqrt(var + epsilon) * scale + B per
// channel (dim 1). Training (opset 6 is_test = 0, opset 14 training_mode = 1, or any output beyond Y, which only
// training computes) is refused at load. Opset 6-8 spatial = 0 takes per-element statistics of shape
// X.shape[1:].
// Since opset 15 scale/B and mean/var may each be float or double independently of X.
#include <cmath>
#include <memory>

#include "kernels/cpu/linalg_util.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

const char* const kParamNames[] = {"scale", "B", "mean", "var"};

double ParamAt(const TensorView& t, int64_t i) {
  return t.dtype == DataType::kFloat ? static_cast<double>(t.as<const float>()[i]) : t.as<const double>()[i];
}

class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(const KernelDef& def, bool spatial)
      : epsilon_(def.attrs.Float("epsilon", 1e-5f)), spatial_(spatial) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    dtype_ = x.dtype;
    FERRY_RETURN_IF_ERROR(CheckTypeIn("input X", dtype_, {DataType::kFloat, DataType::kDouble}, false));
    if (x.rank() < 2) return InvalidArgument("input X must have rank >= 2 (N, C, ...), got {}", ShapeToString(x.shape));
    if (ctx.num_inputs() < 5) return InvalidArgument("BatchNormalization needs 5 inputs, got {}", ctx.num_inputs());
    channels_ = spatial_ ? x.shape[1] : ProductOf(x.shape, 1, x.shape.size());
    inner_ = spatial_ ? ProductOf(x.shape, 2, x.shape.size()) : 1;
    batch_ = x.shape[0];
    for (size_t i = 1; i <= 4; ++i) {
      if (!ctx.has_input(i)) return InvalidArgument("input {} is required", kParamNames[i - 1]);
      const TensorView& p = ctx.input(i);
      std::string what = fmt::format("input {}", kParamNames[i - 1]);
      FERRY_RETURN_IF_ERROR(CheckTypeIn(what.c_str(), p.dtype, {DataType::kFloat, DataType::kDouble}, false));
      if (p.numel() != channels_) {
        return InvalidArgument("input {} of shape {} does not match {} channels of X {}", kParamNames[i - 1],
                               ShapeToString(p.shape), channels_, ShapeToString(x.shape));
      }
    }
    ctx.request_scratch(static_cast<size_t>(3 * channels_) * sizeof(double));
    ctx.set_output(0, dtype_, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    // y = (x - mean[c]) * mul[c] + add[c]. Folding the mean into add as well would be one operation less,
    // but cancels badly in float when x and mean are large and close.
    double* sub = static_cast<double*>(ctx.scratch());
    double* mul = sub + channels_;
    double* add = mul + channels_;
    const TensorView &scale = ctx.input(1), &bias = ctx.input(2), &mean = ctx.input(3), &var = ctx.input(4);
    for (int64_t c = 0; c < channels_; ++c) {
      sub[c] = ParamAt(mean, c);
      mul[c] = ParamAt(scale, c) / std::sqrt(ParamAt(var, c) + static_cast<double>(epsilon_));
      add[c] = ParamAt(bias, c);
    }
    if (dtype_ == DataType::kFloat) return Run<float>(ctx, sub, mul, add);
    return Run<double>(ctx, sub, mul, add);
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx, const double* sub, const double* mul, const double* add) {
    const T* x = ctx.input(0).as<const T>();
    T* y = ctx.output(0).as<T>();
    const int64_t inner = inner_, channels = channels_;
    if (inner == 1) {
      ParallelFor(batch_, ctx.num_threads(), channels, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          for (int64_t c = 0; c < channels; ++c) {
            y[n * channels + c] = static_cast<T>((x[n * channels + c] - sub[c]) * mul[c] + add[c]);
          }
        }
      });
      return Status::Ok();
    }
    ParallelFor(batch_ * channels, ctx.num_threads(), inner, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t c = r % channels;
        const T s = static_cast<T>(sub[c]), m = static_cast<T>(mul[c]), a = static_cast<T>(add[c]);
        const T* xr = x + r * inner;
        T* yr = y + r * inner;
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) yr[i] = (xr[i] - s) * m + a;
      }
    });
    return Status::Ok();
  }

  const float epsilon_;
  const bool spatial_;
  DataType dtype_ = DataType::kUndefined;
  int64_t channels_ = 0, inner_ = 0, batch_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateBatchNormalization(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckTypeIn("input X", DefInputType(def, 0), {DataType::kFloat, DataType::kDouble}, true));
  if (def.opset < 7 && def.attrs.Int("is_test", 0) == 0) {
    return Unimplemented("is_test 0 (training) is not supported (inference only)");
  }
  if (def.opset >= 14 && def.attrs.Int("training_mode", 0) != 0) {
    return Unimplemented("training_mode 1 is not supported (inference only)");
  }
  if (def.num_outputs > 1) {
    return Unimplemented("outputs beyond Y (running or saved statistics) are training-only and not supported");
  }
  // The spatial attribute exists only up to opset 8; later opsets always normalize per channel.
  bool spatial = def.opset >= 9 || def.attrs.Int("spatial", 1) != 0;
  return MakeKernel<BatchNormKernel>(def, spatial);
}

}  // namespace ferry::cpu
