// And, Or, Xor (two bool inputs, numpy broadcasting) and Not. Any nonzero input byte counts as true; outputs
// are 0 or 1.
#include <memory>

#include "kernels/cpu/broadcast.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

enum class LogicalOp { kAnd, kOr, kXor };

Status CheckBool(DataType t, size_t input) {
  if (t == DataType::kUndefined || t == DataType::kBool) return Status::Ok();
  return Unimplemented("input {} has type {}; supported: bool", input, DataTypeName(t));
}

class LogicalKernel : public Kernel {
 public:
  LogicalKernel(LogicalOp op, BinaryBroadcastSpec spec) : op_(op), spec_(spec) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidArgument("expects two inputs");
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    for (size_t i = 0; i < 2; ++i) {
      if (ctx.input(i).dtype != DataType::kBool) {
        return Unimplemented("input {} has type {}; supported: bool", i, DataTypeName(ctx.input(i).dtype));
      }
    }
    Shape out;
    FERRY_RETURN_IF_ERROR(spec_.Plan(a.shape, b.shape, &out, &plan_));
    ctx.set_output(0, DataType::kBool, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const uint8_t* a = ctx.input(0).as<const uint8_t>();
    const uint8_t* b = ctx.input(1).as<const uint8_t>();
    uint8_t* out = ctx.output(0).as<uint8_t>();
    const int threads = ctx.num_threads();
    switch (op_) {
      case LogicalOp::kAnd:
        BroadcastBinary(plan_, a, b, out, threads, 1,
                        [](uint8_t x, uint8_t y) { return static_cast<uint8_t>((x != 0) & (y != 0)); });
        break;
      case LogicalOp::kOr:
        BroadcastBinary(plan_, a, b, out, threads, 1,
                        [](uint8_t x, uint8_t y) { return static_cast<uint8_t>((x != 0) | (y != 0)); });
        break;
      case LogicalOp::kXor:
        BroadcastBinary(plan_, a, b, out, threads, 1,
                        [](uint8_t x, uint8_t y) { return static_cast<uint8_t>((x != 0) ^ (y != 0)); });
        break;
    }
    return Status::Ok();
  }

 private:
  LogicalOp op_;
  BinaryBroadcastSpec spec_;
  MultiBroadcastPlan plan_;
};

class NotKernel : public Kernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("expects one input");
    const TensorView& x = ctx.input(0);
    if (x.dtype != DataType::kBool) return Unimplemented("input has type {}; supported: bool", DataTypeName(x.dtype));
    ctx.set_output(0, DataType::kBool, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    MapUnary(x.as<const uint8_t>(), ctx.output(0).as<uint8_t>(), x.numel(), ctx.num_threads(), 1,
             [](uint8_t v) { return static_cast<uint8_t>(v == 0); });
    return Status::Ok();
  }
};

Result<std::unique_ptr<Kernel>> CreateLogical(const KernelDef& def, LogicalOp op) {
  if (def.input_types.size() != 2) return InvalidArgument("expects 2 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckBool(def.input_types[0], 0));
  FERRY_RETURN_IF_ERROR(CheckBool(def.input_types[1], 1));
  return MakeKernel<LogicalKernel>(op, BinaryBroadcastSpec::FromDef(def));
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateAnd(const KernelDef& def) { return CreateLogical(def, LogicalOp::kAnd); }
Result<std::unique_ptr<Kernel>> CreateOr(const KernelDef& def) { return CreateLogical(def, LogicalOp::kOr); }
Result<std::unique_ptr<Kernel>> CreateXor(const KernelDef& def) { return CreateLogical(def, LogicalOp::kXor); }

Result<std::unique_ptr<Kernel>> CreateNot(const KernelDef& def) {
  if (def.input_types.size() != 1) return InvalidArgument("expects 1 input, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckBool(def.input_types[0], 0));
  return MakeKernel<NotKernel>();
}

}  // namespace ferry::cpu
