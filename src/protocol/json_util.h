// JSON helpers shared by the protocol codecs. Internal to src/protocol: nothing outside this module includes
// nlohmann, so this header is the only place its types appear, and no nlohmann exception leaves json_util.cc or
// the codecs that call it.
//
// Both reference servers (TF Serving, Triton) read and write the non-standard tokens NaN, Infinity and -Infinity
// for non-finite floats; ParseJson accepts them and the writers emit them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/tensor.h"

namespace ferry::protocol {

using Json = nlohmann::json;

// Deeper nesting is refused before parsing (Triton's limit), so no walk over a parsed value can blow the stack.
inline constexpr int kMaxJsonDepth = 100;

// Parses `text` as exactly one JSON value (trailing whitespace allowed). NaN, Infinity and -Infinity outside
// strings are accepted and become marker strings that StoreJsonElement reads as floats. Errors are
// InvalidArgument: "JSON Parse error: The document is empty", "JSON Parse error: <what> at offset: N", or
// "JSON nesting depth exceeds maximum allowed limit (100)".
Result<Json> ParseJson(std::string_view text);

// Short description of a JSON value's kind for messages: "string", "object", "array", "bool", "null",
// "integer", "number".
std::string_view JsonKindName(const Json& j);

// Converts the scalar `j` to one element of `dtype` and stores it at `dst`.
// Floats accept any number (out-of-range values become +-inf); integer types accept only JSON integers that
// fit the type; bool accepts only true/false. Returns InvalidArgument "JSON value <v> of kind <k> is not of
// expected type: <dtype>" (or "... out of range for ...") otherwise. kFloat16/kBFloat16/kString are refused
// with Unimplemented.
// REQUIRES: dst points at DataTypeSize(dtype) writable bytes.
Status StoreJsonElement(const Json& j, DataType dtype, void* dst);

// Appends `s` as a quoted JSON string (invalid UTF-8 is replaced, never thrown on).
void AppendJsonString(std::string* out, std::string_view s);
// Appends element `i` of `t` as a JSON scalar: floats shortest round-trip with a ".0" on whole numbers
// (NaN/Infinity/-Infinity as bare tokens), integers as integers, bools as true/false; float16/bfloat16 are
// widened to float. REQUIRES: IsJsonWritable(t.dtype).
void AppendJsonElement(std::string* out, const TensorView& t, int64_t i);
// Appends elements [offset, offset + prod(shape[dim:])) of `t` as nested lists following t.shape[dim:].
// REQUIRES: IsJsonWritable(t.dtype), dim <= rank.
void AppendNestedJson(std::string* out, const TensorView& t, size_t dim, int64_t offset);
// Appends every element of `t` as one flat list.
void AppendFlatJson(std::string* out, const TensorView& t);
bool IsJsonWritable(DataType dtype);

// Runs fn() and turns an exception that escaped it into an Internal status, so that none crosses the module
// boundary. The codecs check a value's kind before every nlohmann call that could throw; this is the backstop
// for a mistake in those checks (and for std::bad_alloc).
template <typename Fn>
auto GuardExceptions(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Internal("protocol codec: unexpected exception: {}", e.what());
  }
}

// float16 / bfloat16 bit patterns to float (exact).
float HalfToFloat(uint16_t h);
float BFloat16ToFloat(uint16_t b);

}  // namespace ferry::protocol
