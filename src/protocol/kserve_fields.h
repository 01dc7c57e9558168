// One pass over a KServe v2 infer request's JSON header, for kserve_codec.cc: checks the whole text as JSON,
// notes where each field the codec reads lies, and reads each input's "data" straight into a tensor when its
// "datatype" and "shape" come before it (as clients send them), so the bulk of the request is read once.
// The field checks run afterwards, in Triton's order, so that a syntax error anywhere still wins over any
// field error, as it did with a DOM parser. Internal to src/protocol.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"
#include "ferry/tensor.h"
#include "protocol/json_reader.h"

namespace ferry::protocol {

// Nesting depths of the fields: top-level members, and the members of an input or output object.
inline constexpr int kKsTopFieldDepth = 1;
inline constexpr int kKsElementFieldDepth = 3;

// An input's "data" read during the pass, for the dtype and shape its fields then had.
struct KsDataFill {
  DataType dtype = DataType::kUndefined;
  Shape shape;
  Tensor tensor;          // undefined when the data cannot hold the shape's elements (then only counted)
  Status allocate_error;  // the tensor could not be allocated
  int64_t count = 0;      // leaves found
  Status element_error;   // the first leaf that did not convert
};

// The text of each field of one element of "inputs"; for a name given twice, the last (as a DOM keeps it).
struct KsInputFields {
  bool is_object = false;
  std::optional<std::string_view> name, datatype, shape, parameters, data;
  std::optional<KsDataFill> fill;  // "data", when it was read in place
};

struct KsRequestFields {
  bool is_object = false;  // the top level; nothing else is set when it is not an object
  std::optional<std::string_view> id, parameters, outputs;
  bool has_inputs = false;
  bool inputs_is_array = false;
};

// Takes the elements of "inputs" one by one as the pass reads them, so that what a request costs in memory
// follows its valid inputs, not its element count.
class KsInputSink {
 public:
  // An "inputs" key: the elements that follow replace any before (a repeated key keeps its last value).
  virtual void BeginInputs() = 0;
  // Element `index` of the list.
  virtual void Input(size_t index, const KsInputFields& fields) = 0;

 protected:
  ~KsInputSink() = default;
};

// Fails only when `json` is not JSON (or nests too deep); everything else is for the caller to check.
Status ReadKsRequestFields(std::string_view json, KsRequestFields* out, KsInputSink* inputs);

// A reader over `raw`, a field's text inside `json`, at nesting `depth`.
JsonReader KsFieldReader(std::string_view json, std::string_view raw, int depth);

// Triton's message shape format: "[-1,16]".
std::string KsCompactShape(const Shape& s);

// A "shape" field: a list of non-negative integers whose product (zero dims aside) fits int64.
Result<Shape> ParseKsShape(JsonReader r, const std::string& input_name);

// Reads the "data" value at r's cursor (flat or nested: only the total count matters) into a new tensor. The
// tensor is allocated only when the data could hold its elements (each takes a byte of text at least; the
// value has at most `text_bytes`), so a huge declared shape costs nothing. A zero-element shape stores
// nothing. Returns non-OK only for a syntax error. REQUIRES: IsJsonReadable(dtype).
Status FillKsData(JsonReader* r, DataType dtype, const Shape& shape, size_t text_bytes, KsDataFill* out);

}  // namespace ferry::protocol
