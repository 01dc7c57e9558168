// The request target of an HTTP/1.1 request line (RFC 9112 3.2) split into a percent-decoded path and the raw
// query. Pure functions: no state, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::http {

struct RequestTarget {
  std::string path;   // percent-decoded; starts with '/', or is "*" (asterisk-form)
  std::string query;  // after the first '?', still percent-encoded; "" when absent
};

// Accepts origin-form ("/a%20b?x=1"), absolute-form ("http://host:8501/a?x", the path of which is kept; an empty
// path is "/") and asterisk-form ("*"). nullopt for anything else, for a malformed percent-escape ("%4", "%zz")
// and for an escape that decodes to NUL.
std::optional<RequestTarget> ParseRequestTarget(std::string_view target);

// Decodes %XX escapes (not '+'); nullopt on a malformed escape or a decoded NUL.
std::optional<std::string> PercentDecode(std::string_view text);

}  // namespace ferry::http
