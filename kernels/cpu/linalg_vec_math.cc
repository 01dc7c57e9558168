#include "kernels/cpu/linalg_vec_math.h"

#include <cmath>
#include <limits>

#if defined(__x86_64__)
// GCC 12's AVX-512 headers pass _mm512_undefined_ps() to masked builtins, which trips these warnings when the
// intrinsics are inlined into target("avx512f") functions (GCC PR 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define FERRY_VEC_MATH_X86 1
#endif

namespace ferry::cpu {
namespace {

// exp on a range-reduced argument: x = n * ln2 + r, |r| <= ln2 / 2, exp(r) by Cephes' degree-6 polynomial
// (within ~2 ulp of expf), then scaled by 2^n.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
// Softmax only evaluates exp(x - max) <= 1; below this the result underflows to 0 anyway.
constexpr float kExpLo = -88.3762626647949f;
constexpr float kExpHi = 88.3762626647949f;

void SoftmaxScalar(const float* x, float* y, int64_t n, bool log) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  float sum = 0.f;
  if (log) {
    for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - m);
    const float shift = m + std::log(sum);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
    return;
  }
  for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - m));
  const float inv = 1.f / sum;
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

#ifdef FERRY_VEC_MATH_X86

__attribute__((target("avx512f"))) inline __m512 Exp16(__m512 x) {
  // Constant first: min/max return the second operand when one is NaN, so a NaN x survives the clamp.
  x = _mm512_min_ps(_mm512_set1_ps(kExpHi), x);
  x = _mm512_max_ps(_mm512_set1_ps(kExpLo), x);
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kLn2Hi), x);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kLn2Lo), x);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(kP5));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.f)));
  // scalef computes p * 2^fx and handles the subnormal range gracefully.
  return _mm512_scalef_ps(p, fx);
}

// Horizontal reductions by halving shuffles (GCC 12's _mm512_reduce_* trip -Wmaybe-uninitialized).
__attribute__((target("avx512f"))) inline float ReduceMax16(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

__attribute__((target("avx512f"))) inline float ReduceAdd16(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

__attribute__((target("avx512f"))) void Softmax512(const float* x, float* y, int64_t n, bool log) {
  const int64_t full = n & ~int64_t{15};
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vm = neg_inf;
  for (int64_t i = 0; i < full; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
  if (tail) vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(neg_inf, tail, x + full));
  const float m = ReduceMax16(vm);
  const __m512 shift = _mm512_set1_ps(m);
  __m512 vs = _mm512_setzero_ps();
  for (int64_t i = 0; i < full; i += 16) {
    const __m512 e = Exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), shift));
    if (!log) _mm512_storeu_ps(y + i, e);
    vs = _mm512_add_ps(vs, e);
  }
  if (tail) {
    const __m512 e = Exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + full), shift));
    if (!log) _mm512_mask_storeu_ps(y + full, tail, e);
    vs = _mm512_mask_add_ps(vs, tail, vs, e);
  }
  const float sum = ReduceAdd16(vs);
  if (log) {
    const __m512 s = _mm512_set1_ps(m + std::log(sum));
    for (int64_t i = 0; i < full; i += 16) _mm512_storeu_ps(y + i, _mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    if (tail) _mm512_mask_storeu_ps(y + full, tail, _mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + full), s));
    return;
  }
  const __m512 inv = _mm512_set1_ps(1.f / sum);
  for (int64_t i = 0; i < full; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
  if (tail) _mm512_mask_storeu_ps(y + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + full), inv));
}

__attribute__((target("avx2,fma"))) inline __m256 Exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(kExpHi), x);
  x = _mm256_max_ps(_mm256_set1_ps(kExpLo), x);
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(kLn2Hi), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(kLn2Lo), x);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(kP5));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.f)));
  // 2^fx for fx in [-127, 128]: fx = -127 gives 0 (exponent field 0), below any softmax's resolution.
  __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
  e = _mm256_max_epi32(e, _mm256_setzero_si256());
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
}

__attribute__((target("avx2,fma"))) float Sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float Max8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) void Softmax256(const float* x, float* y, int64_t n, bool log) {
  const int64_t full = n & ~int64_t{7};
  __m256 vm = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < full; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  float m = Max8(vm);
  for (int64_t i = full; i < n; ++i) m = x[i] > m ? x[i] : m;
  const __m256 shift = _mm256_set1_ps(m);
  __m256 vs = _mm256_setzero_ps();
  for (int64_t i = 0; i < full; i += 8) {
    const __m256 e = Exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift));
    if (!log) _mm256_storeu_ps(y + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  float sum = Sum8(vs);
  for (int64_t i = full; i < n; ++i) {
    const float e = std::exp(x[i] - m);
    if (!log) y[i] = e;
    sum += e;
  }
  if (log) {
    const float s = m + std::log(sum);
    const __m256 vs2 = _mm256_set1_ps(s);
    for (int64_t i = 0; i < full; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), vs2));
    for (int64_t i = full; i < n; ++i) y[i] = x[i] - s;
    return;
  }
  const float inv = 1.f / sum;
  const __m256 vinv = _mm256_set1_ps(inv);
  for (int64_t i = 0; i < full; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vinv));
  for (int64_t i = full; i < n; ++i) y[i] *= inv;
}

enum class Isa { kScalar, kAvx2, kAvx512 };

Isa DetectIsa() {
  static const Isa isa = __builtin_cpu_supports("avx512f")                                 ? Isa::kAvx512
                         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? Isa::kAvx2
                                                                                           : Isa::kScalar;
  return isa;
}

void Dispatch(const float* x, float* y, int64_t n, bool log) {
  switch (DetectIsa()) {
    case Isa::kAvx512:
      return Softmax512(x, y, n, log);
    case Isa::kAvx2:
      return Softmax256(x, y, n, log);
    case Isa::kScalar:
      return SoftmaxScalar(x, y, n, log);
  }
}

#else

void Dispatch(const float* x, float* y, int64_t n, bool log) { SoftmaxScalar(x, y, n, log); }

#endif  // FERRY_VEC_MATH_X86

}  // namespace

void SoftmaxRowF32(const float* x, float* y, int64_t n) { Dispatch(x, y, n, false); }
void LogSoftmaxRowF32(const float* x, float* y, int64_t n) { Dispatch(x, y, n, true); }

}  // namespace ferry::cpu
