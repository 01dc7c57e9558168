// ScatterElements (and its opset 9-10 name Scatter): output = data, then for every position p of indices,
// output[p with p[axis] replaced by indices[p]] = updates[p] (or += / *= with `reduction`, opset 16).
// Runs serially so duplicate indices resolve in order, as the spec's reference loop does.
#include <cstring>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

enum class Reduction { kNone, kAdd, kMul };

// Calls fn(dst_elem, update_elem) for every update, in row-major order of indices.
template <typename I, typename F>
Status ForEachScatter(const TensorView& data, const TensorView& ind, int64_t axis, F&& fn) {
  const int64_t dim = data.shape[axis];
  const int64_t n = ind.numel();
  const I* idx = ind.as<I>();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t v = static_cast<int64_t>(idx[t]);
    if (v < -dim || v >= dim) {
      return InvalidArgument("ScatterElements: index {} is out of range for an axis of size {}", v, dim);
    }
  }
  if (n == 0) return Status::Ok();
  const int64_t r = ind.rank();
  const int64_t last = ind.shape[r - 1];
  std::vector<int64_t> strides = RowMajorStrides(data.shape);
  const int64_t axis_stride = strides[axis];
  const int64_t last_stride = axis == r - 1 ? 0 : strides[r - 1];
  strides[axis] = 0;
  ForEachRow(ind.shape, strides, 0, n / last, [&](int64_t row, int64_t off) {
    for (int64_t j = 0; j < last; ++j) {
      const int64_t t = row * last + j;
      int64_t v = static_cast<int64_t>(idx[t]);
      if (v < 0) v += dim;
      fn(off + j * last_stride + v * axis_stride, t);
    }
  });
  return Status::Ok();
}

template <typename T, typename I>
Status ScatterReduce(const TensorView& data, const TensorView& ind, const TensorView& upd, TensorView& out,
                     int64_t axis, Reduction red) {
  T* o = out.as<T>();
  const T* u = upd.as<T>();
  if (red == Reduction::kAdd) {
    return ForEachScatter<I>(data, ind, axis, [&](int64_t d, int64_t s) { o[d] = WrapAdd(o[d], u[s]); });
  }
  return ForEachScatter<I>(data, ind, axis, [&](int64_t d, int64_t s) { o[d] = WrapMul(o[d], u[s]); });
}

template <typename I>
Status ScatterTyped(const TensorView& data, const TensorView& ind, const TensorView& upd, TensorView& out, int64_t axis,
                    Reduction red) {
  if (red == Reduction::kNone) {
    const size_t elem = DataTypeSize(data.dtype);
    char* o = static_cast<char*>(out.data);
    const char* u = static_cast<const char*>(upd.data);
    return ForEachScatter<I>(data, ind, axis,
                             [&](int64_t d, int64_t s) { std::memcpy(o + d * elem, u + s * elem, elem); });
  }
  switch (data.dtype) {
    case DataType::kFloat:
      return ScatterReduce<float, I>(data, ind, upd, out, axis, red);
    case DataType::kDouble:
      return ScatterReduce<double, I>(data, ind, upd, out, axis, red);
    case DataType::kInt8:
      return ScatterReduce<int8_t, I>(data, ind, upd, out, axis, red);
    case DataType::kInt16:
      return ScatterReduce<int16_t, I>(data, ind, upd, out, axis, red);
    case DataType::kInt32:
      return ScatterReduce<int32_t, I>(data, ind, upd, out, axis, red);
    case DataType::kInt64:
      return ScatterReduce<int64_t, I>(data, ind, upd, out, axis, red);
    case DataType::kUInt8:
      return ScatterReduce<uint8_t, I>(data, ind, upd, out, axis, red);
    case DataType::kUInt16:
      return ScatterReduce<uint16_t, I>(data, ind, upd, out, axis, red);
    case DataType::kUInt32:
      return ScatterReduce<uint32_t, I>(data, ind, upd, out, axis, red);
    case DataType::kUInt64:
      return ScatterReduce<uint64_t, I>(data, ind, upd, out, axis, red);
    default:
      return Unimplemented("ScatterElements: reduction on type {} is not supported", DataTypeName(data.dtype));
  }
}

class ScatterElementsKernel : public Kernel {
 public:
  ScatterElementsKernel(int64_t axis, Reduction red) : axis_(axis), red_(red) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) {
      return InvalidArgument("ScatterElements: inputs 'data', 'indices' and 'updates' are required");
    }
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    const TensorView& upd = ctx.input(2);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "ScatterElements", "input 0"));
    if (ind.dtype != DataType::kInt64 && ind.dtype != DataType::kInt32) {
      return Unimplemented("ScatterElements: indices have type {}; supported: int32, int64", DataTypeName(ind.dtype));
    }
    if (upd.dtype != x.dtype) {
      return InvalidArgument("ScatterElements: updates have type {} but data has {}", DataTypeName(upd.dtype),
                             DataTypeName(x.dtype));
    }
    if (red_ != Reduction::kNone && !IsPlainNumericType(x.dtype)) {
      return Unimplemented("ScatterElements: reduction on type {} is not supported", DataTypeName(x.dtype));
    }
    if (x.rank() == 0 || ind.rank() != x.rank() || upd.shape != ind.shape) {
      return InvalidArgument(
          "ScatterElements: data {}, indices {} and updates {} must have one rank >= 1 and "
          "indices and updates one shape",
          ShapeToString(x.shape), ShapeToString(ind.shape), ShapeToString(upd.shape));
    }
    FERRY_ASSIGN_OR_RETURN(axis_n_, ResolveAxis(axis_, x.rank(), "ScatterElements", "axis"));
    for (int64_t d = 0; d < x.rank(); ++d) {
      if (d != axis_n_ && ind.shape[d] > x.shape[d]) {
        return InvalidArgument("ScatterElements: indices shape {} exceeds data shape {} on axis {}",
                               ShapeToString(ind.shape), ShapeToString(x.shape), d);
      }
    }
    ctx.set_output(0, x.dtype, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    TensorView& y = ctx.output(0);
    ParallelCopy(y.data, x.data, x.nbytes(), ctx.num_threads());
    if (ind.dtype == DataType::kInt64) return ScatterTyped<int64_t>(x, ind, ctx.input(2), y, axis_n_, red_);
    return ScatterTyped<int32_t>(x, ind, ctx.input(2), y, axis_n_, red_);
  }

 private:
  const int64_t axis_;
  const Reduction red_;
  int64_t axis_n_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateScatterElements(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "ScatterElements", "input 0"));
  const DataType it = InputType(def, 1);
  if (it != DataType::kUndefined && it != DataType::kInt64 && it != DataType::kInt32) {
    return Unimplemented("ScatterElements: indices have type {}; supported: int32, int64", DataTypeName(it));
  }
  Reduction red = Reduction::kNone;
  const std::string r =
      def.op_type == "ScatterElements" && def.opset >= 16 ? def.attrs.String("reduction", "none") : "none";
  if (r == "add") {
    red = Reduction::kAdd;
  } else if (r == "mul") {
    red = Reduction::kMul;
  } else if (r != "none") {
    return Unimplemented("ScatterElements: reduction \"{}\" is not supported (supported: none, add, mul)", r);
  }
  const DataType dt = InputType(def, 0);
  if (red != Reduction::kNone && dt != DataType::kUndefined && !IsPlainNumericType(dt)) {
    return Unimplemented("ScatterElements: reduction \"{}\" on type {} is not supported", r, DataTypeName(dt));
  }
  return MakeKernel<ScatterElementsKernel>(def.attrs.Int("axis", 0), red);
}

}  // namespace ferry::cpu
