// GatherElements: out[p] = data[p with p[axis] replaced by indices[p]], output shaped like indices.
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

template <size_t B, typename I>
void GatherElementsTyped(const char* src, const I* idx, char* dst, const Shape& shape,
                         const std::vector<int64_t>& strides, int64_t axis, int64_t dim, size_t block, int threads) {
  const int64_t r = static_cast<int64_t>(shape.size());
  const int64_t last = shape[r - 1];
  const int64_t rows = last == 0 ? 0 : NumElements(shape) / last;
  // The axis dim contributes through the index, so it drops out of the row offset.
  std::vector<int64_t> row_strides = strides;
  row_strides[axis] = 0;
  const int64_t last_stride = axis == r - 1 ? 0 : strides[r - 1];
  const int64_t axis_stride = strides[axis];
  ParallelFor(rows, threads, last * 2, [&](int64_t b, int64_t e) {
    ForEachRow(shape, row_strides, b, e, [&](int64_t row, int64_t off) {
      for (int64_t j = 0; j < last; ++j) {
        const int64_t t = row * last + j;
        int64_t v = static_cast<int64_t>(idx[t]);
        if (v < 0) v += dim;
        const int64_t s = off + j * last_stride + v * axis_stride;
        if constexpr (B != 0) {
          std::memcpy(dst + t * B, src + s * B, B);
        } else {
          std::memcpy(dst + t * block, src + s * block, block);
        }
      }
    });
  });
}

template <typename I>
Status RunGatherElements(const TensorView& x, const TensorView& ind, TensorView& y, int64_t axis, int threads) {
  const int64_t dim = x.shape[axis];
  const int64_t n = ind.numel();
  const I* idx = ind.as<I>();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t v = static_cast<int64_t>(idx[t]);
    if (v < -dim || v >= dim) {
      return InvalidArgument("GatherElements: index {} is out of range for an axis of size {}", v, dim);
    }
  }
  if (n == 0) return Status::Ok();
  const std::vector<int64_t> strides = RowMajorStrides(x.shape);
  const char* src = static_cast<const char*>(x.data);
  char* dst = static_cast<char*>(y.data);
  const size_t elem = DataTypeSize(x.dtype);
  switch (elem) {
    case 1:
      GatherElementsTyped<1>(src, idx, dst, ind.shape, strides, axis, dim, elem, threads);
      break;
    case 2:
      GatherElementsTyped<2>(src, idx, dst, ind.shape, strides, axis, dim, elem, threads);
      break;
    case 4:
      GatherElementsTyped<4>(src, idx, dst, ind.shape, strides, axis, dim, elem, threads);
      break;
    case 8:
      GatherElementsTyped<8>(src, idx, dst, ind.shape, strides, axis, dim, elem, threads);
      break;
    default:
      GatherElementsTyped<0>(src, idx, dst, ind.shape, strides, axis, dim, elem, threads);
      break;
  }
  return Status::Ok();
}

class GatherElementsKernel : public Kernel {
 public:
  explicit GatherElementsKernel(int64_t axis) : axis_(axis) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) {
      return InvalidArgument("GatherElements: inputs 'data' and 'indices' are required");
    }
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "GatherElements", "input 0"));
    if (ind.dtype != DataType::kInt64 && ind.dtype != DataType::kInt32) {
      return Unimplemented("GatherElements: indices have type {}; supported: int32, int64", DataTypeName(ind.dtype));
    }
    if (x.rank() == 0 || ind.rank() != x.rank()) {
      return InvalidArgument("GatherElements: data {} and indices {} must have the same rank >= 1",
                             ShapeToString(x.shape), ShapeToString(ind.shape));
    }
    FERRY_ASSIGN_OR_RETURN(axis_n_, ResolveAxis(axis_, x.rank(), "GatherElements", "axis"));
    for (int64_t d = 0; d < x.rank(); ++d) {
      if (d != axis_n_ && ind.shape[d] > x.shape[d]) {
        return InvalidArgument("GatherElements: indices shape {} exceeds data shape {} on axis {}",
                               ShapeToString(ind.shape), ShapeToString(x.shape), d);
      }
    }
    ctx.set_output(0, x.dtype, ind.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& ind = ctx.input(1);
    if (ind.dtype == DataType::kInt64) {
      return RunGatherElements<int64_t>(ctx.input(0), ind, ctx.output(0), axis_n_, ctx.num_threads());
    }
    return RunGatherElements<int32_t>(ctx.input(0), ind, ctx.output(0), axis_n_, ctx.num_threads());
  }

 private:
  const int64_t axis_;
  int64_t axis_n_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateGatherElements(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "GatherElements", "input 0"));
  const DataType it = InputType(def, 1);
  if (it != DataType::kUndefined && it != DataType::kInt64 && it != DataType::kInt32) {
    return Unimplemented("GatherElements: indices have type {}; supported: int32, int64", DataTypeName(it));
  }
  return MakeKernel<GatherElementsKernel>(def.attrs.Int("axis", 0));
}

}  // namespace ferry::cpu
