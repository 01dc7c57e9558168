#include "protocol/json_reader.h"

#include <algorithm>

namespace ferry::protocol {
namespace {

constexpr std::string_view kInvalidValue = "Invalid value.";
constexpr std::string_view kBadEncoding = "Invalid encoding in string.";
constexpr std::string_view kBadSurrogate = "The surrogate pair in string is invalid.";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool StartsWith(const char* p, const char* end, std::string_view word) {
  return static_cast<size_t>(end - p) >= word.size() && std::string_view(p, word.size()) == word;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Four hex digits at p, or -1.
int32_t Hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s) {
  if (s.empty()) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return n;
}

std::string_view JsonKindName(JsonKind kind) {
  switch (kind) {
    case JsonKind::kNull:
      return "null";
    case JsonKind::kBool:
      return "bool";
    case JsonKind::kNumber:
      return "number";
    case JsonKind::kString:
      return "string";
    case JsonKind::kArray:
      return "array";
    case JsonKind::kObject:
      return "object";
    default:
      return "value";
  }
}

Status JsonReader::Validate(std::string_view text, size_t base) {
  JsonReader r(text, base);
  if (r.Peek() == JsonKind::kEnd) return InvalidArgument("JSON Parse error: The document is empty");
  FERRY_RETURN_IF_ERROR(r.SkipValue());
  return r.Finish();
}

JsonKind JsonReader::Peek() {
  SkipWhitespace();
  if (cur_ == end_) return JsonKind::kEnd;
  switch (*cur_) {
    case '{':
      return JsonKind::kObject;
    case '[':
      return JsonKind::kArray;
    case '"':
      return JsonKind::kString;
    case 't':
    case 'f':
      return JsonKind::kBool;
    case 'n':
      return JsonKind::kNull;
    case '-':
    case 'N':
    case 'I':
      return JsonKind::kNumber;
    default:
      return IsDigit(*cur_) ? JsonKind::kNumber : JsonKind::kInvalid;
  }
}

Status JsonReader::Finish() {
  SkipWhitespace();
  if (cur_ != end_) return SyntaxError("The document root must not be followed by other values.");
  return Status::Ok();
}

Status JsonReader::ErrorAt(const char* p, std::string_view what) const {
  return InvalidArgument("JSON Parse error: {} at offset: {}", what, base_ + static_cast<size_t>(p - begin_));
}

Status JsonReader::SyntaxError(std::string_view what) const { return ErrorAt(cur_, what); }

Status JsonReader::DepthError() const {
  return InvalidArgument("JSON nesting depth exceeds maximum allowed limit ({})", kMaxJsonDepth);
}

Status JsonReader::ScanString(std::string* out) {
  // REQUIRES: *cur_ == '"'.
  const char* p = cur_ + 1;
  const char* run = p;  // start of the bytes not yet appended to *out
  while (true) {
    if (p >= end_) return ErrorAt(p, "Missing a closing quotation mark in string.");
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') {
      if (out) out->append(run, p - run);
      cur_ = p + 1;
      return Status::Ok();
    }
    if (c == '\\') {
      if (out) out->append(run, p - run);
      const char* esc = p;
      if (++p >= end_) return ErrorAt(esc, "Invalid escape character in string.");
      char e = *p++;
      char plain = 0;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          plain = e;
          break;
        case 'b':
          plain = '\b';
          break;
        case 'f':
          plain = '\f';
          break;
        case 'n':
          plain = '\n';
          break;
        case 'r':
          plain = '\r';
          break;
        case 't':
          plain = '\t';
          break;
        case 'u': {
          int32_t cp = Hex4(p, end_);
          if (cp < 0) return ErrorAt(p, "Incorrect hex digit after \\u escape in string.");
          p += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return ErrorAt(esc, kBadSurrogate);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p < 2 || p[0] != '\\' || p[1] != 'u') return ErrorAt(p, kBadSurrogate);
            int32_t low = Hex4(p + 2, end_);
            if (low < 0) return ErrorAt(p + 2, "Incorrect hex digit after \\u escape in string.");
            if (low < 0xDC00 || low > 0xDFFF) return ErrorAt(p, kBadSurrogate);
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          if (out) AppendUtf8(out, static_cast<uint32_t>(cp));
          break;
        }
        default:
          return ErrorAt(esc, "Invalid escape character in string.");
      }
      if (plain && out) out->push_back(plain);
      run = p;
      continue;
    }
    if (c < 0x20) return ErrorAt(p, kBadEncoding);
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n = Utf8SequenceLength(std::string_view(p, end_ - p));
    if (n == 0) return ErrorAt(p, kBadEncoding);
    p += n;
  }
}

Status JsonReader::ReadLiteral(std::string_view word) {
  if (!StartsWith(cur_, end_, word)) return SyntaxError(kInvalidValue);
  cur_ += word.size();
  return Status::Ok();
}

Status JsonReader::SkipContainer(char open) {
  // REQUIRES: *cur_ == open. Iterative over siblings, recursive over depth (bounded by kMaxJsonDepth).
  if (depth_ + 1 > kMaxJsonDepth) return DepthError();
  ++depth_;
  ++cur_;
  const char close = open == '[' ? ']' : '}';
  SkipWhitespace();
  if (cur_ < end_ && *cur_ == close) {
    ++cur_;
    --depth_;
    return Status::Ok();
  }
  while (true) {
    if (open == '{') {
      SkipWhitespace();
      if (cur_ >= end_ || *cur_ != '"') return SyntaxError("Missing a name for object member.");
      FERRY_RETURN_IF_ERROR(ScanString(nullptr));
      SkipWhitespace();
      if (cur_ >= end_ || *cur_ != ':') return SyntaxError("Missing a colon after a name of object member.");
      ++cur_;
    }
    SkipWhitespace();
    // Numbers are the bulk of a request; skip them here without the round trip through SkipAny.
    if (cur_ < end_ && (IsDigit(*cur_) || *cur_ == '-')) {
      const char *error = nullptr, *error_at = nullptr;
      const char* next = SkipJsonNumber(cur_, end_, &error, &error_at);
      if (next == nullptr) return ErrorAt(error_at, error);
      cur_ = next;
    } else {
      FERRY_RETURN_IF_ERROR(SkipAny());
    }
    SkipWhitespace();
    if (cur_ < end_ && *cur_ == ',') {
      ++cur_;
      continue;
    }
    if (cur_ < end_ && *cur_ == close) {
      ++cur_;
      --depth_;
      return Status::Ok();
    }
    return SyntaxError(open == '[' ? "Missing a comma or ']' after an array element."
                                   : "Missing a comma or '}' after an object member.");
  }
}

Status JsonReader::SkipAny() {
  switch (Peek()) {
    case JsonKind::kObject:
      return SkipContainer('{');
    case JsonKind::kArray:
      return SkipContainer('[');
    case JsonKind::kString:
      return ScanString(nullptr);
    case JsonKind::kBool:
      return ReadLiteral(*cur_ == 't' ? "true" : "false");
    case JsonKind::kNull:
      return ReadLiteral("null");
    case JsonKind::kNumber: {
      const char *error = nullptr, *error_at = nullptr;
      const char* next = SkipJsonNumber(cur_, end_, &error, &error_at);
      if (next == nullptr) return ErrorAt(error_at, error);
      cur_ = next;
      return Status::Ok();
    }
    default:
      return SyntaxError(kInvalidValue);
  }
}

Status JsonReader::SkipValue(std::string_view* raw) {
  SkipWhitespace();
  const char* start = cur_;
  FERRY_RETURN_IF_ERROR(SkipAny());
  if (raw) *raw = std::string_view(start, cur_ - start);
  return Status::Ok();
}

Status JsonReader::ReadString(std::string* out) {
  out->clear();
  if (Peek() != JsonKind::kString) return SyntaxError(kInvalidValue);
  return ScanString(out);
}

Status JsonReader::ReadNumber(JsonNumber* out) {
  SkipWhitespace();
  const char* error = nullptr;
  const char* next = ScanJsonNumber(cur_, end_, out, &error);
  if (next == nullptr) return ErrorAt(cur_ + out->text.size(), error);
  cur_ = next;
  return Status::Ok();
}

Status JsonReader::ReadBool(bool* out) {
  SkipWhitespace();
  if (StartsWith(cur_, end_, "true")) {
    *out = true;
    cur_ += 4;
    return Status::Ok();
  }
  if (StartsWith(cur_, end_, "false")) {
    *out = false;
    cur_ += 5;
    return Status::Ok();
  }
  return SyntaxError(kInvalidValue);
}

Status JsonReader::ReadNull() {
  SkipWhitespace();
  return ReadLiteral("null");
}

Status JsonReader::EnterArray() {
  if (Peek() != JsonKind::kArray) return SyntaxError(kInvalidValue);
  if (depth_ + 1 > kMaxJsonDepth) return DepthError();
  ++depth_;
  ++cur_;
  return Status::Ok();
}

Status JsonReader::NextElement(size_t index, bool* more) {
  SkipWhitespace();
  if (cur_ < end_ && *cur_ == ']') {
    ++cur_;
    --depth_;
    *more = false;
    return Status::Ok();
  }
  if (index > 0) {
    if (cur_ >= end_ || *cur_ != ',') return SyntaxError("Missing a comma or ']' after an array element.");
    ++cur_;
  }
  *more = true;
  return Status::Ok();
}

Status JsonReader::EnterObject() {
  if (Peek() != JsonKind::kObject) return SyntaxError(kInvalidValue);
  if (depth_ + 1 > kMaxJsonDepth) return DepthError();
  ++depth_;
  ++cur_;
  return Status::Ok();
}

Status JsonReader::NextMember(size_t index, bool* more, std::string* name) {
  SkipWhitespace();
  if (cur_ < end_ && *cur_ == '}') {
    ++cur_;
    --depth_;
    *more = false;
    return Status::Ok();
  }
  if (index > 0) {
    if (cur_ >= end_ || *cur_ != ',') return SyntaxError("Missing a comma or '}' after an object member.");
    ++cur_;
    SkipWhitespace();
  }
  if (cur_ >= end_ || *cur_ != '"') return SyntaxError("Missing a name for object member.");
  name->clear();
  FERRY_RETURN_IF_ERROR(ScanString(name));
  SkipWhitespace();
  if (cur_ >= end_ || *cur_ != ':') return SyntaxError("Missing a colon after a name of object member.");
  ++cur_;
  *more = true;
  return Status::Ok();
}

std::string JsonReader::ValueForMessage() {
  SkipWhitespace();
  const char* start = cur_;
  if (!SkipAny().ok()) cur_ = std::min(end_, start + 48);
  std::string s(start, cur_ - start);
  if (s.size() > 48) s = s.substr(0, 45) + "...";
  return s;
}

}  // namespace ferry::protocol
