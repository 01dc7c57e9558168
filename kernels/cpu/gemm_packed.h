// C = A * B for a constant float B (the weights of Gemm and MatMul) packed once into column panels.
//
// OpenBLAS packs B on every call; when A has few rows (small batches, token-by-token decoding) that copy costs
// as much as the arithmetic. A PackedMatrix is packed at load and multiplied by an AVX-512 or AVX2 kernel that
// reads A in place. The price is one extra copy of each weight that runs with small M.
//
// Ownership and sharing: Get() hands the packing to the kernel's DerivedConstants (KernelContext::derived()),
// which keys it by the graph value feeding the input plus Layout(), so every plan and worker of a model on one
// device shares one copy; the graph layer keeps an initializer's in the model's weight store for that device
// (another constant's is the kernel's alone), and each kernel holds a handle. Without DerivedConstants (folding,
// kernels run directly by tests) the copy is the caller's own, freed with its last handle. Nothing is keyed by address,
// so weights that a new model allocates where an old model's were never meet the old packing. The packed copy
// does not reference B once made.
//
// Thread safety: Get() is as thread-safe as the DerivedConstants it is given (the graph layer's is); a
// PackedMatrix is immutable and Multiply() may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ferry {
class DerivedConstants;
}  // namespace ferry

namespace ferry::cpu {

class PackedMatrix {
 public:
  // B, known input `input` of the calling kernel, is [k, n] row-major with row stride ldb or, when trans, stored
  // as [n, k] (row stride ldb) and used transposed. The packed copy is shared through `derived` under Layout(), or
  // packed for the caller alone when `derived` is nullptr. Returns nullptr when this CPU has no packed kernel (no
  // AVX2/FMA) or on allocation failure; callers then fall back to BLAS.
  // REQUIRES: b is valid for the call (the result does not keep it).
  static std::shared_ptr<const PackedMatrix> Get(DerivedConstants* derived, size_t input, const float* b, int64_t k,
                                                 int64_t n, int64_t ldb, bool trans);
  // The DerivedConstants layout of Get(): every parameter that changes the packed bytes ("packed-matrix k=256
  // n=512 ldb=512 trans=0 nr=32"). Gemm and MatMul use the same, so a weight feeding both is packed once.
  static std::string Layout(int64_t k, int64_t n, int64_t ldb, bool trans);

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
  // Columns per panel of the layout (32 with AVX-512, 16 with AVX2; 0 without a packed kernel).
  static int64_t PanelWidth();
  static size_t PackedFloats(int64_t k, int64_t n);
  static void PackInto(const float* b, int64_t k, int64_t n, int64_t ldb, bool trans, float* dst);
  static void MultiplyPacked(const float* packed, int64_t k, int64_t n, const float* a, int64_t m, int64_t lda,
                             float* c, int64_t ldc, bool accumulate, int threads);

  // Constructed by Get(); public for make_shared.
  PackedMatrix(int64_t k, int64_t n, std::shared_ptr<void> data) : k_(k), n_(n), data_(std::move(data)) {}

 private:
  // A new packed copy of B, owned by the caller; nullptr on allocation failure. REQUIRES: Available().
  static std::shared_ptr<const PackedMatrix> Pack(const float* b, int64_t k, int64_t n, int64_t ldb, bool trans);

  int64_t k_, n_;
  std::shared_ptr<void> data_;  // PackInto's layout
};

}  // namespace ferry::cpu
