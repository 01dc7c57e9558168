// Semantics of the element-wise kernels at the edges the conformance suite does not reach: integer division
// and remainder signs and by zero, wrapping, NaN propagation, opset-dependent attributes, non-constant Clip
// bounds, float16 rounding, broadcasting with threads and empty tensors. Expected values are worked out by
// hand or taken from numpy (noted where so).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tests/kernels/cpu/elementwise_test_util.h"

namespace ferry::cpu {
namespace {

using testing::RunKernel;
using testing::Values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

template <typename T>
Tensor T1(std::vector<T> v) {
  return Tensor::FromVector<T>({static_cast<int64_t>(v.size())}, v);
}

Attributes Attr(const std::string& name, AttributeValue v) {
  Attributes a;
  a.Set(name, std::move(v));
  return a;
}

TEST(BinaryArith, BroadcastsPerChannelAndPerRow) {
  // [2,3,1] + [1,4] -> [2,3,4]; want[i][j][k] = a[i][j] + b[k].
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {10, 20, 30, 40};
  auto r = RunKernel("Add", 14, {Tensor::FromVector<float>({2, 3, 1}, a), Tensor::FromVector<float>({1, 4}, b)});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 3, 4}));
  auto got = Values<float>(r.outputs[0]);
  for (int i = 0; i < 6; ++i)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(got[i * 4 + k], a[i] + b[k]);
}

TEST(BinaryArith, LargeBroadcastWithThreadsMatchesSerial) {
  const int64_t c = 7, hw = 3000;
  std::vector<float> x(2 * c * hw), bias(c);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) * 0.5f;
  for (int64_t i = 0; i < c; ++i) bias[i] = static_cast<float>(i) * 100;
  auto r = RunKernel("Sub", 14, {Tensor::FromVector<float>({2, c, hw}, x), Tensor::FromVector<float>({c, 1}, bias)}, {},
                     1, false, 4);
  ASSERT_TRUE(r.status.ok());
  auto got = Values<float>(r.outputs[0]);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], x[i] - bias[(i / hw) % c]) << i;
}

TEST(BinaryArith, IntegerDivisionTruncatesAndNeverTraps) {
  const int32_t kMin = std::numeric_limits<int32_t>::min();
  auto r = RunKernel("Div", 14, {T1<int32_t>({7, -7, 7, -7, kMin, 5}), T1<int32_t>({2, 2, -2, -2, -1, 0})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{3, -3, -3, 3, kMin, 0}));
}

TEST(BinaryArith, IntegerArithmeticWraps) {
  auto r = RunKernel("Add", 14, {T1<int8_t>({127, -128}), T1<int8_t>({1, -1})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int8_t>(r.outputs[0]), (std::vector<int8_t>{-128, 127}));
  r = RunKernel("Mul", 14, {T1<uint16_t>({65535}), T1<uint16_t>({65535})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{1}));
}

TEST(Mod, SignFollowsDivisorUnlessFmod) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  // Python: -4 % 3 == 2, 7 % -3 == -2, 4 % -3 == -2.
  auto r = RunKernel("Mod", 13, {T1<int64_t>({-4, 7, 4, 5, kMin, 6}), T1<int64_t>({3, -3, -3, 0, -1, 3})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{2, -2, -2, 0, 0, 0}));
  // C fmod: the sign of the dividend.
  r = RunKernel("Mod", 13, {T1<int64_t>({-4, 7, 5}), T1<int64_t>({3, -3, 0})}, Attr("fmod", int64_t{1}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{-1, 1, 0}));
  r = RunKernel("Mod", 13, {T1<float>({-4.5f, 7.f}), T1<float>({2.f, -3.f})}, Attr("fmod", int64_t{1}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{-0.5f, 1.f}));
}

TEST(Mod, FloatWithoutFmodIsRefused) {
  auto r = RunKernel("Mod", 13, {T1<float>({1.f}), T1<float>({2.f})});
  EXPECT_EQ(r.status.code(), StatusCode::kUnimplemented);
}

TEST(Pow, MixedTypes) {
  auto r = RunKernel("Pow", 15, {T1<int64_t>({2, 3, -2, 5, 1, -1}), T1<int64_t>({10, 3, 3, -1, -5, -3})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{1024, 27, -8, 0, 1, -1}));
  r = RunKernel("Pow", 15, {T1<int32_t>({2, 9}), T1<float>({2.5f, 0.5f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{5, 3}));  // trunc(5.657), 3
  r = RunKernel("Pow", 15, {T1<float>({1.5f, -2.f}), T1<int64_t>({2})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{2.25f, 4.f}));
  r = RunKernel("Pow", 15, {T1<float>({4.f, -kInf, 2.f}), T1<float>({0.5f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{2.f, kInf, std::sqrt(2.f)}));
}

TEST(BitShift, ShiftsPastTheWidthGiveZero) {
  auto r = RunKernel("BitShift", 11, {T1<uint8_t>({1, 255, 255}), T1<uint8_t>({3, 8, 1})},
                     Attr("direction", std::string("LEFT")));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{8, 0, 254}));
  EXPECT_FALSE(RunKernel("BitShift", 11, {T1<uint8_t>({1}), T1<uint8_t>({1})}).status.ok());
}

TEST(Variadic, MaxPropagatesNaNAndBroadcastsAllInputs) {
  auto r = RunKernel("Max", 13,
                     {T1<float>({1.f, kNaN, 3.f}), Tensor::FromVector<float>({2, 3}, {kNaN, 2.f, 1.f, 0.f, 0.f, 0.f}),
                      Tensor::FromVector<float>({1}, {0.5f})});
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  auto got = Values<float>(r.outputs[0]);
  EXPECT_TRUE(std::isnan(got[0]) && std::isnan(got[1]) && std::isnan(got[4]));
  EXPECT_EQ(got[2], 3.f);
  EXPECT_EQ(got[3], 1.f);
  EXPECT_EQ(got[5], 3.f);
}

TEST(Variadic, MeanAndIntegerMin) {
  auto r = RunKernel("Mean", 13, {T1<float>({1.f, 2.f}), T1<float>({2.f, 2.f}), T1<float>({6.f, 2.f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{3.f, 2.f}));
  r = RunKernel("Min", 13, {T1<uint64_t>({5, 1ull << 63})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint64_t>(r.outputs[0]), (std::vector<uint64_t>{5, 1ull << 63}));
  EXPECT_FALSE(RunKernel("Mean", 13, {T1<int32_t>({1}), T1<int32_t>({2})}).status.ok());
}

TEST(Compare, BoolOutputs) {
  auto r = RunKernel("Less", 13, {T1<int64_t>({1, 5, 3}), T1<int64_t>({3})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kBool);
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{1, 0, 0}));
  r = RunKernel("Equal", 13, {T1<float>({kNaN, 1.f}), T1<float>({kNaN, 1.f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 1}));
  EXPECT_FALSE(RunKernel("Less", 13, {T1<int64_t>({1}), T1<int32_t>({1})}).status.ok());
}

TEST(Logical, XorAndNot) {
  auto r = RunKernel("Xor", 7, {T1<bool>({true, true, false}), T1<bool>({true})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 0, 1}));
  r = RunKernel("Not", 7, {T1<bool>({true, false})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 1}));
  EXPECT_FALSE(RunKernel("And", 7, {T1<int32_t>({1}), T1<int32_t>({1})}).status.ok());
}

TEST(LegacyBroadcast, AxisPlacesB) {
  // Opset 6: B of shape [2] aligned at axis 0 of A [2, 3] means B is [2, 1].
  Attributes attrs;
  attrs.Set("broadcast", int64_t{1});
  attrs.Set("axis", int64_t{0});
  auto r = RunKernel("Add", 6, {Tensor::FromVector<float>({2, 3}, {0, 0, 0, 1, 1, 1}), T1<float>({10, 20})}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{10, 10, 10, 21, 21, 21}));
}

TEST(PRelu, LegacyChannelSlopeAndNumpySlope) {
  auto x = Tensor::FromVector<float>({1, 2, 2}, {-1, 1, -1, 1});
  auto r = RunKernel("PRelu", 6, {x, T1<float>({0.5f, 0.25f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{-0.5f, 1, -0.25f, 1}));
  r = RunKernel("PRelu", 9, {x, T1<float>({0.5f, 0.25f})});  // numpy: slope runs along the last dim
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{-0.5f, 1, -0.5f, 1}));
}

TEST(Unary, RoundHalfToEvenSignAbsNeg) {
  auto r = RunKernel("Round", 11, {T1<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.6f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0.f, 2.f, 2.f, -0.f, -2.f, 3.f}));
  r = RunKernel("Sign", 13, {T1<float>({-2.f, 0.f, 3.f, kNaN})});
  ASSERT_TRUE(r.status.ok());
  auto s = Values<float>(r.outputs[0]);
  EXPECT_EQ(s[0], -1.f);
  EXPECT_EQ(s[1], 0.f);
  EXPECT_EQ(s[2], 1.f);
  EXPECT_TRUE(std::isnan(s[3]));
  r = RunKernel("Abs", 13, {T1<int8_t>({-128, -5, 7})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int8_t>(r.outputs[0]), (std::vector<int8_t>{-128, 5, 7}));
  EXPECT_FALSE(RunKernel("Neg", 13, {T1<uint8_t>({1})}).status.ok());
  EXPECT_FALSE(RunKernel("Exp", 13, {T1<int32_t>({1})}).status.ok());
}

TEST(Unary, IsInfDirections) {
  auto r = RunKernel("IsInf", 10, {T1<float>({kInf, -kInf, 1.f, kNaN})}, Attr("detect_negative", int64_t{0}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{1, 0, 0, 0}));
}

TEST(Activations, NaNAndDefaults) {
  auto r = RunKernel("Relu", 14, {T1<float>({-1.f, kNaN, 2.f})});
  ASSERT_TRUE(r.status.ok());
  auto v = Values<float>(r.outputs[0]);
  EXPECT_EQ(v[0], 0.f);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_EQ(v[2], 2.f);
  r = RunKernel("Relu", 14, {T1<int32_t>({-3, 4})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{0, 4}));
  r = RunKernel("LeakyRelu", 16, {T1<float>({-100.f, 3.f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_FLOAT_EQ(Values<float>(r.outputs[0])[0], -1.f);
  r = RunKernel("Softplus", 1, {T1<float>({1000.f, -1000.f, 0.f})});
  ASSERT_TRUE(r.status.ok());
  auto sp = Values<float>(r.outputs[0]);
  EXPECT_EQ(sp[0], 1000.f);
  EXPECT_EQ(sp[1], 0.f);
  EXPECT_FLOAT_EQ(sp[2], std::log(2.f));
}

TEST(Clip, BoundsReadAtComputeTime) {
  // known = false: min and max are graph inputs, so Prepare sees no data.
  auto r =
      RunKernel("Clip", 13,
                {T1<int32_t>({-5, 0, 5}), Tensor::FromVector<int32_t>({}, {-1}), Tensor::FromVector<int32_t>({}, {3})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{-1, 0, 3}));
  // Absent min (undefined tensor), max only.
  r = RunKernel("Clip", 13, {T1<float>({-5.f, 5.f, kNaN}), Tensor(), Tensor::FromVector<float>({}, {1.f})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  auto v = Values<float>(r.outputs[0]);
  EXPECT_EQ(v[0], -5.f);
  EXPECT_EQ(v[1], 1.f);
  EXPECT_TRUE(std::isnan(v[2]));
  // min > max: every element becomes max (numpy.clip).
  r = RunKernel("Clip", 13, {T1<float>({-5.f, 5.f}), T1<float>({2.f}), T1<float>({1.f})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1.f, 1.f}));
  // Opset 6: attributes.
  Attributes attrs;
  attrs.Set("min", -0.5f);
  attrs.Set("max", 0.5f);
  r = RunKernel("Clip", 6, {T1<float>({-5.f, 0.25f, 5.f})}, attrs);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{-0.5f, 0.25f, 0.5f}));
  EXPECT_FALSE(RunKernel("Clip", 13, {T1<float>({1.f}), T1<float>({1.f, 2.f})}).status.ok());
}

TEST(Where, BroadcastsAllThree) {
  auto r = RunKernel("Where", 16,
                     {Tensor::FromVector<bool>({2, 1}, {true, false}), T1<int64_t>({1, 2, 3}), T1<int64_t>({-1})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));
}

TEST(Cast, FloatToIntAndBool) {
  auto r = RunKernel("Cast", 13, {T1<float>({2.7f, -2.7f, kNaN, 1e20f})}, Attr("to", int64_t{6}));
  ASSERT_TRUE(r.status.ok());
  auto v = Values<int32_t>(r.outputs[0]);
  EXPECT_EQ(v[0], 2);
  EXPECT_EQ(v[1], -2);
  EXPECT_EQ(v[2], 0);
  r = RunKernel("Cast", 13, {T1<float>({0.f, -0.f, 0.1f, kNaN})}, Attr("to", int64_t{9}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 0, 1, 1}));
  r = RunKernel("Cast", 13, {T1<float>({-1.f, 300.f})}, Attr("to", int64_t{2}));  // numpy on x86: 255, 44
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{255, 44}));
  EXPECT_FALSE(RunKernel("Cast", 13, {T1<float>({1.f})}, Attr("to", int64_t{8})).status.ok());  // string
}

TEST(Cast, Float16RoundsToNearestEven) {
  // Expected bits from numpy's astype(float16).
  std::vector<double> in = {65519.99,    65520.0, 1 + 0x1p-11, 1 + 3 * 0x1p-11,      0x1p-25,
                            3 * 0x1p-25, -0.0,    0.1,         1 + 0x1p-11 + 0x1p-40};
  std::vector<uint16_t> want = {0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x0000, 0x0002, 0x8000, 0x2e66, 0x3c01};
  auto r = RunKernel("Cast", 13, {T1<double>(in)}, Attr("to", int64_t{10}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), want);
  std::vector<float> inf(in.begin(), in.end() - 1);
  want.pop_back();
  r = RunKernel("Cast", 13, {T1<float>(inf)}, Attr("to", int64_t{10}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), want);
  // And back, exactly.
  auto back = RunKernel("Cast", 13, {r.outputs[0]}, Attr("to", int64_t{1}));
  ASSERT_TRUE(back.status.ok());
  auto f = Values<float>(back.outputs[0]);
  EXPECT_EQ(f[0], 65504.f);
  EXPECT_EQ(f[1], kInf);
  EXPECT_EQ(f[5], 2 * 0x1p-24f);  // 3 * 2^-25 rounded to even: 2 * 2^-24
}

TEST(Cast, BFloat16Truncates) {
  // ONNX 1.12's reference keeps the high 16 bits.
  auto r = RunKernel("Cast", 13, {T1<float>({0.48033667f, -kInf, kNaN})}, Attr("to", int64_t{16}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{16117, 0xff80, 0x7fc0}));
}

Tensor Half1(std::vector<uint16_t> bits) {
  return *Tensor::FromBytes(DataType::kFloat16, {static_cast<int64_t>(bits.size())}, bits.data(), bits.size() * 2);
}

TEST(Float16, ArithmeticRoundsOnceToNearestEven) {
  // 1 + 2^-11 is a tie (rounds to even: 1.0); 1 + 3 * 2^-11 rounds up to 1 + 2^-9 (numpy agrees).
  auto r = RunKernel("Add", 14, {Half1({0x3c00, 0x3c00}), Half1({0x1000, 0x1600})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat16);
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{0x3c00, 0x3c02}));
  r = RunKernel("Max", 13, {Half1({0x3c00, 0xbc00}), Half1({0x4000, 0xc000})});  // max(1, 2), max(-1, -2)
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{0x4000, 0xbc00}));
  r = RunKernel("Less", 13, {Half1({0x3c00, 0x4000}), Half1({0x4000, 0x3c00})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{1, 0}));
  EXPECT_FALSE(RunKernel("Mod", 13, {Half1({0x3c00}), Half1({0x3c00})}).status.ok());  // needs fmod=1
}

TEST(Elementwise, EmptyTensors) {
  auto r = RunKernel("Add", 14, {Tensor::FromVector<float>({0, 3}, {}), T1<float>({1, 2, 3})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{0, 3}));
  r = RunKernel("Sigmoid", 13, {Tensor::FromVector<float>({0}, {})});
  ASSERT_TRUE(r.status.ok());
  r = RunKernel("Where", 16, {Tensor::FromVector<bool>({0}, {}), T1<float>({1}), T1<float>({2})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{0}));
}

TEST(Elementwise, IncompatibleShapesAreRefusedInPrepare) {
  auto r = RunKernel("Mul", 14, {T1<float>({1, 2, 3}), T1<float>({1, 2})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::cpu
