// Where: y = cond ? x : y over the numpy broadcast of all three inputs. Selection moves bytes only, so any
// fixed-size element type (float16 and bfloat16 included) is handled by its size.
#include <cstring>
#include <memory>

#include "kernels/cpu/broadcast.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

// One run with each input's stride fixed at compile time (0 = repeated element, 1 = contiguous), so that
// every combination gets a simple loop.
template <typename T, int kSc, int kSx, int kSy>
void SelectRun(const uint8_t* c, const T* x, const T* y, T* out, int64_t len) {
#pragma omp simd
  for (int64_t i = 0; i < len; ++i) out[i] = c[i * kSc] ? x[i * kSx] : y[i * kSy];
}

template <typename T>
void Select(const MultiBroadcastPlan& plan, const uint8_t* c, const T* x, const T* y, T* out, int threads) {
  using RunFn = void (*)(const uint8_t*, const T*, const T*, T*, int64_t);
  // Indexed by the stride mask c | x << 1 | y << 2.
  static constexpr RunFn kRuns[8] = {
      &SelectRun<T, 0, 0, 0>, &SelectRun<T, 1, 0, 0>, &SelectRun<T, 0, 1, 0>, &SelectRun<T, 1, 1, 0>,
      &SelectRun<T, 0, 0, 1>, &SelectRun<T, 1, 0, 1>, &SelectRun<T, 0, 1, 1>, &SelectRun<T, 1, 1, 1>,
  };
  const RunFn run = kRuns[plan.row_stride[0] | (plan.row_stride[1] << 1) | (plan.row_stride[2] << 2)];
  ForEachBroadcastRun(plan, threads, 1, [&](int64_t o, const int64_t* in, int64_t len) {
    run(c + in[0], x + in[1], y + in[2], out + o, len);
  });
}

template <typename T>
void SelectBytes(const MultiBroadcastPlan& plan, const uint8_t* c, const void* x, const void* y, void* out,
                 int threads) {
  Select(plan, c, static_cast<const T*>(x), static_cast<const T*>(y), static_cast<T*>(out), threads);
}

class WhereKernel : public Kernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) {
      return InvalidArgument("expects inputs condition, X and Y");
    }
    const TensorView& c = ctx.input(0);
    const TensorView& x = ctx.input(1);
    const TensorView& y = ctx.input(2);
    if (c.dtype != DataType::kBool)
      return InvalidArgument("condition has type {}; expected bool", DataTypeName(c.dtype));
    if (x.dtype != y.dtype) {
      return InvalidArgument("X has type {} but Y has type {}", DataTypeName(x.dtype), DataTypeName(y.dtype));
    }
    const size_t size = DataTypeSize(x.dtype);
    if (size != 1 && size != 2 && size != 4 && size != 8) {
      return Unimplemented("X and Y of type {} are not supported", DataTypeName(x.dtype));
    }
    FERRY_ASSIGN_OR_RETURN(Shape out, MultiBroadcastShape({c.shape, x.shape, y.shape}));
    FERRY_ASSIGN_OR_RETURN(plan_, MakeMultiBroadcastPlan({c.shape, x.shape, y.shape}, out));
    ctx.set_output(0, x.dtype, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const uint8_t* c = ctx.input(0).as<const uint8_t>();
    const void* x = ctx.input(1).data;
    const void* y = ctx.input(2).data;
    void* out = ctx.output(0).data;
    const int threads = ctx.num_threads();
    switch (DataTypeSize(ctx.input(1).dtype)) {
      case 1:
        SelectBytes<uint8_t>(plan_, c, x, y, out, threads);
        break;
      case 2:
        SelectBytes<uint16_t>(plan_, c, x, y, out, threads);
        break;
      case 4:
        SelectBytes<uint32_t>(plan_, c, x, y, out, threads);
        break;
      case 8:
        SelectBytes<uint64_t>(plan_, c, x, y, out, threads);
        break;
      default:
        return Internal("unexpected element size");
    }
    return Status::Ok();
  }

 private:
  MultiBroadcastPlan plan_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateWhere(const KernelDef& def) {
  if (def.input_types.size() != 3) return InvalidArgument("expects 3 inputs, got {}", def.input_types.size());
  if (def.input_types[0] != DataType::kUndefined && def.input_types[0] != DataType::kBool) {
    return InvalidArgument("condition has type {}; expected bool", DataTypeName(def.input_types[0]));
  }
  for (size_t i = 1; i < 3; ++i) {
    DataType t = def.input_types[i];
    if (t != DataType::kUndefined && DataTypeSize(t) == 0) {
      return Unimplemented("input {} has type {}, which is not supported", i, DataTypeName(t));
    }
  }
  return MakeKernel<WhereKernel>();
}

}  // namespace ferry::cpu
