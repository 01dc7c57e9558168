// TF Serving REST predict codec: the body of `POST /v1/models/{m}[...]:predict` to named tensors, and named
// output tensors to the response body. Plain data in and out: no sockets, no engine.
//
// Request (api_rest.md; TF Serving json_tensor.cc):
//   {"signature_name": "...",  "instances": [...]}   row format: one entry per example, batched on dim 0
//   {"signature_name": "...",  "inputs": <value|object>}   columnar format: whole tensors, no batch dim added
// Response: row -> {"predictions": [...]}, columnar -> {"outputs": ...}.
//
// Every malformed request is an InvalidArgument (HTTP 400) whose message follows TF Serving's wording where the
// spec summary quotes it (e.g. "Missing 'inputs' or 'instances' key"), and names the input, index, and expected
// vs actual shape or type. Input types this build cannot build from JSON (float16, bfloat16, string) are
// Unimplemented. Thread-compatible free functions; nothing is retained after a call returns.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"
#include "ferry/tensor.h"
#include "protocol/tensor_spec.h"

namespace ferry::protocol {

enum class TfsFormat { kRow, kColumnar };

inline constexpr std::string_view kTfsDefaultSignature = "serving_default";

// A predict body that is valid JSON with a well-formed envelope, before its tensors are decoded. Lets the
// handler follow TF Serving's check order (JSON errors before the model lookup, decoding after it).
// Parse checks the whole body in one pass without building a DOM, and on the way notes where each instance
// (or input) lies and the shape its nesting implies; DecodeInputs then reads those bytes once more, straight
// into typed tensor buffers.
// Holds a view of the body, not a copy: REQUIRES: the body outlives this object and its copies.
class TfsPredictBody {
 public:
  // Fails on: empty or invalid JSON, a non-object top level ("Is not object"), a non-string signature_name,
  // both or neither of "instances"/"inputs". A key given twice counts once, with its last value.
  static Result<TfsPredictBody> Parse(std::string_view body);

  // As sent, or "" when absent (the caller treats "" as kTfsDefaultSignature).
  const std::string& signature_name() const { return signature_name_; }
  TfsFormat format() const { return format_; }

  // Builds one tensor per entry of `inputs` (the signature's inputs), of that entry's dtype; the result is
  // keyed by input name. Row format: shape [number of instances] + instance shape. Checks every shape against
  // the spec (rank and fixed dims).
  Result<std::map<std::string, Tensor>> DecodeInputs(const std::vector<TensorSpec>& inputs) const;

 private:
  struct Layout;  // where the instances or inputs are, and their shapes
  std::string_view body_;
  std::shared_ptr<const Layout> layout_;  // null until parsed
  std::string signature_name_;
  TfsFormat format_ = TfsFormat::kRow;
};

struct TfsPredictRequest {
  std::string signature_name;  // "" when absent
  TfsFormat format = TfsFormat::kRow;
  std::map<std::string, Tensor> inputs;
};

// One-shot Parse + DecodeInputs. A signature_name other than "" or kTfsDefaultSignature is refused with
// `Serving signature name: "<s>" not found in signature def` (Ferry models have one signature).
Result<TfsPredictRequest> DecodeTfsPredictRequest(std::string_view body, const std::vector<TensorSpec>& inputs);

// Encodes the response for a request of `format`. `outputs` keyed by output name (every output of the
// signature). Row format requires rank >= 1 outputs that agree on dim 0; with one output the name is omitted,
// with several each prediction is an object keyed by name. Columnar: the tensor itself, or an object keyed by
// name. Floats are shortest round-trip, whole ones with ".0"; non-finite values are the bare tokens NaN,
// Infinity, -Infinity (as TF Serving writes them). String outputs are refused (InvalidArgument).
Result<std::string> EncodeTfsPredictResponse(TfsFormat format, const std::map<std::string, Tensor>& outputs);

// {"error": "<message>"}, the body of every TF Serving error reply.
std::string EncodeTfsError(std::string_view message);

}  // namespace ferry::protocol
