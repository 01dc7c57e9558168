// The KServe v2 checks shared by kserve_codec_fuzzer and kserve_binary_fuzzer: what a decoded request must look
// like, and the round trip through the response encoder (a response's "outputs" are sent back as a request's
// "inputs", binary section included, and must decode to the same tensors).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "protocol/json_reader.h"
#include "protocol/json_util.h"
#include "protocol/kserve_codec.h"

namespace ferry::protocol::fuzz {

using ::ferry::fuzz::SameTensor;
using ::ferry::fuzz::TensorSummary;

inline void CheckDecodedRequest(const KsInferRequest& req) {
  std::set<std::string> names;
  for (const KsInferInput& in : req.inputs) {
    FUZZ_CHECK(names.insert(in.name).second, "input '" + in.name + "' twice");
    const Tensor& t = in.tensor;
    FUZZ_CHECK(t.defined(), "input '" + in.name + "' has no tensor");
    Result<DataType> dtype = ParseKsDatatype(in.datatype, in.name);
    FUZZ_CHECK(dtype.ok() && *dtype == t.dtype(),
               "input '" + in.name + "': datatype " + in.datatype + " but tensor " + TensorSummary(t));
    for (int64_t d : t.shape()) FUZZ_CHECK(d >= 0, "input '" + in.name + "': " + TensorSummary(t));
    FUZZ_CHECK(t.numel() == 0 || t.data() != nullptr, "input '" + in.name + "' has no data");
    if (t.dtype() == DataType::kBool) {
      const auto* p = t.as<const unsigned char>();
      for (int64_t i = 0; i < t.numel(); ++i) FUZZ_CHECK(p[i] <= 1, "input '" + in.name + "': a bool byte not 0/1");
    }
  }
  std::set<std::string> outputs;
  for (const KsRequestedOutput& o : req.outputs) FUZZ_CHECK(outputs.insert(o.name).second, "output twice");
}

// Both decoders (copying and aliasing) must agree.
inline void CheckSameRequest(const Result<KsInferRequest>& copied, const Result<KsInferRequest>& aliased) {
  FUZZ_CHECK(copied.ok() == aliased.ok(),
             "copy: " + copied.status().ToString() + "\nalias: " + aliased.status().ToString());
  if (!copied.ok()) {
    FUZZ_CHECK(copied.status().ToString() == aliased.status().ToString(),
               "copy: " + copied.status().ToString() + "\nalias: " + aliased.status().ToString());
    return;
  }
  FUZZ_CHECK(copied->id == aliased->id && copied->binary_data_output == aliased->binary_data_output &&
                 copied->inputs.size() == aliased->inputs.size() && copied->outputs.size() == aliased->outputs.size(),
             "the two decoders disagree");
  for (size_t i = 0; i < copied->inputs.size(); ++i) {
    FUZZ_CHECK(copied->inputs[i].name == aliased->inputs[i].name &&
                   SameTensor(copied->inputs[i].tensor, aliased->inputs[i].tensor),
               "input " + std::to_string(i) + " differs between the two decoders");
  }
}

// The encoded response as a request: the top-level "outputs" member renamed "inputs", the rest kept.
inline std::string OutputsAsInputs(std::string_view json) {
  JsonReader r(json);
  FUZZ_CHECK(r.EnterObject().ok(), "the response is not an object");
  std::string out = "{";
  std::string key;
  for (size_t i = 0;; ++i) {
    bool more;
    FUZZ_CHECK(r.NextMember(i, &more, &key).ok(), "the response is not JSON");
    if (!more) break;
    std::string_view raw;
    FUZZ_CHECK(r.SkipValue(&raw).ok(), "the response is not JSON");
    if (i) out += ",";
    AppendJsonString(&out, key == "outputs" ? std::string_view("inputs") : std::string_view(key));
    out += ":";
    out += raw;
  }
  FUZZ_CHECK(r.Finish().ok(), "the response is not one JSON value");
  return out + "}";
}

// Encodes `outputs` as a response and decodes it back as a request: the same names, in order, and bytes.
inline void RoundTrip(const std::vector<KsInferOutput>& outputs, const std::string& id) {
  KsInferResponse response;
  response.model_name = "m";
  response.id = id;
  response.outputs = outputs;
  bool any_binary = false;
  for (KsInferOutput& o : response.outputs) {
    // JSON cannot carry FP16/BF16 requests, only the binary form.
    if (o.tensor.dtype() == DataType::kFloat16 || o.tensor.dtype() == DataType::kBFloat16) o.binary = true;
    any_binary = any_binary || o.binary;
  }
  Result<KsEncodedResponse> enc = EncodeKsInferResponse(response);
  FUZZ_CHECK(enc.ok(), enc.status());
  const size_t json_size = enc->header_length.value_or(enc->body.size());
  const std::string json = OutputsAsInputs(std::string_view(enc->body).substr(0, json_size));
  const std::string body = json + enc->body.substr(json_size);
  // A response whose binary outputs hold no bytes has no Inference-Header-Content-Length; the request needs one.
  const std::string header = std::to_string(json.size());
  std::optional<std::string_view> header_length;
  if (any_binary) header_length = header;
  Result<KsInferRequest> again = DecodeKsInferRequest(body, header_length);
  FUZZ_CHECK(again.ok(), again.status().ToString() + "\nre-sent JSON: " + json.substr(0, 512));
  FUZZ_CHECK(again->id == id, "id '" + id + "' came back as '" + again->id + "'");
  FUZZ_CHECK(again->inputs.size() == outputs.size(), "lost inputs in the round trip");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i].tensor;
    const Tensor& u = again->inputs[i].tensor;
    FUZZ_CHECK(again->inputs[i].name == outputs[i].name,
               "name '" + outputs[i].name + "' came back as '" + again->inputs[i].name + "'");
    FUZZ_CHECK(SameTensor(t, u, /*any_nan=*/!response.outputs[i].binary),
               outputs[i].name + ": " + TensorSummary(t) + " came back as " + TensorSummary(u) +
                   " or with other values; JSON: " + json.substr(0, 512));
  }
}

// The round trips of a decoded request: its inputs sent back as outputs, once as the request selects them
// (when it names only inputs) and once all of them in request order, every other one binary.
inline void RoundTrips(const KsInferRequest& req) {
  std::map<std::string, Tensor> produced = KsInputTensors(req);
  Result<std::vector<KsInferOutput>> selected = SelectKsOutputs(req, produced);
  if (selected.ok()) RoundTrip(*selected, req.id);
  std::vector<KsInferOutput> all;
  for (size_t i = 0; i < req.inputs.size(); ++i) all.push_back({req.inputs[i].name, req.inputs[i].tensor, i % 2 == 1});
  RoundTrip(all, req.id);
}

}  // namespace ferry::protocol::fuzz
