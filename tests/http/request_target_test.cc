// Request targets per RFC 9112 3.2 and percent-decoding per RFC 3986 2.1.
#include "http/request_target.h"

#include <gtest/gtest.h>

namespace ferry::http {
namespace {

TEST(RequestTarget, OriginForm) {
  auto t = ParseRequestTarget("/v1/models/my%20model:predict?a=1&b=%20c");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/v1/models/my model:predict");
  EXPECT_EQ(t->query, "a=1&b=%20c");  // the query stays encoded
  t = ParseRequestTarget("/");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(t->query, "");
  t = ParseRequestTarget("/a%2Fb%0a");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/a/b\n");  // decoded; the router and the log deal with what it means
}

TEST(RequestTarget, AbsoluteAndAsteriskForms) {
  auto t = ParseRequestTarget("http://example.com:8501/v2/health/live?x=1");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/v2/health/live");
  EXPECT_EQ(t->query, "x=1");
  t = ParseRequestTarget("HTTPS://example.com");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/");
  t = ParseRequestTarget("http://example.com?q");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(t->query, "q");
  t = ParseRequestTarget("*");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "*");
}

TEST(RequestTarget, RefusesMalformedTargets) {
  for (const char* bad :
       {"", "v1/models", "example.com:443", "http:///path", "/a%", "/a%4", "/a%zz", "/a%00", "/%G0"}) {
    EXPECT_FALSE(ParseRequestTarget(bad).has_value()) << bad;
  }
}

TEST(RequestTarget, PercentDecode) {
  EXPECT_EQ(PercentDecode("a%41%62+c"), "aAb+c");  // '+' is not a space outside forms
  EXPECT_EQ(PercentDecode("%e2%82%AC"), "\xe2\x82\xac");
  EXPECT_EQ(PercentDecode("100%"), std::nullopt);
}

}  // namespace
}  // namespace ferry::http
