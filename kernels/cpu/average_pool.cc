// AveragePool (opset 1+): 1-D to 3-D windows with strides, pads / auto_pad, ceil_mode and count_include_pad.
//
// With count_include_pad the divisor counts the explicit padding but not the part of a ceil_mode window that
// hangs past the end padding (as onnxruntime and PyTorch do); without it, only the taps inside X count.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/conv_pool_window.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

constexpr std::initializer_list<DataType> kTypes = {DataType::kFloat, DataType::kDouble};

class AveragePoolKernel : public Kernel {
 public:
  AveragePoolKernel(WindowAttrs attrs, bool count_include_pad)
      : attrs_(std::move(attrs)), count_include_pad_(count_include_pad) {}

  Status Prepare(KernelContext& ctx) override {
    FERRY_RETURN_IF_ERROR(PreparePoolWindow(ctx, "AveragePool", attrs_, kTypes, &g_, &taps_, &planes_).status());
    dtype_ = ctx.input(0).dtype;
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    return dtype_ == DataType::kDouble ? Run<double>(ctx) : Run<float>(ctx);
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx) const {
    const T* x = ctx.input(0).as<T>();
    T* y = ctx.output(0).as<T>();
    const int64_t in_size = g_.in_size(), out_size = g_.out_size();
    if (planes_ == 0 || out_size == 0) return Status::Ok();
    ParallelFor(planes_, ctx.num_threads(), out_size * g_.kernel_size(), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) Plane<T>(x + p * in_size, y + p * out_size);
    });
    return Status::Ok();
  }

  template <typename T>
  void Plane(const T* x, T* y) const {
    const int64_t IH = g_.in[1], IW = g_.in[2];
    for (const TapRange& rd : taps_.dims[0]) {
      for (const TapRange& rh : taps_.dims[1]) {
        for (const TapRange& rw : taps_.dims[2]) {
          T sum = 0;
          for (int64_t id = rd.start + rd.t0; id < rd.start + rd.t1; ++id) {
            for (int64_t ih = rh.start + rh.t0; ih < rh.start + rh.t1; ++ih) {
              const T* row = x + (id * IH + ih) * IW;
              for (int64_t iw = rw.start + rw.t0; iw < rw.start + rw.t1; ++iw) sum += row[iw];
            }
          }
          const int64_t count = count_include_pad_ ? rd.padded_extent * rh.padded_extent * rw.padded_extent
                                                   : (rd.t1 - rd.t0) * (rh.t1 - rh.t0) * (rw.t1 - rw.t0);
          *y++ = count > 0 ? sum / static_cast<T>(count) : T(0);
        }
      }
    }
  }

  const WindowAttrs attrs_;
  const bool count_include_pad_;
  WindowGeometry g_;
  WindowTapTable taps_;
  DataType dtype_ = DataType::kFloat;
  int64_t planes_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateAveragePool(const KernelDef& def) {
  FERRY_ASSIGN_OR_RETURN(WindowAttrs attrs, ParseWindowAttrs(def.attrs, /*has_ceil_mode=*/true));
  if (attrs.kernel_shape.empty()) return InvalidArgument("kernel_shape is required");
  for (int64_t d : attrs.dilations) {
    if (d != 1) return Unimplemented("dilations {} is not supported by AveragePool before opset 19", d);
  }
  const int64_t cip = def.attrs.Int("count_include_pad", 0);
  if (cip != 0 && cip != 1) return InvalidArgument("count_include_pad {} is not 0 or 1", cip);
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, kTypes));
  return MakeKernel<AveragePoolKernel>(std::move(attrs), cip == 1);
}

}  // namespace ferry::cpu
