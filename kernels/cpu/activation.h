// Element-wise activations shared by the activation kernels and the fused epilogues of Conv/Gemm/MatMul.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/kernel.h"

namespace ferry::cpu {

inline float ApplyActivationScalar(const Activation& a, float x) {
  switch (a.kind) {
    case ActivationKind::kNone:
      return x;
    case ActivationKind::kRelu:
      return x > 0.f ? x : 0.f;
    case ActivationKind::kLeakyRelu:
      return x >= 0.f ? x : a.alpha * x;
    case ActivationKind::kSigmoid:
      return 1.f / (1.f + std::exp(-x));
    case ActivationKind::kTanh:
      return std::tanh(x);
    case ActivationKind::kClip:
      return x < a.alpha ? a.alpha : (x > a.beta ? a.beta : x);
    case ActivationKind::kHardSigmoid: {
      float y = a.alpha * x + a.beta;
      return y < 0.f ? 0.f : (y > 1.f ? 1.f : y);
    }
    case ActivationKind::kGelu:
      return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
  }
  return x;
}

// In place over n floats.
inline void ApplyActivation(const Activation& a, float* data, int64_t n) {
  if (a.kind == ActivationKind::kNone) return;
  if (a.kind == ActivationKind::kRelu) {
    for (int64_t i = 0; i < n; ++i) data[i] = data[i] > 0.f ? data[i] : 0.f;
    return;
  }
  for (int64_t i = 0; i < n; ++i) data[i] = ApplyActivationScalar(a, data[i]);
}

}  // namespace ferry::cpu
