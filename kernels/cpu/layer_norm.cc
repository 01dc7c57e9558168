// LayerNormalization (opset 17): X is viewed as [prod(shape[:axis]), prod(shape[axis:])] and each row is
// normalized, scaled by Scale and shifted by B (both broadcast to shape[axis:]). The optional outputs Mean and
// InvStdDev have shape shape[:axis] + [1] * (rank - axis) and type float (stash_type 1, the only one defined).
#include <cmath>
#include <memory>

#include "kernels/cpu/linalg_norm_stats.h"
#include "kernels/cpu/linalg_util.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

class LayerNormKernel final : public Kernel {
 public:
  explicit LayerNormKernel(const KernelDef& def)
      : axis_attr_(def.attrs.Int("axis", -1)), epsilon_(def.attrs.Float("epsilon", 1e-5f)) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    dtype_ = x.dtype;
    FERRY_RETURN_IF_ERROR(CheckTypeIn("input X", dtype_, {DataType::kFloat, DataType::kDouble}, false));
    const int64_t rank = x.rank();
    if (rank == 0) return InvalidArgument("input X must have rank >= 1");
    FERRY_ASSIGN_OR_RETURN(int64_t axis, LinalgAxis(axis_attr_, rank));
    rows_ = ProductOf(x.shape, 0, axis);
    cols_ = ProductOf(x.shape, axis, rank);
    norm_shape_.assign(x.shape.begin() + axis, x.shape.end());
    has_bias_ = ctx.has_input(2);
    size_t scratch = 0;
    const char* names[] = {"Scale", "B"};
    for (size_t i = 1; i <= (has_bias_ ? 2u : 1u); ++i) {
      if (!ctx.has_input(i)) return InvalidArgument("input Scale is required");
      const TensorView& p = ctx.input(i);
      if (p.dtype != dtype_) {
        return InvalidArgument("input {} has type {} but X has type {}", names[i - 1], DataTypeName(p.dtype),
                               DataTypeName(dtype_));
      }
      // Leading dims beyond the normalized shape may only be 1: the parameters are shared by all rows.
      Shape s = p.shape;
      while (s.size() > norm_shape_.size() && s.front() == 1) s.erase(s.begin());
      if (!UnidirectionalBroadcastable(s, norm_shape_)) {
        return InvalidArgument("input {} of shape {} does not broadcast to the normalized shape {}", names[i - 1],
                               ShapeToString(p.shape), ShapeToString(norm_shape_));
      }
      param_shape_[i - 1] = s;
      expand_[i - 1] = p.numel() != cols_;
      if (expand_[i - 1]) scratch += static_cast<size_t>(cols_) * DataTypeSize(dtype_);
    }
    ctx.request_scratch(scratch);
    ctx.set_output(0, dtype_, x.shape);
    Shape stat_shape(x.shape.begin(), x.shape.begin() + axis);
    stat_shape.resize(rank, 1);
    for (size_t i = 1; i < ctx.num_outputs() && i < 3; ++i) ctx.set_output(i, DataType::kFloat, stat_shape);
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
    T* y = ctx.output(0).as<T>();
    const T* params[2] = {ctx.input(1).as<const T>(), has_bias_ ? ctx.input(2).as<const T>() : nullptr};
    T* scratch = static_cast<T*>(ctx.scratch());
    for (int i = 0; i < (has_bias_ ? 2 : 1); ++i) {
      if (!expand_[i]) continue;
      ExpandTo(params[i], param_shape_[i], norm_shape_, scratch);
      params[i] = scratch;
      scratch += cols_;
    }
    const T* scale = params[0];
    const T* bias = params[1];
    float* mean_out = ctx.num_outputs() > 1 ? ctx.output(1).as<float>() : nullptr;
    float* inv_out = ctx.num_outputs() > 2 ? ctx.output(2).as<float>() : nullptr;
    const int64_t cols = cols_;
    if (cols == 0) return Status::Ok();
    ParallelFor(rows_, ctx.num_threads(), cols * 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        const MeanVar mv = RowMeanVar(xr, cols);
        const double inv = 1.0 / std::sqrt(mv.var + static_cast<double>(epsilon_));
        if (mean_out != nullptr) mean_out[r] = static_cast<float>(mv.mean);
        if (inv_out != nullptr) inv_out[r] = static_cast<float>(inv);
        const T mean = static_cast<T>(mv.mean), tinv = static_cast<T>(inv);
        if (bias != nullptr) {
#pragma omp simd
          for (int64_t i = 0; i < cols; ++i) yr[i] = (xr[i] - mean) * tinv * scale[i] + bias[i];
        } else {
#pragma omp simd
          for (int64_t i = 0; i < cols; ++i) yr[i] = (xr[i] - mean) * tinv * scale[i];
        }
      }
    });
    return Status::Ok();
  }

  const int64_t axis_attr_;
  const float epsilon_;
  DataType dtype_ = DataType::kUndefined;
  int64_t rows_ = 0, cols_ = 0;
  Shape norm_shape_;
  Shape param_shape_[2];
  bool expand_[2] = {false, false};
  bool has_bias_ = false;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateLayerNormalization(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckTypeIn("input X", DefInputType(def, 0), {DataType::kFloat, DataType::kDouble}, true));
  const int64_t stash = def.attrs.Int("stash_type", 1);
  if (stash != 1) return Unimplemented("stash_type {} is not supported; supported: 1 (float)", stash);
  if (def.num_outputs > 3)
    return InvalidArgument("LayerNormalization has 3 outputs, the node declares {}", def.num_outputs);
  return MakeKernel<LayerNormKernel>(def);
}

}  // namespace ferry::cpu
