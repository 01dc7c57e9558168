// Small helpers for the protocol codec tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ferry/status.h"
#include "ferry/tensor.h"
#include "protocol/tensor_spec.h"

namespace ferry::protocol::testing {

inline TensorSpec Spec(std::string name, DataType dtype, Shape shape) {
  return TensorSpec{std::move(name), dtype, std::move(shape), true};
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DataTypeOf<T>::value);
  return std::vector<T>(t.as<T>(), t.as<T>() + t.numel());
}

// Bools are stored one byte each.
inline std::vector<uint8_t> BoolValues(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DataType::kBool);
  return std::vector<uint8_t>(t.as<uint8_t>(), t.as<uint8_t>() + t.numel());
}

inline const Status& GetStatus(const Status& s) { return s; }
template <typename T>
const Status& GetStatus(const Result<T>& r) {
  return r.status();
}

// Expects a non-OK status of `code` whose message contains `needle`.
#define EXPECT_STATUS(expr, code_, needle)                                             \
  do {                                                                                 \
    auto ferry_r_ = (expr);                                                            \
    const ::ferry::Status& ferry_s_ = ::ferry::protocol::testing::GetStatus(ferry_r_); \
    ASSERT_FALSE(ferry_s_.ok()) << "expected an error containing: " << (needle);       \
    EXPECT_EQ(ferry_s_.code(), (code_)) << ferry_s_.ToString();                        \
    EXPECT_NE(ferry_s_.message().find(needle), std::string::npos)                      \
        << "message: " << ferry_s_.message() << "\nexpected substring: " << (needle);  \
  } while (0)

#define EXPECT_INVALID(expr, needle) EXPECT_STATUS(expr, ::ferry::StatusCode::kInvalidArgument, needle)

}  // namespace ferry::protocol::testing
