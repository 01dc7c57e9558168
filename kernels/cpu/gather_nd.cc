// GatherND: each row of `indices` (its last dim, k entries) addresses a slice data[b..., i_0, ..., i_{k-1}, ...]
// within the same batch b of the first batch_dims dims (opset 12); the slices are stacked in indices order.
// Indices may be negative (counted from the end); an out-of-range index fails Compute.
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class GatherNDKernel : public Kernel {
 public:
  explicit GatherNDKernel(int64_t batch_dims) : batch_dims_(batch_dims) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) {
      return InvalidArgument("GatherND: inputs 'data' and 'indices' are required");
    }
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "GatherND", "input 0"));
    if (ind.dtype != DataType::kInt64) {
      return Unimplemented("GatherND: indices have type {}; supported: int64", DataTypeName(ind.dtype));
    }
    const int64_t r = x.rank(), q = ind.rank(), b = batch_dims_;
    if (r < 1 || q < 1) return InvalidArgument("GatherND: data and indices must have rank >= 1");
    if (b < 0 || b >= std::min(r, q)) {
      return InvalidArgument("GatherND: batch_dims {} must be in [0, min(rank(data), rank(indices)))", b);
    }
    for (int64_t d = 0; d < b; ++d) {
      if (x.shape[d] != ind.shape[d]) {
        return InvalidArgument("GatherND: data {} and indices {} differ in batch dim {}", ShapeToString(x.shape),
                               ShapeToString(ind.shape), d);
      }
    }
    k_ = ind.shape[q - 1];
    if (k_ < 1 || k_ > r - b) {
      return InvalidArgument("GatherND: the last dim of indices ({}) must be in [1, {}]", k_, r - b);
    }
    Shape out(ind.shape.begin(), ind.shape.end() - 1);
    out.insert(out.end(), x.shape.begin() + b + k_, x.shape.end());
    ctx.set_output(0, x.dtype, std::move(out));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    const int64_t b = batch_dims_;
    const std::vector<int64_t> strides = RowMajorStrides(x.shape);
    int64_t batches = 1;
    for (int64_t d = 0; d < b; ++d) batches *= x.shape[d];
    const int64_t tuples = k_ == 0 ? 0 : ind.numel() / k_;
    const int64_t per_batch = batches == 0 ? 0 : tuples / batches;
    const int64_t batch_stride = b == 0 ? 0 : strides[b - 1];
    int64_t slice = 1;
    for (int64_t d = b + k_; d < x.rank(); ++d) slice *= x.shape[d];
    const int64_t* idx = ind.as<int64_t>();
    // Every index is checked before anything is copied.
    for (int64_t t = 0; t < tuples; ++t) {
      for (int64_t i = 0; i < k_; ++i) {
        const int64_t dim = x.shape[b + i];
        const int64_t v = idx[t * k_ + i];
        if (v < -dim || v >= dim) {
          return InvalidArgument("GatherND: index {} is out of range for axis {} of size {}", v, b + i, dim);
        }
      }
    }
    const size_t bytes = static_cast<size_t>(slice) * DataTypeSize(x.dtype);
    if (tuples == 0 || bytes == 0) return Status::Ok();
    const char* src = static_cast<const char*>(x.data);
    char* dst = static_cast<char*>(ctx.output(0).data);
    const size_t elem = DataTypeSize(x.dtype);
    ParallelFor(tuples, ctx.num_threads(), static_cast<int64_t>(bytes / 4 + k_), [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        int64_t off = (t / per_batch) * batch_stride;
        for (int64_t i = 0; i < k_; ++i) {
          int64_t v = idx[t * k_ + i];
          if (v < 0) v += x.shape[b + i];
          off += v * strides[b + i];
        }
        std::memcpy(dst + t * bytes, src + static_cast<size_t>(off) * elem, bytes);
      }
    });
    return Status::Ok();
  }

 private:
  const int64_t batch_dims_;
  int64_t k_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateGatherND(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "GatherND", "input 0"));
  const DataType it = InputType(def, 1);
  if (it != DataType::kUndefined && it != DataType::kInt64) {
    return Unimplemented("GatherND: indices have type {}; supported: int64", DataTypeName(it));
  }
  return MakeKernel<GatherNDKernel>(def.opset >= 12 ? def.attrs.Int("batch_dims", 0) : 0);
}

}  // namespace ferry::cpu
