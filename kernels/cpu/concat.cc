// Concat: joins inputs along one axis. Each input contributes one contiguous block per outer index, so the
// copy is a sequence of memcpy's, parallel over outer indices (or within blocks when there are few of them).
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class ConcatKernel : public Kernel {
 public:
  explicit ConcatKernel(int64_t axis) : axis_(axis) {}

  Status Prepare(KernelContext& ctx) override {
    if (ctx.num_inputs() == 0 || !ctx.has_input(0)) return InvalidArgument("Concat: needs at least one input");
    const TensorView& first = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(first.dtype, "Concat", "input 0"));
    const int64_t rank = first.rank();
    if (rank == 0) return InvalidArgument("Concat: inputs must have rank >= 1");
    FERRY_ASSIGN_OR_RETURN(axis_n_, ResolveAxis(axis_, rank, "Concat", "axis"));
    Shape out = first.shape;
    out[axis_n_] = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) return InvalidArgument("Concat: input {} is missing", i);
      const TensorView& x = ctx.input(i);
      if (x.dtype != first.dtype) {
        return InvalidArgument("Concat: input {} has type {} but input 0 has {}", i, DataTypeName(x.dtype),
                               DataTypeName(first.dtype));
      }
      if (x.rank() != rank) return InvalidArgument("Concat: input {} has rank {}, expected {}", i, x.rank(), rank);
      for (int64_t d = 0; d < rank; ++d) {
        if (d != axis_n_ && x.shape[d] != first.shape[d]) {
          return InvalidArgument("Concat: input {} has shape {}, incompatible with {} on axis {}", i,
                                 ShapeToString(x.shape), ShapeToString(first.shape), axis_n_);
        }
      }
      out[axis_n_] += x.shape[axis_n_];
    }
    ctx.set_output(0, first.dtype, std::move(out));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    TensorView& y = ctx.output(0);
    const size_t elem = DataTypeSize(y.dtype);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis_n_; ++d) outer *= y.shape[d];
    for (int64_t d = axis_n_ + 1; d < y.rank(); ++d) inner *= y.shape[d];
    const size_t n = ctx.num_inputs();
    // Bytes each input contributes per outer index, and the output row size.
    std::vector<size_t> block(n);
    size_t row = 0;
    for (size_t i = 0; i < n; ++i) {
      block[i] = static_cast<size_t>(ctx.input(i).shape[axis_n_] * inner) * elem;
      row += block[i];
    }
    if (outer == 0 || row == 0) return Status::Ok();
    char* dst = static_cast<char*>(y.data);
    const int threads = ctx.num_threads();
    if (outer < threads) {
      size_t off = 0;
      for (int64_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < n; ++i) {
          if (block[i] == 0) continue;
          ParallelCopy(dst + off, static_cast<const char*>(ctx.input(i).data) + o * block[i], block[i], threads);
          off += block[i];
        }
      }
      return Status::Ok();
    }
    ParallelFor(outer, threads, static_cast<int64_t>(row / 4 + 1), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        char* out = dst + o * row;
        for (size_t i = 0; i < n; ++i) {
          if (block[i] == 0) continue;
          std::memcpy(out, static_cast<const char*>(ctx.input(i).data) + o * block[i], block[i]);
          out += block[i];
        }
      }
    });
    return Status::Ok();
  }

 private:
  const int64_t axis_;
  int64_t axis_n_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateConcat(const KernelDef& def) {
  for (size_t i = 0; i < def.input_types.size(); ++i) {
    FERRY_RETURN_IF_ERROR(CheckFixedSizeType(def.input_types[i], "Concat", fmt::format("input {}", i)));
  }
  // Concat-1 defaults the axis to 1; from opset 4 it is required.
  if (def.opset < 4) return MakeKernel<ConcatKernel>(def.attrs.Int("axis", 1));
  if (!def.attrs.Has("axis")) return InvalidArgument("Concat: attribute 'axis' is required");
  return MakeKernel<ConcatKernel>(def.attrs.Int("axis", 0));
}

}  // namespace ferry::cpu
