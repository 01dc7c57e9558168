// Typed reads: the conversion rules per dtype, KServe's leaf fill, TF Serving's nested shape and dense fill
// (with the order in which a size-checking walk reports its errors). Expected values worked out by hand.
#include "protocol/json_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace ferry::protocol {
namespace {

template <typename T>
Status Read(std::string_view text, DataType dtype, T* out) {
  JsonReader r(text);
  return ReadJsonElement(&r, dtype, out);
}

TEST(ReadJsonElement, ConversionRules) {
  float f;
  ASSERT_TRUE(Read("3", DataType::kFloat, &f).ok());
  EXPECT_EQ(f, 3.0f);
  ASSERT_TRUE(Read("1e39", DataType::kFloat, &f).ok());
  EXPECT_EQ(f, std::numeric_limits<float>::infinity());
  ASSERT_TRUE(Read("18446744073709551616", DataType::kFloat, &f).ok());
  EXPECT_EQ(f, 18446744073709551616.0f);
  double d;
  ASSERT_TRUE(Read("-Infinity", DataType::kDouble, &d).ok());
  EXPECT_EQ(d, -std::numeric_limits<double>::infinity());
  int8_t i8;
  ASSERT_TRUE(Read("-128", DataType::kInt8, &i8).ok());
  EXPECT_EQ(i8, -128);
  EXPECT_INVALID(Read("128", DataType::kInt8, &i8), "JSON value 128 is out of range for type: int8");
  EXPECT_INVALID(Read("1.0", DataType::kInt8, &i8), "JSON value 1.0 of kind number is not of expected type: int8");
  EXPECT_INVALID(Read("1e2", DataType::kInt8, &i8), "JSON value 1e2 of kind number is not of expected type: int8");
  uint64_t u64;
  ASSERT_TRUE(Read("18446744073709551615", DataType::kUInt64, &u64).ok());
  EXPECT_EQ(u64, std::numeric_limits<uint64_t>::max());
  EXPECT_INVALID(Read("18446744073709551616", DataType::kUInt64, &u64),
                 "JSON value 18446744073709551616 of kind number is not of expected type: uint64");
  EXPECT_INVALID(Read("-1", DataType::kUInt64, &u64), "JSON value -1 is out of range for type: uint64");
  uint8_t b;
  ASSERT_TRUE(Read("true", DataType::kBool, &b).ok());
  EXPECT_EQ(b, 1);
  ASSERT_TRUE(Read("false", DataType::kBool, &b).ok());
  EXPECT_EQ(b, 0);
  EXPECT_INVALID(Read("1", DataType::kBool, &b), "JSON value 1 of kind integer is not of expected type: bool");
  EXPECT_INVALID(Read("true", DataType::kInt32, &f), "JSON value true of kind bool is not of expected type: int32");
  EXPECT_INVALID(Read("\"1\"", DataType::kFloat, &f), "JSON value \"1\" of kind string is not of expected type: float");
  EXPECT_INVALID(Read("null", DataType::kFloat, &f), "JSON value null of kind null is not of expected type: float");
  EXPECT_INVALID(Read("[1]", DataType::kFloat, &f), "JSON value [1] of kind array is not of expected type: float");
  EXPECT_INVALID(Read(R"({"b64": "aGVsbG8="})", DataType::kFloat, &f), "of kind object is not of expected type");
  // Long values are cut for the message.
  const std::string long_string = "\"" + std::string(100, 'x') + "\"";
  EXPECT_INVALID(Read(long_string, DataType::kFloat, &f),
                 "JSON value \"" + std::string(44, 'x') + "... of kind string");
  EXPECT_STATUS(Read("1", DataType::kFloat16, &f), StatusCode::kUnimplemented,
                "Conversion of JSON values to type: float16 is not supported");
}

struct Leaves {
  std::vector<int32_t> values;
  int64_t count = 0;
  Status element_error;
};

Leaves FillLeaves(std::string_view text, int64_t capacity) {
  Leaves out;
  out.values.assign(static_cast<size_t>(capacity), -7);
  JsonReader r(text);
  Status s = FillJsonLeaves(&r, DataType::kInt32, out.values.data(), capacity, &out.count, &out.element_error);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(FillJsonLeaves, FlattensAndCounts) {
  Leaves flat = FillLeaves("[1, 2, 3, 4]", 4);
  EXPECT_EQ(flat.values, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(flat.count, 4);
  EXPECT_TRUE(flat.element_error.ok());
  Leaves nested = FillLeaves("[[1], [], [[2, 3]], 4]", 4);
  EXPECT_EQ(nested.values, (std::vector<int32_t>{1, 2, 3, 4}));
  Leaves scalar = FillLeaves(" 5 ", 1);
  EXPECT_EQ(scalar.values, (std::vector<int32_t>{5}));
  EXPECT_EQ(scalar.count, 1);
  // More leaves than room: the extra ones are counted, not stored.
  Leaves many = FillLeaves("[1, 2, [3, 4], 5]", 2);
  EXPECT_EQ(many.values, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(many.count, 5);
  // An element error stops the stores but not the count; objects and strings are leaves too.
  Leaves bad = FillLeaves(R"([1, 2.5, {"a": [1, 2]}, "x", 7])", 5);
  EXPECT_EQ(bad.count, 5);
  EXPECT_INVALID(bad.element_error, "element 1: JSON value 2.5 of kind number is not of expected type: int32");
  EXPECT_EQ(bad.values[0], 1);
}

TEST(FillJsonLeaves, SyntaxErrorsAreReturned) {
  int32_t v[4];
  int64_t count;
  Status element_error;
  JsonReader r("[1, 2,, 3]");
  EXPECT_INVALID(FillJsonLeaves(&r, DataType::kInt32, v, 4, &count, &element_error), "Invalid value. at offset: 6");
  JsonReader r2("[1 2]");
  EXPECT_INVALID(FillJsonLeaves(&r2, DataType::kInt32, v, 4, &count, &element_error), "Missing a comma or ']'");
}

Shape NestedShape(std::string_view text) {
  JsonReader r(text);
  Shape s;
  EXPECT_TRUE(ReadJsonNestedShape(&r, &s).ok());
  EXPECT_TRUE(r.Finish().ok());
  return s;
}

TEST(ReadJsonNestedShape, FollowsFirstElements) {
  EXPECT_EQ(NestedShape("5"), Shape{});
  EXPECT_EQ(NestedShape("[]"), (Shape{0}));
  EXPECT_EQ(NestedShape("[[], []]"), (Shape{2, 0}));
  EXPECT_EQ(NestedShape("[[1, 2], [3]]"), (Shape{2, 2}));
  EXPECT_EQ(NestedShape("[[[1, 2, 3]], 4]"), (Shape{2, 1, 3}));
  EXPECT_EQ(NestedShape(R"([{"a": [1]}, 2])"), (Shape{2}));
}

Status Dense(std::string_view text, const Shape& shape, std::vector<float>* out) {
  out->assign(static_cast<size_t>(NumElements(shape)), -7.0f);
  JsonReader r(text);
  int64_t index = 0;
  FERRY_RETURN_IF_ERROR(FillJsonDense(&r, shape, DataType::kFloat, out->data(), &index));
  EXPECT_EQ(index, NumElements(shape));
  return Status::Ok();
}

TEST(FillJsonDense, Fills) {
  std::vector<float> v;
  ASSERT_TRUE(Dense("[[1, 2.5], [NaN, -0.5]]", {2, 2}, &v).ok());
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.5f);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(v[3], -0.5f);
  ASSERT_TRUE(Dense("7", {}, &v).ok());
  EXPECT_EQ(v, (std::vector<float>{7}));
  ASSERT_TRUE(Dense("[[], []]", {2, 0}, &v).ok());
  ASSERT_TRUE(Dense("[[[1], [2]], [[3], [4]]]", {2, 2, 1}, &v).ok());
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4}));
}

TEST(FillJsonDense, ErrorsInTheOrderOfASizeCheckingWalk) {
  std::vector<float> v;
  EXPECT_INVALID(Dense("[[1, 2], [3]]", {2, 2}, &v),
                 "Encountered list at unexpected size: 1 expecting: 2 at depth 1 (ragged list)");
  EXPECT_INVALID(Dense("[[1, 2], [3, 4, 5]]", {2, 2}, &v),
                 "Encountered list at unexpected size: 3 expecting: 2 at depth 1 (ragged list)");
  EXPECT_INVALID(Dense("[[1, 2], [3, 4], [5, 6]]", {2, 2}, &v),
                 "Encountered list at unexpected size: 3 expecting: 2 at depth 0 (ragged list)");
  // A bad element before the ragged list is met first...
  EXPECT_INVALID(Dense("[[1, \"a\"], [3]]", {2, 2}, &v), "element 1: JSON value \"a\" of kind string");
  // ...but inside a ragged list, the list's size is checked first.
  EXPECT_INVALID(Dense("[[1, 2], [3, \"a\", 5]]", {2, 2}, &v), "Encountered list at unexpected size: 3 expecting: 2");
  EXPECT_INVALID(Dense("[[1, [2]], [3, 4, 5]]", {2, 2}, &v),
                 "list found at incorrect level (expected a value at depth 2)");
  EXPECT_INVALID(Dense("[[1, 2], 3]", {2, 2}, &v),
                 "value found at incorrect level (expected a list of size 2 at depth 1)");
  EXPECT_INVALID(Dense("[[1, 2], 3, [4]]", {2, 2}, &v),
                 "Encountered list at unexpected size: 3 expecting: 2 at depth 0");
  EXPECT_INVALID(Dense("[[1, 2], [null, 4]]", {2, 2}, &v), "element 2: JSON value null of kind null");
}

// The fill loops have their own fast paths (plain decimals, whole innermost lists); every value must still be
// the one strtod gives, whatever path it takes.
TEST(FillJsonValues, FastPathsMatchStrtod) {
  std::mt19937_64 rng(11);
  std::vector<std::string> texts;
  for (int k = 0; k < 6000; ++k) {
    std::string s = rng() % 3 == 0 ? "-" : "";
    const int int_digits = static_cast<int>(rng() % 9);
    if (int_digits == 0) {
      s += "0";
    } else {
      s += static_cast<char>('1' + rng() % 9);
      for (int i = 1; i < int_digits; ++i) s += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 4 != 0) {
      s += ".";
      const int frac = 1 + static_cast<int>(rng() % 12);
      for (int i = 0; i < frac; ++i) s += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 10 == 0) s += "e" + std::to_string(static_cast<int>(rng() % 40) - 20);
    texts.push_back(s);
  }
  std::string flat = "[", nested = "[";
  for (size_t i = 0; i < texts.size(); ++i) {
    flat += (i ? ", " : "") + texts[i];
    nested += std::string(i % 3 == 0 ? (i ? ",[" : "[") : ",") + texts[i] + (i % 3 == 2 ? "]" : "");
  }
  flat += "]";
  nested += "]";
  std::vector<float> f(texts.size());
  std::vector<double> d(texts.size());
  int64_t count = 0;
  Status element_error;
  JsonReader r1(flat);
  ASSERT_TRUE(FillJsonLeaves(&r1, DataType::kFloat, f.data(), f.size(), &count, &element_error).ok());
  ASSERT_TRUE(element_error.ok());
  JsonReader r2(flat);
  ASSERT_TRUE(FillJsonLeaves(&r2, DataType::kDouble, d.data(), d.size(), &count, &element_error).ok());
  std::vector<float> g(texts.size());
  JsonReader r3(nested);
  int64_t index = 0;
  ASSERT_TRUE(FillJsonDense(&r3, {static_cast<int64_t>(texts.size() / 3), 3}, DataType::kFloat, g.data(), &index).ok());
  for (size_t i = 0; i < texts.size(); ++i) {
    const double expected = std::strtod(texts[i].c_str(), nullptr);
    EXPECT_EQ(d[i], expected) << texts[i];
    EXPECT_EQ(f[i], static_cast<float>(expected)) << texts[i];
    EXPECT_EQ(g[i], static_cast<float>(expected)) << texts[i];
  }
}

// float32 data printed as doubles (16 to 19 digits, what json.dumps of numpy float32 values gives) takes the
// float fast path; every value must still be static_cast<float>(strtod(token)), also for tokens within a few
// double ulps of a midpoint between two floats, where an inexact double would round the other way.
TEST(FillJsonValues, LongFloatTokensMatchStrtod) {
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::uniform_real_distribution<double> log_scale(-6, 7);
  std::vector<std::string> texts;
  char buf[64];
  auto add = [&](const char* format, double v) {
    std::snprintf(buf, sizeof(buf), format, v);
    texts.emplace_back(buf);
  };
  for (int k = 0; k < 20000; ++k) {
    const float f = static_cast<float>(unit(rng) * std::pow(10.0, log_scale(rng)));
    add("%.17g", f);
    add("%.16g", f);
    add("%.19g", f);
    // The midpoint between f and the next float is a double; tokens on it and a few double ulps either side.
    const double mid = (static_cast<double>(f) + static_cast<double>(std::nextafter(f, 2 * f + 1))) / 2;
    double near = mid;
    for (int i = 0; i < 6; ++i) near = std::nextafter(near, 0.0);
    for (int i = 0; i < 12; ++i, near = std::nextafter(near, 1e300)) add("%.19g", near);
    add("%.17f", unit(rng));
    add("-%.18f", unit(rng));
  }
  std::string flat = "[";
  for (size_t i = 0; i < texts.size(); ++i) flat += (i ? "," : "") + texts[i];
  flat += "]";
  std::vector<float> f(texts.size());
  int64_t count = 0;
  Status element_error;
  JsonReader r(flat);
  ASSERT_TRUE(FillJsonLeaves(&r, DataType::kFloat, f.data(), f.size(), &count, &element_error).ok());
  ASSERT_TRUE(element_error.ok());
  ASSERT_EQ(count, static_cast<int64_t>(texts.size()));
  int wrong = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const float want = static_cast<float>(std::strtod(texts[i].c_str(), nullptr));
    if (f[i] != want && ++wrong <= 10) ADD_FAILURE() << texts[i] << ": got " << f[i] << ", want " << want;
  }
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace ferry::protocol
