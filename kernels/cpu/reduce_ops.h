// The per-op policies of the reduction engine (reduce.cc): an accumulator type, its identity, one step per
// element, a merge of two partial accumulators (for lanes and thread splits) and the final value.
//
// Integer sums and products accumulate in uint64_t so overflow wraps (as numpy's int64 accumulation cast back
// does) instead of being undefined behaviour. Float Max/Min propagate NaN like numpy. LogSumExp keeps a running
// (max, sum of exp(x - max)) pair, so it neither overflows nor needs a second pass.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

namespace ferry::cpu::reduce {

enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// double -> T for the ops whose integer results pass through floating point; saturates, NaN -> 0.
template <typename T>
T FromDouble(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;

// Sum-like ops: the accumulator is T for floats and a wrapping uint64_t for integers.
template <typename T>
using SumAcc = std::conditional_t<kIsFloat<T>, T, uint64_t>;

template <ReduceOp Op, typename T>
struct Policy {
  using Acc = SumAcc<T>;
  static constexpr bool kAllowsEmpty = !(Op == ReduceOp::kMean && !kIsFloat<T>);
  static Acc Init() { return Op == ReduceOp::kProd ? Acc(1) : Acc(0); }
  static Acc Step(Acc a, T x) {
    if constexpr (kIsFloat<T>) {
      switch (Op) {
        case ReduceOp::kProd:
          return a * x;
        case ReduceOp::kL1:
          return a + std::fabs(x);
        case ReduceOp::kL2:
        case ReduceOp::kSumSquare:
          return a + x * x;
        default:
          return a + x;
      }
    } else {
      const uint64_t u = static_cast<uint64_t>(static_cast<int64_t>(x));
      switch (Op) {
        case ReduceOp::kProd:
          return a * u;
        case ReduceOp::kL1:
          return a + (x < 0 ? uint64_t(0) - u : u);
        case ReduceOp::kL2:
        case ReduceOp::kSumSquare:
          return a + u * u;
        default:
          return a + u;
      }
    }
  }
  static Acc Merge(Acc a, Acc b) { return Op == ReduceOp::kProd ? a * b : a + b; }
  static T Finalize(Acc a, int64_t count) {
    if constexpr (kIsFloat<T>) {
      switch (Op) {
        case ReduceOp::kMean:
          return a / static_cast<T>(count);
        case ReduceOp::kL2:
          return std::sqrt(a);
        case ReduceOp::kLogSum:
          return std::log(a);
        default:
          return a;
      }
    } else {
      const int64_t s = static_cast<int64_t>(a);
      switch (Op) {
        case ReduceOp::kMean:
          return static_cast<T>(s / count);  // truncates toward zero, as numpy's astype
        case ReduceOp::kL2:
          return FromDouble<T>(std::sqrt(static_cast<double>(a)));
        case ReduceOp::kLogSum:
          return FromDouble<T>(std::log(static_cast<double>(s)));
        default:
          return static_cast<T>(s);
      }
    }
  }
};

template <typename T>
struct Policy<ReduceOp::kMax, T> {
  using Acc = T;
  static constexpr bool kAllowsEmpty = true;
  static Acc Init() {
    if constexpr (kIsFloat<T>) return -std::numeric_limits<T>::infinity();
    return std::numeric_limits<T>::lowest();
  }
  static Acc Step(Acc a, T x) { return (x > a || x != x) ? x : a; }
  static Acc Merge(Acc a, Acc b) { return Step(a, b); }
  static T Finalize(Acc a, int64_t) { return a; }
};

template <typename T>
struct Policy<ReduceOp::kMin, T> {
  using Acc = T;
  static constexpr bool kAllowsEmpty = true;
  static Acc Init() {
    if constexpr (kIsFloat<T>) return std::numeric_limits<T>::infinity();
    return std::numeric_limits<T>::max();
  }
  static Acc Step(Acc a, T x) { return (x < a || x != x) ? x : a; }
  static Acc Merge(Acc a, Acc b) { return Step(a, b); }
  static T Finalize(Acc a, int64_t) { return a; }
};

template <typename T>
struct Policy<ReduceOp::kLogSumExp, T> {
  using F = std::conditional_t<std::is_same_v<T, float>, float, double>;
  struct Acc {
    F max;
    F sum;  // sum of exp(x - max)
  };
  static constexpr bool kAllowsEmpty = true;
  static Acc Init() { return {-std::numeric_limits<F>::infinity(), F(0)}; }
  static Acc Step(Acc a, T xt) {
    const F x = static_cast<F>(xt);
    if (x > a.max) {
      a.sum = a.sum * std::exp(a.max - x) + F(1);
      a.max = x;
    } else if (x == a.max) {
      a.sum += F(1);  // also covers +-inf, where x - max would be NaN
    } else {
      a.sum += std::exp(x - a.max);  // NaN x (or max) makes the sum NaN
    }
    return a;
  }
  static Acc Merge(Acc a, Acc b) {
    if (b.max > a.max) std::swap(a, b);
    if (b.max == a.max) {
      a.sum += b.sum;
    } else if (b.max != -std::numeric_limits<F>::infinity()) {
      a.sum += b.sum * std::exp(b.max - a.max);
    }
    return a;
  }
  static T Finalize(Acc a, int64_t) { return FromDouble<T>(static_cast<double>(a.max + std::log(a.sum))); }
};

// Folds n contiguous elements into acc; eight independent lanes let the compiler vectorize the simple ops.
template <typename P, typename T>
typename P::Acc ReduceContiguous(const T* x, int64_t n, typename P::Acc acc) {
  constexpr int kLanes = 8;
  int64_t i = 0;
  if (n >= 2 * kLanes) {
    typename P::Acc lanes[kLanes];
    for (int l = 0; l < kLanes; ++l) lanes[l] = P::Init();
    for (; i + kLanes <= n; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) lanes[l] = P::Step(lanes[l], x[i + l]);
    }
    for (int l = 0; l < kLanes; ++l) acc = P::Merge(acc, lanes[l]);
  }
  for (; i < n; ++i) acc = P::Step(acc, x[i]);
  return acc;
}

}  // namespace ferry::cpu::reduce
