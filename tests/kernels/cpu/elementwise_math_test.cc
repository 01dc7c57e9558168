#include "kernels/cpu/elementwise_math.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ferry::cpu {
namespace {

// Distance in units in the last place, measured against the double-precision function rounded to float.
double UlpError(float got, double want) {
  const float w = static_cast<float>(want);
  if (std::isnan(w)) return std::isnan(got) ? 0 : 1e30;
  if (std::isinf(w)) return got == w ? 0 : 1e30;
  const double ulp = std::ldexp(1.0, std::max(std::ilogb(w), -126) - 23);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

// Sweeps every 61st float bit pattern (about 70 million values, all exponents and signs).
template <typename Fast, typename Ref>
double MaxUlpError(Fast fast, Ref ref, float lo, float hi) {
  double worst = 0;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 61) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (!(x >= lo && x <= hi)) continue;
    worst = std::max(worst, UlpError(fast(x), ref(static_cast<double>(x))));
  }
  return worst;
}

TEST(FastExp, WithinTwoUlp) {
  EXPECT_LE(MaxUlpError(
                FastExp, [](double x) { return std::exp(x); }, -87.3f, 88.7f),
            2.0);
}

TEST(FastExp, EdgesAndSpecials) {
  EXPECT_EQ(FastExp(0.0f), 1.0f);
  EXPECT_EQ(FastExp(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(FastExp(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(FastExp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(FastExp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(FastExp(std::nanf(""))));
  // Near the overflow edge the result is still finite and accurate.
  EXPECT_NEAR(FastExp(88.7f) / std::exp(static_cast<double>(88.7f)), 1.0, 1e-6);
  // Subnormal results.
  EXPECT_NEAR(FastExp(-100.0f), std::exp(-100.0), 2e-45);
}

TEST(FastTanh, WithinFewUlp) {
  EXPECT_LE(MaxUlpError(
                FastTanh, [](double x) { return std::tanh(x); }, -20.f, 20.f),
            6.0);
  EXPECT_EQ(FastTanh(std::numeric_limits<float>::infinity()), 1.0f);
  EXPECT_EQ(FastTanh(-std::numeric_limits<float>::infinity()), -1.0f);
  EXPECT_TRUE(std::isnan(FastTanh(std::nanf(""))));
  EXPECT_TRUE(std::signbit(FastTanh(-0.0f)));
}

TEST(FastErf, WithinFewUlp) {
  EXPECT_LE(MaxUlpError(
                FastErf, [](double x) { return std::erf(x); }, -10.f, 10.f),
            4.0);
  EXPECT_EQ(FastErf(std::numeric_limits<float>::infinity()), 1.0f);
  EXPECT_EQ(FastErf(-std::numeric_limits<float>::infinity()), -1.0f);
  EXPECT_TRUE(std::isnan(FastErf(std::nanf(""))));
}

TEST(FastSigmoid, WithinFewUlp) {
  auto ref = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  EXPECT_LE(MaxUlpError(FastSigmoid, ref, -80.f, 80.f), 4.0);
  EXPECT_EQ(FastSigmoid(200.0f), 1.0f);
  EXPECT_EQ(FastSigmoid(-200.0f), 0.0f);
}

}  // namespace
}  // namespace ferry::cpu
