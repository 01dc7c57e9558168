// KServe v2 / Open Inference Protocol infer codec: the body of `POST /v2/models/{m}[/versions/{v}]/infer` to
// named tensors, and output tensors to the response body, including the binary tensor data extension
// (Triton's `Inference-Header-Content-Length`, `binary_data_size`, `binary_data`, `binary_data_output`).
// Plain data in and out: no sockets, no engine.
//
// Errors: a malformed request is InvalidArgument (HTTP 400, as the spec says; Triton answers 500 to some of
// these), FP16/BF16 sent as JSON included (400, as Triton: only the binary form carries them); a well-formed
// request this build cannot hold (BYTES tensors, shared memory, the classification extension, raw binary
// requests with Inference-Header-Content-Length: 0) is Unimplemented. Messages follow Triton's wording where
// protocols.md quotes it and name the input, the index and expected vs actual.
// Thread-compatible free functions; nothing is retained after a call returns.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ferry/status.h"
#include "ferry/tensor.h"
#include "protocol/tensor_spec.h"

namespace ferry::protocol {

// A `$parameters` value: string, number or boolean. Integers that do not fit int64 are kept as double.
using KsParameterValue = std::variant<bool, int64_t, double, std::string>;
using KsParameters = std::map<std::string, KsParameterValue>;

// "BOOL", "UINT8".."UINT64", "INT8".."INT64", "FP16", "BF16", "FP32", "FP64" <-> DataType. BYTES and unknown
// names map to kUndefined (ParseKsDatatype tells the two apart).
std::string_view KsDatatypeName(DataType dtype);  // "" for types the protocol cannot name (string, undefined)
Result<DataType> ParseKsDatatype(std::string_view name, std::string_view input_name);

struct KsInferInput {
  std::string name;
  std::string datatype;     // as sent
  KsParameters parameters;  // as sent, binary_data_size included
  Tensor tensor;            // dtype and shape as declared, data from "data" or the binary section
};

struct KsRequestedOutput {
  std::string name;
  KsParameters parameters;  // as sent
  bool binary = false;      // resolved: its own "binary_data", else the request's "binary_data_output"
};

struct KsInferRequest {
  std::string id;           // "" when absent
  KsParameters parameters;  // as sent
  bool binary_data_output = false;
  std::vector<KsInferInput> inputs;        // in request order; names are unique
  std::vector<KsRequestedOutput> outputs;  // empty: the client asked for every output
};

// Decodes an infer body. `header_length` is the raw value of the Inference-Header-Content-Length header, or
// nullopt when absent (then the whole body is JSON). With it, body[0, N) is the JSON and the rest holds the
// binary tensors in input order. Checks: JSON shape of every field, datatypes, non-negative dims whose product
// fits int64, element count (flat or nested `data`, only the total is checked) or byte count vs shape,
// exactly one of `data` / `binary_data_size`, no binary bytes left over, duplicate names.
// N == 0 is Triton's raw binary request: the whole body is the data of the model's only input, so it needs
// `raw_inputs` (the model's inputs; Unimplemented when null); that input may have at most one -1 dim, deduced
// from the byte count, and the result asks for every output in binary (binary_data_output = true).
// JSON "data" is read straight into the tensors (no DOM). This overload copies binary tensors out of `body`
// (which need not outlive the call).
Result<KsInferRequest> DecodeKsInferRequest(std::string_view body, std::optional<std::string_view> header_length,
                                            const std::vector<TensorSpec>* raw_inputs = nullptr);

// Same, but binary tensors (and a raw request's input) alias `body` instead of copying it: their Tensors share
// ownership of the body and read it in place, so the bytes reach the kernels with no copy. A tensor whose
// bytes are not aligned to its element size in memory (the JSON header's length decides that), or a BOOL
// tensor with bytes other than 0/1 (normalised to 0/1), is copied instead: at most one copy either way.
// Aliased tensors are read-only (Tensor::Alias). A null `body` is InvalidArgument.
Result<KsInferRequest> DecodeKsInferRequest(std::shared_ptr<const std::string> body,
                                            std::optional<std::string_view> header_length,
                                            const std::vector<TensorSpec>* raw_inputs = nullptr);

// Checks a decoded request against the model: every input known, none missing, datatypes equal, shapes fit
// (rank and fixed dims), every requested output known. Messages name `model_name`.
Status CheckKsRequestAgainstModel(const KsInferRequest& request, const std::vector<TensorSpec>& inputs,
                                  const std::vector<TensorSpec>& outputs, std::string_view model_name);

// Named tensors in the form the engine takes.
std::map<std::string, Tensor> KsInputTensors(const KsInferRequest& request);

struct KsInferOutput {
  std::string name;
  Tensor tensor;
  bool binary = false;  // send as raw bytes after the JSON instead of "data"
};

struct KsInferResponse {
  std::string model_name;
  std::string model_version;  // omitted from the JSON when ""
  std::string id;             // omitted from the JSON when ""
  std::vector<KsInferOutput> outputs;
};

// Picks the outputs to send: the requested ones in request order (with their binary flags), or, when the
// request names none, every produced output in name order with binary = request.binary_data_output.
// A requested name missing from `produced` is InvalidArgument.
Result<std::vector<KsInferOutput>> SelectKsOutputs(const KsInferRequest& request,
                                                   const std::map<std::string, Tensor>& produced);

struct KsEncodedResponse {
  std::string body;
  // Set when binary data follows the JSON: the value of the Inference-Header-Content-Length response header
  // (the JSON's length); the content type is then application/octet-stream, else application/json.
  std::optional<size_t> header_length;
};

// `{"model_name","model_version","id","outputs":[{"name","datatype","shape","data"}]}` with flat data; binary
// outputs carry parameters.binary_data_size instead of data and their bytes are appended in output order.
// Refuses string outputs (InvalidArgument). FP16/BF16 outputs are written as JSON numbers (widened to float).
Result<KsEncodedResponse> EncodeKsInferResponse(const KsInferResponse& response);

// {"error": "<message>"}.
std::string EncodeKsError(std::string_view message);

}  // namespace ferry::protocol
