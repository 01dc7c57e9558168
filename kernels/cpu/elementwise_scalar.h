// Scalar semantics shared by the element-wise kernels, written so that loops over them vectorize.
//
// Integer arithmetic wraps (numpy's behaviour) instead of overflowing, which would be undefined behaviour for
// signed types; integer division and remainder by zero (and INT_MIN / -1, which traps on x86) yield 0 rather
// than a SIGFPE.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ferry::cpu {

// An unsigned type at least as wide as T and as int, so that arithmetic on it never promotes to signed int.
template <typename T>
using EwWrapType = std::conditional_t<sizeof(T) < sizeof(unsigned), unsigned, std::make_unsigned_t<T>>;

template <typename T>
inline T EwAdd(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a + b;
  } else {
    return static_cast<T>(static_cast<EwWrapType<T>>(a) + static_cast<EwWrapType<T>>(b));
  }
}

template <typename T>
inline T EwSub(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a - b;
  } else {
    return static_cast<T>(static_cast<EwWrapType<T>>(a) - static_cast<EwWrapType<T>>(b));
  }
}

template <typename T>
inline T EwMul(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a * b;
  } else {
    return static_cast<T>(static_cast<EwWrapType<T>>(a) * static_cast<EwWrapType<T>>(b));
  }
}

template <typename T>
inline T EwNeg(T a) {
  if constexpr (std::is_floating_point_v<T>) {
    return -a;
  } else {
    return static_cast<T>(EwWrapType<T>{0} - static_cast<EwWrapType<T>>(a));
  }
}

// Integers truncate toward zero like C; x / 0 is 0 (numpy's result) and INT_MIN / -1 wraps to INT_MIN.
template <typename T>
inline T EwDiv(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a / b;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return EwNeg(a);
    }
    return static_cast<T>(a / b);
  }
}

// C's remainder (sign of the dividend): ONNX Mod with fmod=1. x % 0 is 0.
template <typename T>
inline T EwFmod(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(a, b);
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;
    }
    return static_cast<T>(a % b);
  }
}

// Python's remainder (sign of the divisor): ONNX Mod with fmod=0, integers only. x % 0 is 0.
template <typename T>
inline T EwIntMod(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T r = EwFmod(a, b);
  if constexpr (std::is_signed_v<T>) {
    if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
  }
  return r;
}

// numpy's maximum/minimum: NaN in either operand gives NaN.
template <typename T>
inline T EwMax(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return (a >= b || a != a) ? a : b;
  } else {
    return a >= b ? a : b;
  }
}

template <typename T>
inline T EwMin(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return (a <= b || a != a) ? a : b;
  } else {
    return a <= b ? a : b;
  }
}

// A floating value converted to integer type I: truncated toward zero; NaN gives 0; values outside int64 (or
// uint64 for I = uint64) saturate; in-range values wrap into I's width like numpy's astype on x86.
template <typename I, typename F>
inline I EwFloatToInt(F v) {
  static_assert(std::is_integral_v<I> && std::is_floating_point_v<F>);
  if (!(v == v)) return 0;
  if constexpr (std::is_same_v<I, uint64_t>) {
    if (v >= static_cast<F>(18446744073709551616.0)) return std::numeric_limits<uint64_t>::max();
    if (v >= static_cast<F>(9223372036854775808.0)) return static_cast<uint64_t>(v);
  }
  if (v >= static_cast<F>(9223372036854775808.0)) return static_cast<I>(std::numeric_limits<int64_t>::max());
  if (v <= static_cast<F>(-9223372036854775808.0)) return static_cast<I>(std::numeric_limits<int64_t>::min());
  return static_cast<I>(static_cast<int64_t>(v));
}

}  // namespace ferry::cpu
