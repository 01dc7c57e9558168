// Shared by the device parity suites (device_parity_test.cc: every op; device_parity_graphs_test.cc: multi-node
// graphs): random inputs in each op's domain, the bitwise comparison, and the simulated devices they run on.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/device_registry.h"
#include "common/tensor.h"
#include "kernels/kernel.h"
#include "tests/fakes/sim_device.h"

namespace ferry::parity {

using testing::RegisterSimDevice;
using testing::SimDeviceOptions;

// How an input's random values are drawn (valid domains of the ops).
enum class Fill {
  kAny,       // floats in [-3, 3]; integers in [-20, 20] (unsigned: [0, 40])
  kPositive,  // (0.1, 4]: Log, Sqrt, variances
  kUnit,      // (-0.95, 0.95): Asin, Acos, Atanh
  kAboveOne,  // [1.05, 4]: Acosh
  kNonZero,   // +-[0.5, 3]; integers +-[1, 9]: divisors
  kRange,     // integers in [lo, hi]: indices, shifts
  kSpecials,  // floats with NaN, +-Inf and +-0 mixed in: IsNaN, IsInf, Sign
};

// One input of the op under test: a graph input with random values (a -1 first dim is the batch), an
// initializer, or absent.
struct In {
  DataType dtype = DataType::kUndefined;  // kUndefined: absent optional input
  Shape shape;
  Fill fill = Fill::kAny;
  int64_t lo = 0, hi = 0;
  Tensor constant;           // defined: an initializer with this value
  bool value_keyed = false;  // with `constant`: fed as a graph input instead (its value decides shapes)
};

inline In Make(DataType t, Shape s, Fill f, int64_t lo = 0, int64_t hi = 0) {
  In in;
  in.dtype = t;
  in.shape = std::move(s);
  in.fill = f;
  in.lo = lo;
  in.hi = hi;
  return in;
}
inline In F(Shape s, Fill f = Fill::kAny) { return Make(DataType::kFloat, std::move(s), f); }
inline In T(DataType t, Shape s, Fill f = Fill::kAny) { return Make(t, std::move(s), f); }
inline In Ix(DataType t, Shape s, int64_t lo, int64_t hi) { return Make(t, std::move(s), Fill::kRange, lo, hi); }
inline In C(Tensor t) {
  In in = Make(t.dtype(), t.shape(), Fill::kAny);
  in.constant = std::move(t);
  return in;
}
inline In Keyed(Tensor t) {
  In in = C(std::move(t));
  in.value_keyed = true;
  return in;
}
inline In None() { return In{}; }
inline Tensor I64(Shape s, std::vector<int64_t> v) { return Tensor::FromVector<int64_t>(s, v); }
inline Tensor I64s(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::FromVector<int64_t>({n}, v);
}
inline Tensor I64Scalar(int64_t v) { return Tensor::FromVector<int64_t>({}, {v}); }
inline Tensor Fs(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::FromVector<float>({n}, v);
}
inline Tensor FScalar(float v) { return Tensor::FromVector<float>({}, {v}); }

inline Attributes A(std::initializer_list<std::pair<const char*, AttributeValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.Set(k, v);
  return a;
}

// Random values for one input; the seed makes every run of the suite see the same values.
inline Tensor RandomTensor(const In& in, const Shape& shape, std::mt19937& rng) {
  Tensor t = Tensor::Allocate(in.dtype, shape).value();
  const int64_t n = t.numel();
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto integer = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  auto real = [&]() -> double {
    switch (in.fill) {
      case Fill::kPositive:
        return uniform(0.1, 4.0);
      case Fill::kUnit:
        return uniform(-0.95, 0.95);
      case Fill::kAboveOne:
        return uniform(1.05, 4.0);
      case Fill::kNonZero:
        return (integer(0, 1) ? 1 : -1) * uniform(0.5, 3.0);
      case Fill::kSpecials: {
        const double specials[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0};
        return integer(0, 2) == 0 ? specials[integer(0, 4)] : uniform(-3.0, 3.0);
      }
      default:
        return uniform(-3.0, 3.0);
    }
  };
  auto whole = [&]() -> int64_t {
    const bool is_unsigned = in.dtype == DataType::kUInt8 || in.dtype == DataType::kUInt16 ||
                             in.dtype == DataType::kUInt32 || in.dtype == DataType::kUInt64;
    switch (in.fill) {
      case Fill::kRange:
        return integer(in.lo, in.hi);
      case Fill::kNonZero:
        return (is_unsigned || integer(0, 1) ? 1 : -1) * integer(1, 9);
      default:
        return is_unsigned ? integer(0, 40) : integer(-20, 20);
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    switch (in.dtype) {
      case DataType::kFloat:
        t.as<float>()[i] = static_cast<float>(real());
        break;
      case DataType::kDouble:
        t.as<double>()[i] = real();
        break;
      case DataType::kBool:
        t.as<bool>()[i] = integer(0, 1) != 0;
        break;
      case DataType::kInt64:
        t.as<int64_t>()[i] = whole();
        break;
      case DataType::kInt32:
        t.as<int32_t>()[i] = static_cast<int32_t>(whole());
        break;
      case DataType::kUInt8:
        t.as<uint8_t>()[i] = static_cast<uint8_t>(whole());
        break;
      case DataType::kUInt32:
        t.as<uint32_t>()[i] = static_cast<uint32_t>(whole());
        break;
      default:
        ADD_FAILURE() << "no random values for " << DataTypeName(in.dtype);
        return t;
    }
  }
  return t;
}

// Bitwise equal, NaN matching NaN (payloads aside), or within `tolerance` (relative, with the same absolute floor)
// for floats when asked.
inline void ExpectSame(const Tensor& want, const Tensor& got, const std::string& what, double tolerance = 0) {
  ASSERT_EQ(want.dtype(), got.dtype()) << what;
  ASSERT_EQ(want.shape(), got.shape()) << what;
  if (want.dtype() == DataType::kFloat) {
    int bad = 0;
    for (int64_t i = 0; i < want.numel() && bad < 5; ++i) {
      const float a = want.as<float>()[i], b = got.as<float>()[i];
      if (std::isnan(a) && std::isnan(b)) continue;
      const bool same = tolerance == 0 ? std::memcmp(&a, &b, sizeof a) == 0
                                       : std::fabs(a - b) <= tolerance * std::max(1.0f, std::fabs(a));
      if (!same) {
        ++bad;
        ADD_FAILURE() << what << ": element " << i << " is " << b << ", the CPU says " << a;
      }
    }
    return;
  }
  EXPECT_EQ(std::memcmp(want.data(), got.data(), want.nbytes()), 0) << what << ": bytes differ";
}

// The devices of this suite (registered once per process; the registry keeps them).
struct Devices {
  const Device* all;            // runs every op, no delay
  const Device* all_slow;       // runs every op, each stream item delayed
  const Device* no_identity;    // every op but Identity: the op under test on the device, its neighbours not
  const Device* identity_only;  // Identity only: the neighbours on the device, the op under test on the CPU
};

inline const Devices& SimDevices() {
  static const Devices d = [] {
    Devices d;
    d.all = RegisterSimDevice(SimDeviceOptions{"sim:parity-all", size_t{1} << 30, nullptr, 0});
    d.all_slow = RegisterSimDevice(SimDeviceOptions{"sim:parity-slow", size_t{1} << 30, nullptr, 300});
    d.no_identity = RegisterSimDevice(SimDeviceOptions{"sim:parity-no-identity", size_t{1} << 30,
                                                       [](const std::string& op) { return op != "Identity"; }, 50});
    d.identity_only = RegisterSimDevice(SimDeviceOptions{"sim:parity-identity-only", size_t{1} << 30,
                                                         [](const std::string& op) { return op == "Identity"; }, 50});
    return d;
  }();
  return d;
}

inline std::vector<TensorView> Views(const std::vector<Tensor>& ts) {
  std::vector<TensorView> v;
  for (const Tensor& t : ts) v.push_back(t.view());
  return v;
}
}  // namespace ferry::parity
