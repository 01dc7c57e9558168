// Bearer tokens: who may call what on a shared ferryd. Tokens are stored only as SHA-256 hashes, in a tokens file
// of one line per token (blank lines and lines starting with '#' are ignored):
//
//   NAME  SCOPES  MODELS  SHA256
//   team-a  manage,read,infer  team-a-*  9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//
// NAME: [A-Za-z0-9_.-]{1,64}, unique. SCOPES: a comma list of infer (predict, infer), read (status, metadata,
// statistics, config, metrics), manage (uploads, deletes, config edits, load/unload) and admin (everything).
// MODELS: a comma list of model-name patterns in which '*' matches any run of characters; "*" alone also covers
// the server-wide routes (metrics, statistics of all models, the repository index). SHA256: 64 hex digits.
//
// OpenSSL's libcrypto hashes, compares in constant time and draws new secrets; it is used only here.
// Thread safety: a TokenSet is immutable after Parse and may be shared.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"

namespace ferry::auth {

enum Scope : unsigned { kInfer = 1, kRead = 2, kManage = 4, kAdmin = 8 };

const char* ScopeName(Scope scope);
// "infer,read" -> kInfer | kRead. InvalidArgument for an empty list or an unknown word.
Result<unsigned> ParseScopes(std::string_view text);
// '*' matches any run of characters (none included); everything else matches itself.
bool GlobMatch(std::string_view pattern, std::string_view text);

struct Token {
  std::string name;
  unsigned scopes = 0;              // Scope bits
  std::vector<std::string> models;  // patterns
  std::array<uint8_t, 32> hash{};   // SHA-256 of the secret

  bool Allows(Scope scope) const { return (scopes & kAdmin) != 0 || (scopes & scope) != 0; }
  bool CoversModel(std::string_view model) const;
  bool CoversServer() const;  // has the pattern "*"
};

class TokenSet {
 public:
  // Parses a tokens file's text. InvalidArgument naming the line for any malformed line or repeated name.
  static Result<TokenSet> Parse(std::string_view text);
  // Reads and parses `path` (at most 1 MiB). InvalidArgument or NotFound with the path and the line.
  static Result<TokenSet> Load(const std::string& path);

  // The token whose hash is SHA-256(secret), or nullptr. Every entry is compared, in constant time, so the
  // time taken says nothing about how close a guess came.
  const Token* Find(std::string_view secret) const;

  const std::vector<Token>& tokens() const { return tokens_; }

 private:
  std::vector<Token> tokens_;
};

// SHA-256 of `secret`, as 64 lower-case hex digits.
std::string HashHex(std::string_view secret);
// A new secret: "ferry_" and 64 hex digits (256 bits) from the OS's random source. Internal on failure.
Result<std::string> NewSecret();
// The tokens file line for a token (no newline). REQUIRES: the parts are valid (as Parse would accept them).
std::string TokenLine(const std::string& name, std::string_view scopes, std::string_view models,
                      const std::string& hash_hex);
// Checks a token name and a models list as Parse does; InvalidArgument otherwise.
Status CheckTokenName(std::string_view name);
Status CheckModelPatterns(std::string_view models);

}  // namespace ferry::auth
