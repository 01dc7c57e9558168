// MaxPool (opset 1+): 1-D to 3-D windows with strides, pads / auto_pad, ceil_mode, dilations, and the optional
// Indices output (flat offsets into X, row-major or, with storage_order 1, column-major over the spatial dims).
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/conv_pool_window.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

// Input rows up to this long take the separable path (its row buffer lives on the stack).
constexpr int64_t kRowBuffer = 1024;

constexpr std::initializer_list<DataType> kTypes = {DataType::kFloat, DataType::kDouble, DataType::kInt8,
                                                    DataType::kUInt8};

class MaxPoolKernel : public Kernel {
 public:
  MaxPoolKernel(WindowAttrs attrs, int64_t storage_order) : attrs_(std::move(attrs)), storage_order_(storage_order) {}

  Status Prepare(KernelContext& ctx) override {
    FERRY_ASSIGN_OR_RETURN(Shape out, PreparePoolWindow(ctx, "MaxPool", attrs_, kTypes, &g_, &taps_, &planes_));
    dtype_ = ctx.input(0).dtype;
    if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    switch (dtype_) {
      case DataType::kDouble:
        return Run<double>(ctx);
      case DataType::kInt8:
        return Run<int8_t>(ctx);
      case DataType::kUInt8:
        return Run<uint8_t>(ctx);
      default:
        return Run<float>(ctx);
    }
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx) const {
    const T* x = ctx.input(0).as<T>();
    T* y = ctx.output(0).as<T>();
    int64_t* ind = ctx.num_outputs() > 1 ? ctx.output(1).as<int64_t>() : nullptr;
    const int64_t in_size = g_.in_size(), out_size = g_.out_size();
    if (planes_ == 0 || out_size == 0) return Status::Ok();
    ParallelFor(planes_, ctx.num_threads(), out_size * g_.kernel_size(), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        Plane<T>(x + p * in_size, y + p * out_size, ind != nullptr ? ind + p * out_size : nullptr, p * in_size);
      }
    });
    return Status::Ok();
  }

  template <typename T>
  void Plane(const T* x, T* y, int64_t* ind, int64_t base) const {
    const int64_t IH = g_.in[1], IW = g_.in[2], ID = g_.in[0];
    const int64_t dd = g_.dilation[0], dh = g_.dilation[1], dw = g_.dilation[2];
    for (const TapRange& rd : taps_.dims[0]) {
      for (const TapRange& rh : taps_.dims[1]) {
        if (ind == nullptr && IW <= kRowBuffer) {
          // Separable: the max over the window's rows first (vectorizes), then along each window's columns.
          T rowmax[kRowBuffer];
          std::fill(rowmax, rowmax + IW, std::numeric_limits<T>::lowest());
          for (int64_t td = rd.t0; td < rd.t1; ++td) {
            for (int64_t th = rh.t0; th < rh.t1; ++th) {
              const T* row = x + ((rd.start + td * dd) * IH + rh.start + th * dh) * IW;
#pragma omp simd
              for (int64_t iw = 0; iw < IW; ++iw) rowmax[iw] = row[iw] > rowmax[iw] ? row[iw] : rowmax[iw];
            }
          }
          for (const TapRange& rw : taps_.dims[2]) {
            T best = std::numeric_limits<T>::lowest();
            for (int64_t tw = rw.t0; tw < rw.t1; ++tw) {
              const T v = rowmax[rw.start + tw * dw];
              best = v > best ? v : best;
            }
            *y++ = best;
          }
          continue;
        }
        if (ind == nullptr) {
          for (const TapRange& rw : taps_.dims[2]) {
            T best = std::numeric_limits<T>::lowest();
            for (int64_t td = rd.t0; td < rd.t1; ++td) {
              for (int64_t th = rh.t0; th < rh.t1; ++th) {
                const T* row = x + ((rd.start + td * dd) * IH + rh.start + th * dh) * IW;
                for (int64_t tw = rw.t0; tw < rw.t1; ++tw) {
                  const T v = row[rw.start + tw * dw];
                  best = v > best ? v : best;
                }
              }
            }
            *y++ = best;
          }
          continue;
        }
        for (const TapRange& rw : taps_.dims[2]) {
          T best = std::numeric_limits<T>::lowest();
          int64_t best_at = -1;
          for (int64_t td = rd.t0; td < rd.t1; ++td) {
            const int64_t id = rd.start + td * dd;
            for (int64_t th = rh.t0; th < rh.t1; ++th) {
              const int64_t ih = rh.start + th * dh;
              const T* row = x + (id * IH + ih) * IW;
              for (int64_t tw = rw.t0; tw < rw.t1; ++tw) {
                const int64_t iw = rw.start + tw * dw;
                if (row[iw] > best || best_at < 0) {
                  best = row[iw];
                  best_at = storage_order_ == 0 ? (id * IH + ih) * IW + iw : (iw * IH + ih) * ID + id;
                }
              }
            }
          }
          *y++ = best;
          *ind++ = best_at < 0 ? -1 : base + best_at;
        }
      }
    }
  }

  const WindowAttrs attrs_;
  const int64_t storage_order_;
  WindowGeometry g_;
  WindowTapTable taps_;
  DataType dtype_ = DataType::kFloat;
  int64_t planes_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateMaxPool(const KernelDef& def) {
  FERRY_ASSIGN_OR_RETURN(WindowAttrs attrs, ParseWindowAttrs(def.attrs, /*has_ceil_mode=*/true));
  if (attrs.kernel_shape.empty()) return InvalidArgument("kernel_shape is required");
  const int64_t storage_order = def.attrs.Int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) return InvalidArgument("storage_order {} is not 0 or 1", storage_order);
  if (def.num_outputs > 2) return InvalidArgument("MaxPool has at most 2 outputs, got {}", def.num_outputs);
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, kTypes));
  return MakeKernel<MaxPoolKernel>(std::move(attrs), storage_order);
}

}  // namespace ferry::cpu
