// PRelu: y = x < 0 ? slope * x : x, slope broadcast onto x (numpy, unidirectional, from opset 7). Before
// opset 7 a 1-D slope of size C holds one value per channel (dim 1 of x).
#include <memory>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_math.h"
#include "kernels/cpu/elementwise_scalar.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

using PReluTypes = TypeList<float, double, int32_t, int64_t, uint32_t, uint64_t>;

Status CheckTypes(DataType x, DataType slope) {
  for (DataType t : {x, slope}) {
    if (t != DataType::kUndefined && !TypeListHas(PReluTypes{}, t)) {
      return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t),
                           TypeListNames(PReluTypes{}));
    }
  }
  if (x != DataType::kUndefined && slope != DataType::kUndefined && x != slope) {
    return InvalidArgument("x has type {} but slope has type {}", DataTypeName(x), DataTypeName(slope));
  }
  return Status::Ok();
}

class PReluKernel : public Kernel {
 public:
  explicit PReluKernel(int opset) : opset_(opset) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidArgument("expects inputs X and slope");
    const TensorView& x = ctx.input(0);
    const TensorView& slope = ctx.input(1);
    if (x.dtype == DataType::kUndefined || slope.dtype == DataType::kUndefined) {
      return InvalidArgument("input types are unknown");
    }
    FERRY_RETURN_IF_ERROR(CheckTypes(x.dtype, slope.dtype));
    Shape slope_shape = slope.shape;
    if (opset_ < 7 && slope.shape.size() == 1 && x.shape.size() >= 2 && slope.shape[0] == x.shape[1] &&
        slope.shape[0] != 1) {
      slope_shape.resize(x.shape.size() - 1, 1);
    }
    FERRY_ASSIGN_OR_RETURN(Shape out, MultiBroadcastShape({x.shape, slope_shape}));
    if (out != x.shape) {
      return InvalidArgument("slope of shape {} does not broadcast onto X of shape {}", ShapeToString(slope.shape),
                             ShapeToString(x.shape));
    }
    FERRY_ASSIGN_OR_RETURN(plan_, MakeMultiBroadcastPlan({x.shape, slope_shape}, out));
    ctx.set_output(0, x.dtype, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    bool done = VisitType(PReluTypes{}, x.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.as<const T>();
      const T* ps = ctx.input(1).as<const T>();
      T* py = ctx.output(0).as<T>();
      if constexpr (std::is_unsigned_v<T>) {
        // Nothing is negative.
        BroadcastBinary(plan_, px, ps, py, ctx.num_threads(), 1, [](T v, T) { return v; });
      } else {
        BroadcastBinary(plan_, px, ps, py, ctx.num_threads(), 1, [](T v, T s) {
          if constexpr (std::is_floating_point_v<T>) {
            return EwSelect(v < 0, v * s, v);
          } else {
            return v < 0 ? EwMul(v, s) : v;
          }
        });
      }
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(x.dtype));
    return Status::Ok();
  }

 private:
  int opset_;
  MultiBroadcastPlan plan_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreatePRelu(const KernelDef& def) {
  if (def.input_types.size() != 2) return InvalidArgument("expects 2 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(CheckTypes(def.input_types[0], def.input_types[1]));
  return MakeKernel<PReluKernel>(def.opset);
}

}  // namespace ferry::cpu
