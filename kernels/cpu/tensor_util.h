// Helpers shared by the tensor kernel family (shape manipulation, copies, indexing).
//
// Most of these ops never look at element values: they move elements of DataTypeSize(dtype) bytes, so one
// implementation serves every fixed-size type (everything but string). StridedCopy is the engine behind
// Transpose, Slice, Expand, Tile, DepthToSpace and SpaceToDepth: each of them is "write the output in
// row-major order, reading the source at an affine function of the output index".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kernels/kernel.h"

namespace ferry::cpu {

// The element type of input i as known at load (kUndefined when absent or unknown).
inline DataType InputType(const KernelDef& def, size_t i) {
  return i < def.input_types.size() ? def.input_types[i] : DataType::kUndefined;
}

// OK when `t` is unknown (kUndefined) or has a fixed element size; otherwise names the input and its type.
Status CheckFixedSizeType(DataType t, std::string_view op, std::string_view what);
// Same check for a value known at Prepare (kUndefined is refused there).
Status CheckFixedSizeTypeKnown(DataType t, std::string_view op, std::string_view what);

// Maps axis from [-rank, rank) to [0, rank); `what` names it in the error ("axis", "axes[1]").
Result<int64_t> ResolveAxis(int64_t axis, int64_t rank, std::string_view op, std::string_view what);

// Reads input i, a scalar or 1-D int32/int64 tensor whose value must be known in Prepare (a shape-like input).
// Returns InvalidArgument("<op>: input '<name>' must be a constant") when it is not.
Result<std::vector<int64_t>> ReadConstantInts(const KernelContext& ctx, size_t i, std::string_view op,
                                              std::string_view name);

// Fails when a shape computed from input values (rather than from real tensors) is absurd: a negative dim, or
// more than 2^40 elements counting 0 dims as 1. Passing it guarantees that products of its dims cannot overflow.
Status CheckComputedShape(const Shape& shape, std::string_view op);

// Checks that `axes` (already normalized to [0, rank)) has no duplicates.
Status CheckUniqueAxes(const std::vector<int64_t>& axes, int64_t rank, std::string_view op);

// memcpy split across threads for large copies; a no-op when dst == src or bytes == 0.
void ParallelCopy(void* dst, const void* src, size_t bytes, int threads);

// Writes n copies of the elem_size-byte element at `value` to dst.
void FillElements(void* dst, const void* value, size_t elem_size, int64_t n);

// Stores `value` converted to dtype (float16 and bfloat16 rounded to nearest even) into *dst, which has
// DataTypeSize(dtype) bytes. Fails for string and undefined.
Status StoreScalar(DataType dtype, double value, void* dst);

// Bits of the IEEE half / bfloat16 nearest to f (round to nearest even; NaN stays NaN).
uint16_t FloatToHalfBits(float f);
uint16_t FloatToBFloat16Bits(float f);

// Copies a strided view of `src` into a dense row-major `dst`: output element at index (i_0, ..., i_{r-1})
// of `shape` reads src element offset + sum_d i_d * strides[d] (in elements; strides may be 0 or negative).
// Init simplifies the view once (drops unit dims, merges dims that are contiguous in both) and picks a
// strategy: memcpy of contiguous inner runs, broadcast fills, or cache-blocked tiles for transposes.
// Thread-compatible; Run may be called any number of times after Init.
class StridedCopy {
 public:
  // REQUIRES: strides.size() == shape.size(), every dim >= 0, and every element the view addresses lies
  // inside the source buffer (the caller checks this against the source shape).
  void Init(const Shape& shape, const std::vector<int64_t>& strides, int64_t offset, size_t elem_size);
  void Run(const void* src, void* dst, int threads) const;

 private:
  template <typename T>
  void RunRows(const T* src, T* dst, int threads) const;
  template <typename T>
  void RunTiled(const T* src, T* dst, int threads) const;

  Shape shape_;
  std::vector<int64_t> strides_;
  std::vector<int64_t> dst_strides_;
  int64_t offset_ = 0;
  int64_t total_ = 0;
  size_t elem_ = 1;
  // Transposes: the outer dim whose source stride is 1 (tiled against the last dim), or -1.
  int tile_dim_ = -1;
  // For tiled runs: the dims other than tile_dim_ and the last one.
  Shape batch_shape_;
  std::vector<int64_t> batch_src_strides_;
  std::vector<int64_t> batch_dst_strides_;
};

// Visits rows [begin, end) of `shape` (a row is a position over every dim but the last) in order, calling
// fn(row, offset) with offset = sum over d < rank-1 of coord_d * strides[d]. REQUIRES: rank >= 1.
template <typename F>
void ForEachRow(const Shape& shape, const std::vector<int64_t>& strides, int64_t begin, int64_t end, F&& fn) {
  const int outer = static_cast<int>(shape.size()) - 1;
  std::vector<int64_t> idx(static_cast<size_t>(outer > 0 ? outer : 0), 0);
  int64_t off = 0, rem = begin;
  for (int k = outer - 1; k >= 0; --k) {
    idx[k] = rem % shape[k];
    rem /= shape[k];
    off += idx[k] * strides[k];
  }
  for (int64_t row = begin; row < end; ++row) {
    fn(row, off);
    for (int k = outer - 1; k >= 0; --k) {
      off += strides[k];
      if (++idx[k] < shape[k]) break;
      off -= strides[k] * shape[k];
      idx[k] = 0;
    }
  }
}

// a + b and a * b that wrap around for integers (as numpy and onnxruntime do) instead of overflowing.
template <typename T>
T WrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <typename T>
T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    // Promote narrow types to unsigned int first: uint16_t * uint16_t would otherwise multiply as signed int.
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}

// Base for ops whose output is the input's bytes under a new shape (Reshape, Flatten, Squeeze, ...).
// Subclasses compute the shape; Compute copies unless the graph layer aliased output to input.
class ReshapeLikeKernel : public Kernel {
 public:
  Status Prepare(KernelContext& ctx) override;
  Status Compute(KernelContext& ctx) override;

 protected:
  explicit ReshapeLikeKernel(std::string op) : op_(std::move(op)) {}
  // REQUIRES: input 0 is present and has a fixed-size type (checked by Prepare).
  virtual Result<Shape> OutputShape(const KernelContext& ctx) = 0;
  const std::string op_;
};

// Base for ops whose whole Compute is one StridedCopy of input 0 into output 0 (Expand, Tile): subclasses plan
// copy_ in Prepare.
class StridedCopyKernel : public Kernel {
 public:
  Status Compute(KernelContext& ctx) override {
    copy_.Run(ctx.input(0).data, ctx.output(0).data, ctx.num_threads());
    return Status::Ok();
  }

 protected:
  StridedCopy copy_;
};

}  // namespace ferry::cpu
