// Helpers shared by the libFuzzer harnesses: a check that fails the run (libFuzzer saves the input as a crash)
// and tensor comparisons for the codec round trips.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ferry/tensor.h"

// A property of the code under test that an input broke: prints what and aborts, so libFuzzer reports a crash
// ("deadly signal") and writes the input to crash-<sha1>.
#define FUZZ_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, "  %s\n", ::ferry::fuzz::Describe(__VA_ARGS__).c_str());        \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace ferry::fuzz {

inline std::string Describe() { return ""; }
inline std::string Describe(const std::string& s) { return s; }
inline std::string Describe(const char* s) { return s; }
inline std::string Describe(const Status& s) { return s.ToString(); }

template <typename T>
bool SameFloats(const Tensor& a, const Tensor& b) {
  const T* x = a.as<const T>();
  const T* y = b.as<const T>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (std::memcmp(&x[i], &y[i], sizeof(T)) != 0) return false;
  }
  return true;
}

// Same dtype, shape and bytes (so -0 must survive too), except that with `any_nan` every float NaN equals every
// other (JSON has one NaN token: a NaN's sign and payload cannot survive it).
inline bool SameTensor(const Tensor& a, const Tensor& b, bool any_nan = false) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.nbytes() == 0) return true;
  if (any_nan && a.dtype() == DataType::kFloat) return SameFloats<float>(a, b);
  if (any_nan && a.dtype() == DataType::kDouble) return SameFloats<double>(a, b);
  return std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

inline std::string TensorSummary(const Tensor& t) {
  return std::string(DataTypeName(t.dtype())) + ShapeToString(t.shape());
}

}  // namespace ferry::fuzz
