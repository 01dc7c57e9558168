// A validating pull reader over JSON text, without a DOM: the codecs walk the small envelope of a request with it
// and hand the big tensor arrays to the typed fills of json_values.h, which write numbers straight into tensor
// buffers. Internal to src/protocol.
//
// Grammar: RFC 8259 plus the bare tokens NaN, Infinity and -Infinity (TF Serving and Triton both read and
// write them for non-finite floats). A number past double's range is an error (rapidjson and nlohmann say
// "Number too big to be stored in double."); one below it reads as 0. Strings must be valid UTF-8; escapes,
// \u included (surrogate pairs must pair), are decoded. Nesting deeper than kMaxJsonDepth is refused
// (Triton's limit), so no recursive walk over a document can exhaust the stack.
//
// Errors are InvalidArgument with rapidjson's wording, as TF Serving reports them:
//   "JSON Parse error: The document is empty"
//   "JSON Parse error: <what> at offset: N"   (N: byte offset in the enclosing body)
//   "JSON nesting depth exceeds maximum allowed limit (100)"
// Thread-compatible; a reader never owns the text it reads (the text must outlive it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/status.h"
#include "protocol/json_number.h"

namespace ferry::protocol {

inline constexpr int kMaxJsonDepth = 100;

// What the next value is, from its first byte.
enum class JsonKind { kEnd, kInvalid, kNull, kBool, kNumber, kString, kArray, kObject };

// Length (2-4) of the valid multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) that starts `s`, or 0.
size_t Utf8SequenceLength(std::string_view s);

// "null", "bool", "number", "string", "array", "object" (kEnd/kInvalid: "value").
std::string_view JsonKindName(JsonKind kind);

class JsonReader {
 public:
  // Reads `text`, which sits at byte `base` of the enclosing body (messages report body offsets) and at
  // nesting depth `depth` (a reader over a value nested in a document keeps counting toward the limit).
  explicit JsonReader(std::string_view text, size_t base = 0, int depth = 0)
      : begin_(text.data()), cur_(text.data()), end_(text.data() + text.size()), base_(base), depth_(depth) {}

  // Checks that `text` holds exactly one JSON value, with only whitespace around it.
  static Status Validate(std::string_view text, size_t base = 0);

  // Skips whitespace; the kind of the value that starts there.
  JsonKind Peek();
  // Offset of the cursor in the text (not counting base).
  size_t position() const { return static_cast<size_t>(cur_ - begin_); }
  size_t base() const { return base_; }
  int depth() const { return depth_; }

  // Only whitespace may remain ("The document root must not be followed by other values." otherwise).
  Status Finish();

  // Reads one value of any kind, checking it fully. `raw` (optional) gets its text.
  Status SkipValue(std::string_view* raw = nullptr);
  Status ReadString(std::string* out);
  Status ReadNumber(JsonNumber* out);
  Status ReadBool(bool* out);
  Status ReadNull();

  // Containers. EnterX consumes the opening bracket. Call NextX before each element/member with `index` =
  // how many were read so far; it sets *more = false (consuming the closing bracket) at the end, else true
  // (NextMember also reads the name and the colon).
  Status EnterArray();
  Status NextElement(size_t index, bool* more);
  Status EnterObject();
  Status NextMember(size_t index, bool* more, std::string* name);

  // The value text that starts at the cursor, for messages: its raw text, at most 48 bytes (longer texts are
  // cut to 45 and "..."). Moves the cursor past the value.
  std::string ValueForMessage();

  // A reader over `raw` (text inside this reader's text), at nesting depth `depth` (default: the current one).
  JsonReader Sub(std::string_view raw, int depth = -1) const {
    return JsonReader(raw, base_ + static_cast<size_t>(raw.data() - begin_), depth < 0 ? depth_ : depth);
  }

  // Error helpers shared with the typed fills: "JSON Parse error: <what> at offset: <cursor>".
  Status SyntaxError(std::string_view what) const;

  // Low-level access for the typed fills (json_values.cc), which keep the cursor in a local for speed.
  const char* cursor() const { return cur_; }
  const char* end() const { return end_; }
  void set_cursor(const char* p) { cur_ = p; }
  void SkipWhitespace() {
    while (cur_ < end_ && IsSpace(*cur_)) ++cur_;
  }
  static bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

 private:
  Status DepthError() const;
  Status ErrorAt(const char* p, std::string_view what) const;
  Status SkipString();
  Status ScanString(std::string* out);  // out may be null
  Status SkipContainer(char open);
  Status SkipAny();
  Status ReadLiteral(std::string_view word);

  const char* begin_;
  const char* cur_;
  const char* end_;
  size_t base_;
  int depth_;
};

}  // namespace ferry::protocol
