// Row-major GEMM for every element type the linalg kernels compute in: float and double go to OpenBLAS,
// integer types to a plain loop with wrap-around (two's complement) arithmetic, as numpy does.
//
// Threading: OpenBLAS (OpenMP build) uses the calling thread's omp_get_max_threads() and runs single-threaded
// when called inside a parallel region, so callers that fan out over independent GEMMs get one thread each.
#pragma once

#include <cblas.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "common/status.h"

namespace ferry::cpu {

// OpenBLAS takes 32-bit dimensions and leading dimensions.
inline Status CheckBlasDims(int64_t m, int64_t n, int64_t k) {
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX) {
    return Unimplemented("matrix dimensions M={} N={} K={} exceed the 32-bit BLAS limit", m, n, k);
  }
  return Status::Ok();
}

namespace gemm_internal {

template <typename T>
struct WrapType {
  using type = T;
};
template <typename T>
requires std::is_integral_v<T>
struct WrapType<T> {
  using type = std::make_unsigned_t<T>;
};

template <typename T>
inline T WMul(T x, T y) {
  using W = typename WrapType<T>::type;
  return static_cast<T>(static_cast<W>(x) * static_cast<W>(y));
}
template <typename T>
inline T WAdd(T x, T y) {
  using W = typename WrapType<T>::type;
  return static_cast<T>(static_cast<W>(x) + static_cast<W>(y));
}

template <typename T>
void NaiveGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* crow = c + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < n; ++j) crow[j] = T(0);
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < n; ++j) crow[j] = WMul(beta, crow[j]);
    }
    for (int64_t p = 0; p < k; ++p) {
      T av = WMul(alpha, ta ? a[p * lda + i] : a[i * lda + p]);
      if (!tb) {
        const T* brow = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) crow[j] = WAdd(crow[j], WMul(av, brow[j]));
      } else {
        for (int64_t j = 0; j < n; ++j) crow[j] = WAdd(crow[j], WMul(av, b[j * ldb + p]));
      }
    }
  }
}

}  // namespace gemm_internal

// y = alpha * op(M) * x + beta * y, M row-major [rows, cols] with row stride ld (float and double only).
template <typename T>
void Gemv(bool trans, int64_t rows, int64_t cols, T alpha, const T* mat, int64_t ld, const T* x, int64_t incx, T beta,
          T* y, int64_t incy) {
  const CBLAS_TRANSPOSE t = trans ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemv(CblasRowMajor, t, static_cast<int>(rows), static_cast<int>(cols), alpha, mat, static_cast<int>(ld), x,
                static_cast<int>(incx), beta, y, static_cast<int>(incy));
  } else {
    cblas_dgemv(CblasRowMajor, t, static_cast<int>(rows), static_cast<int>(cols), alpha, mat, static_cast<int>(ld), x,
                static_cast<int>(incx), beta, y, static_cast<int>(incy));
  }
}

// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X^T when the flag is set.
// lda/ldb/ldc are the row strides of A, B, C as stored. beta == 0 overwrites C (NaN in C does not leak).
// REQUIRES: CheckBlasDims(m, n, k) passed for float/double.
template <typename T>
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    // BLAS rejects lda = 0; the product is empty, so only the beta term remains.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : gemm_internal::WMul(beta, c[i * ldc + j]);
    }
    return;
  }
  if constexpr (std::is_floating_point_v<T>) {
    // OpenBLAS 0.3.21 does not forward single-row or single-column products to GEMV; its GEMM would pack
    // the whole other operand for one row or column.
    if (m == 1 || n == 1) {
      if (beta == T(0)) {
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = T(0);
        }
      }
      if (m == 1) {
        // c[0, :] = op(B)^T * op(A)[0, :]; row 0 of op(A) has stride lda when A is transposed.
        Gemv<T>(!tb, tb ? n : k, tb ? k : n, alpha, b, ldb, a, ta ? lda : 1, beta, c, 1);
      } else {
        // c[:, 0] = op(A) * op(B)[:, 0]; column 0 of op(B) has stride ldb unless B is transposed.
        Gemv<T>(ta, ta ? k : m, ta ? m : k, alpha, a, lda, b, tb ? 1 : ldb, beta, c, ldc);
      }
      return;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                beta, c, static_cast<int>(ldc));
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                beta, c, static_cast<int>(ldc));
  } else {
    gemm_internal::NaiveGemm<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// Rows [r0, r1) of the same product: lets callers split one GEMM across threads (used for the integer loop).
template <typename T>
void GemmRows(bool ta, bool tb, int64_t r0, int64_t r1, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
              const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const T* a0 = ta ? a + r0 : a + r0 * lda;
  Gemm<T>(ta, tb, r1 - r0, n, k, alpha, a0, lda, b, ldb, beta, c + r0 * ldc, ldc);
}

}  // namespace ferry::cpu
