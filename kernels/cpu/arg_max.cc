// ArgMax and ArgMin: int64 index of the first (or, with select_last_index, the last) extreme element along
// `axis`. The input is viewed as [outer, n, inner]: inner == 1 scans contiguous rows, otherwise a block of
// inner columns is scanned row by row so the reads stay contiguous.
#include <algorithm>
#include <memory>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_util.h"

namespace ferry::cpu {
namespace {

constexpr int64_t kColumnBlock = 256;

template <typename T>
int IsNan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  return 0;
}

template <typename T, bool kMax, bool kLast>
struct Better {
  // True when x should replace the current best b. NaN wins (and, for the first index, stays), as numpy does.
  static bool Replace(T x, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      if (b != b) return kLast && x != x;
      if (x != x) return true;
    }
    if constexpr (kMax) {
      return kLast ? x >= b : x > b;
    } else {
      return kLast ? x <= b : x < b;
    }
  }
};

template <typename T, bool kMax>
class ArgKernel final : public Kernel {
 public:
  ArgKernel(int64_t axis, bool keepdims, bool last) : axis_(axis), keepdims_(keepdims), last_(last) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const int64_t rank = x.rank();
    if (rank == 0) return InvalidArgument("input 0 must have rank >= 1");
    FERRY_ASSIGN_OR_RETURN(int64_t axis, reduce::NormalizeAxis(axis_, rank, "axis"));
    outer_ = reduce::ProductOf(x.shape, 0, axis);
    n_ = x.shape[axis];
    inner_ = reduce::ProductOf(x.shape, axis + 1, rank);
    Shape out = x.shape;
    if (keepdims_) {
      out[axis] = 1;
    } else {
      out.erase(out.begin() + axis);
    }
    if (n_ == 0 && outer_ * inner_ > 0) return InvalidArgument("cannot take the arg extreme of an empty axis");
    ctx.set_output(0, DataType::kInt64, out);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    if (last_) return Run<true>(ctx);
    return Run<false>(ctx);
  }

 private:
  // Index of the extreme of one contiguous row: a vectorizable pass finds the extreme value (and whether there
  // is a NaN, which wins), then a scan from the preferred end finds its position.
  template <bool kLast>
  static int64_t ArgRow(const T* row, int64_t n) {
    T m = row[0];
    int any_nan = 0;
    if constexpr (kMax) {
#pragma omp simd reduction(max : m) reduction(| : any_nan)
      for (int64_t i = 0; i < n; ++i) {
        m = row[i] > m ? row[i] : m;
        any_nan |= IsNan(row[i]);
      }
    } else {
#pragma omp simd reduction(min : m) reduction(| : any_nan)
      for (int64_t i = 0; i < n; ++i) {
        m = row[i] < m ? row[i] : m;
        any_nan |= IsNan(row[i]);
      }
    }
    const bool nan = any_nan != 0;
    if (kLast) {
      for (int64_t i = n - 1; i >= 0; --i) {
        if (nan ? row[i] != row[i] : row[i] == m) return i;
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        if (nan ? row[i] != row[i] : row[i] == m) return i;
      }
    }
    return 0;
  }

  template <bool kLast>
  Status Run(KernelContext& ctx) {
    using B = Better<T, kMax, kLast>;
    const T* x = ctx.input(0).as<const T>();
    int64_t* y = ctx.output(0).as<int64_t>();
    if (outer_ == 0 || inner_ == 0) return Status::Ok();
    const int64_t n = n_, inner = inner_;
    if (inner == 1) {
      ParallelFor(outer_, ctx.num_threads(), n, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) y[o] = ArgRow<kLast>(x + o * n, n);
      });
      return Status::Ok();
    }
    const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
    ParallelFor(outer_ * blocks, ctx.num_threads(), n * std::min(inner, kColumnBlock), [&](int64_t t0, int64_t t1) {
      T best[kColumnBlock];
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t o = t / blocks, c0 = (t % blocks) * kColumnBlock;
        const int64_t cols = std::min(kColumnBlock, inner - c0);
        const T* base = x + o * n * inner + c0;
        int64_t* out = y + o * inner + c0;
        for (int64_t j = 0; j < cols; ++j) {
          best[j] = base[j];
          out[j] = 0;
        }
        for (int64_t i = 1; i < n; ++i) {
          const T* row = base + i * inner;
          // Branch-free selects, so the block vectorizes.
#pragma omp simd
          for (int64_t j = 0; j < cols; ++j) {
            const T v = row[j];
            const bool r = B::Replace(v, best[j]);
            best[j] = r ? v : best[j];
            out[j] = r ? i : out[j];
          }
        }
      }
    });
    return Status::Ok();
  }

  const int64_t axis_;
  const bool keepdims_;
  const bool last_;
  int64_t outer_ = 0, n_ = 0, inner_ = 0;
};

template <bool kMax>
Result<std::unique_ptr<Kernel>> CreateArg(const KernelDef& def) {
  const int64_t axis = def.attrs.Int("axis", 0);
  const bool keepdims = def.attrs.Int("keepdims", 1) != 0;
  const bool last = def.opset >= 12 && def.attrs.Int("select_last_index", 0) != 0;
  auto make = [=](DataType t) -> Result<std::unique_ptr<Kernel>> {
    std::unique_ptr<Kernel> k;
    reduce::DispatchNumeric(t, [&]<typename T>() { k = std::make_unique<ArgKernel<T, kMax>>(axis, keepdims, last); });
    if (!k) {
      return Unimplemented("input 0 has type {}; supported: float, double and the 8- to 64-bit integer types",
                           DataTypeName(t));
    }
    return k;
  };
  const DataType t = reduce::DefInputType(def, 0);
  if (t != DataType::kUndefined) FERRY_RETURN_IF_ERROR(make(t).status());
  return std::unique_ptr<Kernel>(new reduce::TypedByInput(make));
}

}  // namespace

Result<std::unique_ptr<Kernel>> CreateArgMax(const KernelDef& def) { return CreateArg<true>(def); }
Result<std::unique_ptr<Kernel>> CreateArgMin(const KernelDef& def) { return CreateArg<false>(def); }

}  // namespace ferry::cpu
