// Slice: numpy-style start:end:step per axis (attributes before opset 10, inputs from 10), with the spec's
// clamping. The result is a strided view of the input, copied with StridedCopy.
#include <algorithm>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class SliceKernel : public StridedCopyKernel {
 public:
  SliceKernel(bool from_inputs, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes)
      : from_inputs_(from_inputs), starts_(std::move(starts)), ends_(std::move(ends)), axes_(std::move(axes)) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Slice: input 'data' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Slice", "input 0"));
    const int64_t rank = x.rank();
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
    if (from_inputs_) {
      FERRY_ASSIGN_OR_RETURN(starts, ReadConstantInts(ctx, 1, "Slice", "starts"));
      FERRY_ASSIGN_OR_RETURN(ends, ReadConstantInts(ctx, 2, "Slice", "ends"));
      if (ctx.has_input(3)) {
        FERRY_ASSIGN_OR_RETURN(axes, ReadConstantInts(ctx, 3, "Slice", "axes"));
      }
      if (ctx.has_input(4)) {
        FERRY_ASSIGN_OR_RETURN(steps, ReadConstantInts(ctx, 4, "Slice", "steps"));
      }
    }
    if (starts.size() != ends.size()) {
      return InvalidArgument("Slice: 'starts' has {} entries but 'ends' has {}", starts.size(), ends.size());
    }
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size()) {
      return InvalidArgument("Slice: 'starts', 'ends', 'axes' and 'steps' must have the same length ({}, {}, {}, {})",
                             starts.size(), ends.size(), axes.size(), steps.size());
    }
    for (int64_t& a : axes) {
      FERRY_ASSIGN_OR_RETURN(a, ResolveAxis(a, rank, "Slice", "axis"));
    }
    FERRY_RETURN_IF_ERROR(CheckUniqueAxes(axes, rank, "Slice"));

    const std::vector<int64_t> in_strides = RowMajorStrides(x.shape);
    Shape out = x.shape;
    std::vector<int64_t> strides = in_strides;
    int64_t offset = 0;
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = axes[i];
      const int64_t dim = x.shape[a];
      int64_t step = steps[i];
      if (step == 0) return InvalidArgument("Slice: step for axis {} is 0", a);
      // A step past the dim takes at most one element; clamping it keeps the arithmetic below from overflowing.
      const int64_t max_step = std::max<int64_t>(dim, 1);
      step = std::clamp<int64_t>(step, -max_step, max_step);
      int64_t start = starts[i], end = ends[i];
      if (start < 0) start += dim;
      if (end < 0) end += dim;
      int64_t count;
      if (step > 0) {
        start = std::clamp<int64_t>(start, 0, dim);
        end = std::clamp<int64_t>(end, 0, dim);
        count = end > start ? (end - start - 1) / step + 1 : 0;
      } else {
        start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
        end = std::clamp<int64_t>(end, -1, dim - 1);
        count = start > end ? (start - end - 1) / (-step) + 1 : 0;
        if (dim == 0) count = 0;
      }
      out[a] = count;
      if (count > 0) offset += start * in_strides[a];
      strides[a] = step * in_strides[a];
    }
    copy_.Init(out, strides, NumElements(out) == 0 ? 0 : offset, DataTypeSize(x.dtype));
    ctx.set_output(0, x.dtype, std::move(out));
    return Status::Ok();
  }

 private:
  const bool from_inputs_;
  const std::vector<int64_t> starts_, ends_, axes_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateSlice(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Slice", "input 0"));
  if (def.opset >= 10)
    return MakeKernel<SliceKernel>(true, std::vector<int64_t>{}, std::vector<int64_t>{}, std::vector<int64_t>{});
  if (!def.attrs.Has("starts") || !def.attrs.Has("ends")) {
    return InvalidArgument("Slice: attributes 'starts' and 'ends' are required before opset 10");
  }
  return MakeKernel<SliceKernel>(false, def.attrs.Ints("starts"), def.attrs.Ints("ends"), def.attrs.Ints("axes"));
}

}  // namespace ferry::cpu
