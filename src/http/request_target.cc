#include "http/request_target.h"

namespace ferry::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

std::optional<RequestTarget> ParseRequestTarget(std::string_view target) {
  if (target == "*") return RequestTarget{"*", ""};
  if (IStartsWith(target, "http://") || IStartsWith(target, "https://")) {
    const size_t authority = target.find("//") + 2;
    const size_t path = target.find_first_of("/?", authority);
    if (path == authority) return std::nullopt;  // no host
    if (path == std::string_view::npos) return RequestTarget{"/", ""};
    target = target.substr(path);
    if (target[0] == '?') {
      return RequestTarget{"/", std::string(target.substr(1))};
    }
  }
  if (target.empty() || target[0] != '/') return std::nullopt;
  const size_t q = target.find('?');
  std::optional<std::string> path = PercentDecode(target.substr(0, q));
  if (!path) return std::nullopt;
  RequestTarget out;
  out.path = std::move(*path);
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
  return out;
}

}  // namespace ferry::http
