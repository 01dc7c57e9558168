#include "kernels/cpu/gemm_packed.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/tensor.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define FERRY_GEMM_PACKED_X86 1
#endif

namespace ferry::cpu {
namespace {

// Depth of one pass over B: a k-slice of one panel (kKc x nr floats, 16-32 KiB) stays in L1 while the
// row blocks of A stream past it.
constexpr int64_t kKc = 256;
// Rows of A per block of the outer loop, so that block (kMc x kKc floats) stays in L2 across panels.
constexpr int64_t kMc = 96;

#ifdef FERRY_GEMM_PACKED_X86

// MR rows x 32 columns (two zmm per row); 2 * MR + 3 of the 32 vector registers.
template <int MR>
__attribute__((target("avx512f"))) void Kernel512(const float* a, int64_t lda, const float* bp, int64_t kc, float* c,
                                                  int64_t ldc, int64_t cols, bool acc) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp + p * 32);
    const __m512 b1 = _mm512_load_ps(bp + p * 32 + 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + p]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
  }
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols > 16 ? __mmask16((1u << (cols - 16)) - 1) : 0;
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    if (acc) {
      c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, cr));
      c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, c0[r]);
    _mm512_mask_storeu_ps(cr + 16, m1, c1[r]);
  }
}

// MR rows x 16 columns (two ymm per row); 2 * MR + 3 of the 16 vector registers.
template <int MR>
__attribute__((target("avx2,fma"))) void Kernel256(const float* a, int64_t lda, const float* bp, int64_t kc, float* c,
                                                   int64_t ldc, int64_t cols, bool acc) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp + p * 16);
    const __m256 b1 = _mm256_load_ps(bp + p * 16 + 8);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + p);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
  }
  if (cols == 16) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      float* cr = c + r * ldc;
      if (acc) {
        c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(cr));
        c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, c0[r]);
      _mm256_storeu_ps(cr + 8, c1[r]);
    }
    return;
  }
  // Last, partial panel: go through a small buffer.
  alignas(32) float tmp[16];
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    _mm256_store_ps(tmp, c0[r]);
    _mm256_store_ps(tmp + 8, c1[r]);
    for (int64_t j = 0; j < cols; ++j) cr[j] = acc ? cr[j] + tmp[j] : tmp[j];
  }
}

using KernelFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, bool);

constexpr int kMr512 = 12;
constexpr int kMr256 = 6;
const KernelFn kKernels512[kMr512 + 1] = {nullptr,       Kernel512<1>,  Kernel512<2>, Kernel512<3>, Kernel512<4>,
                                          Kernel512<5>,  Kernel512<6>,  Kernel512<7>, Kernel512<8>, Kernel512<9>,
                                          Kernel512<10>, Kernel512<11>, Kernel512<12>};
const KernelFn kKernels256[kMr256 + 1] = {nullptr,      Kernel256<1>, Kernel256<2>, Kernel256<3>,
                                          Kernel256<4>, Kernel256<5>, Kernel256<6>};

bool HasAvx512() {
  static const bool v = __builtin_cpu_supports("avx512f");
  return v;
}
bool HasAvx2() {
  static const bool v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return v;
}

#endif  // FERRY_GEMM_PACKED_X86

}  // namespace

bool PackedMatrix::Worthwhile(int64_t m, int64_t k, int64_t n) {
#ifdef FERRY_GEMM_PACKED_X86
  if (!HasAvx2()) return false;
  // Measured against OpenBLAS 0.3.21: the packed kernel wins while packing B is a large part of BLAS's work.
  return m >= 1 && m <= 256 && k >= 16 && n >= 16 && k * n >= 16384;
#else
  (void)m, (void)k, (void)n;
  return false;
#endif
}

std::string PackedMatrix::Layout(int64_t k, int64_t n, int64_t ldb, bool trans) {
  return "packed-matrix k=" + std::to_string(k) + " n=" + std::to_string(n) + " ldb=" + std::to_string(ldb) +
         " trans=" + std::to_string(trans ? 1 : 0) + " nr=" + std::to_string(PanelWidth());
}

std::shared_ptr<const PackedMatrix> PackedMatrix::Get(DerivedConstants* derived, size_t input, const float* b,
                                                      int64_t k, int64_t n, int64_t ldb, bool trans) {
  if (!Available() || k <= 0 || n <= 0) return nullptr;
  if (derived == nullptr) return Pack(b, k, n, ldb, trans);
  return std::static_pointer_cast<const PackedMatrix>(derived->GetOrMake(
      input, Layout(k, n, ldb, trans), [&]() -> std::shared_ptr<const void> { return Pack(b, k, n, ldb, trans); }));
}

std::shared_ptr<const PackedMatrix> PackedMatrix::Pack(const float* b, int64_t k, int64_t n, int64_t ldb, bool trans) {
  std::shared_ptr<void> data = AllocateAligned(PackedFloats(k, n) * sizeof(float));
  if (!data) return nullptr;
  PackInto(b, k, n, ldb, trans, static_cast<float*>(data.get()));
  return std::make_shared<const PackedMatrix>(k, n, std::move(data));
}

void PackedMatrix::Multiply(const float* a, int64_t m, int64_t lda, float* c, int64_t ldc, bool accumulate,
                            int threads) const {
  MultiplyPacked(static_cast<const float*>(data_.get()), k_, n_, a, m, lda, c, ldc, accumulate, threads);
}

bool PackedMatrix::Available() {
#ifdef FERRY_GEMM_PACKED_X86
  return HasAvx2();
#else
  return false;
#endif
}

int64_t PackedMatrix::PanelWidth() {
#ifdef FERRY_GEMM_PACKED_X86
  return HasAvx512() ? 32 : 16;
#else
  return 0;
#endif
}

size_t PackedMatrix::PackedFloats(int64_t k, int64_t n) {
#ifdef FERRY_GEMM_PACKED_X86
  const int64_t nr = PanelWidth();
  return static_cast<size_t>((n + nr - 1) / nr * nr * k);
#else
  (void)k, (void)n;
  return 0;
#endif
}

void PackedMatrix::PackInto(const float* b, int64_t k, int64_t n, int64_t ldb, bool trans, float* dst) {
#ifdef FERRY_GEMM_PACKED_X86
  const int64_t nr = HasAvx512() ? 32 : 16;
  const int64_t panels = (n + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = dst + p * k * nr;
    const int64_t col0 = p * nr;
    const int64_t cols = std::min(nr, n - col0);
    if (trans) {
      for (int64_t j = 0; j < cols; ++j) {
        const float* src = b + (col0 + j) * ldb;
        for (int64_t i = 0; i < k; ++i) panel[i * nr + j] = src[i];
      }
      if (cols < nr) {
        for (int64_t i = 0; i < k; ++i) std::memset(panel + i * nr + cols, 0, (nr - cols) * sizeof(float));
      }
    } else {
      for (int64_t i = 0; i < k; ++i) {
        std::memcpy(panel + i * nr, b + i * ldb + col0, cols * sizeof(float));
        if (cols < nr) std::memset(panel + i * nr + cols, 0, (nr - cols) * sizeof(float));
      }
    }
  }
#else
  (void)b, (void)k, (void)n, (void)ldb, (void)trans, (void)dst;
#endif
}

void PackedMatrix::MultiplyPacked(const float* packed, int64_t k, int64_t n, const float* a, int64_t m, int64_t lda,
                                  float* c, int64_t ldc, bool accumulate, int threads) {
#ifdef FERRY_GEMM_PACKED_X86
  if (m <= 0 || n <= 0) return;
  const bool avx512 = HasAvx512();
  const int64_t nr = avx512 ? 32 : 16;
  const int mr = avx512 ? kMr512 : kMr256;
  const KernelFn* kernels = avx512 ? kKernels512 : kKernels256;
  const int64_t panels = (n + nr - 1) / nr;
  ParallelFor(panels, threads, m * k * nr, [&](int64_t p0, int64_t p1) {
    for (int64_t k0 = 0; k0 < k; k0 += kKc) {
      const int64_t kc = std::min(kKc, k - k0);
      const bool acc = accumulate || k0 > 0;
      for (int64_t i0 = 0; i0 < m; i0 += kMc) {
        const int64_t i1 = std::min(m, i0 + kMc);
        for (int64_t p = p0; p < p1; ++p) {
          const float* bp = packed + (p * k + k0) * nr;
          const int64_t cols = std::min(nr, n - p * nr);
          for (int64_t i = i0; i < i1; i += mr) {
            const int64_t rows = std::min<int64_t>(mr, i1 - i);
            kernels[rows](a + i * lda + k0, lda, bp, kc, c + i * ldc + p * nr, ldc, cols, acc);
          }
        }
      }
    }
  });
#else
  (void)packed, (void)k, (void)n, (void)a, (void)m, (void)lda, (void)c, (void)ldc, (void)accumulate, (void)threads;
#endif
}

}  // namespace ferry::cpu
