// Element-wise activations with float attributes: Relu LeakyRelu Elu Selu Celu Sigmoid HardSigmoid HardSwish
// Tanh Softplus Softsign ThresholdedRelu Shrink. Same shape and type out.
//
// The formulas follow the ONNX reference implementations (e.g. Elu is alpha * (exp(x) - 1), not expm1), so
// results match them to the last few ulp; float32 uses the vectorized exp/tanh of elementwise_math.h.
#include <cmath>
#include <memory>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_math.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

enum class ActOp {
  kRelu,
  kLeakyRelu,
  kElu,
  kSelu,
  kCelu,
  kSigmoid,
  kHardSigmoid,
  kHardSwish,
  kTanh,
  kSoftplus,
  kSoftsign,
  kThresholdedRelu,
  kShrink,
};

struct ActParams {
  float alpha = 0.f;
  float beta = 0.f;
  float gamma = 0.f;
};

bool OpSupports(ActOp op, DataType t) {
  if (op == ActOp::kRelu) return TypeListHas(EwSignedTypes{}, t);
  if (op == ActOp::kShrink) return TypeListHas(EwNumericTypes{}, t);
  return TypeListHas(EwFloatTypes{}, t);
}

Status CheckType(ActOp op, DataType t) {
  if (t == DataType::kUndefined || OpSupports(op, t)) return Status::Ok();
  const std::string names = op == ActOp::kRelu     ? TypeListNames(EwSignedTypes{})
                            : op == ActOp::kShrink ? TypeListNames(EwNumericTypes{})
                                                   : TypeListNames(EwFloatTypes{});
  return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t), names);
}

template <typename T>
T Exp(T v) {
  if constexpr (std::is_same_v<T, float>) {
    return FastExp(v);
  } else {
    return std::exp(v);
  }
}

template <typename T>
void RunFloat(ActOp op, const ActParams& p, const T* x, T* y, int64_t n, int threads) {
  const T alpha = static_cast<T>(p.alpha);
  const T beta = static_cast<T>(p.beta);
  const T gamma = static_cast<T>(p.gamma);
  switch (op) {
    case ActOp::kLeakyRelu:
      MapUnary(x, y, n, threads, 1, [alpha](T v) { return EwSelect(v < 0, v * alpha, v); });
      return;
    case ActOp::kElu:
      MapUnary(x, y, n, threads, 4, [alpha](T v) { return EwSelect(v < 0, (Exp(v) - T{1}) * alpha, v); });
      return;
    case ActOp::kSelu:
      MapUnary(x, y, n, threads, 4,
               [alpha, gamma](T v) { return EwSelect(v <= 0, (Exp(v) * alpha - alpha) * gamma, v * gamma); });
      return;
    case ActOp::kCelu:
      MapUnary(x, y, n, threads, 4, [alpha](T v) { return EwSelect(v < 0, alpha * (Exp(v / alpha) - T{1}), v); });
      return;
    case ActOp::kSigmoid:
      if constexpr (std::is_same_v<T, float>) {
        MapUnary(x, y, n, threads, 4, [](float v) { return FastSigmoid(v); });
      } else {
        MapUnary(x, y, n, threads, 16, [](T v) { return T{1} / (T{1} + std::exp(-v)); });
      }
      return;
    case ActOp::kHardSigmoid:
      MapUnary(x, y, n, threads, 1, [alpha, beta](T v) {
        const T h = v * alpha + beta;
        return EwSelect(h > T{1}, T{1}, EwSelect(h > T{0}, h, T{0}));
      });
      return;
    case ActOp::kHardSwish:
      MapUnary(x, y, n, threads, 1, [](T v) {
        const T h = v * static_cast<T>(1.0 / 6.0) + T{0.5};
        return v * EwSelect(h > T{1}, T{1}, EwSelect(h > T{0}, h, T{0}));
      });
      return;
    case ActOp::kTanh:
      if constexpr (std::is_same_v<T, float>) {
        MapUnary(x, y, n, threads, 4, [](float v) { return FastTanh(v); });
      } else {
        MapUnary(x, y, n, threads, 16, [](T v) { return std::tanh(v); });
      }
      return;
    case ActOp::kSoftplus:
      // log(1 + exp(x)), arranged so that exp never overflows.
      MapUnary(x, y, n, threads, 32,
               [](T v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
      return;
    case ActOp::kSoftsign:
      MapUnary(x, y, n, threads, 2, [](T v) { return v / (T{1} + std::fabs(v)); });
      return;
    case ActOp::kThresholdedRelu:
      MapUnary(x, y, n, threads, 1, [alpha](T v) { return v > alpha ? v : T{0}; });
      return;
    default:
      return;
  }
}

template <typename T>
void Run(ActOp op, const ActParams& p, const T* x, T* y, int64_t n, int threads) {
  if (op == ActOp::kRelu) {
    // v < 0 rather than v > 0 so that NaN passes through, as in the reference (clip to [0, inf)).
    if constexpr (std::is_signed_v<T>) MapUnary(x, y, n, threads, 1, [](T v) { return v < 0 ? T{0} : v; });
  } else if (op == ActOp::kShrink) {
    if constexpr (std::is_floating_point_v<T>) {
      const T lambd = static_cast<T>(p.alpha);
      const T bias = static_cast<T>(p.beta);
      MapUnary(x, y, n, threads, 1,
               [lambd, bias](T v) { return EwSelect(v < -lambd, v + bias, EwSelect(v > lambd, v - bias, T{0})); });
    } else {
      // Integer inputs with float lambd/bias: computed in double, truncated back like the reference's cast.
      const double lambd = p.alpha;
      const double bias = p.beta;
      MapUnary(x, y, n, threads, 2, [lambd, bias](T v) {
        const double d = static_cast<double>(v);
        return EwFloatToInt<T>(d < -lambd ? d + bias : (d > lambd ? d - bias : 0.0));
      });
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    RunFloat<T>(op, p, x, y, n, threads);
  }
}

class ActivationKernel : public Kernel {
 public:
  ActivationKernel(ActOp op, ActParams params) : op_(op), params_(params) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("expects one input");
    const TensorView& x = ctx.input(0);
    if (x.dtype == DataType::kUndefined) return InvalidArgument("input type is unknown");
    FERRY_RETURN_IF_ERROR(CheckType(op_, x.dtype));
    ctx.set_output(0, x.dtype, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    bool done = VisitType(EwNumericTypes{}, x.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      Run<T>(op_, params_, x.as<const T>(), ctx.output(0).as<T>(), x.numel(), ctx.num_threads());
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(x.dtype));
    return Status::Ok();
  }

 private:
  ActOp op_;
  ActParams params_;
};

Result<std::unique_ptr<Kernel>> CreateActivation(const KernelDef& def, ActOp op, ActParams params) {
  if (def.input_types.size() != 1) return InvalidArgument("expects 1 input, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckType(op, def.input_types[0]));
  if (op == ActOp::kCelu && params.alpha == 0.f) return InvalidArgument("alpha must not be 0");
  return MakeKernel<ActivationKernel>(op, params);
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateRelu(const KernelDef& def) { return CreateActivation(def, ActOp::kRelu, {}); }

Result<std::unique_ptr<Kernel>> CreateLeakyRelu(const KernelDef& def) {
  return CreateActivation(def, ActOp::kLeakyRelu, {def.attrs.Float("alpha", 0.01f)});
}

Result<std::unique_ptr<Kernel>> CreateElu(const KernelDef& def) {
  return CreateActivation(def, ActOp::kElu, {def.attrs.Float("alpha", 1.0f)});
}

Result<std::unique_ptr<Kernel>> CreateSelu(const KernelDef& def) {
  return CreateActivation(def, ActOp::kSelu,
                          {def.attrs.Float("alpha", 1.67326319217681884765625f), 0.f,
                           def.attrs.Float("gamma", 1.05070102214813232421875f)});
}

Result<std::unique_ptr<Kernel>> CreateCelu(const KernelDef& def) {
  return CreateActivation(def, ActOp::kCelu, {def.attrs.Float("alpha", 1.0f)});
}

Result<std::unique_ptr<Kernel>> CreateSigmoid(const KernelDef& def) {
  return CreateActivation(def, ActOp::kSigmoid, {});
}

Result<std::unique_ptr<Kernel>> CreateHardSigmoid(const KernelDef& def) {
  return CreateActivation(def, ActOp::kHardSigmoid, {def.attrs.Float("alpha", 0.2f), def.attrs.Float("beta", 0.5f)});
}

Result<std::unique_ptr<Kernel>> CreateHardSwish(const KernelDef& def) {
  return CreateActivation(def, ActOp::kHardSwish, {});
}

Result<std::unique_ptr<Kernel>> CreateTanh(const KernelDef& def) { return CreateActivation(def, ActOp::kTanh, {}); }

Result<std::unique_ptr<Kernel>> CreateSoftplus(const KernelDef& def) {
  return CreateActivation(def, ActOp::kSoftplus, {});
}

Result<std::unique_ptr<Kernel>> CreateSoftsign(const KernelDef& def) {
  return CreateActivation(def, ActOp::kSoftsign, {});
}

Result<std::unique_ptr<Kernel>> CreateThresholdedRelu(const KernelDef& def) {
  return CreateActivation(def, ActOp::kThresholdedRelu, {def.attrs.Float("alpha", 1.0f)});
}

Result<std::unique_ptr<Kernel>> CreateShrink(const KernelDef& def) {
  return CreateActivation(def, ActOp::kShrink, {def.attrs.Float("lambd", 0.5f), def.attrs.Float("bias", 0.0f)});
}

}  // namespace ferry::cpu
