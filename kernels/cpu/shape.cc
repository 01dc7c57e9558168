// Shape: the input dims as a 1-D int64 tensor (opset 15: only dims [start, end), clamped like a slice).
// Size: the element count as an int64 scalar. Neither reads the input data.
#include <algorithm>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class ShapeKernel : public Kernel {
 public:
  ShapeKernel(int64_t start, int64_t end) : start_(start), end_(end) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Shape: input 'data' is missing");
    const int64_t r = ctx.input(0).rank();
    int64_t s = start_ < 0 ? start_ + r : start_;
    int64_t e = end_ < 0 ? end_ + r : end_;
    begin_ = std::clamp<int64_t>(s, 0, r);
    end_n_ = std::max(begin_, std::clamp<int64_t>(e, 0, r));
    ctx.set_output(0, DataType::kInt64, Shape{end_n_ - begin_});
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    int64_t* out = ctx.output(0).as<int64_t>();
    for (int64_t d = begin_; d < end_n_; ++d) out[d - begin_] = ctx.input(0).shape[d];
    return Status::Ok();
  }

 private:
  const int64_t start_, end_;
  int64_t begin_ = 0, end_n_ = 0;
};

class SizeKernel : public Kernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Size: input 'data' is missing");
    ctx.set_output(0, DataType::kInt64, Shape{});
    return Status::Ok();
  }
  Status Compute(KernelContext& ctx) override {
    *ctx.output(0).as<int64_t>() = ctx.input(0).numel();
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateShape(const KernelDef& def) {
  if (def.opset >= 15) {
    return MakeKernel<ShapeKernel>(def.attrs.Int("start", 0), def.attrs.Int("end", INT64_MAX));
  }
  return MakeKernel<ShapeKernel>(0, INT64_MAX);
}

Result<std::unique_ptr<Kernel>> CreateSize(const KernelDef& def) { return MakeKernel<SizeKernel>(); }

}  // namespace ferry::cpu
