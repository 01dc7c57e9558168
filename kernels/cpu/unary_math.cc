// One-input math ops: Exp Log Sqrt Reciprocal Neg Abs Floor Ceil Round Sign Erf, the trigonometric and
// hyperbolic functions, IsNaN and IsInf. Same shape out; same type out except IsNaN/IsInf (bool).
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_math.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

enum class UnaryOp {
  kExp,
  kLog,
  kSqrt,
  kReciprocal,
  kFloor,
  kCeil,
  kRound,
  kErf,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kAsinh,
  kAcosh,
  kAtanh,
  kNeg,
  kAbs,
  kSign,
  kIsNaN,
  kIsInf,
};

enum class TypeClass { kFloat, kSigned, kNumeric };

TypeClass ClassOf(UnaryOp op) {
  switch (op) {
    case UnaryOp::kNeg:
      return TypeClass::kSigned;
    case UnaryOp::kAbs:
    case UnaryOp::kSign:
      return TypeClass::kNumeric;
    default:
      return TypeClass::kFloat;
  }
}

Status CheckType(UnaryOp op, DataType t) {
  if (t == DataType::kUndefined) return Status::Ok();
  switch (ClassOf(op)) {
    case TypeClass::kFloat:
      if (TypeListHas(EwFloatTypes{}, t)) return Status::Ok();
      return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t),
                           TypeListNames(EwFloatTypes{}));
    case TypeClass::kSigned:
      if (TypeListHas(EwSignedTypes{}, t)) return Status::Ok();
      return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t),
                           TypeListNames(EwSignedTypes{}));
    case TypeClass::kNumeric:
      if (TypeListHas(EwNumericTypes{}, t)) return Status::Ok();
      return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t),
                           TypeListNames(EwNumericTypes{}));
  }
  return Status::Ok();
}

// Rough cost per element relative to an add, for the threading decision.
constexpr int64_t kCheap = 1;
constexpr int64_t kTranscendental = 16;

template <typename T>
void RunFloat(UnaryOp op, const T* x, T* y, int64_t n, int threads) {
  constexpr bool kF32 = std::is_same_v<T, float>;
  switch (op) {
    case UnaryOp::kExp:
      if constexpr (kF32) {
        MapUnary(x, y, n, threads, 4, [](float v) { return FastExp(v); });
      } else {
        MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::exp(v); });
      }
      return;
    case UnaryOp::kErf:
      if constexpr (kF32) {
        MapUnary(x, y, n, threads, 8, [](float v) { return FastErf(v); });
      } else {
        MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::erf(v); });
      }
      return;
    case UnaryOp::kLog:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::log(v); });
      return;
    case UnaryOp::kSqrt:
      MapUnary(x, y, n, threads, 2, [](T v) { return std::sqrt(v); });
      return;
    case UnaryOp::kReciprocal:
      MapUnary(x, y, n, threads, 2, [](T v) { return T{1} / v; });
      return;
    case UnaryOp::kFloor:
      MapUnary(x, y, n, threads, kCheap, [](T v) { return std::floor(v); });
      return;
    case UnaryOp::kCeil:
      MapUnary(x, y, n, threads, kCheap, [](T v) { return std::ceil(v); });
      return;
    // Round half to even, as ONNX specifies: nearbyint under the default rounding mode.
    case UnaryOp::kRound:
      MapUnary(x, y, n, threads, kCheap, [](T v) { return std::nearbyint(v); });
      return;
    case UnaryOp::kSin:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::sin(v); });
      return;
    case UnaryOp::kCos:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::cos(v); });
      return;
    case UnaryOp::kTan:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::tan(v); });
      return;
    case UnaryOp::kAsin:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::asin(v); });
      return;
    case UnaryOp::kAcos:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::acos(v); });
      return;
    case UnaryOp::kAtan:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::atan(v); });
      return;
    case UnaryOp::kSinh:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::sinh(v); });
      return;
    case UnaryOp::kCosh:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::cosh(v); });
      return;
    case UnaryOp::kAsinh:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::asinh(v); });
      return;
    case UnaryOp::kAcosh:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::acosh(v); });
      return;
    case UnaryOp::kAtanh:
      MapUnary(x, y, n, threads, kTranscendental, [](T v) { return std::atanh(v); });
      return;
    default:
      return;
  }
}

template <typename T>
void RunNumeric(UnaryOp op, const T* x, T* y, int64_t n, int threads) {
  switch (op) {
    case UnaryOp::kNeg:
      if constexpr (std::is_signed_v<T>) MapUnary(x, y, n, threads, kCheap, [](T v) { return EwNeg(v); });
      return;
    case UnaryOp::kAbs:
      if constexpr (std::is_floating_point_v<T>) {
        MapUnary(x, y, n, threads, kCheap, [](T v) { return std::fabs(v); });
      } else if constexpr (std::is_signed_v<T>) {
        // abs(INT_MIN) wraps to INT_MIN, as in numpy.
        MapUnary(x, y, n, threads, kCheap, [](T v) { return v < 0 ? EwNeg(v) : v; });
      } else {
        MapUnary(x, y, n, threads, kCheap, [](T v) { return v; });
      }
      return;
    case UnaryOp::kSign:
      if constexpr (std::is_floating_point_v<T>) {
        MapUnary(x, y, n, threads, kCheap,
                 [](T v) { return v > 0 ? T{1} : (v < 0 ? T{-1} : (v == 0 ? T{0} : v)); });  // NaN stays NaN
      } else if constexpr (std::is_signed_v<T>) {
        MapUnary(x, y, n, threads, kCheap, [](T v) { return static_cast<T>((v > 0) - (v < 0)); });
      } else {
        MapUnary(x, y, n, threads, kCheap, [](T v) { return static_cast<T>(v != 0); });
      }
      return;
    default:
      if constexpr (std::is_floating_point_v<T>) RunFloat<T>(op, x, y, n, threads);
      return;
  }
}

class UnaryMathKernel : public Kernel {
 public:
  UnaryMathKernel(UnaryOp op, bool detect_negative, bool detect_positive)
      : op_(op), detect_negative_(detect_negative), detect_positive_(detect_positive) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("expects one input");
    const TensorView& x = ctx.input(0);
    if (x.dtype == DataType::kUndefined) return InvalidArgument("input type is unknown");
    FERRY_RETURN_IF_ERROR(CheckType(op_, x.dtype));
    const bool to_bool = op_ == UnaryOp::kIsNaN || op_ == UnaryOp::kIsInf;
    ctx.set_output(0, to_bool ? DataType::kBool : x.dtype, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    TensorView& y = ctx.output(0);
    const int64_t n = x.numel();
    const int threads = ctx.num_threads();
    bool done = VisitType(EwNumericTypes{}, x.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (op_ == UnaryOp::kIsNaN || op_ == UnaryOp::kIsInf) {
        if constexpr (std::is_floating_point_v<T>) RunPredicate<T>(x.as<const T>(), y.as<uint8_t>(), n, threads);
      } else {
        RunNumeric<T>(op_, x.as<const T>(), y.as<T>(), n, threads);
      }
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(x.dtype));
    return Status::Ok();
  }

 private:
  template <typename T>
  void RunPredicate(const T* x, uint8_t* y, int64_t n, int threads) const {
    if (op_ == UnaryOp::kIsNaN) {
      MapUnary(x, y, n, threads, kCheap, [](T v) { return static_cast<uint8_t>(v != v); });
      return;
    }
    constexpr T kInf = std::numeric_limits<T>::infinity();
    const bool neg = detect_negative_;
    const bool pos = detect_positive_;
    MapUnary(x, y, n, threads, kCheap,
             [neg, pos](T v) { return static_cast<uint8_t>((pos && v == kInf) || (neg && v == -kInf)); });
  }

  UnaryOp op_;
  bool detect_negative_;
  bool detect_positive_;
};

Result<std::unique_ptr<Kernel>> CreateUnary(const KernelDef& def, UnaryOp op) {
  if (def.input_types.size() != 1) return InvalidArgument("expects 1 input, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckType(op, def.input_types[0]));
  bool neg = def.attrs.Int("detect_negative", 1) != 0;
  bool pos = def.attrs.Int("detect_positive", 1) != 0;
  return MakeKernel<UnaryMathKernel>(op, neg, pos);
}

}  // namespace

#define FERRY_UNARY_FACTORY(Name, op) \
  Result<std::unique_ptr<Kernel>> Create##Name(const KernelDef& def) { return CreateUnary(def, UnaryOp::op); }
FERRY_UNARY_FACTORY(Exp, kExp)
FERRY_UNARY_FACTORY(Log, kLog)
FERRY_UNARY_FACTORY(Sqrt, kSqrt)
FERRY_UNARY_FACTORY(Reciprocal, kReciprocal)
FERRY_UNARY_FACTORY(Floor, kFloor)
FERRY_UNARY_FACTORY(Ceil, kCeil)
FERRY_UNARY_FACTORY(Round, kRound)
FERRY_UNARY_FACTORY(Erf, kErf)
FERRY_UNARY_FACTORY(Sin, kSin)
FERRY_UNARY_FACTORY(Cos, kCos)
FERRY_UNARY_FACTORY(Tan, kTan)
FERRY_UNARY_FACTORY(Asin, kAsin)
FERRY_UNARY_FACTORY(Acos, kAcos)
FERRY_UNARY_FACTORY(Atan, kAtan)
FERRY_UNARY_FACTORY(Sinh, kSinh)
FERRY_UNARY_FACTORY(Cosh, kCosh)
FERRY_UNARY_FACTORY(Asinh, kAsinh)
FERRY_UNARY_FACTORY(Acosh, kAcosh)
FERRY_UNARY_FACTORY(Atanh, kAtanh)
FERRY_UNARY_FACTORY(Neg, kNeg)
FERRY_UNARY_FACTORY(Abs, kAbs)
FERRY_UNARY_FACTORY(Sign, kSign)
FERRY_UNARY_FACTORY(IsNaN, kIsNaN)
FERRY_UNARY_FACTORY(IsInf, kIsInf)
#undef FERRY_UNARY_FACTORY

}  // namespace ferry::cpu
