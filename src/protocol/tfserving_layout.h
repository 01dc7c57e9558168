// One validating pass over a TF Serving predict body, for tfserving_codec.cc: checks the whole text as JSON,
// reads the envelope, and notes what the decoder needs to check the tensor value later without walking it
// again: for "instances", instance 0's shape, the first instance whose shape differs, and which instances are
// objects of named inputs; for "inputs", its members. Nothing is kept per instance, so the memory this takes
// follows the body's objects, never its elements. Internal to src/protocol.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"
#include "ferry/tensor.h"
#include "protocol/json_reader.h"

namespace ferry::protocol {

// One value: where its text is and the dense shape its nesting implies (TF Serving's rule: the first list at
// each level fixes that level's size).
struct TfsValue {
  std::string_view raw;
  int depth = 0;  // JSON nesting depth the value sits at
  Shape shape;
  std::string_view kind;  // for messages: JsonValueKindName
};

// "instances", as Parse saw it.
struct TfsRows {
  TfsValue list;  // the whole value (shape not computed)
  bool is_array = false;
  size_t count = 0;
  bool named = false;  // instance 0 is an object of named inputs: the list is in named mode
  // Plain mode: instance 0's shape, the first instance that is an object of named inputs, and the first
  // instance whose shape differs from instance 0's.
  Shape shape;
  std::optional<size_t> first_object;
  std::optional<size_t> first_mismatch;
  Shape mismatch_shape;
};

// "inputs", as Parse saw it.
struct TfsColumns {
  TfsValue value;      // shape computed unless `named`
  bool named = false;  // an object of named inputs
};

struct TfsBodyLayout {
  bool is_object = false;  // the top level; nothing else is set when it is not an object
  std::string signature_name;
  bool signature_is_string = true;
  std::optional<TfsRows> instances;  // a key given twice counts with its last value
  std::optional<TfsColumns> inputs;
};

// Fails only when `body` is not JSON (or nests too deep); the envelope is for the caller to check.
Status ReadTfsBodyLayout(std::string_view body, TfsBodyLayout* out);

// Reads the value at r's cursor: its span and nested shape.
Status ReadTfsValue(JsonReader* r, TfsValue* value);

// Reads the object at r's cursor. For each member, on_member(name, r) must read the value at r's cursor
// (and may keep what it needs). Sets *b64 when the object is {"b64": "<string>"}: TF Serving's binary-string
// value, which counts as a value, not as an object of named inputs.
template <typename OnMember>
Status ReadTfsObject(JsonReader* r, bool* b64, OnMember&& on_member) {
  FERRY_RETURN_IF_ERROR(r->EnterObject());
  std::string name;
  bool first_is_b64 = false;
  size_t n = 0;
  for (;; ++n) {
    bool more;
    FERRY_RETURN_IF_ERROR(r->NextMember(n, &more, &name));
    if (!more) break;
    if (n == 0) first_is_b64 = name == "b64" && r->Peek() == JsonKind::kString;
    FERRY_RETURN_IF_ERROR(on_member(name, r));
  }
  *b64 = n == 1 && first_is_b64;
  return Status::Ok();
}

}  // namespace ferry::protocol
