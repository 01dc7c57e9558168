// Gemm (opset 6+): Y = alpha * op(A) * op(B) + beta * C, C unidirectionally broadcast to [M, N] (opset 6: only
// with broadcast = 1), with an optional fused activation epilogue (float only). C is required by the spec
// before opset 11; a model that omits it anyway is computed as if C were zero, which is what opset 11 defines.
#include <cmath>
#include <memory>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/gemm_blas.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/linalg_util.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

bool IsIntegral(DataType t) {
  return t == DataType::kInt32 || t == DataType::kInt64 || t == DataType::kUInt32 || t == DataType::kUInt64;
}

Status CheckGemmConfig(DataType t, const Activation& act, float alpha, float beta) {
  FERRY_RETURN_IF_ERROR(CheckTypeIn(
      "input A", t,
      {DataType::kFloat, DataType::kDouble, DataType::kInt32, DataType::kInt64, DataType::kUInt32, DataType::kUInt64},
      true));
  if (t == DataType::kUndefined) return Status::Ok();
  if (act.kind != ActivationKind::kNone && t != DataType::kFloat) {
    return Unimplemented("a fused activation needs float inputs, got {}", DataTypeName(t));
  }
  // alpha and beta are float attributes; for integer types we only compute the exact integer case.
  if (IsIntegral(t) &&
      (alpha != std::trunc(alpha) || beta != std::trunc(beta) || !std::isfinite(alpha) || !std::isfinite(beta))) {
    return Unimplemented("alpha {} and beta {} must be integers for type {}", alpha, beta, DataTypeName(t));
  }
  return Status::Ok();
}

class GemmKernel final : public Kernel {
 public:
  explicit GemmKernel(const KernelDef& def)
      : trans_a_(def.attrs.Int("transA", 0) != 0),
        trans_b_(def.attrs.Int("transB", 0) != 0),
        alpha_(def.attrs.Float("alpha", 1.f)),
        beta_(def.attrs.Float("beta", 1.f)),
        act_(def.activation),
        strict_c_(def.opset < 7 && def.attrs.Int("broadcast", 0) == 0) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    dtype_ = a.dtype;
    FERRY_RETURN_IF_ERROR(CheckGemmConfig(dtype_, act_, alpha_, beta_));
    if (dtype_ == DataType::kUndefined) return InvalidArgument("input A has no type");
    if (b.dtype != dtype_) {
      return InvalidArgument("input B has type {} but A has type {}", DataTypeName(b.dtype), DataTypeName(dtype_));
    }
    if (a.rank() != 2 || b.rank() != 2) {
      return InvalidArgument("A and B must be 2-D, got shapes {} and {}", ShapeToString(a.shape),
                             ShapeToString(b.shape));
    }
    m_ = trans_a_ ? a.shape[1] : a.shape[0];
    k_ = trans_a_ ? a.shape[0] : a.shape[1];
    int64_t kb = trans_b_ ? b.shape[1] : b.shape[0];
    n_ = trans_b_ ? b.shape[0] : b.shape[1];
    if (k_ != kb) {
      return InvalidArgument("inner dimensions differ: A {} (transA={}) and B {} (transB={})", ShapeToString(a.shape),
                             trans_a_ ? 1 : 0, ShapeToString(b.shape), trans_b_ ? 1 : 0);
    }
    FERRY_RETURN_IF_ERROR(CheckBlasDims(m_, n_, k_));
    lda_ = a.shape[1];
    ldb_ = b.shape[1];
    has_c_ = ctx.has_input(2);
    if (has_c_) {
      const TensorView& c = ctx.input(2);
      if (c.dtype != dtype_) {
        return InvalidArgument("input C has type {} but A has type {}", DataTypeName(c.dtype), DataTypeName(dtype_));
      }
      // Opset 6 broadcasts C only when asked to (broadcast = 1).
      if (strict_c_ && c.shape != Shape{m_, n_}) {
        return InvalidArgument("input C of shape {} must be [M, N] = [{}, {}] when broadcast is 0",
                               ShapeToString(c.shape), m_, n_);
      }
      if (!UnidirectionalBroadcastable(c.shape, {m_, n_})) {
        return InvalidArgument("input C of shape {} does not broadcast to [M, N] = [{}, {}]", ShapeToString(c.shape),
                               m_, n_);
      }
      int64_t c_rows = c.shape.size() == 2 ? c.shape[0] : 1;
      int64_t c_cols = c.shape.empty() ? 1 : c.shape.back();
      c_col_stride_ = c_cols == 1 ? 0 : 1;
      c_row_stride_ = c_rows == 1 ? 0 : c_cols;
    }
    packed_.reset();
    if (dtype_ == DataType::kFloat && !trans_a_ && alpha_ == 1.f && ctx.input_known(1) &&
        PackedMatrix::Worthwhile(m_, k_, n_)) {
      packed_ = PackedMatrix::Get(ctx.derived(), 1, b.as<const float>(), k_, n_, ldb_, trans_b_);
    }
    ctx.set_output(0, dtype_, {m_, n_});
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    return DispatchGemmType(dtype_, "Gemm", [&](auto tag) { return Run<typename decltype(tag)::type>(ctx); });
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx) {
    const T* a = ctx.input(0).as<const T>();
    const T* b = ctx.input(1).as<const T>();
    T* y = ctx.output(0).as<T>();
    const T alpha = static_cast<T>(alpha_);
    const T beta = static_cast<T>(beta_);
    // beta == 0 drops C entirely (as onnxruntime does), so NaN/Inf in C do not leak into Y.
    const bool use_c = has_c_ && beta_ != 0.f;
    if (use_c) {
      const T* c = ctx.input(2).as<const T>();
      for (int64_t i = 0; i < m_; ++i) {
        const T* crow = c + i * c_row_stride_;
        T* yrow = y + i * n_;
        for (int64_t j = 0; j < n_; ++j) yrow[j] = gemm_internal::WMul(beta, crow[j * c_col_stride_]);
      }
    }
    const T gemm_beta = use_c ? T(1) : T(0);
    const int threads = ctx.num_threads();
    // A known B keeps its value from Prepare to Compute (kernel.h), whichever memory holds it.
    const bool use_packed = std::is_same_v<T, float> && packed_ != nullptr;
    if (use_packed) {
      packed_->Multiply(reinterpret_cast<const float*>(a), m_, lda_, reinterpret_cast<float*>(y), n_, use_c, threads);
    } else if constexpr (std::is_floating_point_v<T>) {
      Gemm<T>(trans_a_, trans_b_, m_, n_, k_, alpha, a, lda_, b, ldb_, gemm_beta, y, n_);
    } else {
      ParallelFor(m_, threads, n_ * k_ + 1, [&](int64_t r0, int64_t r1) {
        GemmRows<T>(trans_a_, trans_b_, r0, r1, n_, k_, alpha, a, lda_, b, ldb_, gemm_beta, y, n_);
      });
    }
    if constexpr (std::is_same_v<T, float>) {
      if (act_.kind != ActivationKind::kNone) {
        ParallelFor(m_, threads, n_ * 8,
                    [&](int64_t r0, int64_t r1) { ApplyActivation(act_, y + r0 * n_, (r1 - r0) * n_); });
      }
    }
    return Status::Ok();
  }

  const bool trans_a_;
  const bool trans_b_;
  const float alpha_;
  const float beta_;
  const Activation act_;
  const bool strict_c_;
  DataType dtype_ = DataType::kUndefined;
  int64_t m_ = 0, n_ = 0, k_ = 0, lda_ = 0, ldb_ = 0;
  bool has_c_ = false;
  int64_t c_row_stride_ = 0, c_col_stride_ = 0;
  std::shared_ptr<const PackedMatrix> packed_;  // B packed at Prepare when constant and worthwhile
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateGemm(const KernelDef& def) {
  float alpha = def.attrs.Float("alpha", 1.f);
  float beta = def.attrs.Float("beta", 1.f);
  FERRY_RETURN_IF_ERROR(CheckGemmConfig(DefInputType(def, 0), def.activation, alpha, beta));
  if (def.num_outputs > 1) return InvalidArgument("Gemm has one output, the node declares {}", def.num_outputs);
  return MakeKernel<GemmKernel>(def);
}

}  // namespace ferry::cpu
