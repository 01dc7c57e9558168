// Sum, Mean, Max, Min: one or more inputs of one type, broadcast together (numpy rules).
//
// The first two inputs are combined straight into the output (each broadcast to the final shape), then each
// further input is folded into the output in place, so no temporary is needed.
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_half.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

enum class VariadicOp { kSum, kMean, kMax, kMin };

bool OpSupports(VariadicOp op, DataType t) {
  // Mean of integers would need a rounding rule ONNX does not define; it allows float types only.
  if (op == VariadicOp::kMean) return TypeListHas(EwFloatHalfTypes{}, t);
  return TypeListHas(EwNumericHalfTypes{}, t);
}

Status CheckType(VariadicOp op, DataType t) {
  if (t == DataType::kUndefined || OpSupports(op, t)) return Status::Ok();
  auto names = op == VariadicOp::kMean ? TypeListNames(EwFloatHalfTypes{}) : TypeListNames(EwNumericHalfTypes{});
  return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t), names);
}

template <typename T>
void Fold(VariadicOp op, const MultiBroadcastPlan& plan, const T* a, const T* b, T* out, int threads) {
  switch (op) {
    case VariadicOp::kSum:
    case VariadicOp::kMean:
      BroadcastBinary(plan, a, b, out, threads, 1, EwLift<T>([](auto x, auto y) { return EwAdd(x, y); }));
      return;
    case VariadicOp::kMax:
      BroadcastBinary(plan, a, b, out, threads, 1, EwLift<T>([](auto x, auto y) { return EwMax(x, y); }));
      return;
    case VariadicOp::kMin:
      BroadcastBinary(plan, a, b, out, threads, 1, EwLift<T>([](auto x, auto y) { return EwMin(x, y); }));
      return;
  }
}

class VariadicKernel : public Kernel {
 public:
  explicit VariadicKernel(VariadicOp op) : op_(op) {}

  Status Prepare(KernelContext& ctx) override {
    const size_t n = ctx.num_inputs();
    if (n == 0) return InvalidArgument("expects at least one input");
    std::vector<Shape> shapes;
    const DataType dtype = ctx.has_input(0) ? ctx.input(0).dtype : DataType::kUndefined;
    for (size_t i = 0; i < n; ++i) {
      if (!ctx.has_input(i)) return InvalidArgument("input {} is missing", i);
      if (ctx.input(i).dtype != dtype) {
        return InvalidArgument("input {} has type {} but input 0 has type {}", i, DataTypeName(ctx.input(i).dtype),
                               DataTypeName(dtype));
      }
      shapes.push_back(ctx.input(i).shape);
    }
    if (dtype == DataType::kUndefined) return InvalidArgument("input type is unknown");
    FERRY_RETURN_IF_ERROR(CheckType(op_, dtype));
    FERRY_ASSIGN_OR_RETURN(out_shape_, MultiBroadcastShape(shapes));
    plans_.clear();
    if (n > 1) {
      FERRY_ASSIGN_OR_RETURN(MultiBroadcastPlan first, MakeMultiBroadcastPlan({shapes[0], shapes[1]}, out_shape_));
      plans_.push_back(std::move(first));
      for (size_t i = 2; i < n; ++i) {
        FERRY_ASSIGN_OR_RETURN(MultiBroadcastPlan p, MakeMultiBroadcastPlan({out_shape_, shapes[i]}, out_shape_));
        plans_.push_back(std::move(p));
      }
    }
    ctx.set_output(0, dtype, out_shape_);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const size_t n = ctx.num_inputs();
    TensorView& out = ctx.output(0);
    const DataType dtype = ctx.input(0).dtype;
    if (n == 1) {
      if (out.nbytes() != 0) std::memmove(out.data, ctx.input(0).data, out.nbytes());
      return Status::Ok();
    }
    bool done = VisitType(EwNumericHalfTypes{}, dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = out.as<T>();
      const int threads = ctx.num_threads();
      Fold<T>(op_, plans_[0], ctx.input(0).as<const T>(), ctx.input(1).as<const T>(), o, threads);
      for (size_t i = 2; i < n; ++i) Fold<T>(op_, plans_[i - 1], o, ctx.input(i).as<const T>(), o, threads);
      if constexpr (std::is_floating_point_v<T>) {
        if (op_ == VariadicOp::kMean) {
          const T count = static_cast<T>(n);
          MapUnary(o, o, out.numel(), threads, 1, [count](T v) { return v / count; });
        }
      } else if constexpr (std::is_same_v<T, EwHalf>) {
        if (op_ == VariadicOp::kMean) {
          const float count = static_cast<float>(n);
          MapUnary(o, o, out.numel(), threads, 2,
                   [count](EwHalf v) { return EwHalf{EwFloatToHalf(EwHalfToFloat(v.bits) / count)}; });
        }
      }
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(dtype));
    return Status::Ok();
  }

 private:
  VariadicOp op_;
  Shape out_shape_;
  std::vector<MultiBroadcastPlan> plans_;
};

Result<std::unique_ptr<Kernel>> CreateVariadic(const KernelDef& def, VariadicOp op) {
  if (def.input_types.empty()) return InvalidArgument("expects at least one input");
  for (size_t i = 0; i < def.input_types.size(); ++i) {
    if (i < def.input_present.size() && !def.input_present[i]) return InvalidArgument("input {} is missing", i);
    FERRY_RETURN_IF_ERROR(CheckType(op, def.input_types[i]));
  }
  return MakeKernel<VariadicKernel>(op);
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateSum(const KernelDef& def) { return CreateVariadic(def, VariadicOp::kSum); }
Result<std::unique_ptr<Kernel>> CreateMean(const KernelDef& def) { return CreateVariadic(def, VariadicOp::kMean); }
Result<std::unique_ptr<Kernel>> CreateMax(const KernelDef& def) { return CreateVariadic(def, VariadicOp::kMax); }
Result<std::unique_ptr<Kernel>> CreateMin(const KernelDef& def) { return CreateVariadic(def, VariadicOp::kMin); }

}  // namespace ferry::cpu
