#include "protocol/json_number.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace ferry::protocol {
namespace {

constexpr const char* kInvalidValue = "Invalid value.";

// 10^0 .. 10^22: the powers a double holds exactly (Clinger's fast path).
constexpr double kExactPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr int32_t kExpClamp = 1 << 20;  // any exponent past this is inf or 0 for every type we store
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool StartsWith(const char* p, const char* end, std::string_view word) {
  return static_cast<size_t>(end - p) >= word.size() && std::string_view(p, word.size()) == word;
}

}  // namespace

std::string_view JsonNumber::KindName() const {
  int64_t i;
  uint64_t u;
  if (integer && (negative ? ToInt64(&i) : ToUInt64(&u))) return "integer";
  return "number";
}

double JsonNumber::ToDouble() const {
  if (non_finite) {
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (digits <= 19) {
    if (mantissa == 0) return negative ? -0.0 : 0.0;
    // Clinger: both operands exact, so one IEEE operation gives the correctly rounded result.
    if (mantissa <= (uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
      double d = static_cast<double>(mantissa);
      d = exp10 < 0 ? d / kExactPow10[-exp10] : d * kExactPow10[exp10];
      return negative ? -d : d;
    }
  }
  double d = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (r.ec == std::errc::result_out_of_range) {
    // from_chars leaves the value alone past the range; strtod's answer is +-0 below it (ScanJsonNumber refuses
    // tokens above it) and +-inf above.
    const bool huge = static_cast<int64_t>(digits) + exp10 > 0;
    d = huge ? std::numeric_limits<double>::infinity() : 0.0;
    return negative ? -d : d;
  }
  return d;
}

bool JsonNumber::ToInt64(int64_t* out) const {
  if (!integer) return false;
  if (digits <= 19) {
    if (negative) {
      if (mantissa > uint64_t{1} << 63) return false;
      *out = static_cast<int64_t>(0 - mantissa);  // two's complement; -2^63 included
    } else {
      if (mantissa > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      *out = static_cast<int64_t>(mantissa);
    }
    return true;
  }
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

bool JsonNumber::ToUInt64(uint64_t* out) const {
  if (!integer) return false;
  if (negative) {
    if (mantissa != 0 || digits != 0) return false;
    *out = 0;  // "-0"
    return true;
  }
  if (digits <= 19) {
    *out = mantissa;
    return true;
  }
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

const char* ScanJsonNumber(const char* p, const char* end, JsonNumber* out, const char** error) {
  const char* start = p;
  *out = JsonNumber();
  if (p < end && *p == '-') {
    out->negative = true;
    ++p;
  }
  if (p < end && (*p == 'I' || *p == 'N')) {
    std::string_view word = *p == 'I' ? "Infinity" : "NaN";
    if (!StartsWith(p, end, word) || (out->negative && word == "NaN")) {
      *error = kInvalidValue;
      out->text = std::string_view(start, p - start);
      return nullptr;
    }
    p += word.size();
    out->non_finite = true;
    out->text = std::string_view(start, p - start);
    return p;
  }
  uint64_t m = 0;
  int32_t digits = 0;
  int64_t exp = 0;
  if (p < end && *p == '0') {
    ++p;
  } else if (p < end && *p >= '1' && *p <= '9') {
    do {
      if (digits < 19) {
        m = m * 10 + static_cast<uint64_t>(*p - '0');
      } else {
        ++exp;  // dropped digit: only the magnitude is kept (ToDouble then reads the text)
      }
      ++digits;
      ++p;
    } while (p < end && IsDigit(*p));
  } else {
    *error = kInvalidValue;
    out->text = std::string_view(start, p - start);
    return nullptr;
  }
  bool integer = true;
  if (p < end && *p == '.') {
    integer = false;
    ++p;
    if (p >= end || !IsDigit(*p)) {
      *error = "Miss fraction part in number.";
      out->text = std::string_view(start, p - start);
      return nullptr;
    }
    do {
      const uint64_t d = static_cast<uint64_t>(*p - '0');
      if (m == 0 && d == 0) {
        --exp;  // a leading zero of the fraction is not significant
      } else {
        if (digits < 19) {
          m = m * 10 + d;
          --exp;
        }
        ++digits;
      }
      ++p;
    } while (p < end && IsDigit(*p));
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integer = false;
    ++p;
    bool neg_exp = false;
    if (p < end && (*p == '+' || *p == '-')) {
      neg_exp = *p == '-';
      ++p;
    }
    if (p >= end || !IsDigit(*p)) {
      *error = "Miss exponent in number.";
      out->text = std::string_view(start, p - start);
      return nullptr;
    }
    int64_t e = 0;
    do {
      if (e < kExpClamp) e = e * 10 + (*p - '0');
      ++p;
    } while (p < end && IsDigit(*p));
    exp += neg_exp ? -e : e;
  }
  out->text = std::string_view(start, p - start);
  // Past double's range is an error, as in rapidjson and nlohmann (underflow is not: it reads as 0). The value
  // is in [10^(top-1), 10^top): decide by magnitude, and convert only in the narrow band around DBL_MAX.
  if (m != 0) {
    const int64_t top = std::min<int64_t>(digits, 19) + exp;
    if (top > 308) {
      double unused;
      if (top > 309 || std::from_chars(start, p, unused).ec == std::errc::result_out_of_range) {
        *error = "Number too big to be stored in double.";
        out->text = std::string_view(start, 0);
        return nullptr;
      }
    }
  }
  out->mantissa = m;
  out->exp10 = static_cast<int32_t>(std::clamp<int64_t>(exp, -kExpClamp, kExpClamp));
  out->digits = digits;
  out->integer = integer;
  return p;
}

const char* SkipJsonNumber(const char* p, const char* end, const char** error, const char** error_at) {
  const char* start = p;
  auto fail = [&](const char* what) -> const char* {
    *error = what;
    *error_at = p;
    return nullptr;
  };
  bool negative = false;
  if (p < end && *p == '-') {
    negative = true;
    ++p;
  }
  if (p < end && (*p == 'I' || *p == 'N')) {
    std::string_view word = *p == 'I' ? "Infinity" : "NaN";
    if (!StartsWith(p, end, word) || (negative && word == "NaN")) return fail(kInvalidValue);
    return p + word.size();
  }
  // The value is below 10^top: enough to tell the numbers past double's range (rare) from the rest.
  int64_t top = 0;
  if (p < end && *p == '0') {
    ++p;
  } else if (p < end && *p >= '1' && *p <= '9') {
    const char* digits = p;
    while (p < end && IsDigit(*p)) ++p;
    top = p - digits;
  } else {
    return fail(kInvalidValue);
  }
  if (p < end && *p == '.') {
    ++p;
    if (p >= end || !IsDigit(*p)) return fail("Miss fraction part in number.");
    while (p < end && IsDigit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    bool neg_exp = false;
    if (p < end && (*p == '+' || *p == '-')) {
      neg_exp = *p == '-';
      ++p;
    }
    if (p >= end || !IsDigit(*p)) return fail("Miss exponent in number.");
    int64_t e = 0;
    do {
      if (e < kExpClamp) e = e * 10 + (*p - '0');
      ++p;
    } while (p < end && IsDigit(*p));
    top += neg_exp ? -e : e;
  }
  if (top > 308) {
    JsonNumber n;
    const char* why = nullptr;
    if (ScanJsonNumber(start, end, &n, &why) == nullptr) {
      *error = why;
      *error_at = start + n.text.size();
      return nullptr;
    }
  }
  return p;
}

}  // namespace ferry::protocol
