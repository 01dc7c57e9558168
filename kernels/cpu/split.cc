// Split: cuts the input along one axis into ctx.num_outputs() pieces, of the sizes in `split` (attribute before
// opset 13, input from 13) or equal when it is absent.
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class SplitKernel : public Kernel {
 public:
  SplitKernel(int64_t axis, bool split_from_input, std::vector<int64_t> split)
      : axis_(axis), split_from_input_(split_from_input), split_attr_(std::move(split)) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Split: input 'input' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Split", "input 0"));
    if (x.rank() == 0) return InvalidArgument("Split: input must have rank >= 1");
    FERRY_ASSIGN_OR_RETURN(axis_n_, ResolveAxis(axis_, x.rank(), "Split", "axis"));
    const int64_t dim = x.shape[axis_n_];
    const int64_t n = static_cast<int64_t>(ctx.num_outputs());
    if (n == 0) return InvalidArgument("Split: the node has no outputs");
    std::vector<int64_t> split = split_attr_;
    if (split_from_input_ && ctx.has_input(1)) {
      FERRY_ASSIGN_OR_RETURN(split, ReadConstantInts(ctx, 1, "Split", "split"));
    }
    if (split.empty()) {
      if (dim % n != 0) {
        return InvalidArgument("Split: axis {} of size {} cannot be split into {} equal parts", axis_n_, dim, n);
      }
      split.assign(static_cast<size_t>(n), dim / n);
    }
    if (static_cast<int64_t>(split.size()) != n) {
      return InvalidArgument("Split: 'split' has {} entries but the node has {} outputs", split.size(), n);
    }
    int64_t sum = 0;
    bool over = false;
    for (int64_t s : split) {
      if (s < 0) return InvalidArgument("Split: 'split' has a negative entry {}", s);
      over = over || s > dim - sum;  // the sum would pass dim (tested this way so it cannot overflow)
      if (!over) sum += s;
    }
    if (over || sum != dim) {
      return InvalidArgument("Split: 'split' entries {} do not sum to the size {} of axis {}", ShapeToString(split),
                             dim, axis_n_);
    }
    split_ = split;
    for (int64_t i = 0; i < n; ++i) {
      Shape s = x.shape;
      s[axis_n_] = split[i];
      ctx.set_output(static_cast<size_t>(i), x.dtype, std::move(s));
    }
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const size_t elem = DataTypeSize(x.dtype);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis_n_; ++d) outer *= x.shape[d];
    for (int64_t d = axis_n_ + 1; d < x.rank(); ++d) inner *= x.shape[d];
    const size_t n = split_.size();
    std::vector<size_t> block(n);
    size_t row = 0;
    for (size_t i = 0; i < n; ++i) {
      block[i] = static_cast<size_t>(split_[i] * inner) * elem;
      row += block[i];
    }
    if (outer == 0 || row == 0) return Status::Ok();
    const char* src = static_cast<const char*>(x.data);
    const int threads = ctx.num_threads();
    if (outer < threads) {
      size_t off = 0;
      for (int64_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < n; ++i) {
          if (block[i] != 0 && ctx.output(i).data != nullptr) {
            ParallelCopy(static_cast<char*>(ctx.output(i).data) + o * block[i], src + off, block[i], threads);
          }
          off += block[i];
        }
      }
      return Status::Ok();
    }
    ParallelFor(outer, threads, static_cast<int64_t>(row / 4 + 1), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const char* in = src + o * row;
        for (size_t i = 0; i < n; ++i) {
          if (block[i] != 0 && ctx.output(i).data != nullptr) {
            std::memcpy(static_cast<char*>(ctx.output(i).data) + o * block[i], in, block[i]);
          }
          in += block[i];
        }
      }
    });
    return Status::Ok();
  }

 private:
  const int64_t axis_;
  const bool split_from_input_;
  const std::vector<int64_t> split_attr_;
  int64_t axis_n_ = 0;
  std::vector<int64_t> split_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateSplit(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Split", "input 0"));
  const bool from_input = def.opset >= 13;
  return MakeKernel<SplitKernel>(def.attrs.Int("axis", 0), from_input,
                                 from_input ? std::vector<int64_t>{} : def.attrs.Ints("split"));
}

}  // namespace ferry::cpu
