// Vectorized row kernels for Softmax and LogSoftmax over contiguous float rows. The ISA (AVX-512, AVX2+FMA or
// scalar) is chosen at run time, so a portable build still uses the widest vectors the CPU has.
#pragma once

#include <cstdint>

namespace ferry::cpu {

// y = exp(x - max(x)) / sum(exp(x - max(x))). y may alias x. REQUIRES: n >= 1.
void SoftmaxRowF32(const float* x, float* y, int64_t n);

// y = x - max(x) - log(sum(exp(x - max(x)))). y may alias x. REQUIRES: n >= 1.
void LogSoftmaxRowF32(const float* x, float* y, int64_t n);

}  // namespace ferry::cpu
