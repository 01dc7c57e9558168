// The protocol module's JSON helpers: the non-finite tokens, the depth limit and number formatting.
#include "protocol/json_util.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

namespace ferry::protocol {
namespace {

TEST(ParseJson, NonFiniteTokensOutsideStringsOnly) {
  auto j = ParseJson(R"({"a": [NaN, Infinity, -Infinity, -1], "s": "NaN Infinity \" -Infinity"})");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["s"], "NaN Infinity \" -Infinity");
  float f[4];
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(StoreJsonElement((*j)["a"][i], DataType::kFloat, &f[i]).ok());
  EXPECT_TRUE(std::isnan(f[0]));
  EXPECT_TRUE(std::isinf(f[1]) && f[1] > 0);
  EXPECT_TRUE(std::isinf(f[2]) && f[2] < 0);
  EXPECT_EQ(f[3], -1.0f);
  // The tokens are numbers only where a float is expected.
  int32_t i32;
  EXPECT_INVALID(StoreJsonElement((*j)["a"][0], DataType::kInt32, &i32), "of kind number is not of expected type");
}

TEST(ParseJson, Errors) {
  EXPECT_INVALID(ParseJson(""), "JSON Parse error: The document is empty");
  EXPECT_INVALID(ParseJson("{\"a\": nan}"), "JSON Parse error");
  EXPECT_INVALID(ParseJson("{\"a\": 1} {}"), "JSON Parse error");
  EXPECT_INVALID(ParseJson(std::string(101, '[') + std::string(101, ']')), "exceeds maximum allowed limit (100)");
  EXPECT_TRUE(ParseJson(std::string(100, '[') + std::string(100, ']')).ok());
  // Brackets inside strings do not count.
  EXPECT_TRUE(ParseJson("\"" + std::string(300, '[') + "\"").ok());
}

TEST(JsonWriter, Numbers) {
  Tensor t = Tensor::FromVector<float>({2, 2}, {1.0f, 2.5f, 1e20f, -3.0f});
  std::string out;
  AppendNestedJson(&out, t.view(), 0, 0);
  EXPECT_EQ(out, "[[1.0,2.5],[1e+20,-3.0]]");
  out.clear();
  AppendFlatJson(&out, Tensor::FromVector<uint64_t>({1}, {18446744073709551615ull}).view());
  EXPECT_EQ(out, "[18446744073709551615]");
  out.clear();
  AppendJsonString(&out, std::string("a\xff", 2));  // invalid UTF-8 is replaced, not thrown on
  EXPECT_EQ(out, "\"a\xef\xbf\xbd\"");
}

TEST(JsonWriter, HalfConversions) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_EQ(BFloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(0xc040), -3.0f);
}

}  // namespace
}  // namespace ferry::protocol
