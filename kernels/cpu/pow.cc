// Pow: base and exponent may differ in type; the output has the base's type.
//
// The results follow numpy, which the ONNX reference uses: a float base with an exponent of another type is
// computed in double and rounded to the base type; an integer base with an integer exponent is exact
// integer exponentiation (wrapping); an integer base with a float exponent is computed in double and
// truncated toward zero.
#include <cmath>
#include <limits>
#include <memory>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_math.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

// Integer power by squaring, wrapping like numpy. numpy rejects negative exponents; here x^-n is the
// truncated 1/x^n: 1 for x = 1, +-1 for x = -1, and 0 otherwise (0^-n included).
template <typename T, typename E>
T IntPow(T x, E e) {
  if constexpr (std::is_signed_v<E>) {
    if (e < 0) {
      if (x == 1) return 1;
      if constexpr (std::is_signed_v<T>) {
        if (x == -1) return (e % 2 == 0) ? 1 : -1;
      }
      return 0;
    }
  }
  using W = EwWrapType<T>;
  W result = 1;
  W base = static_cast<W>(x);
  auto n = static_cast<uint64_t>(e);
  while (n != 0) {
    if (n & 1) result = static_cast<W>(result * base);
    base = static_cast<W>(base * base);
    n >>= 1;
  }
  return static_cast<T>(result);
}

template <typename T, typename E>
T PowScalar(T x, E e) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (std::is_same_v<T, E>) {
      return std::pow(x, e);
    } else {
      return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(e)));
    }
  } else if constexpr (std::is_integral_v<E>) {
    return IntPow(x, e);
  } else {
    return EwFloatToInt<T>(std::pow(static_cast<double>(x), static_cast<double>(e)));
  }
}

template <typename T, typename E>
void RunPow(const MultiBroadcastPlan& plan, const T* x, const E* e, T* out, int64_t e_numel, int threads) {
  if constexpr (std::is_floating_point_v<T>) {
    // Squares, cubes and square roots are common exponents (norms, variance, GELU) and need no pow call.
    if (e_numel == 1) {
      const double v = static_cast<double>(e[0]);
      if (v == 2.0) {
        BroadcastBinary(plan, x, e, out, threads, 1, [](T a, E) { return a * a; });
        return;
      }
      if (v == 3.0) {
        // GELU's tanh approximation cubes; x * x * x is within 2 ulp of pow.
        BroadcastBinary(plan, x, e, out, threads, 1, [](T a, E) { return a * a * a; });
        return;
      }
      if (v == 1.0) {
        BroadcastBinary(plan, x, e, out, threads, 1, [](T a, E) { return a; });
        return;
      }
      if (v == 0.5 && std::is_same_v<T, E>) {
        // pow(-inf, 0.5) is +inf while sqrt(-inf) is NaN; every other input agrees (pow(-0, .5) = +0 vs
        // sqrt(-0) = -0 compare equal).
        BroadcastBinary(plan, x, e, out, threads, 2, [](T a, E) {
          return EwSelect(a == -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::infinity(), std::sqrt(a));
        });
        return;
      }
    }
  }
  BroadcastBinary(plan, x, e, out, threads, 16, [](T a, E b) { return PowScalar<T, E>(a, b); });
}

using PowBaseTypes = TypeList<float, double, int32_t, int64_t>;

Status CheckTypes(DataType base, DataType exponent) {
  if (base != DataType::kUndefined && !TypeListHas(PowBaseTypes{}, base)) {
    return Unimplemented("base type {} is not supported; supported: {}", DataTypeName(base),
                         TypeListNames(PowBaseTypes{}));
  }
  if (exponent != DataType::kUndefined && !TypeListHas(EwNumericTypes{}, exponent)) {
    return Unimplemented("exponent type {} is not supported; supported: {}", DataTypeName(exponent),
                         TypeListNames(EwNumericTypes{}));
  }
  return Status::Ok();
}

class PowKernel : public Kernel {
 public:
  explicit PowKernel(BinaryBroadcastSpec spec) : spec_(spec) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidArgument("expects two inputs");
    const TensorView& x = ctx.input(0);
    const TensorView& e = ctx.input(1);
    if (x.dtype == DataType::kUndefined || e.dtype == DataType::kUndefined) {
      return InvalidArgument("input types are unknown");
    }
    FERRY_RETURN_IF_ERROR(CheckTypes(x.dtype, e.dtype));
    Shape out;
    FERRY_RETURN_IF_ERROR(spec_.Plan(x.shape, e.shape, &out, &plan_));
    ctx.set_output(0, x.dtype, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const TensorView& e = ctx.input(1);
    TensorView& out = ctx.output(0);
    bool done = false;
    VisitType(PowBaseTypes{}, x.dtype, [&](auto base_tag) {
      using T = typename decltype(base_tag)::type;
      done = VisitType(EwNumericTypes{}, e.dtype, [&](auto exp_tag) {
        using E = typename decltype(exp_tag)::type;
        RunPow<T, E>(plan_, x.as<const T>(), e.as<const E>(), out.as<T>(), e.numel(), ctx.num_threads());
      });
    });
    if (!done) return Internal("unexpected types {} and {}", DataTypeName(x.dtype), DataTypeName(e.dtype));
    return Status::Ok();
  }

 private:
  BinaryBroadcastSpec spec_;
  MultiBroadcastPlan plan_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreatePow(const KernelDef& def) {
  if (def.input_types.size() != 2) return InvalidArgument("expects 2 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckTypes(def.input_types[0], def.input_types[1]));
  return MakeKernel<PowKernel>(BinaryBroadcastSpec::FromDef(def));
}

}  // namespace ferry::cpu
