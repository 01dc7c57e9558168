// Equal, Less, Greater, LessOrEqual, GreaterOrEqual: two inputs of one type, numpy broadcasting, bool output.
#include <memory>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_half.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

enum class CompareOp { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual };

// Bool is comparable for Equal only (as ONNX allows).
bool OpSupports(CompareOp op, DataType t) {
  return TypeListHas(EwNumericHalfTypes{}, t) || (op == CompareOp::kEqual && t == DataType::kBool);
}

Status CheckTypes(CompareOp op, DataType a, DataType b) {
  for (DataType t : {a, b}) {
    if (t != DataType::kUndefined && !OpSupports(op, t)) {
      return Unimplemented("input type {} is not supported; supported: {}{}", DataTypeName(t),
                           TypeListNames(EwNumericHalfTypes{}), op == CompareOp::kEqual ? ", bool" : "");
    }
  }
  if (a != DataType::kUndefined && b != DataType::kUndefined && a != b) {
    return InvalidArgument("inputs have different types {} and {}", DataTypeName(a), DataTypeName(b));
  }
  return Status::Ok();
}

template <typename T>
void Run(CompareOp op, const MultiBroadcastPlan& plan, const T* a, const T* b, uint8_t* out, int threads) {
  switch (op) {
    case CompareOp::kEqual:
      BroadcastBinary(plan, a, b, out, threads, 1,
                      EwLiftToBool<T>([](auto x, auto y) { return static_cast<uint8_t>(x == y); }));
      return;
    case CompareOp::kLess:
      BroadcastBinary(plan, a, b, out, threads, 1,
                      EwLiftToBool<T>([](auto x, auto y) { return static_cast<uint8_t>(x < y); }));
      return;
    case CompareOp::kGreater:
      BroadcastBinary(plan, a, b, out, threads, 1,
                      EwLiftToBool<T>([](auto x, auto y) { return static_cast<uint8_t>(x > y); }));
      return;
    case CompareOp::kLessOrEqual:
      BroadcastBinary(plan, a, b, out, threads, 1,
                      EwLiftToBool<T>([](auto x, auto y) { return static_cast<uint8_t>(x <= y); }));
      return;
    case CompareOp::kGreaterOrEqual:
      BroadcastBinary(plan, a, b, out, threads, 1,
                      EwLiftToBool<T>([](auto x, auto y) { return static_cast<uint8_t>(x >= y); }));
      return;
  }
}

class CompareKernel : public Kernel {
 public:
  CompareKernel(CompareOp op, BinaryBroadcastSpec spec) : op_(op), spec_(spec) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidArgument("expects two inputs");
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    if (a.dtype == DataType::kUndefined || b.dtype == DataType::kUndefined) {
      return InvalidArgument("input types are unknown");
    }
    FERRY_RETURN_IF_ERROR(CheckTypes(op_, a.dtype, b.dtype));
    Shape out;
    FERRY_RETURN_IF_ERROR(spec_.Plan(a.shape, b.shape, &out, &plan_));
    ctx.set_output(0, DataType::kBool, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    uint8_t* out = ctx.output(0).as<uint8_t>();
    const int threads = ctx.num_threads();
    if (a.dtype == DataType::kBool) {
      // Any nonzero byte is true.
      BroadcastBinary(plan_, a.as<const uint8_t>(), b.as<const uint8_t>(), out, threads, 1,
                      [](uint8_t x, uint8_t y) { return static_cast<uint8_t>((x != 0) == (y != 0)); });
      return Status::Ok();
    }
    bool done = VisitType(EwNumericHalfTypes{}, a.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      Run<T>(op_, plan_, a.as<const T>(), b.as<const T>(), out, threads);
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(a.dtype));
    return Status::Ok();
  }

 private:
  CompareOp op_;
  BinaryBroadcastSpec spec_;
  MultiBroadcastPlan plan_;
};

Result<std::unique_ptr<Kernel>> CreateCompare(const KernelDef& def, CompareOp op) {
  if (def.input_types.size() != 2) return InvalidArgument("expects 2 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckTypes(op, def.input_types[0], def.input_types[1]));
  return MakeKernel<CompareKernel>(op, BinaryBroadcastSpec::FromDef(def));
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateEqual(const KernelDef& def) { return CreateCompare(def, CompareOp::kEqual); }
Result<std::unique_ptr<Kernel>> CreateLess(const KernelDef& def) { return CreateCompare(def, CompareOp::kLess); }
Result<std::unique_ptr<Kernel>> CreateGreater(const KernelDef& def) { return CreateCompare(def, CompareOp::kGreater); }
Result<std::unique_ptr<Kernel>> CreateLessOrEqual(const KernelDef& def) {
  return CreateCompare(def, CompareOp::kLessOrEqual);
}
Result<std::unique_ptr<Kernel>> CreateGreaterOrEqual(const KernelDef& def) {
  return CreateCompare(def, CompareOp::kGreaterOrEqual);
}

}  // namespace ferry::cpu
