// Small helpers for header names and values, shared by the files of src/http. Internal to the module.
#pragma once

#include <algorithm>
#include <cctype>
#include <string_view>

namespace ferry::http::internal {

// ASCII case-insensitive equality (header names, codings and tokens are case-insensitive).
inline bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Without the optional white space (spaces and tabs) around a header value or list item.
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace ferry::http::internal
