// C = A * B for a constant float B (the weights of Gemm and MatMul) packed once into column panels.
//
// OpenBLAS packs B on every call; when A has few rows (small batches, token-by-token decoding) that copy costs
// as much as the arithmetic. A PackedMatrix is packed at load and multiplied by an AVX-512 or AVX2 kernel that
// reads A in place. Packed copies are shared through a process-wide cache keyed by the source pointer and
// layout (plus a sample of its values), so every plan and worker of a model shares one copy, which is freed
// with the last kernel holding it. The price is one extra copy of each weight that runs with small M. The
// source must outlive the returned handle, which holds for kernels: their plan keeps the weights alive.
//
// Thread safety: Get() is thread-safe; a PackedMatrix is immutable and Multiply() may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ferry::cpu {

class PackedMatrix {
 public:
  // B is [k, n] row-major with row stride ldb or, when trans, stored as [n, k] (row stride ldb) and used
  // transposed. Returns nullptr when this CPU has no packed kernel (no AVX2/FMA) or on allocation failure;
  // callers then fall back to BLAS.
  static std::shared_ptr<const PackedMatrix> Get(const float* b, int64_t k, int64_t n, int64_t ldb, bool trans);

  // C[m, n] (row stride ldc) = A[m, k] (row stride lda) * B, plus C's previous contents when accumulate.
  // Fans out over up to `threads` threads (ParallelFor; runs inline inside a parallel region).
  void Multiply(const float* a, int64_t m, int64_t lda, float* c, int64_t ldc, bool accumulate, int threads) const;

  int64_t k() const { return k_; }
  int64_t n() const { return n_; }

  // Whether the packed path beats BLAS for an [m, k] x [k, n] product (small m, enough work to matter).
  static bool Worthwhile(int64_t m, int64_t k, int64_t n);

  // The same kernel on a caller-owned buffer, for operands that change per call (batched MatMul): PackInto
  // writes B in the panel layout (PackedFloats(k, n) floats, 64-byte aligned), MultiplyPacked multiplies by it.
  // REQUIRES: Available().
  static bool Available();
  static size_t PackedFloats(int64_t k, int64_t n);
  static void PackInto(const float* b, int64_t k, int64_t n, int64_t ldb, bool trans, float* dst);
  static void MultiplyPacked(const float* packed, int64_t k, int64_t n, const float* a, int64_t m, int64_t lda,
                             float* c, int64_t ldc, bool accumulate, int threads);

  // Constructed by Get(); public for make_shared.
  PackedMatrix(int64_t k, int64_t n, std::shared_ptr<void> data) : k_(k), n_(n), data_(std::move(data)) {}

 private:
  int64_t k_, n_;
  std::shared_ptr<void> data_;  // PackInto's layout
};

}  // namespace ferry::cpu
