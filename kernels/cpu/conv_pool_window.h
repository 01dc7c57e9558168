// Window iteration shared by MaxPool and AveragePool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kernels/cpu/conv_attrs.h"

namespace ferry::cpu {

// The taps of one window along one dim that land inside the input: tap t in [t0, t1) reads input index
// start + t * dilation, where start = o * stride - pad_begin. padded_extent counts the window's positions
// inside the padded input (what count_include_pad divides by; a ceil_mode window can hang past it).
struct TapRange {
  int64_t start, t0, t1, padded_extent;
};

inline TapRange WindowTaps(const WindowGeometry& g, int d, int64_t o) {
  const int64_t start = o * g.stride[d] - g.pad_begin[d];
  const int64_t dil = g.dilation[d], k = g.kernel[d], in = g.in[d];
  int64_t t0 = start >= 0 ? 0 : (-start + dil - 1) / dil;
  int64_t t1 = start >= in ? 0 : (in - start + dil - 1) / dil;
  t0 = std::min(t0, k);
  t1 = std::max(t0, std::min(t1, k));
  const int64_t end = std::min(start + (k - 1) * dil + 1, in + g.pad_end[d]);
  return {start, t0, t1, std::max<int64_t>(end - start, 0)};
}

// Tap ranges of every output position, per dim: computed once per plan, since the divisions in WindowTaps
// would otherwise dominate small windows.
struct WindowTapTable {
  std::vector<TapRange> dims[kMaxSpatialDims];

  void Build(const WindowGeometry& g) {
    for (int d = 0; d < kMaxSpatialDims; ++d) {
      dims[d].resize(static_cast<size_t>(g.out[d]));
      for (int64_t o = 0; o < g.out[d]; ++o) dims[d][static_cast<size_t>(o)] = WindowTaps(g, d, o);
    }
  }
};

// The part of Prepare MaxPool and AveragePool share: checks X (present, one of `types`, rank >= 3), resolves the
// window geometry and its tap table, counts the (N, C) planes and declares output 0 with X's type. Returns the
// output shape. `op` names the op in the messages.
inline Result<Shape> PreparePoolWindow(KernelContext& ctx, const char* op, const WindowAttrs& attrs,
                                       std::initializer_list<DataType> types, WindowGeometry* g, WindowTapTable* taps,
                                       int64_t* planes) {
  if (!ctx.has_input(0)) return InvalidArgument("{} needs input X", op);
  const TensorView& x = ctx.input(0);
  FERRY_RETURN_IF_ERROR(CheckInputType(x.dtype, 0, types));
  if (x.rank() < 3) return InvalidArgument("X has rank {}; {} needs [N, C, spatial...]", x.rank(), op);
  FERRY_ASSIGN_OR_RETURN(*g, ResolveForwardGeometry(attrs, SpatialDims(x.shape), attrs.kernel_shape));
  taps->Build(*g);
  *planes = x.shape[0] * x.shape[1];
  Shape out = {x.shape[0], x.shape[1]};
  for (int64_t d : g->OutDims()) out.push_back(d);
  ctx.set_output(0, x.dtype, out);
  return out;
}

}  // namespace ferry::cpu
