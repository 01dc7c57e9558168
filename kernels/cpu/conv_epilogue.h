// The bias + activation pass that Conv and ConvTranspose run over each block of output they produce, while
// the block is still in cache.
#pragma once

#include <cstdint>

#include "kernels/cpu/activation.h"

namespace ferry::cpu {

// y[r * ld + j] = act(y[r * ld + j] + bias[r]) for r < rows, j < cols. bias may be nullptr (adds 0).
inline void BiasActivation(float* y, int64_t rows, int64_t cols, int64_t ld, const float* bias, const Activation& act) {
  if (bias == nullptr && act.kind == ActivationKind::kNone) return;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * ld;
    const float b = bias != nullptr ? bias[r] : 0.f;
    switch (act.kind) {
      case ActivationKind::kNone:
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) row[j] += b;
        break;
      case ActivationKind::kRelu:
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          const float v = row[j] + b;
          row[j] = v > 0.f ? v : 0.f;
        }
        break;
      case ActivationKind::kClip: {
        const float lo = act.alpha, hi = act.beta;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          const float v = row[j] + b;
          row[j] = v < lo ? lo : (v > hi ? hi : v);
        }
        break;
      }
      case ActivationKind::kLeakyRelu: {
        const float a = act.alpha;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          const float v = row[j] + b;
          row[j] = v >= 0.f ? v : a * v;
        }
        break;
      }
      default:
        for (int64_t j = 0; j < cols; ++j) row[j] = ApplyActivationScalar(act, row[j] + b);
        break;
    }
  }
}

}  // namespace ferry::cpu
