// GlobalAveragePool and GlobalMaxPool (opset 1+): one value per (image, channel) over all spatial dims.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

constexpr std::initializer_list<DataType> kTypes = {DataType::kFloat, DataType::kDouble};

template <bool kMax>
class GlobalPoolKernel : public Kernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("input X is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckInputType(x.dtype, 0, kTypes));
    if (x.rank() < 2) return InvalidArgument("X has rank {}; needs [N, C, spatial...]", x.rank());
    dtype_ = x.dtype;
    planes_ = x.shape[0] * x.shape[1];
    plane_size_ = NumElements(SpatialDims(x.shape));
    if (kMax && plane_size_ == 0 && planes_ > 0) return InvalidArgument("GlobalMaxPool of an empty plane");
    Shape out = x.shape;
    std::fill(out.begin() + 2, out.end(), 1);
    ctx.set_output(0, x.dtype, out);
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
    const int64_t n = plane_size_;
    ParallelFor(planes_, ctx.num_threads(), n, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const T* src = x + p * n;
        if constexpr (kMax) {
          T m = src[0];
          for (int64_t i = 1; i < n; ++i) m = src[i] > m ? src[i] : m;
          y[p] = m;
        } else {
          // Several partial sums: vectorizable, and less rounding drift over large planes.
          T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          int64_t i = 0;
          for (; i + 8 <= n; i += 8) {
            for (int k = 0; k < 8; ++k) acc[k] += src[i + k];
          }
          T sum = 0;
          for (; i < n; ++i) sum += src[i];
          for (int k = 0; k < 8; ++k) sum += acc[k];
          y[p] = n > 0 ? sum / static_cast<T>(n) : std::numeric_limits<T>::quiet_NaN();
        }
      }
    });
    return Status::Ok();
  }

  DataType dtype_ = DataType::kFloat;
  int64_t planes_ = 0, plane_size_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateGlobalAveragePool(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, kTypes));
  return MakeKernel<GlobalPoolKernel<false>>();
}

Result<std::unique_ptr<Kernel>> CreateGlobalMaxPool(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, kTypes));
  return MakeKernel<GlobalPoolKernel<true>>();
}

}  // namespace ferry::cpu
