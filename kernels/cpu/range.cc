// Range: start, start + delta, ... up to (excluding) limit; all three inputs are scalars known in Prepare,
// since they fix the output length max(ceil((limit - start) / delta), 0).
#include <cmath>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

bool RangeType(DataType t) {
  return t == DataType::kFloat || t == DataType::kDouble || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}

// Accumulates like the spec's function body (and onnxruntime) rather than computing start + i * delta.
template <typename T>
void Fill(T* out, int64_t n, const TensorView& start, const TensorView& delta) {
  T v = *start.as<T>();
  const T d = *delta.as<T>();
  for (int64_t i = 0; i < n; ++i) {
    out[i] = v;
    if (i + 1 < n) v = static_cast<T>(v + d);
  }
}

class RangeKernel : public Kernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    static const char* kNames[] = {"start", "limit", "delta"};
    for (size_t i = 0; i < 3; ++i) {
      if (!ctx.has_input(i)) return InvalidArgument("Range: input '{}' is missing", kNames[i]);
      if (!ctx.input_known(i)) return InvalidArgument("Range: input '{}' must be a constant", kNames[i]);
      if (ctx.input(i).numel() != 1) return InvalidArgument("Range: input '{}' must be a scalar", kNames[i]);
    }
    const DataType t = ctx.input(0).dtype;
    if (!RangeType(t)) {
      return Unimplemented("Range: type {} is not supported (supported: float, double, int16, int32, int64)",
                           DataTypeName(t));
    }
    if (ctx.input(1).dtype != t || ctx.input(2).dtype != t) {
      return InvalidArgument("Range: start, limit and delta must have one type");
    }
    int64_t n = 0;
    if (t == DataType::kFloat || t == DataType::kDouble) {
      // limit - start in the input's precision, then the division in double, as onnxruntime does.
      const double start = ElementAsDouble(ctx.input(0), 0);
      const double limit = ElementAsDouble(ctx.input(1), 0);
      const double delta = ElementAsDouble(ctx.input(2), 0);
      if (delta == 0.0 || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta)) {
        return InvalidArgument("Range: delta must be nonzero and all inputs finite");
      }
      const double span = t == DataType::kFloat
                              ? static_cast<double>(static_cast<float>(limit) - static_cast<float>(start))
                              : limit - start;
      const double count = std::ceil(span / delta);
      if (count > 1e12) return InvalidArgument("Range: output would have {} elements", count);
      n = count > 0 ? static_cast<int64_t>(count) : 0;
    } else {
      const int64_t start = ElementAsInt64(ctx.input(0), 0);
      const int64_t limit = ElementAsInt64(ctx.input(1), 0);
      const int64_t delta = ElementAsInt64(ctx.input(2), 0);
      if (delta == 0) return InvalidArgument("Range: delta must be nonzero");
      const __int128 span = static_cast<__int128>(limit) - start;
      __int128 q = span / delta;
      // Division truncates toward zero, which is already the ceiling for a negative quotient.
      if (q * delta != span && (span > 0) == (delta > 0)) q += 1;
      if (q > (__int128{1} << 40)) return InvalidArgument("Range: output would be too large");
      n = q > 0 ? static_cast<int64_t>(q) : 0;
    }
    ctx.set_output(0, t, Shape{n});
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    TensorView& y = ctx.output(0);
    const int64_t n = y.numel();
    const TensorView& s = ctx.input(0);
    const TensorView& d = ctx.input(2);
    switch (y.dtype) {
      case DataType::kFloat:
        Fill(y.as<float>(), n, s, d);
        break;
      case DataType::kDouble:
        Fill(y.as<double>(), n, s, d);
        break;
      case DataType::kInt16:
        Fill(y.as<int16_t>(), n, s, d);
        break;
      case DataType::kInt32:
        Fill(y.as<int32_t>(), n, s, d);
        break;
      default:
        Fill(y.as<int64_t>(), n, s, d);
        break;
    }
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateRange(const KernelDef& def) {
  const DataType t = InputType(def, 0);
  if (t != DataType::kUndefined && !RangeType(t)) {
    return Unimplemented("Range: type {} is not supported (supported: float, double, int16, int32, int64)",
                         DataTypeName(t));
  }
  return MakeKernel<RangeKernel>();
}

}  // namespace ferry::cpu
