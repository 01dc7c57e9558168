// CumSum: running sum along `axis` (an input: a 0-D or one-element int32/int64 tensor), optionally exclusive
// and/or reversed. The input is viewed as [outer, n, inner] and each step adds a contiguous row of `inner`.
// Integer sums wrap (computed unsigned) rather than overflow into undefined behaviour.
#include <algorithm>
#include <memory>
#include <type_traits>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_util.h"

namespace ferry::cpu {
namespace {

// Accumulate in T for floats, in the same-width unsigned type for integers.
template <typename T, bool kFloat = std::is_floating_point_v<T>>
struct AccumType {
  using type = T;
};
template <typename T>
struct AccumType<T, false> {
  using type = std::make_unsigned_t<T>;
};

template <typename T>
class CumSumKernel final : public Kernel {
  using U = typename AccumType<T>::type;

 public:
  CumSumKernel(bool exclusive, bool reverse) : exclusive_(exclusive), reverse_(reverse) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    ctx.set_output(0, x.dtype, x.shape);
    if (!ctx.has_input(1)) return InvalidArgument("input 'axis' is required");
    const TensorView& a = ctx.input(1);
    if (a.dtype != DataType::kInt32 && a.dtype != DataType::kInt64) {
      return InvalidArgument("input 'axis' has type {}; expected int32 or int64", DataTypeName(a.dtype));
    }
    if (a.numel() != 1) return InvalidArgument("input 'axis' must hold one value, got {}", a.numel());
    if (x.rank() == 0) return InvalidArgument("input 0 must have rank >= 1");
    axis_known_ = ctx.input_known(1);
    if (axis_known_) FERRY_RETURN_IF_ERROR(SetAxis(x.shape, ElementAsInt64(a, 0)));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& xv = ctx.input(0);
    if (!axis_known_) FERRY_RETURN_IF_ERROR(SetAxis(xv.shape, ElementAsInt64(ctx.input(1), 0)));
    const T* x = xv.as<const T>();
    T* y = ctx.output(0).as<T>();
    const int64_t n = n_, inner = inner_;
    if (outer_ == 0 || n == 0 || inner == 0) return Status::Ok();
    const bool exclusive = exclusive_, reverse = reverse_;
    ParallelFor(outer_, ctx.num_threads(), n * inner, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* src = x + o * n * inner;
        T* dst = y + o * n * inner;
        // prev: the output row just written (nullptr before the first).
        const T* prev_in = nullptr;
        T* prev_out = nullptr;
        for (int64_t s = 0; s < n; ++s) {
          const int64_t i = reverse ? n - 1 - s : s;
          const T* in = src + i * inner;
          T* out = dst + i * inner;
          if (!prev_out) {
            for (int64_t j = 0; j < inner; ++j) out[j] = exclusive ? T(0) : in[j];
          } else {
            // exclusive: out[i] = out[i-1] + in[i-1]; inclusive: out[i] = out[i-1] + in[i].
            const T* add = exclusive ? prev_in : in;
            for (int64_t j = 0; j < inner; ++j) {
              out[j] = static_cast<T>(static_cast<U>(prev_out[j]) + static_cast<U>(add[j]));
            }
          }
          prev_in = in;
          prev_out = out;
        }
      }
    });
    return Status::Ok();
  }

 private:
  Status SetAxis(const Shape& shape, int64_t axis_value) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    FERRY_ASSIGN_OR_RETURN(int64_t axis, reduce::NormalizeAxis(axis_value, rank, "axis"));
    outer_ = reduce::ProductOf(shape, 0, axis);
    n_ = shape[axis];
    inner_ = reduce::ProductOf(shape, axis + 1, rank);
    return Status::Ok();
  }

  const bool exclusive_;
  const bool reverse_;
  bool axis_known_ = false;
  int64_t outer_ = 0, n_ = 0, inner_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateCumSum(const KernelDef& def) {
  const bool exclusive = def.attrs.Int("exclusive", 0) != 0;
  const bool reverse = def.attrs.Int("reverse", 0) != 0;
  auto make = [=](DataType t) -> Result<std::unique_ptr<Kernel>> {
    FERRY_RETURN_IF_ERROR(reduce::CheckType(
        "input 0", t,
        {DataType::kFloat, DataType::kDouble, DataType::kInt32, DataType::kInt64, DataType::kUInt32, DataType::kUInt64},
        false));
    std::unique_ptr<Kernel> k;
    reduce::DispatchNumeric(t, [&]<typename T>() { k = std::make_unique<CumSumKernel<T>>(exclusive, reverse); });
    return k;
  };
  const DataType t = reduce::DefInputType(def, 0);
  if (t != DataType::kUndefined) FERRY_RETURN_IF_ERROR(make(t).status());
  return std::unique_ptr<Kernel>(new reduce::TypedByInput(make));
}

}  // namespace ferry::cpu
