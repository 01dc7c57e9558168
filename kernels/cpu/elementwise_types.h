// Compile-time type lists for the element-wise kernels: one templated loop, instantiated for the types an op
// allows, chosen at run time from a DataType.
//
// Bool is not in these lists: kernels handle bool tensors as uint8_t explicitly (ONNX bools are one byte), so a
// stray byte other than 0/1 in a buffer is never read as a C++ bool, which would be undefined behaviour.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "common/dtype.h"

namespace ferry::cpu {

template <typename... Ts>
struct TypeList {};

// float16 element storage. Kernels that accept it compute in float and round back (elementwise_half.h).
struct EwHalf {
  uint16_t bits;
};

using EwFloatTypes = TypeList<float, double>;
using EwSignedIntTypes = TypeList<int8_t, int16_t, int32_t, int64_t>;
using EwUnsignedIntTypes = TypeList<uint8_t, uint16_t, uint32_t, uint64_t>;
using EwIntTypes = TypeList<int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using EwNumericTypes =
    TypeList<float, double, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using EwSignedTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t>;
// For the ops whose float16 result is exact when computed in float (see EwLift).
using EwNumericHalfTypes =
    TypeList<float, double, EwHalf, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using EwFloatHalfTypes = TypeList<float, double, EwHalf>;

template <typename T>
constexpr DataType EwDataTypeOf() {
  if constexpr (std::is_same_v<T, EwHalf>) {
    return DataType::kFloat16;
  } else {
    return DataTypeOf<T>::value;
  }
}

// Calls f(std::type_identity<T>{}) for the T of `t` in the list; false when `t` is not in the list.
template <typename... Ts, typename F>
bool VisitType(TypeList<Ts...>, DataType t, F&& f) {
  return ((t == EwDataTypeOf<Ts>() ? (f(std::type_identity<Ts>{}), true) : false) || ...);
}

template <typename... Ts>
bool TypeListHas(TypeList<Ts...>, DataType t) {
  return ((t == EwDataTypeOf<Ts>()) || ...);
}

// "float, double, int32" for error messages.
template <typename... Ts>
std::string TypeListNames(TypeList<Ts...>) {
  std::string s;
  ((s += (s.empty() ? "" : ", "), s += DataTypeName(EwDataTypeOf<Ts>())), ...);
  return s;
}

template <typename... As, typename... Bs>
constexpr TypeList<As..., Bs...> Concat(TypeList<As...>, TypeList<Bs...>) {
  return {};
}

}  // namespace ferry::cpu
