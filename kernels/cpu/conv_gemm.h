// The GEMM behind Conv's packed path: Y[M, N] = W[M, K] * Col[K, N], with W (the constant weights) packed once
// per process (conv_packed.h) into row panels and Col (the column matrix) packed per call, a block of columns at
// a time, into column panels, both laid out for an AVX-512 micro-kernel that keeps an 8 x 32 block of Y in
// registers.
//
// OpenBLAS repacks the weights on every call and, for ResNet-style shapes (N a few hundred to a few thousand,
// K in the hundreds to thousands), spends a large share of its time doing so; writing the column matrix
// straight into the panel layout also saves one pass over it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::cpu {

// Rows of W per packed panel, and columns of Col per packed panel.
constexpr int64_t kConvMr = 8;
constexpr int64_t kConvNr = 32;

// Whether this CPU runs the packed kernel (AVX-512F).
bool ConvGemmAvailable();

// Floats of the packed W: rows rounded up to kConvMr, times k.
inline size_t ConvPackedWeightFloats(int64_t rows, int64_t k) {
  return static_cast<size_t>((rows + kConvMr - 1) / kConvMr * kConvMr * k);
}
// Floats of a packed column block of `cols` columns.
inline size_t ConvPackedColFloats(int64_t k, int64_t cols) {
  return static_cast<size_t>((cols + kConvNr - 1) / kConvNr * kConvNr * k);
}

// Packs rows [0, rows) of w ([rows, k] row-major) into dst: panel i holds rows [8i, 8i + 8) as k groups of 8
// floats (zeros past the last row).
void ConvPackWeights(const float* w, int64_t rows, int64_t k, float* dst);

// Writes row r (length cols) of a column block into its packed layout: panel j / 32 of the block holds its
// columns as k groups of 32 floats; dst is the start of the block. Columns past `cols` in the last panel
// must be zeroed once with ConvPackZeroTail.
inline void ConvPackColRow(const float* src, int64_t r, int64_t k, int64_t cols, float* dst);
void ConvPackZeroTail(int64_t k, int64_t cols, float* dst);

// c[rows, cols] (row stride ldc) = packed W rows [0, rows) (w_packed points at the panel of row 0, whose
// panels hold k floats per row) * packed column block (k x cols).
// REQUIRES: ConvGemmAvailable().
void ConvGemm(const float* w_packed, int64_t rows, int64_t k, const float* col_packed, int64_t cols, float* c,
              int64_t ldc);

inline void ConvPackColRow(const float* src, int64_t r, int64_t k, int64_t cols, float* dst) {
  float* d = dst + r * kConvNr;
  int64_t j = 0;
  for (; j + kConvNr <= cols; j += kConvNr, d += k * kConvNr) {
#pragma omp simd
    for (int64_t t = 0; t < kConvNr; ++t) d[t] = src[j + t];
  }
  for (int64_t t = 0; j + t < cols; ++t) d[t] = src[j + t];
}

}  // namespace ferry::cpu
