// JSON number tokens: the grammar check and the conversions to double and to 64-bit integers, shared by the
// pull reader (json_reader.h) and the typed fills (json_values.h). Internal to src/protocol.
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::protocol {

// One number token, already checked against the grammar, with what a conversion needs.
struct JsonNumber {
  std::string_view text;  // as written: "-1.5e3", "0", "NaN", "-Infinity"
  uint64_t mantissa = 0;  // the significant decimal digits, when digits <= 19
  int32_t exp10 = 0;      // value = mantissa * 10^exp10 (clamped far outside double's range)
  int32_t digits = 0;     // significant digits (leading zeros not counted); > 19: mantissa is not exact
  bool negative = false;
  bool integer = false;     // no fraction, no exponent, not a non-finite token
  bool non_finite = false;  // NaN, Infinity or -Infinity

  // "integer" when the token is an integer that fits int64 (negative) or uint64, else "number" (what the
  // value is called in element type errors).
  std::string_view KindName() const;
  // The value as the nearest double: correctly rounded (as strtod), +-0 below the range, NaN for NaN.
  double ToDouble() const;
  // The exact integer value. False when the token is not an integer or does not fit the type.
  bool ToInt64(int64_t* out) const;
  bool ToUInt64(uint64_t* out) const;
};

// Scans a number token at `p` (which may be NaN/Infinity/-Infinity). Returns the end of the token, or nullptr
// when there is no valid number at p: *error then says why, in rapidjson's words, and out->text ends where
// the grammar broke. A number past double's range is an error ("Number too big to be stored in double.", as
// rapidjson and nlohmann say); one below it reads as 0.
const char* ScanJsonNumber(const char* p, const char* end, JsonNumber* out, const char** error);
// The same check without the value (cheaper): the end of the token, or nullptr with *error and *error_at.
const char* SkipJsonNumber(const char* p, const char* end, const char** error, const char** error_at);

}  // namespace ferry::protocol
