#include "protocol/json_values.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace ferry::protocol {
namespace {

template <DataType D>
struct StorageOf;
template <>
struct StorageOf<DataType::kFloat> {
  using type = float;
};
template <>
struct StorageOf<DataType::kDouble> {
  using type = double;
};
template <>
struct StorageOf<DataType::kInt8> {
  using type = int8_t;
};
template <>
struct StorageOf<DataType::kInt16> {
  using type = int16_t;
};
template <>
struct StorageOf<DataType::kInt32> {
  using type = int32_t;
};
template <>
struct StorageOf<DataType::kInt64> {
  using type = int64_t;
};
template <>
struct StorageOf<DataType::kUInt8> {
  using type = uint8_t;
};
template <>
struct StorageOf<DataType::kUInt16> {
  using type = uint16_t;
};
template <>
struct StorageOf<DataType::kUInt32> {
  using type = uint32_t;
};
template <>
struct StorageOf<DataType::kUInt64> {
  using type = uint64_t;
};
template <>
struct StorageOf<DataType::kBool> {
  using type = uint8_t;  // one byte per bool, 0 or 1
};
template <DataType D>
using StorageT = typename StorageOf<D>::type;

template <DataType D>
using Tag = std::integral_constant<DataType, D>;

// Calls fn(Tag<D>{}) for the readable dtype D; Unimplemented for the others.
template <typename Fn>
Status Dispatch(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kFloat:
      return fn(Tag<DataType::kFloat>{});
    case DataType::kDouble:
      return fn(Tag<DataType::kDouble>{});
    case DataType::kInt8:
      return fn(Tag<DataType::kInt8>{});
    case DataType::kInt16:
      return fn(Tag<DataType::kInt16>{});
    case DataType::kInt32:
      return fn(Tag<DataType::kInt32>{});
    case DataType::kInt64:
      return fn(Tag<DataType::kInt64>{});
    case DataType::kUInt8:
      return fn(Tag<DataType::kUInt8>{});
    case DataType::kUInt16:
      return fn(Tag<DataType::kUInt16>{});
    case DataType::kUInt32:
      return fn(Tag<DataType::kUInt32>{});
    case DataType::kUInt64:
      return fn(Tag<DataType::kUInt64>{});
    case DataType::kBool:
      return fn(Tag<DataType::kBool>{});
    default:
      return Unimplemented("Conversion of JSON values to type: {} is not supported", DataTypeName(dtype));
  }
}

// Stores the number if it converts to D (see the rules in the header); false otherwise, *out untouched.
template <DataType D>
inline bool ConvertNumber(const JsonNumber& n, StorageT<D>* out) {
  using T = StorageT<D>;
  if constexpr (D == DataType::kFloat) {
    *out = static_cast<float>(n.ToDouble());
    return true;
  } else if constexpr (D == DataType::kDouble) {
    *out = n.ToDouble();
    return true;
  } else if constexpr (D == DataType::kBool) {
    return false;
  } else if constexpr (std::is_signed_v<T>) {
    int64_t v;
    if (!n.ToInt64(&v) || v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(v);
    return true;
  } else {
    uint64_t v;
    if (!n.ToUInt64(&v) || v > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(v);
    return true;
  }
}

// 10^0 .. 10^22, exact in double.
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Eight ASCII bytes as a little-endian word: whether all are digits, and their value (the SWAR technique of
// fast_float and simdjson: two multiplications instead of eight dependent steps).
inline uint64_t Load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline bool EightDigits(uint64_t v) {
  return ((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ==
         0x3333333333333333ull;
}
inline uint64_t EightDigitsValue(uint64_t v) {
  v -= 0x3030303030303030ull;
  v = v * 10 + (v >> 8);  // pairs of digits
  return (((v & 0x000000FF000000FFull) * 0x000F424000000064ull) +
          (((v >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >>
         32;
}

// Reads the digit run at q into *m (m = m * 10^k + run) and counts its digits into *count; stops early once the
// count passes 19 (the caller then gives up on the token; *m may have wrapped by then).
inline const char* ReadDigitRun(const char* q, const char* end, uint64_t* m, int* count) {
  if constexpr (std::endian::native == std::endian::little) {
    while (end - q >= 8 && *count <= 19) {
      const uint64_t v = Load8(q);
      if (!EightDigits(v)) break;
      *m = *m * 100000000 + EightDigitsValue(v);
      *count += 8;
      q += 8;
    }
  }
  while (q < end && *q >= '0' && *q <= '9' && *count <= 19) {
    *m = *m * 10 + static_cast<uint64_t>(*q++ - '0');
    ++*count;
  }
  return q;
}

// The common float token, "[-]digits[.digits]" with at most 19 digits in all and no exponent (0.123456, 12.5,
// 3, 0.22806024551391602): value = m / 10^fraction_digits. Returns the end of the token, or nullptr for any
// other token (storing nothing).
struct PlainDecimal {
  uint64_t m = 0;
  int digits = 0;    // digit characters, leading zeros included
  int fraction = 0;  // of them after the point
  bool negative = false;
};
inline const char* ScanPlainDecimal(const char* p, const char* end, PlainDecimal* out) {
  const char* q = p;
  out->negative = q < end && *q == '-';
  q += out->negative;
  if (q >= end || *q < '0' || *q > '9') return nullptr;
  if (*q == '0') {
    ++q;
    out->digits = 1;
  } else {
    q = ReadDigitRun(q, end, &out->m, &out->digits);
  }
  if (q < end && *q == '.') {
    const int before = out->digits;
    q = ReadDigitRun(q + 1, end, &out->m, &out->digits);
    out->fraction = out->digits - before;
    if (out->fraction == 0) return nullptr;
  }
  if (out->digits > 19 || (q < end && ((*q >= '0' && *q <= '9') || *q == 'e' || *q == 'E'))) return nullptr;
  return q;
}

// As a double: exact for up to 15 digits (m and 10^fraction below 2^53, so one division rounds correctly: the
// double JsonNumber::ToDouble gives). nullptr for longer tokens.
inline const char* ReadPlainDecimal(const char* p, const char* end, double* out) {
  PlainDecimal t;
  const char* q = ScanPlainDecimal(p, end, &t);
  if (q == nullptr || t.digits > 15) return nullptr;
  const double d = static_cast<double>(t.m) / kPow10[t.fraction];
  *out = t.negative ? -d : d;
  return q;
}

// As a float, the value static_cast<float>(JsonNumber::ToDouble()) gives, for up to 19 digits (what printing a
// float32 as a double gives: 0.22806024551391602). Past 15 digits m / 10^f is computed inexactly, within 3 ulps
// of the correctly rounded double; rounding that to float gives the same float unless a float rounding boundary
// (a midpoint between two floats: the double's low 29 mantissa bits are 1 << 28) lies within those ulps, and
// those rare tokens go the exact way (nullptr). The value is in [1e-19, 1e19]: a normal float.
inline const char* ReadPlainDecimal(const char* p, const char* end, float* out) {
  PlainDecimal t;
  const char* q = ScanPlainDecimal(p, end, &t);
  if (q == nullptr) return nullptr;
  const double d = static_cast<double>(t.m) / kPow10[t.fraction];
  if (t.digits > 15 && t.m != 0) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    const int64_t low = static_cast<int64_t>(bits & ((uint64_t{1} << 29) - 1));
    if (std::abs(low - (int64_t{1} << 28)) <= 16) return nullptr;
  }
  const float f = static_cast<float>(d);
  *out = t.negative ? -f : f;
  return q;
}

// The fast path for one leaf: reads the value at p if it is one that converts to D and returns the end of its
// token; otherwise returns nullptr and consumes nothing (the caller takes the slow path for the message).
template <DataType D>
inline const char* ReadLeaf(const char* p, const char* end, StorageT<D>* out) {
  if (p >= end) return nullptr;
  if constexpr (D == DataType::kFloat || D == DataType::kDouble) {
    if (const char* q = ReadPlainDecimal(p, end, out)) return q;
  }
  if constexpr (D == DataType::kBool) {
    if (end - p >= 4 && std::memcmp(p, "true", 4) == 0) {
      *out = 1;
      return p + 4;
    }
    if (end - p >= 5 && std::memcmp(p, "false", 5) == 0) {
      *out = 0;
      return p + 5;
    }
    return nullptr;
  } else {
    const char c = *p;
    if (!((c >= '0' && c <= '9') || c == '-' || c == 'N' || c == 'I')) return nullptr;
    JsonNumber n;
    const char* error = nullptr;
    const char* q = ScanJsonNumber(p, end, &n, &error);
    if (q == nullptr || !ConvertNumber<D>(n, out)) return nullptr;
    return q;
  }
}

// After a leaf ending at q: while ", <leaf that converts>" follows and fewer than `room` more are wanted,
// stores them at out[0..] and returns how many; *q moves past the last one. Keeps the cursor out of the
// reader's structural calls for the common run of plain numbers.
template <DataType D>
inline int64_t ReadLeafRun(const char** q, const char* end, StorageT<D>* out, int64_t room) {
  int64_t n = 0;
  const char* p = *q;
  while (n < room) {
    const char* s = p;
    while (s < end && JsonReader::IsSpace(*s)) ++s;
    if (s == end || *s != ',') break;
    ++s;
    while (s < end && JsonReader::IsSpace(*s)) ++s;
    const char* t = ReadLeaf<D>(s, end, out + n);
    if (t == nullptr) break;
    p = t;
    ++n;
  }
  *q = p;
  return n;
}

// A whole list of exactly n leaves that convert, "[v, v, ...]" at p (the '['): stores them at out[0, n) and
// returns the end of the list; nullptr for anything else (the general walk then reads it again and says why).
template <DataType D>
const char* ReadLeafList(const char* p, const char* end, int64_t n, StorageT<D>* out) {
  const char* q = p + 1;
  for (int64_t k = 0; k < n; ++k) {
    while (q < end && JsonReader::IsSpace(*q)) ++q;
    if (k > 0) {
      if (q == end || *q != ',') return nullptr;
      ++q;
      while (q < end && JsonReader::IsSpace(*q)) ++q;
    }
    q = ReadLeaf<D>(q, end, out + k);
    if (q == nullptr) return nullptr;
  }
  while (q < end && JsonReader::IsSpace(*q)) ++q;
  return q < end && *q == ']' ? q + 1 : nullptr;
}

std::string ForMessage(std::string_view raw) {
  if (raw.size() > 48) return std::string(raw.substr(0, 45)) + "...";
  return std::string(raw);
}

Status TypeError(std::string_view raw, std::string_view kind, DataType dtype) {
  return InvalidArgument("JSON value {} of kind {} is not of expected type: {}", ForMessage(raw), kind,
                         DataTypeName(dtype));
}

template <DataType D>
Status StoreNumber(const JsonNumber& n, void* dst) {
  StorageT<D> v;
  if (ConvertNumber<D>(n, &v)) {
    std::memcpy(dst, &v, sizeof(v));
    return Status::Ok();
  }
  if (D == DataType::kBool || n.KindName() != "integer") return TypeError(n.text, n.KindName(), D);
  return InvalidArgument("JSON value {} is out of range for type: {}", ForMessage(n.text), DataTypeName(D));
}

template <DataType D>
class LeafFiller {
 public:
  using T = StorageT<D>;
  LeafFiller(JsonReader* r, void* dst, int64_t capacity) : r_(r), dst_(static_cast<T*>(dst)), capacity_(capacity) {}

  Status Value() {
    r_->SkipWhitespace();
    if (r_->cursor() < r_->end() && *r_->cursor() == '[') return Array();
    return Leaf();
  }
  int64_t count() const { return count_; }
  Status error() const { return error_; }

 private:
  Status Array() {
    FERRY_RETURN_IF_ERROR(r_->EnterArray());
    for (size_t i = 0;; ++i) {
      bool more;
      FERRY_RETURN_IF_ERROR(r_->NextElement(i, &more));
      if (!more) return Status::Ok();
      r_->SkipWhitespace();
      const char* p = r_->cursor();
      if (p < r_->end() && *p == '[') {
        FERRY_RETURN_IF_ERROR(Array());
        continue;
      }
      if (storing_ && count_ < capacity_) {
        const char* q = ReadLeaf<D>(p, r_->end(), dst_ + count_);
        if (q != nullptr) {
          ++count_;
          const int64_t run = ReadLeafRun<D>(&q, r_->end(), dst_ + count_, capacity_ - count_);
          count_ += run;
          i += static_cast<size_t>(run);
          r_->set_cursor(q);
          continue;
        }
      }
      FERRY_RETURN_IF_ERROR(Leaf());
    }
  }

  Status Leaf() {
    if (!storing_ || count_ >= capacity_) {
      // Past the capacity the count is wrong anyway, and that is reported before any element.
      FERRY_RETURN_IF_ERROR(r_->SkipValue());
      ++count_;
      return Status::Ok();
    }
    // The slow path of a leaf that ReadLeaf refused: the whole value first (a syntax error wins), then the
    // conversion's message (or its value, if it converts after all).
    std::string_view raw;
    FERRY_RETURN_IF_ERROR(r_->SkipValue(&raw));
    JsonReader leaf = r_->Sub(raw);
    Status s = ReadJsonElement(&leaf, D, dst_ + count_);
    if (!s.ok()) {
      error_ = s.WithContext(fmt::format("element {}", count_));
      storing_ = false;
    }
    ++count_;
    return Status::Ok();
  }

  JsonReader* r_;
  T* dst_;
  int64_t capacity_;
  int64_t count_ = 0;
  bool storing_ = true;
  Status error_;
};

template <DataType D>
class DenseFiller {
 public:
  using T = StorageT<D>;
  DenseFiller(JsonReader* r, const Shape& shape, void* dst, int64_t* index)
      : r_(r), shape_(shape), dst_(static_cast<T*>(dst)), index_(index) {}

  Status Value(size_t level) {
    r_->SkipWhitespace();
    const char* p = r_->cursor();
    const char* end = r_->end();
    const bool is_array = p < end && *p == '[';
    if (level == shape_.size()) {
      if (is_array) return Fail(InvalidArgument("list found at incorrect level (expected a value at depth {})", level));
      const char* q = ReadLeaf<D>(p, end, dst_ + *index_);
      if (q != nullptr) {
        r_->set_cursor(q);
        ++*index_;
        return Status::Ok();
      }
      std::string_view raw;
      FERRY_RETURN_IF_ERROR(r_->SkipValue(&raw));
      JsonReader leaf = r_->Sub(raw);
      Status s = ReadJsonElement(&leaf, D, dst_ + *index_);
      if (!s.ok()) return Fail(s.WithContext(fmt::format("element {}", *index_)));
      ++*index_;
      return Status::Ok();
    }
    if (!is_array) {
      return Fail(InvalidArgument("value found at incorrect level (expected a list of size {} at depth {})",
                                  shape_[level], level));
    }
    if (level + 1 == shape_.size() && r_->depth() < kMaxJsonDepth) {
      // The innermost lists (a pixel's channels, a row of features) in one go.
      if (const char* q = ReadLeafList<D>(p, end, shape_[level], dst_ + *index_)) {
        r_->set_cursor(q);
        *index_ += shape_[level];
        return Status::Ok();
      }
    }
    path_.push_back({p, r_->depth(), level});
    FERRY_RETURN_IF_ERROR(r_->EnterArray());
    const int64_t expected = shape_[level];
    const bool leaves = level + 1 == shape_.size();
    int64_t n = 0;
    while (true) {
      bool more;
      FERRY_RETURN_IF_ERROR(r_->NextElement(static_cast<size_t>(n), &more));
      if (!more) break;
      if (n == expected) return Fail(Status());  // too long: Fail measures it
      if (leaves) {
        r_->SkipWhitespace();
        const char* q = ReadLeaf<D>(r_->cursor(), end, dst_ + *index_);
        if (q != nullptr) {
          ++*index_;
          const int64_t run = ReadLeafRun<D>(&q, end, dst_ + *index_, expected - n - 1);
          *index_ += run;
          n += 1 + run;
          r_->set_cursor(q);
          continue;
        }
      }
      FERRY_RETURN_IF_ERROR(Value(level + 1));
      ++n;
    }
    if (n != expected) return Fail(Status());
    path_.pop_back();
    return Status::Ok();
  }

 private:
  struct OpenList {
    const char* start;
    int depth;
    size_t level;
  };

  // TF Serving checks a list's size on entry, before anything inside it, so an error inside a ragged list
  // (or the raggedness itself, found at its end) is reported as the outermost ragged list on the path.
  Status Fail(Status inner) {
    for (const OpenList& open : path_) {
      JsonReader list = r_->Sub(std::string_view(open.start, r_->end() - open.start), open.depth);
      FERRY_RETURN_IF_ERROR(list.EnterArray());
      int64_t size = 0;
      while (true) {
        bool more;
        FERRY_RETURN_IF_ERROR(list.NextElement(static_cast<size_t>(size), &more));
        if (!more) break;
        FERRY_RETURN_IF_ERROR(list.SkipValue());
        ++size;
      }
      if (size != shape_[open.level]) {
        return InvalidArgument("Encountered list at unexpected size: {} expecting: {} at depth {} (ragged list)", size,
                               shape_[open.level], open.level);
      }
    }
    if (inner.ok()) return Internal("protocol codec: ragged list not found again");
    return inner;
  }

  JsonReader* r_;
  const Shape& shape_;
  T* dst_;
  int64_t* index_;
  std::vector<OpenList> path_;
};

Status NestedShape(JsonReader* r, Shape* shape, size_t level) {
  if (r->Peek() != JsonKind::kArray) return r->SkipValue();
  shape->push_back(0);
  FERRY_RETURN_IF_ERROR(r->EnterArray());
  int64_t n = 0;
  while (true) {
    bool more;
    FERRY_RETURN_IF_ERROR(r->NextElement(static_cast<size_t>(n), &more));
    if (!more) break;
    FERRY_RETURN_IF_ERROR(n == 0 ? NestedShape(r, shape, level + 1) : r->SkipValue());
    ++n;
  }
  (*shape)[level] = n;
  return Status::Ok();
}

}  // namespace

std::string_view JsonValueKindName(JsonReader r) {
  const JsonKind kind = r.Peek();
  if (kind == JsonKind::kNumber) {
    JsonNumber n;
    if (r.ReadNumber(&n).ok()) return n.KindName();
  }
  return JsonKindName(kind);
}

bool IsJsonReadable(DataType dtype) { return IsPlainNumericType(dtype) || dtype == DataType::kBool; }

Status ReadJsonElement(JsonReader* r, DataType dtype, void* dst) {
  if (!IsJsonReadable(dtype)) {
    return Unimplemented("Conversion of JSON values to type: {} is not supported", DataTypeName(dtype));
  }
  const JsonKind kind = r->Peek();
  if (kind == JsonKind::kNumber) {
    JsonNumber n;
    FERRY_RETURN_IF_ERROR(r->ReadNumber(&n));
    return Dispatch(dtype, [&](auto tag) { return StoreNumber<decltype(tag)::value>(n, dst); });
  }
  if (kind == JsonKind::kBool) {
    bool b;
    FERRY_RETURN_IF_ERROR(r->ReadBool(&b));
    if (dtype != DataType::kBool) return TypeError(b ? "true" : "false", "bool", dtype);
    const uint8_t v = b ? 1 : 0;
    std::memcpy(dst, &v, 1);
    return Status::Ok();
  }
  std::string_view raw;
  FERRY_RETURN_IF_ERROR(r->SkipValue(&raw));
  return TypeError(raw, JsonKindName(kind), dtype);
}

Status FillJsonLeaves(JsonReader* r, DataType dtype, void* dst, int64_t capacity, int64_t* count,
                      Status* element_error) {
  return Dispatch(dtype, [&](auto tag) -> Status {
    LeafFiller<decltype(tag)::value> filler(r, dst, capacity);
    FERRY_RETURN_IF_ERROR(filler.Value());
    *count = filler.count();
    *element_error = filler.error();
    return Status::Ok();
  });
}

Status ReadJsonNestedShape(JsonReader* r, Shape* shape) {
  shape->clear();
  return NestedShape(r, shape, 0);
}

Status FillJsonDense(JsonReader* r, const Shape& shape, DataType dtype, void* dst, int64_t* index) {
  return Dispatch(dtype, [&](auto tag) -> Status {
    DenseFiller<decltype(tag)::value> filler(r, shape, dst, index);
    return filler.Value(0);
  });
}

}  // namespace ferry::protocol
