// Bit-exact conversions between float16 / bfloat16 (stored as uint16_t bits) and float / double.
//
// float and double to float16 round to nearest even, as numpy's astype does. float to bfloat16 truncates,
// which is what the reference of the ONNX release we target (1.12) produces; the two differ by at most one
// bfloat16 ulp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/elementwise_types.h"

namespace ferry::cpu {

inline float EwHalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float v = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest even; overflow gives inf, NaN gives a quiet NaN.
inline uint16_t EwFloatToHalf(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  bits &= 0x7fffffffu;
  if (bits >= 0x47800000u) {  // >= 65536 (or inf, NaN): beyond the largest half after rounding
    return sign | (bits > 0x7f800000u ? 0x7e00 : 0x7c00);
  }
  if (bits < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
    // Adding 0.5 puts the half's subnormal quantum (2^-24) at the float's last mantissa bit, so the FPU's
    // round-to-nearest-even does the rounding.
    const float shifted = std::bit_cast<float>(bits) + 0.5f;
    return sign | static_cast<uint16_t>(std::bit_cast<uint32_t>(shifted) - 0x3f000000u);
  }
  // Normal: rebias the exponent (127 -> 15), round the 13 dropped bits to nearest even; a carry out of the
  // mantissa correctly bumps the exponent (up to inf for 65520 and above).
  const uint32_t odd = (bits >> 13) & 1;
  bits += 0xc8000fffu + odd;
  return sign | static_cast<uint16_t>(bits >> 13);
}

// Round to nearest even directly from double (going through float would round twice).
inline uint16_t EwDoubleToHalf(double d) {
  if (std::isnan(d)) return std::signbit(d) ? 0xfe00 : 0x7e00;
  const double a = std::fabs(d);
  double rounded;
  if (a >= 65520.0) {
    rounded = INFINITY;
  } else if (a < 6.103515625e-05) {  // below 2^-14: multiples of 2^-24
    rounded = std::nearbyint(a * 16777216.0) / 16777216.0;
  } else {
    // 11 significant bits: the quantum is 2^(exponent - 10).
    const int e = std::ilogb(a);
    rounded = std::ldexp(std::nearbyint(std::ldexp(a, 10 - e)), e - 10);
  }
  // `rounded` is a half value, so the float conversion and EwFloatToHalf are exact.
  return EwFloatToHalf(static_cast<float>(std::signbit(d) ? -rounded : rounded));
}

inline float EwBFloat16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t EwFloatToBFloat16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  // Truncating a NaN whose payload sits in the low bits would give inf; keep it a quiet NaN.
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040);
  return static_cast<uint16_t>(bits >> 16);
}

// Lifts a binary op written generically (`[](auto x, auto y) {...}`) to element type T: unchanged for the
// ordinary types; for float16 it computes in float and rounds the result once to float16. That is exactly
// the float16 operation for + - * /, fmod, min and max: float carries more than 2 * 11 + 2 significant bits,
// so rounding twice cannot differ from rounding once. Ops returning bool (comparisons) use EwLiftToBool.
template <typename T, typename Op>
auto EwLift(Op op) {
  if constexpr (std::is_same_v<T, EwHalf>) {
    return [op](EwHalf a, EwHalf b) { return EwHalf{EwFloatToHalf(op(EwHalfToFloat(a.bits), EwHalfToFloat(b.bits)))}; };
  } else {
    return op;
  }
}

template <typename T, typename Op>
auto EwLiftToBool(Op op) {
  if constexpr (std::is_same_v<T, EwHalf>) {
    return [op](EwHalf a, EwHalf b) { return op(EwHalfToFloat(a.bits), EwHalfToFloat(b.bits)); };
  } else {
    return op;
  }
}

}  // namespace ferry::cpu
