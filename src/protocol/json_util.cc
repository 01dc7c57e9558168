#include "protocol/json_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "protocol/json_reader.h"

namespace ferry::protocol {
namespace {

// Longest text one element can take, separator included: "-1.7976931348623157e+308" plus ".0" and ','.
constexpr size_t kMaxElementChars = 32;

template <typename T>
char* WriteFloat(char* p, T v) {
  if (std::isnan(v)) {
    std::memcpy(p, "NaN", 3);
    return p + 3;
  }
  if (std::isinf(v)) {
    if (v > 0) {
      std::memcpy(p, "Infinity", 8);
      return p + 8;
    }
    std::memcpy(p, "-Infinity", 9);
    return p + 9;
  }
  char* end = std::to_chars(p, p + kMaxElementChars, v).ptr;
  // A whole number keeps a ".0" so that readers see a float (TF Serving's and rapidjson's convention).
  bool plain = true;
  for (const char* q = p; q < end; ++q) plain = plain && *q != '.' && *q != 'e';
  if (plain) {
    end[0] = '.';
    end[1] = '0';
    end += 2;
  }
  return end;
}

template <typename T>
char* WriteInteger(char* p, T v) {
  return std::to_chars(p, p + kMaxElementChars, v).ptr;
}

template <typename T>
T Load(const void* base, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + i * sizeof(T), sizeof(T));
  return v;
}

// Writes elements [i0, i0 + n) of `t`, comma-separated, at p; returns the end.
template <typename T, typename Write>
char* WriteRunOf(char* p, const TensorView& t, int64_t i0, int64_t n, Write write) {
  for (int64_t i = 0; i < n; ++i) {
    if (i) *p++ = ',';
    p = write(p, Load<T>(t.data, i0 + i));
  }
  return p;
}

char* WriteRun(char* p, const TensorView& t, int64_t i0, int64_t n) {
  auto f = [](char* q, auto v) { return WriteFloat(q, v); };
  auto i = [](char* q, auto v) { return WriteInteger(q, v); };
  switch (t.dtype) {
    case DataType::kFloat:
      return WriteRunOf<float>(p, t, i0, n, f);
    case DataType::kDouble:
      return WriteRunOf<double>(p, t, i0, n, f);
    case DataType::kFloat16:
      return WriteRunOf<uint16_t>(p, t, i0, n, [](char* q, uint16_t v) { return WriteFloat(q, HalfToFloat(v)); });
    case DataType::kBFloat16:
      return WriteRunOf<uint16_t>(p, t, i0, n, [](char* q, uint16_t v) { return WriteFloat(q, BFloat16ToFloat(v)); });
    case DataType::kInt8:
      return WriteRunOf<int8_t>(p, t, i0, n, i);
    case DataType::kInt16:
      return WriteRunOf<int16_t>(p, t, i0, n, i);
    case DataType::kInt32:
      return WriteRunOf<int32_t>(p, t, i0, n, i);
    case DataType::kInt64:
      return WriteRunOf<int64_t>(p, t, i0, n, i);
    case DataType::kUInt8:
      return WriteRunOf<uint8_t>(p, t, i0, n, i);
    case DataType::kUInt16:
      return WriteRunOf<uint16_t>(p, t, i0, n, i);
    case DataType::kUInt32:
      return WriteRunOf<uint32_t>(p, t, i0, n, i);
    case DataType::kUInt64:
      return WriteRunOf<uint64_t>(p, t, i0, n, i);
    case DataType::kBool:
      return WriteRunOf<uint8_t>(p, t, i0, n, [](char* q, uint8_t v) {
        std::memcpy(q, v ? "true" : "false", v ? 4 : 5);
        return q + (v ? 4 : 5);
      });
    default:
      for (int64_t k = 0; k < n; ++k) {
        if (k) *p++ = ',';
        std::memcpy(p, "null", 4);
        p += 4;
      }
      return p;
  }
}

// Appends elements [i0, i0 + n) comma-separated. Sizes the string for the worst case of a chunk, writes
// through a pointer, then trims: no per-element append.
void AppendRun(std::string* out, const TensorView& t, int64_t i0, int64_t n) {
  constexpr int64_t kChunk = 4096;
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t m = std::min(kChunk, n - done);
    const size_t old = out->size();
    out->resize(old + static_cast<size_t>(m + 1) * kMaxElementChars);
    char* p = out->data() + old;
    if (done) *p++ = ',';
    char* end = WriteRun(p, t, i0 + done, m);
    out->resize(static_cast<size_t>(end - out->data()));
  }
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t run = 0;  // s[run, i) is plain text not yet appended
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (size_t n = Utf8SequenceLength(s.substr(i)); n > 0) {
        i += n;
        continue;
      }
    }
    out->append(s.data() + run, i - run);
    if (c >= 0x80) {
      // An invalid sequence: one U+FFFD for the lead byte and the continuation bytes that follow it.
      out->append("\xEF\xBF\xBD");
      ++i;
      if (c >= 0xC2 && c <= 0xF4) {
        const size_t want = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
        for (size_t k = 0; k < want && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; ++k) ++i;
      }
    } else {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out->append(esc, 6);
        }
      }
      ++i;
    }
    run = i;
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

bool IsJsonWritable(DataType dtype) {
  return dtype != DataType::kString && dtype != DataType::kUndefined && DataTypeSize(dtype) > 0;
}

void AppendJsonElement(std::string* out, const TensorView& t, int64_t i) { AppendRun(out, t, i, 1); }

void AppendNestedJson(std::string* out, const TensorView& t, size_t dim, int64_t offset) {
  if (dim == t.shape.size()) return AppendRun(out, t, offset, 1);
  out->push_back('[');
  if (dim + 1 == t.shape.size()) {
    AppendRun(out, t, offset, t.shape[dim]);
  } else {
    int64_t inner = 1;
    for (size_t d = dim + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
    for (int64_t k = 0; k < t.shape[dim]; ++k) {
      if (k) out->push_back(',');
      AppendNestedJson(out, t, dim + 1, offset + k * inner);
    }
  }
  out->push_back(']');
}

void AppendFlatJson(std::string* out, const TensorView& t) {
  out->push_back('[');
  AppendRun(out, t, 0, t.numel());
  out->push_back(']');
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  float f;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in float.
    f = std::ldexp(static_cast<float>(mant), -24);
    if (sign) f = -f;
    return f;
  }
  uint32_t bits;
  if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

float BFloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace ferry::protocol
