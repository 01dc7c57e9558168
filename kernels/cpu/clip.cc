// Clip: y = min(max(x, min), max). Before opset 11 the bounds are float attributes; from 11 they are optional
// one-element inputs of x's type, which may change from run to run, so they are read in Compute.
#include <limits>
#include <memory>
#include <optional>

#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/elementwise_types.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

class ClipKernel : public Kernel {
 public:
  // attr_min/attr_max: the pre-opset-11 attributes, absent when nullopt.
  ClipKernel(bool bounds_are_inputs, std::optional<float> attr_min, std::optional<float> attr_max)
      : bounds_are_inputs_(bounds_are_inputs), attr_min_(attr_min), attr_max_(attr_max) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("expects input X");
    const TensorView& x = ctx.input(0);
    if (x.dtype == DataType::kUndefined) return InvalidArgument("input type is unknown");
    FERRY_RETURN_IF_ERROR(CheckType(x.dtype, bounds_are_inputs_));
    if (bounds_are_inputs_) {
      for (size_t i = 1; i <= 2; ++i) {
        if (!ctx.has_input(i)) continue;
        const TensorView& b = ctx.input(i);
        const char* name = i == 1 ? "min" : "max";
        if (b.dtype != x.dtype) {
          return InvalidArgument("{} has type {} but X has type {}", name, DataTypeName(b.dtype),
                                 DataTypeName(x.dtype));
        }
        if (b.numel() != 1)
          return InvalidArgument("{} must hold one value, got shape {}", name, ShapeToString(b.shape));
      }
    }
    ctx.set_output(0, x.dtype, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    bool done = VisitType(EwNumericTypes{}, x.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T lo = std::numeric_limits<T>::lowest();
      T hi = std::numeric_limits<T>::max();
      if (bounds_are_inputs_) {
        if (ctx.has_input(1)) lo = ctx.input(1).as<const T>()[0];
        if (ctx.has_input(2)) hi = ctx.input(2).as<const T>()[0];
      } else {
        if (attr_min_) lo = static_cast<T>(*attr_min_);
        if (attr_max_) hi = static_cast<T>(*attr_max_);
      }
      // Written so that NaN passes through; with min > max every element becomes max, as in numpy.
      MapUnary(x.as<const T>(), ctx.output(0).as<T>(), x.numel(), ctx.num_threads(), 1, [lo, hi](T v) {
        v = v < lo ? lo : v;
        return v > hi ? hi : v;
      });
    });
    if (!done) return Internal("unexpected type {}", DataTypeName(x.dtype));
    return Status::Ok();
  }

  static Status CheckType(DataType t, bool bounds_are_inputs) {
    if (t == DataType::kUndefined) return Status::Ok();
    // With float attributes for bounds, integer inputs would need a conversion ONNX never defined.
    if (bounds_are_inputs ? TypeListHas(EwNumericTypes{}, t) : TypeListHas(EwFloatTypes{}, t)) return Status::Ok();
    return Unimplemented("input type {} is not supported; supported: {}", DataTypeName(t),
                         bounds_are_inputs ? TypeListNames(EwNumericTypes{}) : TypeListNames(EwFloatTypes{}));
  }

 private:
  bool bounds_are_inputs_;
  std::optional<float> attr_min_;
  std::optional<float> attr_max_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateClip(const KernelDef& def) {
  if (def.input_types.empty()) return InvalidArgument("expects input X");
  const bool bounds_are_inputs = def.opset >= 11;
  if (!bounds_are_inputs && def.input_types.size() != 1) {
    return InvalidArgument("before opset 11 Clip takes one input, got {}", def.input_types.size());
  }
  if (def.input_types.size() > 3) return InvalidArgument("expects at most 3 inputs, got {}", def.input_types.size());
  FERRY_RETURN_IF_ERROR(ClipKernel::CheckType(def.input_types[0], bounds_are_inputs));
  std::optional<float> attr_min;
  std::optional<float> attr_max;
  if (!bounds_are_inputs && def.attrs.Has("min")) attr_min = def.attrs.Float("min", 0.f);
  if (!bounds_are_inputs && def.attrs.Has("max")) attr_max = def.attrs.Float("max", 0.f);
  return MakeKernel<ClipKernel>(bounds_are_inputs, attr_min, attr_max);
}

}  // namespace ferry::cpu
