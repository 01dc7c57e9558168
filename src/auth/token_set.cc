#include "auth/token_set.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace ferry::auth {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

std::vector<std::string_view> SplitComma(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t comma = s.find(',');
    out.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

bool NameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::string Hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

}  // namespace

const char* ScopeName(Scope scope) {
  switch (scope) {
    case kInfer:
      return "infer";
    case kRead:
      return "read";
    case kManage:
      return "manage";
    case kAdmin:
      return "admin";
  }
  return "?";
}

Result<unsigned> ParseScopes(std::string_view text) {
  unsigned scopes = 0;
  for (std::string_view word : SplitComma(text)) {
    if (word == "infer") {
      scopes |= kInfer;
    } else if (word == "read") {
      scopes |= kRead;
    } else if (word == "manage") {
      scopes |= kManage;
    } else if (word == "admin") {
      scopes |= kAdmin;
    } else {
      return InvalidArgument("unknown scope \"{}\" (expected infer, read, manage or admin)", word.substr(0, 32));
    }
  }
  return scopes;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match: on a mismatch, retry from the last '*' one character further.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Token::CoversModel(std::string_view model) const {
  for (const std::string& pattern : models) {
    if (GlobMatch(pattern, model)) return true;
  }
  return false;
}

bool Token::CoversServer() const {
  for (const std::string& pattern : models) {
    if (pattern == "*") return true;
  }
  return false;
}

Status CheckTokenName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), NameChar)) {
    return InvalidArgument("token name \"{}\" must match [A-Za-z0-9_.-]{{1,64}}", name.substr(0, 64));
  }
  return Status::Ok();
}

Status CheckModelPatterns(std::string_view models) {
  for (std::string_view pattern : SplitComma(models)) {
    if (pattern.empty() || pattern.size() > 128 ||
        !std::all_of(pattern.begin(), pattern.end(), [](char c) { return NameChar(c) || c == '*'; })) {
      return InvalidArgument("model pattern \"{}\" must be model-name characters and '*'", pattern.substr(0, 64));
    }
  }
  return Status::Ok();
}

Result<TokenSet> TokenSet::Parse(std::string_view text) {
  TokenSet set;
  std::set<std::string> names;
  std::istringstream lines{std::string(text)};
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    std::istringstream fields(line);
    std::string name, scopes, models, hash, extra;
    if (!(fields >> name) || name[0] == '#') continue;
    auto bad = [&](const std::string& why) { return InvalidArgument("tokens line {}: {}", number, why); };
    if (!(fields >> scopes >> models >> hash) || (fields >> extra)) {
      return bad("expected NAME SCOPES MODELS SHA256");
    }
    if (Status s = CheckTokenName(name); !s.ok()) return bad(s.message());
    if (!names.insert(name).second) return bad(fmt::format("token name \"{}\" is used twice", name));
    Token token;
    token.name = name;
    Result<unsigned> parsed = ParseScopes(scopes);
    if (!parsed.ok()) return bad(parsed.status().message());
    token.scopes = *parsed;
    if (Status s = CheckModelPatterns(models); !s.ok()) return bad(s.message());
    for (std::string_view pattern : SplitComma(models)) token.models.emplace_back(pattern);
    if (hash.size() != 64) return bad("SHA256 must be 64 hex digits");
    for (size_t i = 0; i < 32; ++i) {
      const int hi = HexDigit(hash[2 * i]), lo = HexDigit(hash[2 * i + 1]);
      if (hi < 0 || lo < 0) return bad("SHA256 must be 64 hex digits");
      token.hash[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    set.tokens_.push_back(std::move(token));
  }
  return set;
}

Result<TokenSet> TokenSet::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read the tokens file {}", path);
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) return InvalidArgument("the tokens file {} is larger than 1 MiB", path);
  Result<TokenSet> set = Parse(text);
  if (!set.ok()) return set.status().WithContext(path);
  return set;
}

const Token* TokenSet::Find(std::string_view secret) const {
  const std::array<uint8_t, 32> hash = Sha256(secret);
  const Token* found = nullptr;
  for (const Token& token : tokens_) {
    // No early exit: every entry costs the same whether it matches or not.
    if (CRYPTO_memcmp(token.hash.data(), hash.data(), hash.size()) == 0) found = &token;
  }
  return found;
}

std::string HashHex(std::string_view secret) {
  const std::array<uint8_t, 32> hash = Sha256(secret);
  return Hex(hash.data(), hash.size());
}

Result<std::string> NewSecret() {
  uint8_t bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Internal("the random number generator failed");
  return "ferry_" + Hex(bytes, sizeof(bytes));
}

std::string TokenLine(const std::string& name, std::string_view scopes, std::string_view models,
                      const std::string& hash_hex) {
  return fmt::format("{} {} {} {}", name, scopes, models, hash_hex);
}

}  // namespace ferry::auth
