// Attribute parsing and output-size arithmetic shared by Conv, ConvTranspose and the windowed pools.
//
// Every spatial op here works on up to three spatial dims. Geometry is kept in a fixed 3-D form (depth,
// height, width) where the missing leading dims of a 1-D or 2-D op have size 1, kernel 1, stride 1 and no
// padding, so one loop nest serves all ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "kernels/kernel.h"

namespace ferry::cpu {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The spatial attributes as written in the node; empty vectors mean "use the default".
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;  // [begin_0, ..., begin_k, end_0, ..., end_k]
  bool ceil_mode = false;
};

// Reads and range-checks auto_pad, kernel_shape, strides, dilations, pads (and ceil_mode when the op has it).
// Fails naming the attribute at fault.
Result<WindowAttrs> ParseWindowAttrs(const Attributes& attrs, bool has_ceil_mode);

constexpr int kMaxSpatialDims = 3;

// Resolved geometry of one windowed op, in the fixed 3-D form described above.
struct WindowGeometry {
  int rank = 0;  // number of real spatial dims (1..3)
  int64_t in[kMaxSpatialDims] = {1, 1, 1};
  int64_t out[kMaxSpatialDims] = {1, 1, 1};
  int64_t kernel[kMaxSpatialDims] = {1, 1, 1};
  int64_t stride[kMaxSpatialDims] = {1, 1, 1};
  int64_t dilation[kMaxSpatialDims] = {1, 1, 1};
  int64_t pad_begin[kMaxSpatialDims] = {0, 0, 0};
  int64_t pad_end[kMaxSpatialDims] = {0, 0, 0};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  // The real spatial output dims, to append to [N, C].
  Shape OutDims() const;
};

// Computes the output size and begin/end pads of a forward window op (Conv, MaxPool, AveragePool) over
// `in_spatial`, with `kernel` the window size per spatial dim. Fails when an attribute's length does not
// match the rank or the window does not fit the padded input.
Result<WindowGeometry> ResolveForwardGeometry(const WindowAttrs& a, const Shape& in_spatial,
                                              const std::vector<int64_t>& kernel);

// Spatial dims of a shape [N, C, D...]: the D part. REQUIRES: shape.size() >= 2.
inline Shape SpatialDims(const Shape& shape) { return Shape(shape.begin() + 2, shape.end()); }

// "input 0 has type int32; supported: float" or OK. kUndefined (unknown at load) passes.
Status CheckInputType(const KernelDef& def, size_t index, std::initializer_list<DataType> supported);
Status CheckInputType(DataType actual, size_t index, std::initializer_list<DataType> supported);

// Checks the inputs Conv and ConvTranspose share: X and W present and float, X of rank >= 3, W of X's rank.
// `op` names the op in the messages.
Status CheckConvInputs(const KernelContext& ctx, const char* op);

// Checks the optional bias input 2, when present: float, of shape [channels].
Status CheckConvBias(const KernelContext& ctx, int64_t channels);

// The spatial dims of W, which the kernel_shape attribute (when given) must match.
Result<std::vector<int64_t>> ConvKernelDims(const WindowAttrs& attrs, const Shape& w_shape);

}  // namespace ferry::cpu
