// ScatterND: output = data, then each row of `indices` (k entries) addresses a slice of the output that takes
// the matching slice of `updates` (or is combined with it: reduction add/mul, opset 16). Serial, so duplicate
// indices resolve in order like the spec's reference loop. Out-of-range indices fail Compute.
#include <cstring>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

enum class Reduction { kNone, kAdd, kMul };

template <typename T>
void Combine(char* out, const char* upd, int64_t n, Reduction red) {
  T* o = reinterpret_cast<T*>(out);
  const T* u = reinterpret_cast<const T*>(upd);
  if (red == Reduction::kAdd) {
    for (int64_t i = 0; i < n; ++i) o[i] = WrapAdd(o[i], u[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = WrapMul(o[i], u[i]);
  }
}

void CombineTyped(DataType t, char* out, const char* upd, int64_t n, Reduction red) {
  switch (t) {
    case DataType::kFloat:
      return Combine<float>(out, upd, n, red);
    case DataType::kDouble:
      return Combine<double>(out, upd, n, red);
    case DataType::kInt8:
      return Combine<int8_t>(out, upd, n, red);
    case DataType::kInt16:
      return Combine<int16_t>(out, upd, n, red);
    case DataType::kInt32:
      return Combine<int32_t>(out, upd, n, red);
    case DataType::kInt64:
      return Combine<int64_t>(out, upd, n, red);
    case DataType::kUInt8:
      return Combine<uint8_t>(out, upd, n, red);
    case DataType::kUInt16:
      return Combine<uint16_t>(out, upd, n, red);
    case DataType::kUInt32:
      return Combine<uint32_t>(out, upd, n, red);
    case DataType::kUInt64:
      return Combine<uint64_t>(out, upd, n, red);
    default:
      return;  // refused in Prepare
  }
}

class ScatterNDKernel : public Kernel {
 public:
  explicit ScatterNDKernel(Reduction red) : red_(red) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) {
      return InvalidArgument("ScatterND: inputs 'data', 'indices' and 'updates' are required");
    }
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    const TensorView& upd = ctx.input(2);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "ScatterND", "input 0"));
    if (ind.dtype != DataType::kInt64) {
      return Unimplemented("ScatterND: indices have type {}; supported: int64", DataTypeName(ind.dtype));
    }
    if (upd.dtype != x.dtype) {
      return InvalidArgument("ScatterND: updates have type {} but data has {}", DataTypeName(upd.dtype),
                             DataTypeName(x.dtype));
    }
    if (red_ != Reduction::kNone && !IsPlainNumericType(x.dtype)) {
      return Unimplemented("ScatterND: reduction on type {} is not supported", DataTypeName(x.dtype));
    }
    const int64_t r = x.rank(), q = ind.rank();
    if (r < 1 || q < 1) return InvalidArgument("ScatterND: data and indices must have rank >= 1");
    k_ = ind.shape[q - 1];
    if (k_ < 1 || k_ > r) return InvalidArgument("ScatterND: the last dim of indices ({}) must be in [1, {}]", k_, r);
    Shape want(ind.shape.begin(), ind.shape.end() - 1);
    want.insert(want.end(), x.shape.begin() + k_, x.shape.end());
    if (upd.shape != want) {
      return InvalidArgument("ScatterND: updates have shape {}; expected {}", ShapeToString(upd.shape),
                             ShapeToString(want));
    }
    ctx.set_output(0, x.dtype, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    const TensorView& upd = ctx.input(2);
    TensorView& y = ctx.output(0);
    const int64_t tuples = ind.numel() / k_;
    const int64_t* idx = ind.as<int64_t>();
    for (int64_t t = 0; t < tuples; ++t) {
      for (int64_t i = 0; i < k_; ++i) {
        const int64_t v = idx[t * k_ + i];
        if (v < -x.shape[i] || v >= x.shape[i]) {
          return InvalidArgument("ScatterND: index {} is out of range for axis {} of size {}", v, i, x.shape[i]);
        }
      }
    }
    ParallelCopy(y.data, x.data, x.nbytes(), ctx.num_threads());
    const std::vector<int64_t> strides = RowMajorStrides(x.shape);
    const int64_t slice = k_ == x.rank() ? 1 : strides[k_ - 1];
    const size_t elem = DataTypeSize(x.dtype);
    const size_t bytes = static_cast<size_t>(slice) * elem;
    char* out = static_cast<char*>(y.data);
    const char* u = static_cast<const char*>(upd.data);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      for (int64_t i = 0; i < k_; ++i) {
        int64_t v = idx[t * k_ + i];
        if (v < 0) v += x.shape[i];
        off += v * strides[i];
      }
      char* o = out + static_cast<size_t>(off) * elem;
      const char* s = u + static_cast<size_t>(t) * bytes;
      if (red_ == Reduction::kNone) {
        if (bytes != 0) std::memcpy(o, s, bytes);
      } else {
        CombineTyped(x.dtype, o, s, slice, red_);
      }
    }
    return Status::Ok();
  }

 private:
  const Reduction red_;
  int64_t k_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateScatterND(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "ScatterND", "input 0"));
  const DataType it = InputType(def, 1);
  if (it != DataType::kUndefined && it != DataType::kInt64) {
    return Unimplemented("ScatterND: indices have type {}; supported: int64", DataTypeName(it));
  }
  const std::string r = def.opset >= 16 ? def.attrs.String("reduction", "none") : "none";
  Reduction red = Reduction::kNone;
  if (r == "add") {
    red = Reduction::kAdd;
  } else if (r == "mul") {
    red = Reduction::kMul;
  } else if (r != "none") {
    return Unimplemented("ScatterND: reduction \"{}\" is not supported (supported: none, add, mul)", r);
  }
  const DataType dt = InputType(def, 0);
  if (red != Reduction::kNone && dt != DataType::kUndefined && !IsPlainNumericType(dt)) {
    return Unimplemented("ScatterND: reduction \"{}\" on type {} is not supported", r, DataTypeName(dt));
  }
  return MakeKernel<ScatterNDKernel>(red);
}

}  // namespace ferry::cpu
