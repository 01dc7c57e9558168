// The protocol module's JSON writers: number formatting, string escaping, half-precision widening. (The reading
// side, formerly ParseJson here, is tested in json_reader_test.cc and json_values_test.cc.)
#include "protocol/json_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "test_util.h"

namespace ferry::protocol {
namespace {

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

TEST(JsonWriter, StringEscapes) {
  std::string out;
  AppendJsonString(&out, std::string("a\"b\\c\n\t\x01\x1f/\x7f\xc3\xa9\xf0\x9f\x98\x80", 17));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\x7f\xc3\xa9\xf0\x9f\x98\x80\"");
  // Invalid UTF-8 becomes U+FFFD: a cut sequence once, a stray byte, an overlong form, an encoded surrogate.
  const std::string kReplacement = "\xef\xbf\xbd";
  out.clear();
  AppendJsonString(&out, "\xe2\x82z");
  EXPECT_EQ(out, "\"" + kReplacement + "z\"");
  out.clear();
  AppendJsonString(&out, "\x80");
  EXPECT_EQ(out, "\"" + kReplacement + "\"");
  out.clear();
  AppendJsonString(&out, "\xc0\xaf");
  EXPECT_EQ(out, "\"" + kReplacement + kReplacement + "\"");
  out.clear();
  AppendJsonString(&out, "\xed\xa0\x80");
  EXPECT_EQ(out, "\"" + kReplacement + "\"");
}

TEST(JsonWriter, EveryTypeAndLongRuns) {
  Tensor b = Tensor::Allocate(DataType::kBool, {3}).value();
  b.as<uint8_t>()[1] = 1;
  std::string out;
  AppendFlatJson(&out, b.view());
  EXPECT_EQ(out, "[false,true,false]");
  out.clear();
  AppendNestedJson(&out, Tensor::FromVector<int8_t>({2, 1, 2}, {-128, 127, 0, -1}).view(), 0, 0);
  EXPECT_EQ(out, "[[[-128,127]],[[0,-1]]]");
  out.clear();
  AppendNestedJson(&out, Tensor::FromVector<double>({}, {-2.0}).view(), 0, 0);
  EXPECT_EQ(out, "-2.0");
  out.clear();
  AppendFlatJson(&out, Tensor::Allocate(DataType::kFloat, {0}).value().view());
  EXPECT_EQ(out, "[]");
  // Past the writer's 4096-element chunks: every value reads back as the same float (std::strtof is the judge).
  std::vector<float> v(10000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::ldexp(static_cast<float>(i * 2654435761u % 1000003), -int(i % 40));
  out.clear();
  AppendFlatJson(&out, Tensor::FromVector<float>({10000}, v).view());
  ASSERT_EQ(out.front(), '[');
  ASSERT_EQ(out.back(), ']');
  const char* p = out.c_str() + 1;
  for (size_t i = 0; i < v.size(); ++i) {
    char* end;
    EXPECT_EQ(std::strtof(p, &end), v[i]) << i;
    ASSERT_EQ(*end, i + 1 < v.size() ? ',' : ']');
    p = end + 1;
  }
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
