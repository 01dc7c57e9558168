// Resize (opsets 10, 11, 13) and Upsample (opsets 7 and 9): every mode of the spec (nearest with all four
// nearest_mode values, N-linear, N-cubic with cubic_coeff_a and exclude_outside) and every
// coordinate_transformation_mode; tf_crop_and_resize is supported with `sizes` (with `scales` the spec and the
// reference disagree on the output length, so it is refused).
//
// The sampling tables come from resize_plan.h. Nearest without extrapolation is a gather that moves elements of
// any fixed size; the other modes run one separable pass per resized axis, innermost first (the reference's
// order), ping-ponging through scratch, in float or double. Up to opset 10 the coordinates are asymmetric and
// nearest rounds as ONNX Runtime does (floor when upsampling, ceil when downsampling).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_util.h"
#include "kernels/cpu/resize_plan.h"

namespace ferry::cpu {
namespace {

using resize::AxisPlan;
using resize::Coord;
using resize::Mode;

// Largest output we agree to plan (elements); beyond this a scale is surely a mistake.
constexpr double kMaxOutput = 1LL << 40;
constexpr double kMaxPlanBytes = 256.0 * (1 << 20);

struct ResizeConfig {
  resize::Options opts;
  int roi_input = -1;  // input index of roi, scales and sizes (-1: not an input of this op/opset)
  int scales_input = -1;
  int sizes_input = -1;
  std::vector<float> attr_scales;  // Upsample-7
  bool attr_scales_given = false;
  float extrapolation_value = 0.f;
};

class ResizeKernel final : public Kernel {
 public:
  explicit ResizeKernel(ResizeConfig cfg) : cfg_(std::move(cfg)) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const int64_t rank = x.rank();
    if (rank == 0) return InvalidArgument("input X must have rank >= 1");
    const bool gather = cfg_.opts.mode == Mode::kNearest && cfg_.opts.coord != Coord::kTfCropAndResize;
    if (gather) {
      const size_t es = DataTypeSize(x.dtype);
      if (x.dtype == DataType::kString || (es != 1 && es != 2 && es != 4 && es != 8)) {
        return Unimplemented("input X has type {}", DataTypeName(x.dtype));
      }
    } else {
      FERRY_RETURN_IF_ERROR(reduce::CheckType("input X", x.dtype, {DataType::kFloat, DataType::kDouble}, false));
    }
    dtype_ = x.dtype;
    std::vector<double> scales;
    std::vector<int64_t> sizes;
    if (cfg_.attr_scales_given) {
      scales.assign(cfg_.attr_scales.begin(), cfg_.attr_scales.end());
    }
    if (cfg_.scales_input >= 0 && ctx.has_input(cfg_.scales_input) && ctx.input(cfg_.scales_input).numel() > 0) {
      FERRY_ASSIGN_OR_RETURN(scales, reduce::ReadKnownFloats(ctx, cfg_.scales_input, "scales"));
    }
    if (cfg_.sizes_input >= 0 && ctx.has_input(cfg_.sizes_input) && ctx.input(cfg_.sizes_input).numel() > 0) {
      FERRY_ASSIGN_OR_RETURN(sizes, reduce::ReadKnownInts(ctx, cfg_.sizes_input, "sizes"));
    }
    if (!scales.empty() && !sizes.empty()) return InvalidArgument("only one of 'scales' and 'sizes' may be given");
    if (scales.empty() && sizes.empty()) return InvalidArgument("one of 'scales' and 'sizes' must be given");
    const size_t n = scales.empty() ? sizes.size() : scales.size();
    if (static_cast<int64_t>(n) != rank) {
      return InvalidArgument("'{}' has {} elements, expected the input rank {}", scales.empty() ? "sizes" : "scales", n,
                             rank);
    }
    std::vector<double> roi(static_cast<size_t>(2 * rank), 0.0);
    if (cfg_.opts.coord == Coord::kTfCropAndResize) {
      if (sizes.empty()) return Unimplemented("tf_crop_and_resize is supported with 'sizes' only");
      if (cfg_.roi_input < 0 || !ctx.has_input(cfg_.roi_input)) {
        return InvalidArgument("tf_crop_and_resize needs the 'roi' input");
      }
      FERRY_ASSIGN_OR_RETURN(roi, reduce::ReadKnownFloats(ctx, cfg_.roi_input, "roi"));
      if (static_cast<int64_t>(roi.size()) != 2 * rank) {
        return InvalidArgument("'roi' has {} elements, expected {}", roi.size(), 2 * rank);
      }
    }
    Shape out_shape(static_cast<size_t>(rank));
    std::vector<double> axis_scale(static_cast<size_t>(rank)), axis_lr(static_cast<size_t>(rank));
    double total = 1;
    plans_.clear();
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t in = x.shape[d];
      double scale, lr;
      int64_t out;
      if (!sizes.empty()) {
        out = sizes[d];
        if (out < 0) return InvalidArgument("sizes[{}] = {} is negative", d, out);
        if (out > 0 && in == 0) return InvalidArgument("cannot resize an empty axis {} to {}", d, out);
        // Checked per axis too: with another axis of length 0 the product below stays 0 whatever this one is,
        // and each axis plan takes memory in proportion to its length.
        if (static_cast<double>(out) > kMaxOutput) return InvalidArgument("sizes[{}] = {} is too large", d, out);
        scale = in > 0 ? static_cast<double>(out) / static_cast<double>(in) : 1.0;
        lr = static_cast<double>(out);
      } else {
        scale = scales[d];
        if (!(scale > 0)) return InvalidArgument("scales[{}] = {} must be positive", d, scale);
        lr = scale * static_cast<double>(in);
        if (lr > kMaxOutput) return InvalidArgument("scales[{}] = {} gives too large an output", d, scale);
        out = static_cast<int64_t>(std::floor(lr));
      }
      if (cfg_.opts.mode == Mode::kCubic && cfg_.opts.coord == Coord::kPytorchHalfPixel && out == 1 && in > 1) {
        // The spec samples x = 0 here, the ONNX reference x = -0.5; for cubic the two answers differ.
        return Unimplemented("cubic pytorch_half_pixel resize of axis {} to length 1 is ambiguous", d);
      }
      out_shape[d] = out;
      axis_scale[d] = scale;
      axis_lr[d] = lr;
      total *= static_cast<double>(out);
      if (total > kMaxOutput) return InvalidArgument("the output would have over 2^40 elements");
    }
    // The axis plans take about 32 bytes per output position and tap (index, weight, offsets), allocated here at
    // load, before any memory limit sees the model: a 158-byte model asking for sizes [1, 1, 1, 2^30] would take
    // 17 GiB. Bound them; no real resize comes near (2^23 positions per axis for nearest).
    const int taps = cfg_.opts.mode == Mode::kCubic ? 4 : cfg_.opts.mode == Mode::kLinear ? 2 : 1;
    double plan_bytes = 0;
    for (int64_t d = 0; d < rank; ++d) plan_bytes += static_cast<double>(out_shape[d]) * taps * 32;
    if (total > 0 && plan_bytes > kMaxPlanBytes) {
      return InvalidArgument("output {} would need {:.0f} MiB of interpolation tables, over the bound of {:.0f} MiB",
                             ShapeToString(out_shape), plan_bytes / (1 << 20), kMaxPlanBytes / (1 << 20));
    }
    // An empty output needs no plans (and its other axes may be long).
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t in = x.shape[d], out = out_shape[d];
      plans_.push_back(in > 0 && out > 0 && total > 0
                           ? resize::BuildAxisPlan(cfg_.opts, in, out, axis_scale[d], axis_lr[d], roi[d], roi[d + rank])
                           : AxisPlan{});
    }
    ctx.set_output(0, x.dtype, out_shape);
    in_shape_ = x.shape;
    out_shape_ = out_shape;
    empty_ = NumElements(out_shape) == 0;
    gather_ = gather;
    if (empty_) return Status::Ok();
    if (gather_) {
      // Element offsets of each output position along each axis.
      const std::vector<int64_t> strides = RowMajorStrides(x.shape);
      offsets_.assign(static_cast<size_t>(rank), {});
      for (int64_t d = 0; d < rank; ++d) {
        offsets_[d].resize(static_cast<size_t>(out_shape[d]));
        for (int64_t j = 0; j < out_shape[d]; ++j) offsets_[d][j] = plans_[d].index[j] * strides[d];
      }
      return Status::Ok();
    }
    // Separable passes, innermost axis first; each pass changes one axis from in to out.
    passes_.clear();
    weights_f_.assign(static_cast<size_t>(rank), {});
    if (dtype_ == DataType::kFloat) {
      for (int64_t d = 0; d < rank; ++d) weights_f_[d].assign(plans_[d].weight.begin(), plans_[d].weight.end());
    }
    Shape cur = x.shape;
    int64_t biggest = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (plans_[d].identity) continue;
      passes_.push_back(d);
      cur[d] = out_shape[d];
      biggest = std::max(biggest, NumElements(cur));
    }
    // The last pass writes the output; earlier ones alternate between two scratch buffers.
    buffer_elems_ = passes_.size() > 1 ? biggest : 0;
    ctx.request_scratch(static_cast<size_t>(2 * buffer_elems_) * DataTypeSize(dtype_));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    if (empty_) return Status::Ok();
    const void* x = ctx.input(0).data;
    void* y = ctx.output(0).data;
    const int threads = ctx.num_threads();
    if (gather_) {
      switch (DataTypeSize(dtype_)) {
        case 1:
          Gather<uint8_t>(x, y, threads);
          break;
        case 2:
          Gather<uint16_t>(x, y, threads);
          break;
        case 4:
          Gather<uint32_t>(x, y, threads);
          break;
        default:
          Gather<uint64_t>(x, y, threads);
          break;
      }
      return Status::Ok();
    }
    if (dtype_ == DataType::kFloat) {
      Separable<float>(static_cast<const float*>(x), static_cast<float*>(y), ctx.scratch(), threads);
    } else {
      Separable<double>(static_cast<const double*>(x), static_cast<double*>(y), ctx.scratch(), threads);
    }
    return Status::Ok();
  }

 private:
  template <typename E>
  void Gather(const void* xv, void* yv, int threads) const {
    const E* x = static_cast<const E*>(xv);
    E* y = static_cast<E*>(yv);
    const size_t rank = out_shape_.size();
    const int64_t width = out_shape_.back();
    const int64_t rows = NumElements(out_shape_) / width;
    const std::vector<int64_t>& last = offsets_.back();
    const bool last_identity = plans_.back().identity;
    ParallelFor(rows, threads, width + 8, [&](int64_t r0, int64_t r1) {
      std::vector<int64_t> idx(rank, 0);
      int64_t rem = r0;
      for (size_t k = rank - 1; k-- > 0;) {
        idx[k] = rem % out_shape_[k];
        rem /= out_shape_[k];
      }
      int64_t prev_base = -1;
      for (int64_t r = r0; r < r1; ++r) {
        int64_t base = 0;
        for (size_t k = 0; k + 1 < rank; ++k) base += offsets_[k][idx[k]];
        E* dst = y + r * width;
        if (r > r0 && base == prev_base) {
          // Upsampling an outer axis repeats the row just written.
          std::memcpy(dst, dst - width, static_cast<size_t>(width) * sizeof(E));
        } else if (last_identity) {
          std::memcpy(dst, x + base, static_cast<size_t>(width) * sizeof(E));
        } else {
          for (int64_t j = 0; j < width; ++j) dst[j] = x[base + last[j]];
        }
        prev_base = base;
        for (size_t k = rank - 1; k-- > 0;) {
          if (++idx[k] < out_shape_[k]) break;
          idx[k] = 0;
        }
      }
    });
  }

  template <typename T>
  void Separable(const T* x, T* y, void* scratch, int threads) const {
    if (passes_.empty()) {
      std::memcpy(y, x, static_cast<size_t>(NumElements(out_shape_)) * sizeof(T));
      return;
    }
    T* buf[2] = {static_cast<T*>(scratch), static_cast<T*>(scratch) + buffer_elems_};
    Shape cur = in_shape_;
    const T* src = x;
    for (size_t p = 0; p < passes_.size(); ++p) {
      const int64_t d = passes_[p];
      T* dst = p + 1 == passes_.size() ? y : buf[p % 2];
      const int64_t outer = reduce::ProductOf(cur, 0, d);
      const int64_t inner = reduce::ProductOf(cur, d + 1, static_cast<int64_t>(cur.size()));
      const T* w;
      if constexpr (std::is_same_v<T, float>) {
        w = weights_f_[d].data();
      } else {
        w = plans_[d].weight.data();
      }
      switch (plans_[d].taps) {
        case 1:
          Pass<T, 1>(plans_[d], w, src, dst, outer, inner, threads);
          break;
        case 2:
          Pass<T, 2>(plans_[d], w, src, dst, outer, inner, threads);
          break;
        default:
          Pass<T, 4>(plans_[d], w, src, dst, outer, inner, threads);
          break;
      }
      cur[d] = out_shape_[d];
      src = dst;
    }
  }

  // [outer, plan.in, inner] -> [outer, plan.out, inner] along one axis; w holds plan.weight as T.
  template <typename T, int kTaps>
  void Pass(const AxisPlan& plan, const T* weights, const T* src, T* dst, int64_t outer, int64_t inner,
            int threads) const {
    const T ev = static_cast<T>(cfg_.extrapolation_value);
    const int64_t in = plan.in, out = plan.out;
    const int64_t* index = plan.index.data();
    const uint8_t* outside = plan.outside.data();
    if (inner == 1) {
      ParallelFor(outer, threads, out * kTaps * 2, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          const T* __restrict s = src + o * in;
          T* __restrict t = dst + o * out;
          for (int64_t j = 0; j < out; ++j) {
            T acc = 0;
            for (int k = 0; k < kTaps; ++k) acc += weights[j * kTaps + k] * s[index[j * kTaps + k]];
            t[j] = outside[j] ? ev : acc;
          }
        }
      });
      return;
    }
    ParallelFor(outer * out, threads, inner * kTaps * 2, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = r / out, j = r % out;
        T* __restrict t = dst + r * inner;
        if (outside[j]) {
          std::fill(t, t + inner, ev);
          continue;
        }
        const T* s = src + o * in * inner;
        const T* __restrict row[kTaps];
        T w[kTaps];
        for (int k = 0; k < kTaps; ++k) {
          row[k] = s + index[j * kTaps + k] * inner;
          w[k] = weights[j * kTaps + k];
        }
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) {
          T acc = w[0] * row[0][i];
          for (int k = 1; k < kTaps; ++k) acc += w[k] * row[k][i];
          t[i] = acc;
        }
      }
    });
  }

  const ResizeConfig cfg_;
  // Plan (Prepare).
  DataType dtype_ = DataType::kUndefined;
  Shape in_shape_, out_shape_;
  bool empty_ = false;
  bool gather_ = false;
  std::vector<AxisPlan> plans_;
  std::vector<std::vector<int64_t>> offsets_;  // gather: per axis, input element offset of each output position
  std::vector<int64_t> passes_;                // separable: axes to resample, innermost first
  std::vector<std::vector<float>> weights_f_;  // float inputs: plans_[d].weight as float
  int64_t buffer_elems_ = 0;
};

// Checks the attributes shared by Resize and Upsample and the input type when known.
Result<std::unique_ptr<Kernel>> Finish(const KernelDef& def, ResizeConfig cfg) {
  const DataType t = reduce::DefInputType(def, 0);
  if (t != DataType::kUndefined) {
    if (cfg.opts.mode != Mode::kNearest || cfg.opts.coord == Coord::kTfCropAndResize) {
      FERRY_RETURN_IF_ERROR(reduce::CheckType("input X", t, {DataType::kFloat, DataType::kDouble}, false));
    } else if (t == DataType::kString || DataTypeSize(t) == 0) {
      return Unimplemented("input X has type {}", DataTypeName(t));
    }
  }
  return std::unique_ptr<Kernel>(new ResizeKernel(std::move(cfg)));
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateResize(const KernelDef& def) {
  ResizeConfig cfg;
  FERRY_RETURN_IF_ERROR(resize::ParseMode(def.attrs.String("mode", "nearest"), &cfg.opts.mode));
  if (def.opset < 11) {
    if (cfg.opts.mode == Mode::kCubic) return Unimplemented("mode \"cubic\" is not supported before opset 11");
    cfg.opts.coord = Coord::kAsymmetric;
    cfg.opts.nearest = resize::NearestMode::kLegacy;
    cfg.scales_input = 1;
  } else {
    FERRY_RETURN_IF_ERROR(resize::ParseCoord(def.attrs.String("coordinate_transformation_mode", "half_pixel"),
                                             def.opset, &cfg.opts.coord));
    FERRY_RETURN_IF_ERROR(
        resize::ParseNearestMode(def.attrs.String("nearest_mode", "round_prefer_floor"), &cfg.opts.nearest));
    cfg.opts.cubic_a = def.attrs.Float("cubic_coeff_a", -0.75f);
    cfg.opts.exclude_outside = def.attrs.Int("exclude_outside", 0) != 0;
    cfg.extrapolation_value = def.attrs.Float("extrapolation_value", 0.f);
    cfg.roi_input = 1;
    cfg.scales_input = 2;
    cfg.sizes_input = 3;
  }
  return Finish(def, std::move(cfg));
}

Result<std::unique_ptr<Kernel>> CreateUpsample(const KernelDef& def) {
  ResizeConfig cfg;
  FERRY_RETURN_IF_ERROR(resize::ParseMode(def.attrs.String("mode", "nearest"), &cfg.opts.mode));
  if (cfg.opts.mode == Mode::kCubic) return Unimplemented("mode \"cubic\" is not supported by Upsample");
  cfg.opts.coord = Coord::kAsymmetric;
  cfg.opts.nearest = resize::NearestMode::kLegacy;
  if (def.opset < 9) {
    if (!def.attrs.Has("scales")) return InvalidArgument("attribute 'scales' is required before opset 9");
    cfg.attr_scales = def.attrs.Floats("scales");
    cfg.attr_scales_given = true;
  } else {
    cfg.scales_input = 1;
  }
  return Finish(def, std::move(cfg));
}

}  // namespace ferry::cpu
