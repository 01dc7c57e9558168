// Float32 exp, tanh, sigmoid and erf that the compiler vectorizes (branch-free, no libm calls), for the
// activation and unary kernels' hot loops. glibc's expf/tanhf/erff are scalar calls, several times slower.
//
// Accuracy against the correctly rounded result, checked over all finite floats in the unit tests:
// FastExp within 2 ulp, FastTanh and FastErf within a few ulp, all of which is far inside the tolerance
// ONNX conformance and model outputs are compared with. NaN propagates; overflow gives inf.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace ferry::cpu {

// a * b + c, fused where the CPU has FMA (the polynomials below were fitted for it); elsewhere the libm fma
// would be a slow software routine, so the unfused form is used.
inline float EwFma(float a, float b, float c) {
#if defined(__FMA__) || defined(__aarch64__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// cond ? a : b for float or double, as bit operations. GCC (with the default -ftrapping-math) will not
// if-convert `c ? x * y : x` because the multiply could trap, so such a loop stays scalar; with both arms
// computed up front and blended here it vectorizes.
template <typename T>
[[gnu::always_inline]] inline T EwSelect(bool cond, T a, T b) {
  static_assert(std::is_floating_point_v<T>);
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const U mask = U{0} - static_cast<U>(cond);
  return std::bit_cast<T>((std::bit_cast<U>(a) & mask) | (std::bit_cast<U>(b) & ~mask));
}

// (The functions are forced inline: at -O2 GCC would otherwise call them, and a call keeps the loop scalar.)

// exp(x): x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r, and 2^n applied in two halves so
// that results near the overflow and underflow edges (n up to 128, down to -150) are still exact scalings.
[[gnu::always_inline]] inline float FastExp(float x) {
  // Two clamps: `xn` sends NaN to a bound, so that converting n to int below is defined; `xc` keeps NaN,
  // which then flows through the polynomial into the result.
  // (EwSelect also stops GCC from specializing the code below for the clamped constants, which would leave
  // branches in the loop.)
  float xn = EwSelect(x > -104.0f, x, -104.0f);
  xn = EwSelect(xn < 89.0f, xn, 89.0f);
  float xc = EwSelect(x < -104.0f, -104.0f, x);
  xc = EwSelect(xc > 89.0f, 89.0f, xc);
  // Round to nearest by the 1.5 * 2^23 trick: the compiler keeps it (no -ffast-math) and it vectorizes.
  const float kRound = 12582912.0f;
  const float n = (xn * 1.44269504088896341f + kRound) - kRound;
  float r = EwFma(n, -0.693145751953125f, xc);
  r = EwFma(n, -1.428606765330187045e-6f, r);
  float p = 1.9875691500e-4f;
  p = EwFma(p, r, 1.3981999507e-3f);
  p = EwFma(p, r, 8.3334519073e-3f);
  p = EwFma(p, r, 4.1665795894e-2f);
  p = EwFma(p, r, 1.6666665459e-1f);
  p = EwFma(p, r, 5.0000001201e-1f);
  p = EwFma(p, r * r, r);
  p = p + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  return p * s1 * s2;
}

// 1 / (1 + exp(-x)).
[[gnu::always_inline]] inline float FastSigmoid(float x) { return 1.0f / (1.0f + FastExp(-x)); }

// tanh(x): Eigen's 13/6-degree rational approximation on [-9, 9]; tanh is +-1 in float beyond.
[[gnu::always_inline]] inline float FastTanh(float x) {
  // Clamps that let NaN through (into a NaN result).
  float xc = EwSelect(x > 9.0f, 9.0f, x);
  xc = EwSelect(xc < -9.0f, -9.0f, xc);
  const float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = EwFma(p, x2, 2.00018790482477e-13f);
  p = EwFma(p, x2, -8.60467152213735e-11f);
  p = EwFma(p, x2, 5.12229709037114e-08f);
  p = EwFma(p, x2, 1.48572235717979e-05f);
  p = EwFma(p, x2, 6.37261928875436e-04f);
  p = EwFma(p, x2, 4.89352455891786e-03f);
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = EwFma(q, x2, 1.18534705686654e-04f);
  q = EwFma(q, x2, 2.26843463243900e-03f);
  q = EwFma(q, x2, 4.89352518554385e-03f);
  // Tiny inputs return x itself (p would lose precision to underflow), which also keeps the sign of -0.
  return EwSelect(std::fabs(x) < 0.0004f, x, p / q);
}

// erf(x): the faithfully rounded erff approximation published by Norbert Juffa (the one MLAS uses): an odd
// polynomial below |x| = 0.921875, 1 - exp(-poly(|x|)) above; erf is +-1 in float beyond |x| = 3.925.
[[gnu::always_inline]] inline float FastErf(float x) {
  const float ax = std::fabs(x);
  const float t = EwSelect(ax > 3.925f, 3.925f, ax);  // lets NaN through
  const float s = x * x;
  float small = -5.99104969e-4f;
  small = EwFma(small, s, 4.99339588e-3f);
  small = EwFma(small, s, -2.67667342e-2f);
  small = EwFma(small, s, 1.12818025e-1f);
  small = EwFma(small, s, -3.76124859e-1f);
  small = EwFma(small, s, 1.28379151e-1f);
  small = EwFma(small, x, x);
  float big = 1.72948930e-5f;
  big = EwFma(big, t, -3.83208680e-4f);
  big = EwFma(big, t, 3.88393435e-3f);
  big = EwFma(big, t, -2.42545605e-2f);
  big = EwFma(big, t, 1.06777847e-1f);
  big = EwFma(big, t, 6.34846687e-1f);
  big = EwFma(big, t, 1.28717512e-1f);
  big = EwFma(big, t, t);
  big = 1.0f - FastExp(-big);
  big = std::copysign(big, x);
  // NaN fails the comparison and takes `big`, which is NaN through t.
  return EwSelect(ax <= 0.921875f, small, big);
}

}  // namespace ferry::cpu
