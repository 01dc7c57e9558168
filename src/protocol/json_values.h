// Typed reads of JSON values into tensor elements: the codecs' hot path. Numbers go from the request text
// straight into the tensor buffer (no DOM, no intermediate double array). Internal to src/protocol.
//
// Conversion rules (TF Serving's json_tensor.cc; Triton rejects the same kinds):
//   float/double  any number, NaN/Infinity/-Infinity included; parsed to the nearest double (as strtod), then
//                 rounded to float (values past float's range become +-inf);
//   integer types only JSON integers (no fraction, no exponent) that fit the type;
//   bool          only true/false.
// Errors are InvalidArgument "JSON value <v> of kind <k> is not of expected type: <dtype>" or "JSON value <v>
// is out of range for type: <dtype>" (<v> is the value as sent, cut to 48 bytes; <k> is "integer" for
// integers that fit 64 bits, else "number", "string", "bool", "null", "array", "object").
// float16, bfloat16 and string elements cannot be read from JSON: Unimplemented.
//
// Every function reads at the reader's cursor and moves it past what it read. They are safe on any text (they
// check the grammar as they go), but the codecs validate the whole document first so that a syntax error
// anywhere wins over a type error, as with a DOM parser.
#pragma once

#include <cstdint>

#include "ferry/dtype.h"
#include "ferry/status.h"
#include "ferry/tensor.h"
#include "protocol/json_reader.h"

namespace ferry::protocol {

// The kind of the value at r's cursor for messages: JsonKindName, but "integer" for an integer that fits
// 64 bits (as the element errors say). Takes the reader by value: the caller's cursor does not move.
std::string_view JsonValueKindName(JsonReader r);

// True for the types the reads below store (every numeric type but float16/bfloat16, and bool).
bool IsJsonReadable(DataType dtype);

// Reads one value and stores it as one `dtype` element at dst. REQUIRES: dst holds DataTypeSize(dtype) bytes.
Status ReadJsonElement(JsonReader* r, DataType dtype, void* dst);

// Triton's "data": every leaf (non-array value) of one value, nested arrays flattened in order. Stores the
// first `capacity` leaves at dst and counts all of them in *count. The first leaf that does not convert stops
// the stores and lands in *element_error (prefixed "element <i>"); counting goes on, because the count is
// checked before the elements. Returns non-OK only for a syntax error.
// REQUIRES: IsJsonReadable(dtype); dst holds capacity elements.
Status FillJsonLeaves(JsonReader* r, DataType dtype, void* dst, int64_t capacity, int64_t* count,
                      Status* element_error);

// TF Serving's instance shape: the size of the first list at each level, following first elements
// ([[1,2],[3]] -> [2, 2]; a scalar -> []). Reads the whole value.
Status ReadJsonNestedShape(JsonReader* r, Shape* shape);

// Writes the leaves of one value, which must follow `shape` exactly, at element *index onwards of dst, and
// advances *index. Errors, in TF Serving's words, as a walk that checks each list's size on entry finds them:
// "list found at incorrect level ...", "value found at incorrect level ...", "Encountered list at unexpected
// size: <n> expecting: <m> at depth <d> (ragged list)", or an element error prefixed "element <i>".
// REQUIRES: IsJsonReadable(dtype); dst holds *index + NumElements(shape) elements.
Status FillJsonDense(JsonReader* r, const Shape& shape, DataType dtype, void* dst, int64_t* index);

}  // namespace ferry::protocol
