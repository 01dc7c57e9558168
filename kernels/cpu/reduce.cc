// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum and
// ReduceLogSumExp: one engine, one small policy per op (reduce_ops.h).
//
// Prepare drops size-1 dims and merges neighbouring dims that are both reduced or both kept, so the input is
// an alternation of kept and reduced blocks. When the innermost block is reduced, every output reduces
// contiguous rows (LayerNorm-like and spatial reductions); when it is kept, every output row accumulates
// contiguous input rows column-wise (reductions over a middle axis such as channels). Few outputs with a large
// reduction split the reduction across threads and merge partial accumulators.
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_ops.h"
#include "kernels/cpu/reduce_util.h"

namespace ferry::cpu {
namespace {

using reduce::ReduceOp;

// Columns handled together on the column path (accumulators live on the stack).
constexpr int64_t kColumnBlock = 256;
// Most partial accumulators a split reduction keeps per output.
constexpr int kMaxSplit = 64;
// Most alternating kept/reduced blocks of dims an input may have after merging (at most its rank).
constexpr size_t kMaxBlocks = 32;

struct Dim {
  int64_t size;
  int64_t stride;  // input stride in elements
};

// Odometer over a list of dims: offset() is sum(index_d * stride_d).
class Odometer {
 public:
  explicit Odometer(const std::vector<Dim>* dims) : dims_(dims) { std::fill_n(idx_.begin(), dims->size(), 0); }
  void Seek(int64_t linear) {
    off_ = 0;
    for (size_t k = dims_->size(); k-- > 0;) {
      const Dim& d = (*dims_)[k];
      idx_[k] = linear % d.size;
      linear /= d.size;
      off_ += idx_[k] * d.stride;
    }
  }
  void Next() {
    for (size_t k = dims_->size(); k-- > 0;) {
      const Dim& d = (*dims_)[k];
      off_ += d.stride;
      if (++idx_[k] < d.size) return;
      off_ -= d.stride * d.size;
      idx_[k] = 0;
    }
  }
  int64_t offset() const { return off_; }

 private:
  const std::vector<Dim>* dims_;
  std::array<int64_t, kMaxBlocks> idx_;  // no allocation: odometers are made per output in Compute
  int64_t off_ = 0;
};

template <ReduceOp Op, typename T>
class ReduceKernel final : public Kernel {
  using P = reduce::Policy<Op, T>;
  using Acc = typename P::Acc;

 public:
  ReduceKernel(std::vector<int64_t> axes, bool axes_from_input, bool keepdims, bool noop_with_empty_axes)
      : attr_axes_(std::move(axes)),
        axes_from_input_(axes_from_input),
        keepdims_(keepdims),
        noop_(noop_with_empty_axes) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    if (x.dtype != DataTypeOf<T>::value) {
      return InvalidArgument("input 0 has type {}, expected {}", DataTypeName(x.dtype),
                             DataTypeName(DataTypeOf<T>::value));
    }
    const int64_t rank = x.rank();
    std::vector<int64_t> axes = attr_axes_;
    if (axes_from_input_ && ctx.has_input(1) && ctx.input(1).numel() > 0) {
      FERRY_ASSIGN_OR_RETURN(axes, reduce::ReadKnownInts(ctx, 1, "axes"));
    }
    std::vector<bool> reduced(static_cast<size_t>(rank), false);
    copy_ = axes.empty() && noop_;
    if (axes.empty()) {
      std::fill(reduced.begin(), reduced.end(), !noop_);
    } else {
      for (int64_t a : axes) {
        FERRY_ASSIGN_OR_RETURN(int64_t n, reduce::NormalizeAxis(a, rank, "axes element"));
        if (reduced[n]) return InvalidArgument("axes has axis {} more than once", a);
        reduced[n] = true;
      }
    }
    Shape out_shape;
    count_ = 1;
    for (int64_t d = 0; d < rank; ++d) {
      if (!reduced[d]) {
        out_shape.push_back(x.shape[d]);
      } else {
        count_ *= x.shape[d];
        if (keepdims_) out_shape.push_back(1);
      }
    }
    ctx.set_output(0, x.dtype, out_shape);
    out_count_ = NumElements(out_shape);
    if (copy_) return Status::Ok();
    if constexpr (!P::kAllowsEmpty) {
      if (count_ == 0 && out_count_ > 0) return InvalidArgument("cannot take the mean of an empty integer set");
    }
    // Merge dims: size-1 dims do not move the layout, so they are dropped.
    struct Block {
      int64_t size;
      bool reduced;
    };
    std::vector<Block> blocks;
    for (int64_t d = 0; d < rank; ++d) {
      if (x.shape[d] == 1) continue;
      if (!blocks.empty() && blocks.back().reduced == reduced[d]) {
        blocks.back().size *= x.shape[d];
      } else {
        blocks.push_back({x.shape[d], reduced[d]});
      }
    }
    if (blocks.empty()) blocks.push_back({1, true});
    if (blocks.size() > kMaxBlocks) return Unimplemented("axes split the input into over {} blocks", kMaxBlocks);
    kept_.clear();
    red_.clear();
    int64_t stride = 1;
    for (size_t k = blocks.size(); k-- > 0;) {
      (blocks[k].reduced ? red_ : kept_).insert((blocks[k].reduced ? red_ : kept_).begin(), {blocks[k].size, stride});
      stride *= blocks[k].size;
    }
    row_path_ = blocks.back().reduced;
    // Inner length: the contiguous reduced run (row path) or the contiguous kept run (column path).
    if (row_path_) {
      inner_ = red_.back().size;
      red_.pop_back();
    } else {
      inner_ = kept_.back().size;
      kept_.pop_back();
    }
    outer_count_ = 1;
    for (const Dim& d : kept_) outer_count_ *= d.size;
    outer_red_ = 1;
    for (const Dim& d : red_) outer_red_ *= d.size;
    scratch_split_ = 0;
    if (!row_path_) {
      const int64_t blocks_per_row = (inner_ + kColumnBlock - 1) / kColumnBlock;
      const int64_t tasks = std::min<int64_t>(ctx.num_threads(), kMaxSplit);
      if (outer_count_ * blocks_per_row < tasks && count_ * out_count_ >= (1 << 18) &&
          out_count_ * tasks * static_cast<int64_t>(sizeof(Acc)) <= (1 << 22) && outer_red_ >= tasks) {
        scratch_split_ = tasks;
        ctx.request_scratch(static_cast<size_t>(out_count_ * tasks) * sizeof(Acc));
      }
    }
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& xv = ctx.input(0);
    const T* x = xv.as<const T>();
    T* y = ctx.output(0).as<T>();
    if (copy_) {
      if (xv.nbytes() && y != x) std::memcpy(y, x, xv.nbytes());
      return Status::Ok();
    }
    if (out_count_ == 0) return Status::Ok();
    if (count_ == 0) {
      const T v = P::Finalize(P::Init(), 0);
      std::fill(y, y + out_count_, v);
      return Status::Ok();
    }
    if (row_path_) {
      RowPath(x, y, ctx.num_threads());
    } else if (scratch_split_ > 0) {
      ColumnSplit(x, y, ctx.num_threads(), static_cast<Acc*>(ctx.scratch()));
    } else {
      ColumnPath(x, y, ctx.num_threads());
    }
    return Status::Ok();
  }

 private:
  // Reduces rows [r0, r1) of the outer reduced positions for one output whose kept offset is `base`,
  // restricted to columns [c0, c1) of each contiguous row.
  Acc ReduceRows(const T* x, int64_t base, int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    Acc acc = P::Init();
    Odometer od(&red_);
    od.Seek(r0);
    for (int64_t r = r0; r < r1; ++r, od.Next()) {
      acc = reduce::ReduceContiguous<P>(x + base + od.offset() + c0, c1 - c0, acc);
    }
    return acc;
  }

  void RowPath(const T* x, T* y, int threads) const {
    const int64_t work = count_ * out_count_;
    const int64_t tasks = std::min<int64_t>(threads, kMaxSplit);
    if (out_count_ < tasks && work >= (1 << 18)) {
      // Few outputs: split each reduction over rows (or over columns when there are few rows).
      Odometer ko(&kept_);
      for (int64_t o = 0; o < out_count_; ++o, ko.Next()) {
        const int64_t base = ko.offset();
        Acc part[kMaxSplit] = {};
        const bool by_rows = outer_red_ >= tasks;
        const int64_t units = by_rows ? outer_red_ : inner_;
        ParallelFor(tasks, threads, 1 << 20, [&](int64_t t0, int64_t t1) {
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = units * t / tasks, e = units * (t + 1) / tasks;
            part[t] = by_rows ? ReduceRows(x, base, b, e, 0, inner_) : ReduceRows(x, base, 0, outer_red_, b, e);
          }
        });
        Acc acc = part[0];
        for (int64_t t = 1; t < tasks; ++t) acc = P::Merge(acc, part[t]);
        y[o] = P::Finalize(acc, count_);
      }
      return;
    }
    if (red_.empty() && kept_.size() <= 1) {
      // [outputs, inner] rows, one per output: the LayerNorm-like case.
      const int64_t n = inner_;
      ParallelFor(out_count_, threads, n + 4, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
          y[o] = P::Finalize(reduce::ReduceContiguous<P>(x + o * n, n, P::Init()), count_);
      });
      return;
    }
    ParallelFor(out_count_, threads, count_ + 4, [&](int64_t o0, int64_t o1) {
      Odometer ko(&kept_);
      ko.Seek(o0);
      for (int64_t o = o0; o < o1; ++o, ko.Next()) {
        y[o] = P::Finalize(ReduceRows(x, ko.offset(), 0, outer_red_, 0, inner_), count_);
      }
    });
  }

  // Accumulates columns [c0, c0 + n) of the reduced rows [r0, r1) of output row base into acc.
  void AccumulateColumns(const T* x, int64_t base, int64_t r0, int64_t r1, int64_t c0, int64_t n, Acc* acc) const {
    Odometer od(&red_);
    od.Seek(r0);
    for (int64_t r = r0; r < r1; ++r, od.Next()) {
      const T* row = x + base + od.offset() + c0;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) acc[j] = P::Step(acc[j], row[j]);
    }
  }

  void ColumnPath(const T* x, T* y, int threads) const {
    const int64_t blocks = (inner_ + kColumnBlock - 1) / kColumnBlock;
    ParallelFor(outer_count_ * blocks, threads, count_ * std::min(inner_, kColumnBlock) + 4,
                [&](int64_t t0, int64_t t1) {
                  Odometer ko(&kept_);
                  Acc acc[kColumnBlock];
                  for (int64_t t = t0; t < t1; ++t) {
                    const int64_t row = t / blocks, c0 = (t % blocks) * kColumnBlock;
                    const int64_t n = std::min(kColumnBlock, inner_ - c0);
                    ko.Seek(row);
                    for (int64_t j = 0; j < n; ++j) acc[j] = P::Init();
                    AccumulateColumns(x, ko.offset(), 0, outer_red_, c0, n, acc);
                    T* out = y + row * inner_ + c0;
                    for (int64_t j = 0; j < n; ++j) out[j] = P::Finalize(acc[j], count_);
                  }
                });
  }

  // Few output rows, many reduced rows: each task accumulates a slice of the reduced rows for every output.
  void ColumnSplit(const T* x, T* y, int threads, Acc* part) const {
    const int64_t tasks = scratch_split_;
    ParallelFor(tasks, threads, 1 << 20, [&](int64_t t0, int64_t t1) {
      Odometer ko(&kept_);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = outer_red_ * t / tasks, e = outer_red_ * (t + 1) / tasks;
        Acc* acc = part + t * out_count_;
        for (int64_t j = 0; j < out_count_; ++j) acc[j] = P::Init();
        ko.Seek(0);
        for (int64_t row = 0; row < outer_count_; ++row, ko.Next()) {
          AccumulateColumns(x, ko.offset(), b, e, 0, inner_, acc + row * inner_);
        }
      }
    });
    for (int64_t j = 0; j < out_count_; ++j) {
      Acc acc = part[j];
      for (int64_t t = 1; t < tasks; ++t) acc = P::Merge(acc, part[t * out_count_ + j]);
      y[j] = P::Finalize(acc, count_);
    }
  }

  const std::vector<int64_t> attr_axes_;
  const bool axes_from_input_;
  const bool keepdims_;
  const bool noop_;
  // Plan (Prepare).
  bool copy_ = false;
  bool row_path_ = true;
  int64_t count_ = 1;      // elements reduced into each output
  int64_t out_count_ = 0;  // outputs
  std::vector<Dim> kept_;  // kept dims outside the contiguous run
  std::vector<Dim> red_;   // reduced dims outside the contiguous run
  int64_t inner_ = 1;      // length of the contiguous run
  int64_t outer_count_ = 1;
  int64_t outer_red_ = 1;
  int64_t scratch_split_ = 0;
};

template <ReduceOp Op>
Result<std::unique_ptr<Kernel>> CreateReduce(const KernelDef& def) {
  const bool axes_from_input = Op == ReduceOp::kSum && def.opset >= 13;
  std::vector<int64_t> axes;
  if (!axes_from_input) {
    axes = def.attrs.Ints("axes");
  } else if (def.attrs.Has("axes")) {
    return InvalidArgument("attribute 'axes' is not allowed from opset 13 (axes is an input)");
  }
  const bool keepdims = def.attrs.Int("keepdims", 1) != 0;
  const bool noop = axes_from_input && def.attrs.Int("noop_with_empty_axes", 0) != 0;
  auto make = [=](DataType t) -> Result<std::unique_ptr<Kernel>> {
    constexpr bool kMinMax = Op == ReduceOp::kMax || Op == ReduceOp::kMin;
    if (kMinMax) {
      FERRY_RETURN_IF_ERROR(reduce::CheckType(
          "input 0", t,
          {DataType::kFloat, DataType::kDouble, DataType::kInt32, DataType::kInt64, DataType::kInt8, DataType::kUInt8},
          false));
    } else {
      FERRY_RETURN_IF_ERROR(reduce::CheckType(
          "input 0", t, {DataType::kFloat, DataType::kDouble, DataType::kInt32, DataType::kInt64}, false));
    }
    std::unique_ptr<Kernel> k;
    reduce::DispatchNumeric(t, [&]<typename T>() {
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t> ||
                    (kMinMax && (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>))) {
        k = std::make_unique<ReduceKernel<Op, T>>(axes, axes_from_input, keepdims, noop);
      }
    });
    if (!k) return Unimplemented("input 0 has type {}", DataTypeName(t));
    return k;
  };
  const DataType t = reduce::DefInputType(def, 0);
  if (t != DataType::kUndefined) FERRY_RETURN_IF_ERROR(make(t).status());
  return std::unique_ptr<Kernel>(new reduce::TypedByInput(make));
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateReduceSum(const KernelDef& def) { return CreateReduce<ReduceOp::kSum>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceMean(const KernelDef& def) { return CreateReduce<ReduceOp::kMean>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceMax(const KernelDef& def) { return CreateReduce<ReduceOp::kMax>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceMin(const KernelDef& def) { return CreateReduce<ReduceOp::kMin>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceProd(const KernelDef& def) { return CreateReduce<ReduceOp::kProd>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceL1(const KernelDef& def) { return CreateReduce<ReduceOp::kL1>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceL2(const KernelDef& def) { return CreateReduce<ReduceOp::kL2>(def); }
Result<std::unique_ptr<Kernel>> CreateReduceSumSquare(const KernelDef& def) {
  return CreateReduce<ReduceOp::kSumSquare>(def);
}
Result<std::unique_ptr<Kernel>> CreateReduceLogSum(const KernelDef& def) {
  return CreateReduce<ReduceOp::kLogSum>(def);
}
Result<std::unique_ptr<Kernel>> CreateReduceLogSumExp(const KernelDef& def) {
  return CreateReduce<ReduceOp::kLogSumExp>(def);
}

}  // namespace ferry::cpu
