// Trilu: keeps the upper (j >= i + k) or lower (j <= i + k) triangle of each matrix in the last two dims and
// zeroes the rest. Zero is all-zero bytes in every supported type, so rows are memcpy + memset.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class TriluKernel : public Kernel {
 public:
  explicit TriluKernel(bool upper) : upper_(upper) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Trilu: input is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Trilu", "input 0"));
    if (x.rank() < 2) return InvalidArgument("Trilu: input must have rank >= 2, got {}", ShapeToString(x.shape));
    if (ctx.has_input(1)) {
      const TensorView& k = ctx.input(1);
      if ((k.dtype != DataType::kInt64 && k.dtype != DataType::kInt32) || k.numel() != 1) {
        return InvalidArgument("Trilu: k must be an int64 scalar");
      }
    }
    ctx.set_output(0, x.dtype, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const int64_t k = ctx.has_input(1) ? ElementAsInt64(ctx.input(1), 0) : 0;
    const int64_t rows_per = x.shape[x.rank() - 2];
    const int64_t cols = x.shape[x.rank() - 1];
    const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
    const size_t elem = DataTypeSize(x.dtype);
    const char* src = static_cast<const char*>(x.data);
    char* dst = static_cast<char*>(ctx.output(0).data);
    ParallelFor(rows, ctx.num_threads(), cols * static_cast<int64_t>(elem) / 4 + 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t i = r % rows_per;
        // Columns [lo, hi) are kept. Clamp i + k without overflow for extreme k.
        const int64_t edge = std::clamp<int64_t>(k, -cols - i - 1, cols) + i;
        const int64_t lo = upper_ ? std::clamp<int64_t>(edge, 0, cols) : 0;
        const int64_t hi = upper_ ? cols : std::clamp<int64_t>(edge + 1, 0, cols);
        char* out = dst + static_cast<size_t>(r * cols) * elem;
        const char* in = src + static_cast<size_t>(r * cols) * elem;
        if (lo > 0) std::memset(out, 0, static_cast<size_t>(lo) * elem);
        if (hi > lo) std::memcpy(out + lo * elem, in + lo * elem, static_cast<size_t>(hi - lo) * elem);
        if (hi < cols) std::memset(out + hi * elem, 0, static_cast<size_t>(cols - hi) * elem);
      }
    });
    return Status::Ok();
  }

 private:
  const bool upper_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateTrilu(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Trilu", "input 0"));
  return MakeKernel<TriluKernel>(def.attrs.Int("upper", 1) != 0);
}

}  // namespace ferry::cpu
