#include "protocol/json_util.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace ferry::protocol {
namespace {

// What ParseJson puts in place of the bare non-finite tokens. The leading \u0001 keeps them apart from any
// string a client would plausibly send; they are only read back where a float is expected.
constexpr std::string_view kNanMarker =
    "\x01"
    "ferry:NaN";
constexpr std::string_view kInfMarker =
    "\x01"
    "ferry:Infinity";
constexpr std::string_view kNegInfMarker =
    "\x01"
    "ferry:-Infinity";

constexpr std::string_view kNanToken = "NaN";
constexpr std::string_view kInfToken = "Infinity";
constexpr std::string_view kNegInfToken = "-Infinity";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One pass over the text: checks the nesting depth and rewrites the non-finite tokens (outside strings) into
// marker strings. `rewritten` stays empty when there was nothing to rewrite.
Status ScanJson(std::string_view text, std::string* rewritten) {
  int depth = 0;
  bool in_string = false;
  size_t copied = 0;  // text[0, copied) is already in *rewritten
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return InvalidArgument("JSON nesting depth exceeds maximum allowed limit ({})", kMaxJsonDepth);
      }
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == 'N' || c == 'I' || c == '-') {
      std::string_view rest = text.substr(i);
      std::string_view token, marker;
      if (rest.starts_with(kNanToken)) {
        token = kNanToken, marker = "\"\\u0001ferry:NaN\"";
      } else if (rest.starts_with(kInfToken)) {
        token = kInfToken, marker = "\"\\u0001ferry:Infinity\"";
      } else if (rest.starts_with(kNegInfToken)) {
        token = kNegInfToken, marker = "\"\\u0001ferry:-Infinity\"";
      } else {
        continue;
      }
      rewritten->append(text.substr(copied, i - copied));
      rewritten->append(marker);
      i += token.size() - 1;
      copied = i + 1;
    }
  }
  if (copied > 0) rewritten->append(text.substr(copied));
  return Status::Ok();
}

std::string ShortDump(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 48) s = s.substr(0, 45) + "...";
  return s;
}

Status TypeError(const Json& j, DataType dtype) {
  return InvalidArgument("JSON value {} of kind {} is not of expected type: {}", ShortDump(j), JsonKindName(j),
                         DataTypeName(dtype));
}

bool MarkerValue(const Json& j, double* value) {
  if (!j.is_string()) return false;
  const std::string& s = j.get_ref<const std::string&>();
  if (s == kNanMarker) {
    *value = std::numeric_limits<double>::quiet_NaN();
  } else if (s == kInfMarker) {
    *value = std::numeric_limits<double>::infinity();
  } else if (s == kNegInfMarker) {
    *value = -std::numeric_limits<double>::infinity();
  } else {
    return false;
  }
  return true;
}

template <typename T>
Status StoreInteger(const Json& j, DataType dtype, void* dst) {
  if (!j.is_number_integer()) return TypeError(j, dtype);
  T v;
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return InvalidArgument("JSON value {} is out of range for type: {}", u, DataTypeName(dtype));
    }
    v = static_cast<T>(u);
  } else {
    int64_t s = j.get<int64_t>();
    if constexpr (std::is_signed_v<T>) {
      if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max()) {
        return InvalidArgument("JSON value {} is out of range for type: {}", s, DataTypeName(dtype));
      }
    } else {
      if (s < 0 || static_cast<uint64_t>(s) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return InvalidArgument("JSON value {} is out of range for type: {}", s, DataTypeName(dtype));
      }
    }
    v = static_cast<T>(s);
  }
  std::memcpy(dst, &v, sizeof(T));
  return Status::Ok();
}

template <typename T>
void AppendFloat(std::string* out, T v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  std::string_view s(buf, r.ptr - buf);
  out->append(s);
  // A whole number keeps a ".0" so that readers see a float (TF Serving's and rapidjson's convention).
  if (s.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

template <typename T>
void AppendInteger(std::string* out, T v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr - buf);
}

template <typename T>
T Load(const TensorView& t, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(t.data) + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace

Result<Json> ParseJson(std::string_view text) {
  size_t first = 0;
  while (first < text.size() && IsSpace(text[first])) ++first;
  if (first == text.size()) return InvalidArgument("JSON Parse error: The document is empty");
  std::string rewritten;
  FERRY_RETURN_IF_ERROR(ScanJson(text, &rewritten));
  std::string_view input = rewritten.empty() ? text : std::string_view(rewritten);
  try {
    return Json::parse(input.begin(), input.end());
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    size_t pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    return InvalidArgument("JSON Parse error: {} at offset: {}", what, e.byte);
  } catch (const std::exception& e) {
    return InvalidArgument("JSON Parse error: {}", e.what());
  }
}

std::string_view JsonKindName(const Json& j) {
  double unused;
  if (MarkerValue(j, &unused)) return "number";
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

Status StoreJsonElement(const Json& j, DataType dtype, void* dst) {
  switch (dtype) {
    case DataType::kFloat:
    case DataType::kDouble: {
      double v;
      if (!MarkerValue(j, &v)) {
        if (!j.is_number()) return TypeError(j, dtype);
        v = j.get<double>();
      }
      if (dtype == DataType::kDouble) {
        std::memcpy(dst, &v, sizeof(v));
      } else {
        // IEEE conversion: values past the float range become +-inf, as in TF Serving.
        float f = static_cast<float>(v);
        std::memcpy(dst, &f, sizeof(f));
      }
      return Status::Ok();
    }
    case DataType::kInt8:
      return StoreInteger<int8_t>(j, dtype, dst);
    case DataType::kInt16:
      return StoreInteger<int16_t>(j, dtype, dst);
    case DataType::kInt32:
      return StoreInteger<int32_t>(j, dtype, dst);
    case DataType::kInt64:
      return StoreInteger<int64_t>(j, dtype, dst);
    case DataType::kUInt8:
      return StoreInteger<uint8_t>(j, dtype, dst);
    case DataType::kUInt16:
      return StoreInteger<uint16_t>(j, dtype, dst);
    case DataType::kUInt32:
      return StoreInteger<uint32_t>(j, dtype, dst);
    case DataType::kUInt64:
      return StoreInteger<uint64_t>(j, dtype, dst);
    case DataType::kBool: {
      if (!j.is_boolean()) return TypeError(j, dtype);
      uint8_t b = j.get<bool>() ? 1 : 0;
      std::memcpy(dst, &b, 1);
      return Status::Ok();
    }
    default:
      return Unimplemented("Conversion of JSON values to type: {} is not supported", DataTypeName(dtype));
  }
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->append(Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace));
}

bool IsJsonWritable(DataType dtype) {
  return dtype != DataType::kString && dtype != DataType::kUndefined && DataTypeSize(dtype) > 0;
}

void AppendJsonElement(std::string* out, const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DataType::kFloat:
      return AppendFloat(out, Load<float>(t, i));
    case DataType::kDouble:
      return AppendFloat(out, Load<double>(t, i));
    case DataType::kFloat16:
      return AppendFloat(out, HalfToFloat(Load<uint16_t>(t, i)));
    case DataType::kBFloat16:
      return AppendFloat(out, BFloat16ToFloat(Load<uint16_t>(t, i)));
    case DataType::kInt8:
      return AppendInteger(out, Load<int8_t>(t, i));
    case DataType::kInt16:
      return AppendInteger(out, Load<int16_t>(t, i));
    case DataType::kInt32:
      return AppendInteger(out, Load<int32_t>(t, i));
    case DataType::kInt64:
      return AppendInteger(out, Load<int64_t>(t, i));
    case DataType::kUInt8:
      return AppendInteger(out, Load<uint8_t>(t, i));
    case DataType::kUInt16:
      return AppendInteger(out, Load<uint16_t>(t, i));
    case DataType::kUInt32:
      return AppendInteger(out, Load<uint32_t>(t, i));
    case DataType::kUInt64:
      return AppendInteger(out, Load<uint64_t>(t, i));
    case DataType::kBool:
      out->append(Load<uint8_t>(t, i) ? "true" : "false");
      return;
    default:
      out->append("null");
      return;
  }
}

void AppendNestedJson(std::string* out, const TensorView& t, size_t dim, int64_t offset) {
  if (dim == t.shape.size()) return AppendJsonElement(out, t, offset);
  int64_t inner = 1;
  for (size_t d = dim + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
  out->push_back('[');
  for (int64_t k = 0; k < t.shape[dim]; ++k) {
    if (k) out->push_back(',');
    AppendNestedJson(out, t, dim + 1, offset + k * inner);
  }
  out->push_back(']');
}

void AppendFlatJson(std::string* out, const TensorView& t) {
  out->push_back('[');
  int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (i) out->push_back(',');
    AppendJsonElement(out, t, i);
  }
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
