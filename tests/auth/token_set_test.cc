// Tokens: the file format, hashing against SHA-256's published test vector, scopes and model patterns.
#include "auth/token_set.h"

#include <gtest/gtest.h>

#include <set>

namespace ferry::auth {
namespace {

// SHA-256("abc") from FIPS 180-2, appendix B.1.
constexpr const char* kAbcHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(TokenSet, HashesWithSha256) {
  EXPECT_EQ(HashHex("abc"), kAbcHash);
  EXPECT_EQ(HashHex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenSet, ParsesLinesAndFindsBySecret) {
  auto set = TokenSet::Parse(std::string("# name scopes models sha256\n\n") + "team-a manage,read team-a-*,shared " +
                             kAbcHash + "\n  ci   infer  *  " + HashHex("ci-secret") + "  \n");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->tokens().size(), 2u);
  const Token* a = set->Find("abc");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "team-a");
  EXPECT_TRUE(a->Allows(kManage));
  EXPECT_TRUE(a->Allows(kRead));
  EXPECT_FALSE(a->Allows(kInfer));
  EXPECT_TRUE(a->CoversModel("team-a-resnet"));
  EXPECT_TRUE(a->CoversModel("shared"));
  EXPECT_FALSE(a->CoversModel("team-b-resnet"));
  EXPECT_FALSE(a->CoversModel("shared2"));
  EXPECT_FALSE(a->CoversServer());
  const Token* ci = set->Find("ci-secret");
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->name, "ci");
  EXPECT_TRUE(ci->CoversServer());
  EXPECT_EQ(set->Find("abd"), nullptr);
  EXPECT_EQ(set->Find(""), nullptr);
  EXPECT_EQ(set->Find(kAbcHash), nullptr) << "the stored hash is not a secret";
}

TEST(TokenSet, AdminAllowsEverything) {
  auto set = TokenSet::Parse(std::string("root admin * ") + kAbcHash);
  ASSERT_TRUE(set.ok());
  const Token* t = set->Find("abc");
  ASSERT_NE(t, nullptr);
  for (Scope s : {kInfer, kRead, kManage, kAdmin}) EXPECT_TRUE(t->Allows(s)) << ScopeName(s);
}

TEST(TokenSet, RefusesMalformedLinesNamingThem) {
  const std::string h = kAbcHash;
  struct Bad {
    std::string text;
    const char* message;
  };
  const Bad rows[] = {
      {"a read *", "tokens line 1: expected NAME SCOPES MODELS SHA256"},
      {"a read * " + h + " extra", "tokens line 1: expected NAME SCOPES MODELS SHA256"},
      {"\n\nbad/name read * " + h, "tokens line 3: token name \"bad/name\" must match"},
      {"a write * " + h, "tokens line 1: unknown scope \"write\""},
      {"a read, * " + h, "unknown scope \"\""},
      {"a read team/a " + h, "model pattern \"team/a\""},
      {"a read *,, " + h, "model pattern \"\""},
      {"a read * " + h.substr(1), "SHA256 must be 64 hex digits"},
      {"a read * " + h.substr(1) + "g", "SHA256 must be 64 hex digits"},
      {"a read * " + h + "\na infer * " + h, "tokens line 2: token name \"a\" is used twice"},
  };
  for (const Bad& row : rows) {
    auto set = TokenSet::Parse(row.text);
    ASSERT_FALSE(set.ok()) << row.text;
    EXPECT_NE(set.status().message().find(row.message), std::string::npos)
        << set.status().message() << "\n want: " << row.message;
  }
}

TEST(TokenSet, GlobMatch) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("team-a-*", "team-a-"));
  EXPECT_TRUE(GlobMatch("team-a-*", "team-a-x"));
  EXPECT_FALSE(GlobMatch("team-a-*", "team-a"));
  EXPECT_TRUE(GlobMatch("*-prod", "resnet-prod"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(GlobMatch("exact", "exact"));
  EXPECT_FALSE(GlobMatch("exact", "exactly"));
  EXPECT_FALSE(GlobMatch("", "x"));
  // Many stars over a long non-matching name stay fast (no exponential backtracking).
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*b", std::string(4000, 'a')));
}

TEST(TokenSet, NewSecretsAreDistinctAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto s = NewSecret();
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->size(), 6u + 64u);
    EXPECT_EQ(s->rfind("ferry_", 0), 0u);
    EXPECT_TRUE(seen.insert(*s).second);
  }
}

}  // namespace
}  // namespace ferry::auth
