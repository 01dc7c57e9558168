#include "kernels/cpu/conv_gemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define FERRY_CONV_GEMM_X86 1
#endif

namespace ferry::cpu {
namespace {

// Depth of one pass: a k-slice of one column panel (kKc x 32 floats, 32 KiB) stays in L1 while every row
// panel of W streams past it.
constexpr int64_t kKc = 256;

#ifdef FERRY_CONV_GEMM_X86
// Up to 8 rows x 32 columns of c from kc steps; acc adds c's previous contents.
__attribute__((target("avx512f"))) void Kernel8x32(const float* ap, const float* bp, int64_t kc, float* c, int64_t ldc,
                                                   int64_t rows, int64_t cols, bool acc) {
  __m512 c0[kConvMr], c1[kConvMr];
#pragma GCC unroll 8
  for (int r = 0; r < kConvMr; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(bp + p * kConvNr);
    const __m512 b1 = _mm512_loadu_ps(bp + p * kConvNr + 16);
#pragma GCC unroll 8
    for (int r = 0; r < kConvMr; ++r) {
      const __m512 av = _mm512_set1_ps(ap[p * kConvMr + r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
  }
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols > 16 ? __mmask16((1u << (cols - 16)) - 1) : 0;
#pragma GCC unroll 8
  for (int r = 0; r < kConvMr; ++r) {
    if (r >= rows) break;
    float* cr = c + r * ldc;
    if (acc) {
      c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, cr));
      c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, c0[r]);
    _mm512_mask_storeu_ps(cr + 16, m1, c1[r]);
  }
}
#endif

}  // namespace

bool ConvGemmAvailable() {
#ifdef FERRY_CONV_GEMM_X86
  static const bool v = __builtin_cpu_supports("avx512f");
  return v;
#else
  return false;
#endif
}

void ConvPackWeights(const float* w, int64_t rows, int64_t k, float* dst) {
  const int64_t panels = (rows + kConvMr - 1) / kConvMr;
  for (int64_t i = 0; i < panels; ++i) {
    float* panel = dst + i * kConvMr * k;
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t r = 0; r < kConvMr; ++r) {
        const int64_t row = i * kConvMr + r;
        panel[p * kConvMr + r] = row < rows ? w[row * k + p] : 0.f;
      }
    }
  }
}

void ConvPackZeroTail(int64_t k, int64_t cols, float* dst) {
  const int64_t used = cols % kConvNr;
  if (used == 0) return;
  float* panel = dst + cols / kConvNr * kConvNr * k;
  for (int64_t p = 0; p < k; ++p) std::memset(panel + p * kConvNr + used, 0, (kConvNr - used) * sizeof(float));
}

void ConvGemm(const float* w_packed, int64_t rows, int64_t k, const float* col_packed, int64_t cols, float* c,
              int64_t ldc) {
#ifdef FERRY_CONV_GEMM_X86
  const int64_t panels = (cols + kConvNr - 1) / kConvNr;
  // Equal slices of at most kKc: a short last slice would pay a full pass over c for little work.
  const int64_t slices = (k + kKc - 1) / kKc, slice = (k + slices - 1) / slices;
  for (int64_t k0 = 0; k0 < k; k0 += slice) {
    const int64_t kc = std::min(slice, k - k0);
    for (int64_t j = 0; j < panels; ++j) {
      const float* bp = col_packed + (j * k + k0) * kConvNr;
      const int64_t ncols = std::min(kConvNr, cols - j * kConvNr);
      for (int64_t i = 0; i < rows; i += kConvMr) {
        Kernel8x32(w_packed + (i * k + k0 * kConvMr), bp, kc, c + i * ldc + j * kConvNr, ldc,
                   std::min(kConvMr, rows - i), ncols, k0 > 0);
      }
    }
  }
#else
  (void)w_packed, (void)rows, (void)k, (void)col_packed, (void)cols, (void)c, (void)ldc;
#endif
}

}  // namespace ferry::cpu
