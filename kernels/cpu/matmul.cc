// MatMul (opset 1+) with numpy semantics: 1-D operands are promoted and the added dim removed, batch dims
// broadcast. float and double go to OpenBLAS, integer types to a plain loop.
//
// Ferry extension: an optional third input, a float bias of shape [N] (or one element), added to every output
// row before the fused activation; the graph layer appends it when it fuses MatMul -> Add.
//
// Work split: when B has no batch (a 2-D weight), the batch folds into M and one GEMM runs, threaded by
// OpenBLAS, or by the packed-weight kernel when B is constant and M small (see gemm_packed.h). Otherwise one
// GEMM per matrix: many or small matrices are spread over threads with ParallelFor (each GEMM then runs
// single-threaded inside the parallel region), a few big ones are threaded by OpenBLAS.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/gemm_blas.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/linalg_util.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

// Below this many multiply-adds per matrix, spreading matrices over threads beats threading each GEMM.
constexpr int64_t kSmallGemmFlops = int64_t{1} << 21;

// Batched products pack each B for the packed kernel when the matrices are attention-sized: enough rows to
// amortize the packing, and a B small enough for a per-thread buffer. Prepare cannot know the thread count, so
// it reserves kPackSlots buffers; more threads than that use BLAS.
constexpr int64_t kPackMinRows = 32;
constexpr size_t kPackMaxFloats = size_t{1} << 16;
constexpr int kPackSlots = 16;

Status CheckMatMulConfig(DataType t, const Activation& act, bool has_bias) {
  FERRY_RETURN_IF_ERROR(CheckTypeIn(
      "input A", t,
      {DataType::kFloat, DataType::kDouble, DataType::kInt32, DataType::kInt64, DataType::kUInt32, DataType::kUInt64},
      true));
  if (t == DataType::kUndefined || t == DataType::kFloat) return Status::Ok();
  if (act.kind != ActivationKind::kNone) {
    return Unimplemented("a fused activation needs float inputs, got {}", DataTypeName(t));
  }
  if (has_bias) return Unimplemented("a fused bias needs float inputs, got {}", DataTypeName(t));
  return Status::Ok();
}

class MatMulKernel final : public Kernel {
 public:
  explicit MatMulKernel(const KernelDef& def) : act_(def.activation) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& a = ctx.input(0);
    const TensorView& b = ctx.input(1);
    dtype_ = a.dtype;
    has_bias_ = ctx.has_input(2);
    FERRY_RETURN_IF_ERROR(CheckMatMulConfig(dtype_, act_, has_bias_));
    if (dtype_ == DataType::kUndefined) return InvalidArgument("input A has no type");
    if (b.dtype != dtype_) {
      return InvalidArgument("input B has type {} but A has type {}", DataTypeName(b.dtype), DataTypeName(dtype_));
    }
    if (a.rank() < 1 || b.rank() < 1) {
      return InvalidArgument("MatMul operands must have rank >= 1, got shapes {} and {}", ShapeToString(a.shape),
                             ShapeToString(b.shape));
    }
    Shape as = a.shape, bs = b.shape;
    const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
    if (a_vec) as.insert(as.begin(), 1);
    if (b_vec) bs.push_back(1);
    m_ = as[as.size() - 2];
    k_ = as.back();
    n_ = bs.back();
    if (bs[bs.size() - 2] != k_) {
      return InvalidArgument("inner dimensions differ: A {} and B {}", ShapeToString(a.shape), ShapeToString(b.shape));
    }
    Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    const size_t r = std::max(ba.size(), bb.size());
    ba.insert(ba.begin(), r - ba.size(), 1);
    bb.insert(bb.begin(), r - bb.size(), 1);
    Shape batch(r);
    for (size_t i = 0; i < r; ++i) {
      if (ba[i] != bb[i] && ba[i] != 1 && bb[i] != 1) {
        return InvalidArgument("batch dimensions of A {} and B {} do not broadcast", ShapeToString(a.shape),
                               ShapeToString(b.shape));
      }
      batch[i] = ba[i] == 1 ? bb[i] : ba[i];
    }
    Shape out = batch;
    if (!a_vec) out.push_back(m_);
    if (!b_vec) out.push_back(n_);
    num_batch_ = NumElements(batch);
    fold_ = NumElements(bb) == 1;
    FERRY_RETURN_IF_ERROR(CheckBlasDims(fold_ ? num_batch_ * m_ : m_, n_, k_));
    a_off_.clear();
    b_off_.clear();
    if (!fold_) ComputeOffsets(ba, bb, batch);
    pack_floats_ = 0;
    if (!fold_ && dtype_ == DataType::kFloat && PackedMatrix::Available() && m_ >= kPackMinRows && n_ >= 32 &&
        k_ >= 16 && PackedMatrix::PackedFloats(k_, n_) <= kPackMaxFloats) {
      pack_floats_ = PackedMatrix::PackedFloats(k_, n_);
      ctx.request_scratch(kPackSlots * pack_floats_ * sizeof(float) + 64);
    }
    packed_.reset();
    if (fold_ && dtype_ == DataType::kFloat && ctx.input_known(1) &&
        PackedMatrix::Worthwhile(num_batch_ * m_, k_, n_)) {
      packed_ = PackedMatrix::Get(ctx.derived(), 1, b.as<const float>(), k_, n_, n_, false);
    }
    if (has_bias_) {
      const TensorView& bias = ctx.input(2);
      if (bias.dtype != DataType::kFloat) {
        return InvalidArgument("fused bias has type {}; expected float", DataTypeName(bias.dtype));
      }
      if (bias.numel() != n_ && bias.numel() != 1) {
        return InvalidArgument("fused bias of shape {} does not match N = {}", ShapeToString(bias.shape), n_);
      }
    }
    ctx.set_output(0, dtype_, std::move(out));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    return DispatchGemmType(dtype_, "MatMul", [&](auto tag) { return Run<typename decltype(tag)::type>(ctx); });
  }

 private:
  // Element offsets of each output matrix's operands, broadcasting size-1 batch dims.
  void ComputeOffsets(const Shape& ba, const Shape& bb, const Shape& batch) {
    const size_t r = batch.size();
    std::vector<int64_t> sa(r), sb(r);
    int64_t stride_a = 1, stride_b = 1;
    for (size_t i = r; i-- > 0;) {
      sa[i] = ba[i] == 1 ? 0 : stride_a;
      sb[i] = bb[i] == 1 ? 0 : stride_b;
      stride_a *= ba[i];
      stride_b *= bb[i];
    }
    a_off_.resize(num_batch_);
    b_off_.resize(num_batch_);
    for (int64_t idx = 0; idx < num_batch_; ++idx) {
      int64_t rem = idx, oa = 0, ob = 0;
      for (size_t i = r; i-- > 0;) {
        int64_t c = rem % batch[i];
        rem /= batch[i];
        oa += c * sa[i];
        ob += c * sb[i];
      }
      a_off_[idx] = oa * m_ * k_;
      b_off_[idx] = ob * k_ * n_;
    }
  }

  // Writes the fused bias into `rows` output rows; true when there was one (the GEMM then accumulates).
  // Prefilled rows plus beta = 1 also save OpenBLAS its separate pass that zeroes C.
  bool PrefillBias(float* y, int64_t rows, const float* bias) const {
    if (bias == nullptr) return false;
    for (int64_t i = 0; i < rows; ++i) {
      float* yrow = y + i * n_;
      if (bias_numel_ == 1) {
        std::fill(yrow, yrow + n_, bias[0]);
      } else {
        std::copy(bias, bias + n_, yrow);
      }
    }
    return true;
  }

  // One GEMM of `rows` rows with the bias (not the activation).
  template <typename T>
  void Single(const T* a, const T* b, T* y, int64_t rows, const float* bias, int threads) {
    bool accumulate = false;
    if constexpr (std::is_same_v<T, float>) {
      accumulate = PrefillBias(y, rows, bias);
      // Packed only when B is one known matrix (fold_), which keeps its value from Prepare to Compute (kernel.h),
      // whichever memory holds it.
      if (packed_) {
        packed_->Multiply(a, rows, k_, y, n_, accumulate, threads);
        return;
      }
    }
    Gemm<T>(false, false, rows, n_, k_, T(1), a, k_, b, n_, accumulate ? T(1) : T(0), y, n_);
  }

  // Matrices [i0, i1) of a batched product, on one thread. With a pack buffer, each B is packed once (and
  // reused while consecutive matrices share it) for the packed kernel, which beats per-call BLAS packing on
  // attention-sized products.
  template <typename T>
  void BatchRange(const T* a, const T* b, T* y, const float* bias, int64_t i0, int64_t i1, float* pack) {
    int64_t packed_off = -1;
    for (int64_t i = i0; i < i1; ++i) {
      T* yi = y + i * m_ * n_;
      if constexpr (std::is_same_v<T, float>) {
        if (pack != nullptr) {
          if (b_off_[i] != packed_off) {
            PackedMatrix::PackInto(b + b_off_[i], k_, n_, n_, false, pack);
            packed_off = b_off_[i];
          }
          const bool accumulate = PrefillBias(yi, m_, bias);
          PackedMatrix::MultiplyPacked(pack, k_, n_, a + a_off_[i], m_, k_, yi, n_, accumulate, 1);
        } else {
          Single<T>(a + a_off_[i], b + b_off_[i], yi, m_, bias, 1);
        }
        if (act_.kind != ActivationKind::kNone) ApplyActivation(act_, yi, m_ * n_);
      } else {
        Single<T>(a + a_off_[i], b + b_off_[i], yi, m_, bias, 1);
      }
    }
  }

  template <typename T>
  Status Run(KernelContext& ctx) {
    const T* a = ctx.input(0).as<const T>();
    const T* b = ctx.input(1).as<const T>();
    T* y = ctx.output(0).as<T>();
    const float* bias = has_bias_ ? ctx.input(2).as<const float>() : nullptr;
    bias_numel_ = has_bias_ ? ctx.input(2).numel() : 0;
    const int threads = ctx.num_threads();
    const int64_t flops = m_ * n_ * k_;
    if (num_batch_ == 0 || m_ == 0 || n_ == 0) return Status::Ok();

    if (fold_) {
      const int64_t rows = num_batch_ * m_;
      if constexpr (std::is_floating_point_v<T>) {
        Single<T>(a, b, y, rows, bias, threads);
      } else {
        ParallelFor(rows, threads, n_ * k_ + 1, [&](int64_t r0, int64_t r1) {
          GemmRows<T>(false, false, r0, r1, n_, k_, T(1), a, k_, b, n_, T(0), y, n_);
        });
      }
      if constexpr (std::is_same_v<T, float>) {
        if (act_.kind != ActivationKind::kNone) {
          ParallelFor(rows, threads, n_ * 8,
                      [&](int64_t r0, int64_t r1) { ApplyActivation(act_, y + r0 * n_, (r1 - r0) * n_); });
        }
      }
      return Status::Ok();
    }

    const bool across = !std::is_floating_point_v<T> || flops <= kSmallGemmFlops || num_batch_ % threads == 0 ||
                        num_batch_ >= 4 * threads;
    if (!across) {
      // Few big matrices: OpenBLAS threads each one.
      BatchRange<T>(a, b, y, bias, 0, num_batch_, nullptr);
      return Status::Ok();
    }
    // 64-byte aligned base of the pack slots requested in Prepare.
    float* slots = nullptr;
    if (pack_floats_ > 0) {
      const uintptr_t base = reinterpret_cast<uintptr_t>(ctx.scratch());
      slots = reinterpret_cast<float*>((base + 63) & ~uintptr_t{63});
    }
    ParallelFor(num_batch_, threads, flops + m_ * n_, [&](int64_t i0, int64_t i1) {
      // A thread beyond the slots (only possible when nested in an outer parallel region) falls back to BLAS.
      const int slot = omp_get_thread_num();
      float* pack = slots != nullptr && slot < kPackSlots ? slots + slot * pack_floats_ : nullptr;
      BatchRange<T>(a, b, y, bias, i0, i1, pack);
    });
    return Status::Ok();
  }

  const Activation act_;
  DataType dtype_ = DataType::kUndefined;
  bool has_bias_ = false;
  int64_t bias_numel_ = 0;
  int64_t m_ = 0, n_ = 0, k_ = 0;
  int64_t num_batch_ = 0;
  bool fold_ = false;
  std::vector<int64_t> a_off_, b_off_;
  std::shared_ptr<const PackedMatrix> packed_;  // B packed at Prepare when constant and worthwhile
  size_t pack_floats_ = 0;                      // per-thread pack buffer of a batched product (0: BLAS per matrix)
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateMatMul(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckMatMulConfig(DefInputType(def, 0), def.activation, DefHasInput(def, 2)));
  if (def.num_outputs > 1) return InvalidArgument("MatMul has one output, the node declares {}", def.num_outputs);
  return MakeKernel<MatMulKernel>(def);
}

}  // namespace ferry::cpu
