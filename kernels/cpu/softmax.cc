// Softmax, LogSoftmax and Hardmax: one kernel, three row functions.
//
// Opsets 1-12 coerce the input to 2-D at `axis` (default 1) and normalize each row of the flattened
// [prod(shape[:axis]), prod(shape[axis:])] matrix; opset 13 normalizes along the single dim `axis`
// (default -1). Softmax subtracts the row max before exp, so large inputs do not overflow.
#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/cpu/linalg_util.h"
#include "kernels/cpu/linalg_vec_math.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

enum class Mode { kSoftmax, kLogSoftmax, kHardmax };

// Columns handled together when the normalized axis is not the innermost (small, so buffers live on the stack).
constexpr int64_t kColumnBlock = 64;

template <typename T>
void ContiguousRow(Mode mode, const T* x, T* y, int64_t n) {
  if (mode == Mode::kHardmax) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i) {
      if (x[i] > x[best]) best = i;
    }
    std::fill(y, y + n, T(0));
    y[best] = T(1);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (mode == Mode::kSoftmax) {
      SoftmaxRowF32(x, y, n);
    } else {
      LogSoftmaxRowF32(x, y, n);
    }
  } else {
    T m = x[0];
    for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    T sum = 0;
    if (mode == Mode::kSoftmax) {
      for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - m));
      const T inv = T(1) / sum;
      for (int64_t i = 0; i < n; ++i) y[i] *= inv;
    } else {
      for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - m);
      const T shift = m + std::log(sum);
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
    }
  }
}

// Normalizes along a strided axis: x[i * stride + j] for i in [0, n), j in [0, cols), cols <= kColumnBlock.
template <typename T>
void StridedBlock(Mode mode, const T* x, T* y, int64_t n, int64_t stride, int64_t cols) {
  T mx[kColumnBlock], sum[kColumnBlock];
  int64_t best[kColumnBlock];
  for (int64_t j = 0; j < cols; ++j) {
    mx[j] = x[j];
    best[j] = 0;
    sum[j] = 0;
  }
  for (int64_t i = 1; i < n; ++i) {
    const T* row = x + i * stride;
    for (int64_t j = 0; j < cols; ++j) {
      if (row[j] > mx[j]) {
        mx[j] = row[j];
        best[j] = i;
      }
    }
  }
  if (mode == Mode::kHardmax) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < cols; ++j) y[i * stride + j] = best[j] == i ? T(1) : T(0);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * stride;
    T* out = y + i * stride;
    for (int64_t j = 0; j < cols; ++j) {
      T e = std::exp(row[j] - mx[j]);
      if (mode == Mode::kSoftmax) out[j] = e;
      sum[j] += e;
    }
  }
  if (mode == Mode::kSoftmax) {
    for (int64_t j = 0; j < cols; ++j) sum[j] = T(1) / sum[j];
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < cols; ++j) y[i * stride + j] *= sum[j];
    }
  } else {
    for (int64_t j = 0; j < cols; ++j) sum[j] = mx[j] + std::log(sum[j]);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < cols; ++j) y[i * stride + j] = x[i * stride + j] - sum[j];
    }
  }
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const KernelDef& def, Mode mode)
      : mode_(mode), opset_(def.opset), axis_attr_(def.attrs.Int("axis", def.opset >= 13 ? -1 : 1)) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    dtype_ = x.dtype;
    FERRY_RETURN_IF_ERROR(CheckTypeIn("input 0", dtype_, {DataType::kFloat, DataType::kDouble}, false));
    const int64_t rank = x.rank();
    if (rank == 0) return InvalidArgument("input must have rank >= 1");
    if (opset_ < 13) {
      // Coercion to 2-D: axis == rank is a valid split (a single column).
      FERRY_ASSIGN_OR_RETURN(int64_t axis, LinalgAxis(axis_attr_, rank, 1));
      outer_ = ProductOf(x.shape, 0, axis);
      n_ = ProductOf(x.shape, axis, rank);
      inner_ = 1;
    } else {
      FERRY_ASSIGN_OR_RETURN(int64_t axis, LinalgAxis(axis_attr_, rank));
      outer_ = ProductOf(x.shape, 0, axis);
      n_ = x.shape[axis];
      inner_ = ProductOf(x.shape, axis + 1, rank);
    }
    ctx.set_output(0, dtype_, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    if (dtype_ == DataType::kFloat) return Run<float>(ctx);
    return Run<double>(ctx);
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx) {
    const T* x = ctx.input(0).as<const T>();
    T* y = ctx.output(0).as<T>();
    if (outer_ == 0 || n_ == 0 || inner_ == 0) return Status::Ok();
    const int64_t cost = n_ * (mode_ == Mode::kHardmax ? 2 : 16);
    if (inner_ == 1) {
      ParallelFor(outer_, ctx.num_threads(), cost, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) ContiguousRow<T>(mode_, x + r * n_, y + r * n_, n_);
      });
      return Status::Ok();
    }
    const int64_t blocks = (inner_ + kColumnBlock - 1) / kColumnBlock;
    ParallelFor(outer_ * blocks, ctx.num_threads(), cost * kColumnBlock, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t o = t / blocks, j0 = (t % blocks) * kColumnBlock;
        const int64_t off = o * n_ * inner_ + j0;
        StridedBlock<T>(mode_, x + off, y + off, n_, inner_, std::min(kColumnBlock, inner_ - j0));
      }
    });
    return Status::Ok();
  }

  const Mode mode_;
  const int opset_;
  const int64_t axis_attr_;
  DataType dtype_ = DataType::kUndefined;
  int64_t outer_ = 0, n_ = 0, inner_ = 0;
};

Result<std::unique_ptr<Kernel>> Create(const KernelDef& def, Mode mode) {
  FERRY_RETURN_IF_ERROR(CheckTypeIn("input 0", DefInputType(def, 0), {DataType::kFloat, DataType::kDouble}, true));
  if (def.num_outputs > 1)
    return InvalidArgument("{} has one output, the node declares {}", def.op_type, def.num_outputs);
  return MakeKernel<SoftmaxKernel>(def, mode);
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateSoftmax(const KernelDef& def) { return Create(def, Mode::kSoftmax); }
Result<std::unique_ptr<Kernel>> CreateLogSoftmax(const KernelDef& def) { return Create(def, Mode::kLogSoftmax); }
Result<std::unique_ptr<Kernel>> CreateHardmax(const KernelDef& def) { return Create(def, Mode::kHardmax); }

}  // namespace ferry::cpu
