// Row statistics shared by InstanceNormalization and LayerNormalization.
#pragma once

#include <cstdint>

namespace ferry::cpu {

struct MeanVar {
  double mean = 0;
  double var = 0;  // population variance (divides by n)
};

// Two passes accumulated in double: the one-pass E[x^2] - E[x]^2 form cancels badly when |mean| >> stddev.
// REQUIRES: n > 0.
template <typename T>
inline MeanVar RowMeanVar(const T* x, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  const double mean = s / static_cast<double>(n);
  double v = 0;
#pragma omp simd reduction(+ : v)
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    v += d * d;
  }
  return {mean, v / static_cast<double>(n)};
}

}  // namespace ferry::cpu
