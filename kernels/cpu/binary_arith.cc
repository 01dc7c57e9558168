// Add, Sub, Mul, Div, Mod and BitShift: two inputs of one type, numpy broadcasting, output of that type.
// float16 is computed in float and rounded once, which is exact for these ops (see EwLift).
#include <memory>
#include <string>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_half.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

enum class ArithOp { kAdd, kSub, kMul, kDiv, kMod, kFmod, kShiftLeft, kShiftRight };

bool IsShift(ArithOp op) { return op == ArithOp::kShiftLeft || op == ArithOp::kShiftRight; }

// Which element types each op computes.
bool OpSupports(ArithOp op, DataType t) {
  if (IsShift(op)) return TypeListHas(EwUnsignedIntTypes{}, t);
  // ONNX requires fmod=1 for floating Mod: Python's modulo is not defined for it.
  if (op == ArithOp::kMod) return TypeListHas(EwIntTypes{}, t);
  return TypeListHas(EwNumericHalfTypes{}, t);
}

std::string SupportedNames(ArithOp op) {
  if (IsShift(op)) return TypeListNames(EwUnsignedIntTypes{});
  if (op == ArithOp::kMod) return TypeListNames(EwIntTypes{}) + " (float types need fmod=1)";
  return TypeListNames(EwNumericHalfTypes{});
}

Status CheckTypes(ArithOp op, DataType a, DataType b) {
  for (DataType t : {a, b}) {
    if (t != DataType::kUndefined && !OpSupports(op, t)) {
      return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t), SupportedNames(op));
    }
  }
  if (a != DataType::kUndefined && b != DataType::kUndefined && a != b) {
    return InvalidArgument("inputs have different types {} and {}", DataTypeName(a), DataTypeName(b));
  }
  return Status::Ok();
}

template <typename T>
void Run(ArithOp op, const MultiBroadcastPlan& plan, const T* a, const T* b, T* out, int threads) {
  switch (op) {
    case ArithOp::kAdd:
      BroadcastBinary(plan, a, b, out, threads, 1, EwLift<T>([](auto x, auto y) { return EwAdd(x, y); }));
      return;
    case ArithOp::kSub:
      BroadcastBinary(plan, a, b, out, threads, 1, EwLift<T>([](auto x, auto y) { return EwSub(x, y); }));
      return;
    case ArithOp::kMul:
      BroadcastBinary(plan, a, b, out, threads, 1, EwLift<T>([](auto x, auto y) { return EwMul(x, y); }));
      return;
    case ArithOp::kDiv:
      BroadcastBinary(plan, a, b, out, threads, 4, EwLift<T>([](auto x, auto y) { return EwDiv(x, y); }));
      return;
    case ArithOp::kMod:
      if constexpr (std::is_integral_v<T>) {
        BroadcastBinary(plan, a, b, out, threads, 8, [](T x, T y) { return EwIntMod(x, y); });
      }
      return;
    case ArithOp::kFmod:
      BroadcastBinary(plan, a, b, out, threads, 8, EwLift<T>([](auto x, auto y) { return EwFmod(x, y); }));
      return;
    case ArithOp::kShiftLeft:
    case ArithOp::kShiftRight:
      if constexpr (std::is_unsigned_v<T>) {
        constexpr T kBits = static_cast<T>(sizeof(T) * 8);
        using W = EwWrapType<T>;
        if (op == ArithOp::kShiftLeft) {
          // Shifting by the width or more is undefined in C++; every bit is shifted out, so 0.
          BroadcastBinary(plan, a, b, out, threads, 1,
                          [](T x, T s) { return s >= kBits ? T{0} : static_cast<T>(static_cast<W>(x) << s); });
        } else {
          BroadcastBinary(plan, a, b, out, threads, 1,
                          [](T x, T s) { return s >= kBits ? T{0} : static_cast<T>(static_cast<W>(x) >> s); });
        }
      }
      return;
  }
}

class BinaryArithKernel : public Kernel {
 public:
  BinaryArithKernel(ArithOp op, BinaryBroadcastSpec spec) : op_(op), spec_(spec) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidArgument("expects two inputs");
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    FERRY_RETURN_IF_ERROR(CheckTypes(op_, a.dtype, b.dtype));
    if (a.dtype == DataType::kUndefined) return InvalidArgument("input type is unknown");
    Shape out;
    FERRY_RETURN_IF_ERROR(spec_.Plan(a.shape, b.shape, &out, &plan_));
    ctx.set_output(0, a.dtype, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    TensorView& out = ctx.output(0);
    bool done = VisitType(EwNumericHalfTypes{}, a.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      Run<T>(op_, plan_, a.as<const T>(), b.as<const T>(), out.as<T>(), ctx.num_threads());
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(a.dtype));
    return Status::Ok();
  }

 private:
  ArithOp op_;
  BinaryBroadcastSpec spec_;
  MultiBroadcastPlan plan_;
};

Result<std::unique_ptr<Kernel>> CreateArith(const KernelDef& def, ArithOp op) {
  if (def.input_types.size() != 2) return InvalidArgument("expects 2 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckTypes(op, def.input_types[0], def.input_types[1]));
  return MakeKernel<BinaryArithKernel>(op, BinaryBroadcastSpec::FromDef(def));
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateAdd(const KernelDef& def) { return CreateArith(def, ArithOp::kAdd); }
Result<std::unique_ptr<Kernel>> CreateSub(const KernelDef& def) { return CreateArith(def, ArithOp::kSub); }
Result<std::unique_ptr<Kernel>> CreateMul(const KernelDef& def) { return CreateArith(def, ArithOp::kMul); }
Result<std::unique_ptr<Kernel>> CreateDiv(const KernelDef& def) { return CreateArith(def, ArithOp::kDiv); }

Result<std::unique_ptr<Kernel>> CreateMod(const KernelDef& def) {
  const int64_t fmod = def.attrs.Int("fmod", 0);
  if (fmod != 0 && fmod != 1) return InvalidArgument("fmod must be 0 or 1, got {}", fmod);
  return CreateArith(def, fmod ? ArithOp::kFmod : ArithOp::kMod);
}

Result<std::unique_ptr<Kernel>> CreateBitShift(const KernelDef& def) {
  const std::string direction = def.attrs.String("direction", "");
  if (direction == "LEFT") return CreateArith(def, ArithOp::kShiftLeft);
  if (direction == "RIGHT") return CreateArith(def, ArithOp::kShiftRight);
  return InvalidArgument("direction \"{}\" is not supported; expected LEFT or RIGHT", direction);
}

}  // namespace ferry::cpu
