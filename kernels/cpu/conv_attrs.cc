#include "kernels/cpu/conv_attrs.h"

#include <algorithm>

namespace ferry::cpu {
namespace {

// Sizes far beyond any real model; keeps every product below in int64 range.
constexpr int64_t kMaxDim = int64_t{1} << 31;

Status CheckAll(const std::vector<int64_t>& v, const char* name, int64_t lo) {
  for (int64_t x : v) {
    if (x < lo || x > kMaxDim) return InvalidArgument("{} has value {}; must be >= {}", name, x, lo);
  }
  return Status::Ok();
}

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

}  // namespace

Result<WindowAttrs> ParseWindowAttrs(const Attributes& attrs, bool has_ceil_mode) {
  WindowAttrs a;
  std::string auto_pad = attrs.String("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    a.auto_pad = AutoPad::kNotSet;
  } else if (auto_pad == "SAME_UPPER") {
    a.auto_pad = AutoPad::kSameUpper;
  } else if (auto_pad == "SAME_LOWER") {
    a.auto_pad = AutoPad::kSameLower;
  } else if (auto_pad == "VALID") {
    a.auto_pad = AutoPad::kValid;
  } else {
    return InvalidArgument("auto_pad \"{}\" is not supported", auto_pad);
  }
  a.kernel_shape = attrs.Ints("kernel_shape");
  a.strides = attrs.Ints("strides");
  a.dilations = attrs.Ints("dilations");
  a.pads = attrs.Ints("pads");
  FERRY_RETURN_IF_ERROR(CheckAll(a.kernel_shape, "kernel_shape", 1));
  FERRY_RETURN_IF_ERROR(CheckAll(a.strides, "strides", 1));
  FERRY_RETURN_IF_ERROR(CheckAll(a.dilations, "dilations", 1));
  FERRY_RETURN_IF_ERROR(CheckAll(a.pads, "pads", 0));
  if (a.pads.size() % 2 != 0) return InvalidArgument("pads has {} values; must be even", a.pads.size());
  if (has_ceil_mode) {
    int64_t c = attrs.Int("ceil_mode", 0);
    if (c != 0 && c != 1) return InvalidArgument("ceil_mode {} is not 0 or 1", c);
    a.ceil_mode = c == 1;
  }
  return a;
}

Shape WindowGeometry::OutDims() const { return Shape(out + (kMaxSpatialDims - rank), out + kMaxSpatialDims); }

Result<WindowGeometry> ResolveForwardGeometry(const WindowAttrs& a, const Shape& in_spatial,
                                              const std::vector<int64_t>& kernel) {
  const size_t r = in_spatial.size();
  if (r < 1 || r > kMaxSpatialDims) {
    return Unimplemented("{} spatial dims are not supported (1 to {})", r, kMaxSpatialDims);
  }
  if (kernel.size() != r) return InvalidArgument("kernel has {} dims; input has {} spatial dims", kernel.size(), r);
  if (!a.strides.empty() && a.strides.size() != r) {
    return InvalidArgument("strides has {} values; input has {} spatial dims", a.strides.size(), r);
  }
  if (!a.dilations.empty() && a.dilations.size() != r) {
    return InvalidArgument("dilations has {} values; input has {} spatial dims", a.dilations.size(), r);
  }
  if (!a.pads.empty() && a.pads.size() != 2 * r) {
    return InvalidArgument("pads has {} values; expected {} for {} spatial dims", a.pads.size(), 2 * r, r);
  }
  WindowGeometry g;
  g.rank = static_cast<int>(r);
  const int off = kMaxSpatialDims - g.rank;
  for (size_t i = 0; i < r; ++i) {
    const int d = off + static_cast<int>(i);
    const int64_t in = in_spatial[i];
    if (in < 0 || in > kMaxDim) return InvalidArgument("spatial dim {} has invalid size {}", i, in);
    if (kernel[i] < 1 || kernel[i] > kMaxDim) return InvalidArgument("kernel dim {} is {}", i, kernel[i]);
    const int64_t s = a.strides.empty() ? 1 : a.strides[i];
    const int64_t dil = a.dilations.empty() ? 1 : a.dilations[i];
    const int64_t dk = (kernel[i] - 1) * dil + 1;  // extent of the dilated window
    g.in[d] = in;
    g.kernel[d] = kernel[i];
    g.stride[d] = s;
    g.dilation[d] = dil;
    int64_t out = 0;
    switch (a.auto_pad) {
      case AutoPad::kNotSet: {
        const int64_t pb = a.pads.empty() ? 0 : a.pads[i];
        const int64_t pe = a.pads.empty() ? 0 : a.pads[i + r];
        const int64_t span = in + pb + pe - dk;
        if (span < 0) {
          return InvalidArgument("window of extent {} does not fit spatial dim {} of size {} with pads {}+{}", dk, i,
                                 in, pb, pe);
        }
        out = (a.ceil_mode ? CeilDiv(span, s) : span / s) + 1;
        // A window that would start in the end padding is dropped (as PyTorch and newer ONNX specify).
        if (a.ceil_mode && (out - 1) * s >= in + pb) --out;
        g.pad_begin[d] = pb;
        g.pad_end[d] = pe;
        break;
      }
      case AutoPad::kValid: {
        if (in < dk) return InvalidArgument("window of extent {} does not fit spatial dim {} of size {}", dk, i, in);
        out = (in - dk) / s + 1;
        break;
      }
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out = CeilDiv(in, s);
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + dk - in);
        g.pad_begin[d] = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        g.pad_end[d] = total - g.pad_begin[d];
        break;
      }
    }
    g.out[d] = out;
  }
  return g;
}

Status CheckInputType(DataType actual, size_t index, std::initializer_list<DataType> supported) {
  if (actual == DataType::kUndefined) return Status::Ok();
  for (DataType t : supported) {
    if (t == actual) return Status::Ok();
  }
  std::string names;
  for (DataType t : supported) {
    if (!names.empty()) names += ", ";
    names += DataTypeName(t);
  }
  return Unimplemented("input {} has type {}; supported: {}", index, DataTypeName(actual), names);
}

Status CheckInputType(const KernelDef& def, size_t index, std::initializer_list<DataType> supported) {
  if (index >= def.input_types.size()) return Status::Ok();
  if (index < def.input_present.size() && !def.input_present[index]) return Status::Ok();
  return CheckInputType(def.input_types[index], index, supported);
}

Status CheckConvInputs(const KernelContext& ctx, const char* op) {
  if (ctx.num_inputs() < 2 || !ctx.has_input(0) || !ctx.has_input(1)) {
    return InvalidArgument("{} needs inputs X and W", op);
  }
  const TensorView& x = ctx.input(0);
  const TensorView& w = ctx.input(1);
  FERRY_RETURN_IF_ERROR(CheckInputType(x.dtype, 0, {DataType::kFloat}));
  FERRY_RETURN_IF_ERROR(CheckInputType(w.dtype, 1, {DataType::kFloat}));
  if (x.rank() < 3) return InvalidArgument("X has rank {}; {} needs [N, C, spatial...]", x.rank(), op);
  if (w.rank() != x.rank()) return InvalidArgument("W has rank {}; X has rank {}", w.rank(), x.rank());
  return Status::Ok();
}

Status CheckConvBias(const KernelContext& ctx, int64_t channels) {
  if (!ctx.has_input(2)) return Status::Ok();
  const TensorView& b = ctx.input(2);
  FERRY_RETURN_IF_ERROR(CheckInputType(b.dtype, 2, {DataType::kFloat}));
  if (b.rank() != 1 || b.shape[0] != channels) {
    return InvalidArgument("B has shape {}; expected [{}]", ShapeToString(b.shape), channels);
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> ConvKernelDims(const WindowAttrs& attrs, const Shape& w_shape) {
  std::vector<int64_t> kernel = SpatialDims(w_shape);
  if (!attrs.kernel_shape.empty() && attrs.kernel_shape != kernel) {
    return InvalidArgument("kernel_shape {} does not match W {}", ShapeToString(attrs.kernel_shape),
                           ShapeToString(w_shape));
  }
  return kernel;
}

}  // namespace ferry::cpu
