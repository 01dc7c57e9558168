// JSON writing helpers shared by the protocol encoders, without a DOM: tensors are written element by element
// straight into the response string. Internal to src/protocol (reading lives in json_reader.h and
// json_values.h).
//
// Both reference servers (TF Serving, Triton) write the non-standard tokens NaN, Infinity and -Infinity for
// non-finite floats; so do these writers.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "ferry/status.h"
#include "ferry/tensor.h"

namespace ferry::protocol {

// Appends `s` as a quoted JSON string: '"', '\\' and control characters escaped (\n, \u001f, ...), other
// bytes as they are; each invalid UTF-8 sequence becomes U+FFFD, so the output is always valid UTF-8.
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

// Runs fn() and turns an exception that escaped it (std::bad_alloc from a huge request, or a bug) into an
// Internal status, so that none crosses the module boundary. Nothing in this module throws on purpose.
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
