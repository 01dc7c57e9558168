// Gather: out[o, j..., i] = data[o, indices[j...], i] along `axis`, indices int32/int64 (negative counts from
// the end). Indices are checked before any copy: an out-of-range index fails Compute, never reads past data.
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

template <typename I>
Status CheckIndices(const I* idx, int64_t n, int64_t dim, std::string_view op) {
  for (int64_t j = 0; j < n; ++j) {
    const int64_t v = static_cast<int64_t>(idx[j]);
    if (v < -dim || v >= dim) {
      return InvalidArgument("{}: index {} is out of range for an axis of size {}", op, v, dim);
    }
  }
  return Status::Ok();
}

// Copies one block of B bytes per (outer, index) pair; a compile-time B turns the memcpy into one load/store.
template <size_t B, typename I>
void GatherFixed(const char* src, const I* idx, char* dst, int64_t outer, int64_t n, int64_t dim, int threads) {
  ParallelFor(outer * n, threads, 2, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / n;
      int64_t v = static_cast<int64_t>(idx[t % n]);
      if (v < 0) v += dim;
      std::memcpy(dst + t * B, src + (o * dim + v) * B, B);
    }
  });
}

template <typename I>
void GatherBlocks(const char* src, const I* idx, char* dst, int64_t outer, int64_t n, int64_t dim, size_t block,
                  int threads) {
  switch (block) {
    case 1:
      return GatherFixed<1>(src, idx, dst, outer, n, dim, threads);
    case 2:
      return GatherFixed<2>(src, idx, dst, outer, n, dim, threads);
    case 4:
      return GatherFixed<4>(src, idx, dst, outer, n, dim, threads);
    case 8:
      return GatherFixed<8>(src, idx, dst, outer, n, dim, threads);
    default:
      break;
  }
  ParallelFor(outer * n, threads, static_cast<int64_t>(block / 4 + 1), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / n;
      int64_t v = static_cast<int64_t>(idx[t % n]);
      if (v < 0) v += dim;
      std::memcpy(dst + t * block, src + (o * dim + v) * block, block);
    }
  });
}

class GatherKernel : public Kernel {
 public:
  explicit GatherKernel(int64_t axis) : axis_(axis) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1))
      return InvalidArgument("Gather: inputs 'data' and 'indices' are required");
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Gather", "input 0"));
    if (ind.dtype != DataType::kInt64 && ind.dtype != DataType::kInt32) {
      return Unimplemented("Gather: indices have type {}; supported: int32, int64", DataTypeName(ind.dtype));
    }
    if (x.rank() == 0) return InvalidArgument("Gather: data must have rank >= 1");
    FERRY_ASSIGN_OR_RETURN(axis_n_, ResolveAxis(axis_, x.rank(), "Gather", "axis"));
    Shape out(x.shape.begin(), x.shape.begin() + axis_n_);
    out.insert(out.end(), ind.shape.begin(), ind.shape.end());
    out.insert(out.end(), x.shape.begin() + axis_n_ + 1, x.shape.end());
    ctx.set_output(0, x.dtype, std::move(out));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const TensorView& ind = ctx.input(1);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis_n_; ++d) outer *= x.shape[d];
    for (int64_t d = axis_n_ + 1; d < x.rank(); ++d) inner *= x.shape[d];
    const int64_t dim = x.shape[axis_n_];
    const int64_t n = ind.numel();
    const size_t block = static_cast<size_t>(inner) * DataTypeSize(x.dtype);
    if (ind.dtype == DataType::kInt64) {
      FERRY_RETURN_IF_ERROR(CheckIndices(ind.as<int64_t>(), n, dim, "Gather"));
    } else {
      FERRY_RETURN_IF_ERROR(CheckIndices(ind.as<int32_t>(), n, dim, "Gather"));
    }
    if (outer == 0 || n == 0 || block == 0) return Status::Ok();
    const char* src = static_cast<const char*>(x.data);
    char* dst = static_cast<char*>(ctx.output(0).data);
    if (ind.dtype == DataType::kInt64) {
      GatherBlocks(src, ind.as<int64_t>(), dst, outer, n, dim, block, ctx.num_threads());
    } else {
      GatherBlocks(src, ind.as<int32_t>(), dst, outer, n, dim, block, ctx.num_threads());
    }
    return Status::Ok();
  }

 private:
  const int64_t axis_;
  int64_t axis_n_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateGather(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Gather", "input 0"));
  const DataType it = InputType(def, 1);
  if (it != DataType::kUndefined && it != DataType::kInt64 && it != DataType::kInt32) {
    return Unimplemented("Gather: indices have type {}; supported: int32, int64", DataTypeName(it));
  }
  return MakeKernel<GatherKernel>(def.attrs.Int("axis", 0));
}

}  // namespace ferry::cpu
