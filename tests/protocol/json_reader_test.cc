// The pull reader: grammar (NaN/Infinity tokens included), error texts and offsets, the depth limit, string
// decoding, and number conversion checked against libc's strtod.
#include "protocol/json_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include "protocol/json_values.h"
#include "test_util.h"

namespace ferry::protocol {
namespace {

Status Validate(std::string_view text) { return JsonReader::Validate(text); }

TEST(JsonReader, NonFiniteTokensOutsideStringsOnly) {
  const std::string doc = R"({"a": [NaN, Infinity, -Infinity, -1], "s": "NaN Infinity \" -Infinity"})";
  ASSERT_TRUE(Validate(doc).ok());
  JsonReader r(doc);
  ASSERT_TRUE(r.EnterObject().ok());
  bool more;
  std::string key;
  ASSERT_TRUE(r.NextMember(0, &more, &key).ok());
  ASSERT_TRUE(more);
  EXPECT_EQ(key, "a");
  float f[4];
  JsonReader values = r;
  ASSERT_TRUE(values.EnterArray().ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(values.NextElement(i, &more).ok() && more);
    ASSERT_TRUE(ReadJsonElement(&values, DataType::kFloat, &f[i]).ok());
  }
  EXPECT_TRUE(std::isnan(f[0]));
  EXPECT_TRUE(std::isinf(f[1]) && f[1] > 0);
  EXPECT_TRUE(std::isinf(f[2]) && f[2] < 0);
  EXPECT_EQ(f[3], -1.0f);
  // The tokens are numbers only where a float is expected.
  const std::string nan_text = doc.substr(7, 3);
  JsonReader nan(nan_text);
  int32_t i32;
  EXPECT_INVALID(ReadJsonElement(&nan, DataType::kInt32, &i32),
                 "JSON value NaN of kind number is not of expected type: int32");
  ASSERT_TRUE(r.SkipValue().ok());
  ASSERT_TRUE(r.NextMember(1, &more, &key).ok() && more);
  std::string s;
  ASSERT_TRUE(r.ReadString(&s).ok());
  EXPECT_EQ(s, "NaN Infinity \" -Infinity");
  ASSERT_TRUE(r.NextMember(2, &more, &key).ok());
  EXPECT_FALSE(more);
  EXPECT_TRUE(r.Finish().ok());
}

TEST(JsonReader, Errors) {
  EXPECT_INVALID(Validate(""), "JSON Parse error: The document is empty");
  EXPECT_INVALID(Validate(" \n\t"), "JSON Parse error: The document is empty");
  EXPECT_INVALID(Validate("{\"a\": nan}"), "JSON Parse error: Invalid value. at offset: 6");
  EXPECT_INVALID(Validate("{\"a\": 1} {}"), "The document root must not be followed by other values. at offset: 9");
  EXPECT_INVALID(Validate(std::string(101, '[') + std::string(101, ']')),
                 "JSON nesting depth exceeds maximum allowed limit (100)");
  EXPECT_TRUE(Validate(std::string(100, '[') + std::string(100, ']')).ok());
  std::string mixed = std::string(60, '[');
  for (int i = 0; i < 41; ++i) mixed += "{\"a\":";
  EXPECT_INVALID(Validate(mixed + "1" + std::string(41, '}') + std::string(60, ']')),
                 "exceeds maximum allowed limit (100)");
  // Brackets inside strings do not count.
  EXPECT_TRUE(Validate("\"" + std::string(300, '[') + "\"").ok());
  // rapidjson's words, at the offset of the offending byte.
  EXPECT_INVALID(Validate("[1,]"), "JSON Parse error: Invalid value. at offset: 3");
  EXPECT_INVALID(Validate("[1 2]"), "Missing a comma or ']' after an array element. at offset: 3");
  EXPECT_INVALID(Validate("{\"a\" 1}"), "Missing a colon after a name of object member. at offset: 5");
  EXPECT_INVALID(Validate("{\"a\":1,}"), "Missing a name for object member. at offset: 7");
  EXPECT_INVALID(Validate("{1:2}"), "Missing a name for object member. at offset: 1");
  EXPECT_INVALID(Validate("{\"a\":1 \"b\":2}"), "Missing a comma or '}' after an object member. at offset: 7");
  EXPECT_INVALID(Validate("\"abc"), "Missing a closing quotation mark in string. at offset: 4");
  EXPECT_INVALID(Validate("1."), "Miss fraction part in number. at offset: 2");
  EXPECT_INVALID(Validate("[1e+]"), "Miss exponent in number. at offset: 4");
  EXPECT_INVALID(Validate("-"), "Invalid value. at offset: 1");
  EXPECT_INVALID(Validate("01"), "The document root must not be followed by other values. at offset: 1");
  EXPECT_INVALID(Validate("+1"), "Invalid value.");
  EXPECT_INVALID(Validate(".5"), "Invalid value.");
  EXPECT_INVALID(Validate("-NaN"), "Invalid value.");
  EXPECT_INVALID(Validate("[1e400]"), "Number too big to be stored in double. at offset: 1");
  EXPECT_INVALID(Validate("-1.7976931348623159e308"), "Number too big to be stored in double.");
  EXPECT_INVALID(Validate("123456789012345678901234567890e290"), "Number too big to be stored in double.");
  EXPECT_TRUE(Validate("[1e-400, 0e999999, 1.7976931348623157e308]").ok());
  EXPECT_INVALID(Validate("Infinit"), "Invalid value.");
  EXPECT_INVALID(Validate("tru"), "Invalid value.");
  EXPECT_INVALID(Validate("nul"), "Invalid value.");
  EXPECT_INVALID(Validate("\"\\x\""), "Invalid escape character in string. at offset: 1");
  EXPECT_INVALID(Validate("\"\\u12G4\""), "Incorrect hex digit after \\u escape in string.");
  EXPECT_INVALID(Validate("\"\\ud800\""), "The surrogate pair in string is invalid.");
  EXPECT_INVALID(Validate("\"\\ud800\\u0041\""), "The surrogate pair in string is invalid.");
  EXPECT_INVALID(Validate("\"\\udc00\""), "The surrogate pair in string is invalid.");
  EXPECT_INVALID(Validate(std::string("\"a\x01\"")), "Invalid encoding in string. at offset: 2");
  EXPECT_INVALID(Validate(std::string("\"a\0\"", 4)), "Invalid encoding in string.");
  EXPECT_INVALID(Validate("\"\xff\""), "Invalid encoding in string.");
  EXPECT_INVALID(Validate("\"\xc0\xaf\""), "Invalid encoding in string.");          // overlong '/'
  EXPECT_INVALID(Validate("\"\xed\xa0\x80\""), "Invalid encoding in string.");      // a UTF-16 surrogate
  EXPECT_INVALID(Validate("\"\xf4\x90\x80\x80\""), "Invalid encoding in string.");  // past U+10FFFF
  EXPECT_INVALID(Validate("\"\xe2\x82\""), "Invalid encoding in string.");          // cut short
  // A reader over part of a body reports offsets in the body.
  JsonReader sub("[1,,]", 1000);
  EXPECT_INVALID(sub.SkipValue(), "at offset: 1003");
}

TEST(JsonReader, AcceptsWhatRfc8259Allows) {
  for (const char* doc : {"0", "-0", "-0.0e-0", "1E+2", "123.456e78", "true", "false", "null", "\"\"", "[]", "{}",
                          " [ 1 , { \"a\" : [ ] } ] ", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\"", "\"\xf4\x8f\xbf\xbf\"",
                          "NaN", "Infinity", "-Infinity", "[NaN,-Infinity]"}) {
    EXPECT_TRUE(Validate(doc).ok()) << doc << ": " << Validate(doc).ToString();
  }
}

TEST(JsonReader, DecodesStrings) {
  JsonReader r(R"("\u00e9\ud83d\ude00\n\/\"x\u0041" )");
  std::string s;
  ASSERT_TRUE(r.ReadString(&s).ok());
  EXPECT_EQ(s, "\xc3\xa9\xf0\x9f\x98\x80\n/\"xA");
  EXPECT_TRUE(r.Finish().ok());
  JsonReader utf8("\"caf\xc3\xa9 \xe2\x82\xac\"");
  ASSERT_TRUE(utf8.ReadString(&s).ok());
  EXPECT_EQ(s, "caf\xc3\xa9 \xe2\x82\xac");
}

TEST(JsonReader, WalksContainers) {
  JsonReader r(R"( {"a": [1, [2], {}], "b": {"c": null}, "a": true} )");
  ASSERT_TRUE(r.EnterObject().ok());
  std::vector<std::string> keys, raws;
  bool more;
  std::string key;
  for (size_t i = 0;; ++i) {
    ASSERT_TRUE(r.NextMember(i, &more, &key).ok());
    if (!more) break;
    std::string_view raw;
    ASSERT_TRUE(r.SkipValue(&raw).ok());
    keys.push_back(key);
    raws.emplace_back(raw);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "a"}));
  EXPECT_EQ(raws, (std::vector<std::string>{"[1, [2], {}]", R"({"c": null})", "true"}));
  EXPECT_TRUE(r.Finish().ok());
  EXPECT_EQ(r.depth(), 0);
}

JsonNumber Number(const std::string& text) {
  JsonReader r(text);
  JsonNumber n;
  Status s = r.ReadNumber(&n);
  EXPECT_TRUE(s.ok()) << text << ": " << s.ToString();
  return n;
}

TEST(JsonNumber, Integers) {
  int64_t i;
  uint64_t u;
  EXPECT_TRUE(Number("9223372036854775807").ToInt64(&i));
  EXPECT_EQ(i, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(Number("-9223372036854775808").ToInt64(&i));
  EXPECT_EQ(i, std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(Number("9223372036854775808").ToInt64(&i));
  EXPECT_FALSE(Number("-9223372036854775809").ToInt64(&i));
  EXPECT_TRUE(Number("9223372036854775808").ToUInt64(&u));
  EXPECT_EQ(u, uint64_t{1} << 63);
  EXPECT_TRUE(Number("18446744073709551615").ToUInt64(&u));
  EXPECT_EQ(u, std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(Number("18446744073709551616").ToUInt64(&u));
  EXPECT_FALSE(Number("-1").ToUInt64(&u));
  EXPECT_TRUE(Number("-0").ToUInt64(&u));
  EXPECT_EQ(u, 0u);
  EXPECT_TRUE(Number("-0").ToInt64(&i));
  EXPECT_EQ(i, 0);
  EXPECT_TRUE(Number("0").ToInt64(&i));
  EXPECT_EQ(i, 0);
  EXPECT_FALSE(Number("1.0").ToInt64(&i));
  EXPECT_FALSE(Number("1e2").ToInt64(&i));
  EXPECT_EQ(Number("-12").KindName(), "integer");
  EXPECT_EQ(Number("18446744073709551615").KindName(), "integer");
  EXPECT_EQ(Number("18446744073709551616").KindName(), "number");
  EXPECT_EQ(Number("1.5").KindName(), "number");
  EXPECT_EQ(Number("NaN").KindName(), "number");
}

// ToDouble must give exactly what strtod gives (correct rounding), on every path: Clinger's, from_chars, and
// the over/underflow fallback.
TEST(JsonNumber, ToDoubleMatchesStrtod) {
  std::mt19937_64 rng(7);
  auto digits = [&](int n, bool leading_nonzero) {
    std::string s;
    for (int i = 0; i < n; ++i)
      s.push_back(static_cast<char>('0' + (i == 0 && leading_nonzero ? 1 + rng() % 9 : rng() % 10)));
    return s;
  };
  std::vector<std::string> cases = {"0.1",
                                    "0.123456",
                                    "1e22",
                                    "1e23",
                                    "9007199254740993",
                                    "4.9e-324",
                                    "2e-324",
                                    "1e-400",
                                    "-1e-400",
                                    "1.7976931348623157e308",
                                    "1.7976931348623158e308",
                                    "0.000000000000000000000000000001",
                                    "123456789012345678901234567890",
                                    "2.2250738585072011e-308",
                                    "-0.0",
                                    "1e-7",
                                    "3.4028235e38",
                                    "1e-99999999999999"};
  for (int k = 0; k < 20000; ++k) {
    std::string s = rng() % 4 == 0 ? "-" : "";
    s += rng() % 3 == 0 ? "0" : digits(1 + rng() % 22, true);
    if (rng() % 2) s += "." + digits(1 + rng() % 20, false);
    if (rng() % 2) s += (rng() % 2 ? "e" : "E") + std::string(rng() % 2 ? "-" : "+") + std::to_string(rng() % 340);
    cases.push_back(s);
  }
  for (const std::string& s : cases) {
    const double expected = std::strtod(s.c_str(), nullptr);
    if (std::isinf(expected)) {
      EXPECT_INVALID(Validate(s), "Number too big to be stored in double. at offset: 0");
      continue;
    }
    const double got = Number(s).ToDouble();
    EXPECT_EQ(std::memcmp(&got, &expected, sizeof(double)), 0) << s << ": got " << got << " expected " << expected;
    // float is double-rounded through double, as TF Serving and the DOM codecs did.
    JsonReader r(s);
    float f;
    ASSERT_TRUE(ReadJsonElement(&r, DataType::kFloat, &f).ok());
    EXPECT_EQ(f, static_cast<float>(expected)) << s;
  }
}

}  // namespace
}  // namespace ferry::protocol
