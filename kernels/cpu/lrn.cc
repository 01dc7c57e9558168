// LRN (opset 1+): local response normalization across channels,
// y = x / (bias + alpha / size * sum of x^2 over the channel window) ^ beta.
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

// Spatial positions per pass: the window's squared sums for one pass live on the stack.
constexpr int64_t kBlock = 512;

class LrnKernel : public Kernel {
 public:
  LrnKernel(float alpha, float beta, float bias, int64_t size) : alpha_(alpha), beta_(beta), bias_(bias), size_(size) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("LRN needs input X");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckInputType(x.dtype, 0, {DataType::kFloat}));
    if (x.rank() < 2) return InvalidArgument("X has rank {}; LRN needs [N, C, ...]", x.rank());
    n_ = x.shape[0];
    c_ = x.shape[1];
    plane_ = NumElements(SpatialDims(x.shape));
    ctx.set_output(0, DataType::kFloat, x.shape);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const float* x = ctx.input(0).as<float>();
    float* y = ctx.output(0).as<float>();
    const int64_t lo = (size_ - 1) / 2, hi = size_ - 1 - lo;  // channels before / after c in the window
    const int64_t blocks = (plane_ + kBlock - 1) / kBlock;
    const float scale = alpha_ / static_cast<float>(size_);
    ParallelFor(n_ * c_ * blocks, ctx.num_threads(), kBlock * (size_ + 8), [&](int64_t b, int64_t e) {
      float acc[kBlock];
      for (int64_t u = b; u < e; ++u) {
        const int64_t blk = u % blocks, nc = u / blocks, c = nc % c_, n = nc / c_;
        const int64_t s0 = blk * kBlock, len = std::min(kBlock, plane_ - s0);
        std::fill(acc, acc + len, 0.f);
        for (int64_t j = std::max<int64_t>(0, c - lo); j <= std::min(c_ - 1, c + hi); ++j) {
          const float* xj = x + (n * c_ + j) * plane_ + s0;
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) acc[i] += xj[i] * xj[i];
        }
        const float* xc = x + nc * plane_ + s0;
        float* yc = y + nc * plane_ + s0;
        if (beta_ == 0.75f) {
          // t^-0.75 = 1 / (sqrt(t) * sqrt(sqrt(t))): vectorizes, unlike pow. The compiler will not vectorize
          // std::sqrt itself while it may set errno, hence the intrinsics.
          int64_t i = 0;
#if defined(__AVX__)
          const __m256 vb = _mm256_set1_ps(bias_), vs = _mm256_set1_ps(scale);
          for (; i + 8 <= len; i += 8) {
            const __m256 r = _mm256_sqrt_ps(_mm256_add_ps(vb, _mm256_mul_ps(vs, _mm256_loadu_ps(acc + i))));
            _mm256_storeu_ps(yc + i, _mm256_div_ps(_mm256_loadu_ps(xc + i), _mm256_mul_ps(r, _mm256_sqrt_ps(r))));
          }
#endif
          for (; i < len; ++i) {
            const float t = bias_ + scale * acc[i];
            const float r = std::sqrt(t);
            yc[i] = xc[i] / (r * std::sqrt(r));
          }
        } else if (beta_ == 0.5f) {
          for (int64_t i = 0; i < len; ++i) yc[i] = xc[i] / std::sqrt(bias_ + scale * acc[i]);
        } else {
          for (int64_t i = 0; i < len; ++i) yc[i] = xc[i] / std::pow(bias_ + scale * acc[i], beta_);
        }
      }
    });
    return Status::Ok();
  }

 private:
  const float alpha_, beta_, bias_;
  const int64_t size_;
  int64_t n_ = 0, c_ = 0, plane_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateLrn(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, {DataType::kFloat}));
  if (!def.attrs.Has("size")) return InvalidArgument("attribute size is required");
  const int64_t size = def.attrs.Int("size", 0);
  if (size < 1 || size > (int64_t{1} << 20)) return InvalidArgument("size {} must be >= 1", size);
  return MakeKernel<LrnKernel>(def.attrs.Float("alpha", 1e-4f), def.attrs.Float("beta", 0.75f),
                               def.attrs.Float("bias", 1.f), size);
}

}  // namespace ferry::cpu
