// Cast (target type from attribute `to`) and CastLike (target type of input 1), between every numeric type,
// bool, float16 and bfloat16. Strings are refused.
//
// Conversions: integers to floating round to nearest; floating to integer truncates toward zero (NaN gives
// 0, see EwFloatToInt for out-of-range values); integers narrow by wrapping; anything to bool is `!= 0`
// (NaN is true); bool is 0 or 1. float16 and bfloat16 go through float exactly (see elementwise_half.h).
#include <cstring>
#include <memory>
#include <type_traits>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_half.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

// Storage tags for bfloat16 and bool (float16 is EwHalf), so each type visited is a distinct C++ type.
struct BFloat16 {
  uint16_t bits;
};
struct Bool {
  uint8_t value;
};

template <typename T>
constexpr DataType CastDataType() {
  if constexpr (std::is_same_v<T, BFloat16>) {
    return DataType::kBFloat16;
  } else if constexpr (std::is_same_v<T, Bool>) {
    return DataType::kBool;
  } else {
    return EwDataTypeOf<T>();
  }
}

using CastTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t,
                           Bool, EwHalf, BFloat16>;

template <typename... Ts, typename F>
bool VisitCastType(TypeList<Ts...>, DataType t, F&& f) {
  return ((t == CastDataType<Ts>() ? (f(std::type_identity<Ts>{}), true) : false) || ...);
}

bool IsCastType(DataType t) {
  bool found = false;
  VisitCastType(CastTypes{}, t, [&](auto) { found = true; });
  return found;
}

template <typename To, typename From>
To Convert(From v) {
  if constexpr (std::is_same_v<From, EwHalf>) {
    return Convert<To>(EwHalfToFloat(v.bits));
  } else if constexpr (std::is_same_v<From, BFloat16>) {
    return Convert<To>(EwBFloat16ToFloat(v.bits));
  } else if constexpr (std::is_same_v<From, Bool>) {
    return Convert<To>(static_cast<uint8_t>(v.value != 0));
  } else if constexpr (std::is_same_v<To, Bool>) {
    return Bool{static_cast<uint8_t>(v != 0)};
  } else if constexpr (std::is_same_v<To, EwHalf>) {
    if constexpr (std::is_same_v<From, float>) {
      return EwHalf{EwFloatToHalf(v)};
    } else {
      // Integers are exact in double up to 2^53, far beyond float16's range.
      return EwHalf{EwDoubleToHalf(static_cast<double>(v))};
    }
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return BFloat16{EwFloatToBFloat16(static_cast<float>(v))};
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return EwFloatToInt<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <typename From, typename To>
void CastLoop(const From* in, To* out, int64_t n, int threads) {
  MapUnary(in, out, n, threads, 1, [](From v) { return Convert<To>(v); });
}

class CastKernel : public Kernel {
 public:
  // to: the target type; kUndefined for CastLike, which takes it from input 1 in Prepare.
  explicit CastKernel(DataType to) : to_(to) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("expects an input");
    const TensorView& x = ctx.input(0);
    DataType to = to_;
    if (to == DataType::kUndefined) {
      if (!ctx.has_input(1)) return InvalidArgument("expects input target_type");
      to = ctx.input(1).dtype;
    }
    FERRY_RETURN_IF_ERROR(CheckType(x.dtype, "input"));
    FERRY_RETURN_IF_ERROR(CheckType(to, "target"));
    target_ = to;
    ctx.set_output(0, to, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    TensorView& y = ctx.output(0);
    if (x.dtype == target_) {
      if (y.nbytes() != 0 && y.data != x.data) std::memcpy(y.data, x.data, y.nbytes());
      return Status::Ok();
    }
    const int64_t n = x.numel();
    const int threads = ctx.num_threads();
    bool done = false;
    VisitCastType(CastTypes{}, x.dtype, [&](auto from_tag) {
      using From = typename decltype(from_tag)::type;
      done = VisitCastType(CastTypes{}, target_, [&](auto to_tag) {
        using To = typename decltype(to_tag)::type;
        CastLoop(static_cast<const From*>(x.data), static_cast<To*>(y.data), n, threads);
      });
    });
    if (!done) return Internal("unexpected cast {} -> {}", DataTypeName(x.dtype), DataTypeName(target_));
    return Status::Ok();
  }

  static Status CheckType(DataType t, const char* what) {
    if (t == DataType::kUndefined || IsCastType(t)) return Status::Ok();
    return Unimplemented("{} type {} is not supported; supported: numeric types, bool, float16, bfloat16", what,
                         DataTypeName(t));
  }

 private:
  DataType to_;
  DataType target_ = DataType::kUndefined;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateCast(const KernelDef& def) {
  if (def.input_types.size() != 1) return InvalidArgument("expects 1 input, got {}", def.input_types.size());
  if (!def.attrs.Has("to")) return InvalidArgument("attribute \"to\" is required");
  const int64_t to = def.attrs.Int("to", 0);
  if (to < INT32_MIN || to > INT32_MAX || !IsKnownDataType(static_cast<int32_t>(to))) {
    return InvalidArgument("to = {} is not a known data type", to);
  }
  const DataType target = static_cast<DataType>(to);
  if (target == DataType::kUndefined) return InvalidArgument("to = {} is not a data type", to);
  FERRY_RETURN_IF_ERROR(CastKernel::CheckType(def.input_types[0], "input"));
  FERRY_RETURN_IF_ERROR(CastKernel::CheckType(target, "target"));
  return MakeKernel<CastKernel>(target);
}

Result<std::unique_ptr<Kernel>> CreateCastLike(const KernelDef& def) {
  if (def.input_types.size() != 2) return InvalidArgument("expects 2 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CastKernel::CheckType(def.input_types[0], "input"));
  FERRY_RETURN_IF_ERROR(CastKernel::CheckType(def.input_types[1], "target"));
  return MakeKernel<CastKernel>(DataType::kUndefined);
}

}  // namespace ferry::cpu
