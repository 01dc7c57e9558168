#include "kernels/cpu/tensor_util.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/parallel.h"

namespace ferry::cpu {

Status CheckFixedSizeType(DataType t, std::string_view op, std::string_view what) {
  if (t == DataType::kUndefined || DataTypeSize(t) != 0) return Status::Ok();
  return Unimplemented("{}: {} has type {}; supported: any fixed-size type (not string)", op, what, DataTypeName(t));
}

Status CheckFixedSizeTypeKnown(DataType t, std::string_view op, std::string_view what) {
  if (DataTypeSize(t) != 0) return Status::Ok();
  return Unimplemented("{}: {} has type {}; supported: any fixed-size type (not string)", op, what, DataTypeName(t));
}

Result<int64_t> ResolveAxis(int64_t axis, int64_t rank, std::string_view op, std::string_view what) {
  if (axis < -rank || axis >= rank) {
    return InvalidArgument("{}: {} {} is out of range for rank {} (valid: [{}, {}])", op, what, axis, rank, -rank,
                           rank - 1);
  }
  return axis < 0 ? axis + rank : axis;
}

Result<std::vector<int64_t>> ReadConstantInts(const KernelContext& ctx, size_t i, std::string_view op,
                                              std::string_view name) {
  if (!ctx.input_known(i)) return InvalidArgument("{}: input '{}' must be a constant", op, name);
  const TensorView& t = ctx.input(i);
  if (t.dtype != DataType::kInt64 && t.dtype != DataType::kInt32) {
    return InvalidArgument("{}: input '{}' has type {}; expected int64 or int32", op, name, DataTypeName(t.dtype));
  }
  if (t.rank() > 1) {
    return InvalidArgument("{}: input '{}' must be a scalar or 1-D tensor, got shape {}", op, name,
                           ShapeToString(t.shape));
  }
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  for (size_t k = 0; k < v.size(); ++k) v[k] = ElementAsInt64(t, static_cast<int64_t>(k));
  return v;
}

Status CheckComputedShape(const Shape& shape, std::string_view op) {
  constexpr int64_t kMax = int64_t{1} << 40;
  int64_t product = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("{}: output shape {} has a negative dim", op, ShapeToString(shape));
    const int64_t m = d > 0 ? d : 1;
    if (m > kMax / product) return ResourceExhausted("{}: output shape {} is too large", op, ShapeToString(shape));
    product *= m;
  }
  return Status::Ok();
}

Status CheckUniqueAxes(const std::vector<int64_t>& axes, int64_t rank, std::string_view op) {
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    if (seen[static_cast<size_t>(a)]) return InvalidArgument("{}: axis {} is repeated", op, a);
    seen[static_cast<size_t>(a)] = true;
  }
  return Status::Ok();
}

void ParallelCopy(void* dst, const void* src, size_t bytes, int threads) {
  if (bytes == 0 || dst == src) return;
  constexpr size_t kChunk = size_t{64} << 10;
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  // A chunk counts as 16k cost units, so copies of 128 KiB and up fan out.
  ParallelFor(chunks, threads, 16384, [&](int64_t b, int64_t e) {
    size_t begin = static_cast<size_t>(b) * kChunk;
    size_t end = std::min(bytes, static_cast<size_t>(e) * kChunk);
    std::memcpy(static_cast<char*>(dst) + begin, static_cast<const char*>(src) + begin, end - begin);
  });
}

namespace {
template <typename T>
void FillTyped(void* dst, const void* value, int64_t n) {
  T v;
  std::memcpy(&v, value, sizeof(T));
  std::fill(static_cast<T*>(dst), static_cast<T*>(dst) + n, v);
}
}  // namespace

void FillElements(void* dst, const void* value, size_t elem_size, int64_t n) {
  if (n <= 0) return;
  switch (elem_size) {
    case 1:
      std::memset(dst, *static_cast<const unsigned char*>(value), static_cast<size_t>(n));
      return;
    case 2:
      FillTyped<uint16_t>(dst, value, n);
      return;
    case 4:
      FillTyped<uint32_t>(dst, value, n);
      return;
    case 8:
      FillTyped<uint64_t>(dst, value, n);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(static_cast<char*>(dst) + i * elem_size, value, elem_size);
  }
}

uint16_t FloatToHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): shift the full mantissa into place with round to nearest even.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14..24
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

uint16_t FloatToBFloat16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

Status StoreScalar(DataType dtype, double value, void* dst) {
  auto put = [dst](auto v) { std::memcpy(dst, &v, sizeof(v)); };
  switch (dtype) {
    case DataType::kFloat:
      put(static_cast<float>(value));
      break;
    case DataType::kDouble:
      put(value);
      break;
    case DataType::kFloat16:
      put(FloatToHalfBits(static_cast<float>(value)));
      break;
    case DataType::kBFloat16:
      put(FloatToBFloat16Bits(static_cast<float>(value)));
      break;
    case DataType::kInt8:
      put(static_cast<int8_t>(value));
      break;
    case DataType::kInt16:
      put(static_cast<int16_t>(value));
      break;
    case DataType::kInt32:
      put(static_cast<int32_t>(value));
      break;
    case DataType::kInt64:
      put(static_cast<int64_t>(value));
      break;
    case DataType::kUInt8:
      put(static_cast<uint8_t>(value));
      break;
    case DataType::kUInt16:
      put(static_cast<uint16_t>(value));
      break;
    case DataType::kUInt32:
      put(static_cast<uint32_t>(value));
      break;
    case DataType::kUInt64:
      put(static_cast<uint64_t>(value));
      break;
    case DataType::kBool:
      put(static_cast<bool>(value != 0.0));
      break;
    default:
      return Unimplemented("cannot store a number as type {}", DataTypeName(dtype));
  }
  return Status::Ok();
}

// ---- StridedCopy ----------------------------------------------------------------------------------------

void StridedCopy::Init(const Shape& shape, const std::vector<int64_t>& strides, int64_t offset, size_t elem_size) {
  shape_.clear();
  strides_.clear();
  batch_shape_.clear();
  batch_src_strides_.clear();
  batch_dst_strides_.clear();
  offset_ = offset;
  elem_ = elem_size;
  total_ = NumElements(shape);
  tile_dim_ = -1;
  if (total_ == 0) return;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!shape_.empty() && strides_.back() == strides[d] * shape[d]) {
      shape_.back() *= shape[d];
      strides_.back() = strides[d];
      continue;
    }
    shape_.push_back(shape[d]);
    strides_.push_back(strides[d]);
  }
  if (elem_ != 1 && elem_ != 2 && elem_ != 4 && elem_ != 8) {
    // Odd sizes do not occur today; copy them as bytes with one more (contiguous) dim.
    for (int64_t& s : strides_) s *= static_cast<int64_t>(elem_);
    offset_ *= static_cast<int64_t>(elem_);
    shape_.push_back(static_cast<int64_t>(elem_));
    strides_.push_back(1);
    total_ *= static_cast<int64_t>(elem_);
    elem_ = 1;
  }
  if (shape_.empty()) {
    shape_.push_back(1);
    strides_.push_back(1);
  }
  dst_strides_ = RowMajorStrides(shape_);
  const int r = static_cast<int>(shape_.size());
  if (strides_[r - 1] != 1 && strides_[r - 1] != 0) {
    for (int d = r - 2; d >= 0; --d) {
      if (strides_[d] == 1) {
        tile_dim_ = d;
        break;
      }
    }
  }
  if (tile_dim_ >= 0) {
    for (int d = 0; d < r - 1; ++d) {
      if (d == tile_dim_) continue;
      batch_shape_.push_back(shape_[d]);
      batch_src_strides_.push_back(strides_[d]);
      batch_dst_strides_.push_back(dst_strides_[d]);
    }
  }
}

void StridedCopy::Run(const void* src, void* dst, int threads) const {
  if (total_ == 0) return;
  switch (elem_) {
    case 1:
      tile_dim_ >= 0 ? RunTiled(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), threads)
                     : RunRows(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), threads);
      break;
    case 2:
      tile_dim_ >= 0 ? RunTiled(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), threads)
                     : RunRows(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), threads);
      break;
    case 4:
      tile_dim_ >= 0 ? RunTiled(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), threads)
                     : RunRows(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), threads);
      break;
    default:
      tile_dim_ >= 0 ? RunTiled(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), threads)
                     : RunRows(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), threads);
      break;
  }
}

template <typename T>
void StridedCopy::RunRows(const T* src, T* dst, int threads) const {
  const int r = static_cast<int>(shape_.size());
  const int64_t n = shape_[r - 1];
  const int64_t sn = strides_[r - 1];
  const int64_t rows = total_ / n;
  const T* base = src + offset_;
  const int64_t cost = std::max<int64_t>(1, n * static_cast<int64_t>(sizeof(T)) / 4);
  ParallelFor(rows, threads, cost, [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    int64_t off = 0;
    int64_t rem = b;
    for (int k = r - 2; k >= 0; --k) {
      idx[k] = rem % shape_[k];
      rem /= shape_[k];
      off += idx[k] * strides_[k];
    }
    for (int64_t row = b; row < e; ++row) {
      T* out = dst + row * n;
      const T* in = base + off;
      if (sn == 1) {
        std::memcpy(out, in, static_cast<size_t>(n) * sizeof(T));
      } else if (sn == 0) {
        std::fill(out, out + n, *in);
      } else {
        for (int64_t i = 0; i < n; ++i) out[i] = in[i * sn];
      }
      for (int k = r - 2; k >= 0; --k) {
        off += strides_[k];
        if (++idx[k] < shape_[k]) break;
        off -= strides_[k] * shape_[k];
        idx[k] = 0;
      }
    }
  });
}

namespace {

#if defined(__AVX2__)
// out[a * da + j] = in[a + j * sb] for a, j < 8, 4-byte elements: eight loads, the classic unpack/shuffle/permute
// network, eight stores. Keeps the strided side to 8 cache lines even when sb is a large power of two.
inline void Transpose8x8(const uint32_t* in, int64_t sb, uint32_t* out, int64_t da) {
  auto load = [&](int j) { return _mm256_loadu_ps(reinterpret_cast<const float*>(in + j * sb)); };
  const __m256 r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3);
  const __m256 r4 = load(4), r5 = load(5), r6 = load(6), r7 = load(7);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  auto store = [&](int a, __m256 v) { _mm256_storeu_ps(reinterpret_cast<float*>(out + a * da), v); };
  store(0, _mm256_permute2f128_ps(s0, s4, 0x20));
  store(1, _mm256_permute2f128_ps(s1, s5, 0x20));
  store(2, _mm256_permute2f128_ps(s2, s6, 0x20));
  store(3, _mm256_permute2f128_ps(s3, s7, 0x20));
  store(4, _mm256_permute2f128_ps(s0, s4, 0x31));
  store(5, _mm256_permute2f128_ps(s1, s5, 0x31));
  store(6, _mm256_permute2f128_ps(s2, s6, 0x31));
  store(7, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

// out[a * da + j] = in[a + j * sb] for a < na, j < nb.
template <typename T>
void TransposeTile(const T* in, int64_t sb, T* out, int64_t da, int64_t na, int64_t nb) {
  int64_t a = 0;
#if defined(__AVX2__)
  if constexpr (sizeof(T) == 4) {
    for (; a + 8 <= na; a += 8) {
      int64_t j = 0;
      for (; j + 8 <= nb; j += 8) Transpose8x8(in + a + j * sb, sb, out + a * da + j, da);
      for (; j < nb; ++j) {
        for (int64_t k = 0; k < 8; ++k) out[(a + k) * da + j] = in[a + k + j * sb];
      }
    }
  }
#endif
  for (; a < na; ++a) {
    T* o = out + a * da;
    const T* i = in + a;
    for (int64_t j = 0; j < nb; ++j) o[j] = i[j * sb];
  }
}

}  // namespace

template <typename T>
void StridedCopy::RunTiled(const T* src, T* dst, int threads) const {
  constexpr int64_t kTile = 32;
  const int r = static_cast<int>(shape_.size());
  const int64_t a_dim = shape_[tile_dim_];
  const int64_t b_dim = shape_[r - 1];
  const int64_t sb = strides_[r - 1];
  const int64_t da = dst_strides_[tile_dim_];
  const int64_t a_tiles = (a_dim + kTile - 1) / kTile;
  const int64_t batches = NumElements(batch_shape_);
  const int nb = static_cast<int>(batch_shape_.size());
  const T* base = src + offset_;
  ParallelFor(batches * a_tiles, threads, kTile * b_dim * static_cast<int64_t>(sizeof(T)) / 2,
              [&](int64_t b, int64_t e) {
                for (int64_t t = b; t < e; ++t) {
                  int64_t batch = t / a_tiles;
                  const int64_t a0 = (t % a_tiles) * kTile;
                  const int64_t na = std::min(a_dim - a0, kTile);
                  int64_t soff = 0, doff = 0;
                  for (int k = nb - 1; k >= 0; --k) {
                    const int64_t i = batch % batch_shape_[k];
                    batch /= batch_shape_[k];
                    soff += i * batch_src_strides_[k];
                    doff += i * batch_dst_strides_[k];
                  }
                  for (int64_t b0 = 0; b0 < b_dim; b0 += kTile) {
                    TransposeTile(base + soff + a0 + b0 * sb, sb, dst + doff + a0 * da + b0, da, na,
                                  std::min(b_dim - b0, kTile));
                  }
                }
              });
}

// ---- ReshapeLikeKernel ----------------------------------------------------------------------------------

Status ReshapeLikeKernel::Prepare(KernelContext& ctx) {
  if (!ctx.has_input(0)) return InvalidArgument("{}: input 0 is missing", op_);
  FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(ctx.input(0).dtype, op_, "input 0"));
  FERRY_ASSIGN_OR_RETURN(Shape shape, OutputShape(ctx));
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("{}: computed output shape {} has a negative dim", op_, ShapeToString(shape));
  }
  if (NumElements(shape) != ctx.input(0).numel()) {
    return InvalidArgument("{}: cannot reshape input of shape {} ({} elements) to {}", op_,
                           ShapeToString(ctx.input(0).shape), ctx.input(0).numel(), ShapeToString(shape));
  }
  ctx.set_output(0, ctx.input(0).dtype, std::move(shape));
  return Status::Ok();
}

Status ReshapeLikeKernel::Compute(KernelContext& ctx) {
  ParallelCopy(ctx.output(0).data, ctx.input(0).data, ctx.input(0).nbytes(), ctx.num_threads());
  return Status::Ok();
}

}  // namespace ferry::cpu
