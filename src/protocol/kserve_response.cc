// Response side of the KServe v2 codec (declared in kserve_codec.h): output selection and encoding, JSON data or
// the binary tensor data extension.
#include "protocol/json_util.h"
#include "protocol/kserve_codec.h"

namespace ferry::protocol {

Result<std::vector<KsInferOutput>> SelectKsOutputs(const KsInferRequest& request,
                                                   const std::map<std::string, Tensor>& produced) {
  std::vector<KsInferOutput> out;
  if (request.outputs.empty()) {
    for (const auto& [name, t] : produced) out.push_back({name, t, request.binary_data_output});
    return out;
  }
  for (const KsRequestedOutput& r : request.outputs) {
    auto it = produced.find(r.name);
    if (it == produced.end()) return InvalidArgument("unexpected inference output '{}'", r.name);
    out.push_back({r.name, it->second, r.binary});
  }
  return out;
}

Result<KsEncodedResponse> EncodeKsInferResponse(const KsInferResponse& response) {
  std::string json = "{\"model_name\":";
  AppendJsonString(&json, response.model_name);
  if (!response.model_version.empty()) {
    json += ",\"model_version\":";
    AppendJsonString(&json, response.model_version);
  }
  if (!response.id.empty()) {
    json += ",\"id\":";
    AppendJsonString(&json, response.id);
  }
  json += ",\"outputs\":[";
  size_t binary_bytes = 0;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const KsInferOutput& o = response.outputs[i];
    std::string_view datatype = KsDatatypeName(o.tensor.dtype());
    if (datatype.empty() || !IsJsonWritable(o.tensor.dtype())) {
      return InvalidArgument("output '{}' has type {}, which the protocol cannot carry", o.name,
                             DataTypeName(o.tensor.dtype()));
    }
    if (i) json.push_back(',');
    json += "{\"name\":";
    AppendJsonString(&json, o.name);
    json += ",\"datatype\":\"";
    json += datatype;
    json += "\",\"shape\":[";
    for (size_t d = 0; d < o.tensor.shape().size(); ++d) {
      if (d) json.push_back(',');
      json += std::to_string(o.tensor.shape()[d]);
    }
    json.push_back(']');
    if (o.binary) {
      json += ",\"parameters\":{\"binary_data_size\":" + std::to_string(o.tensor.nbytes()) + "}}";
      binary_bytes += o.tensor.nbytes();
    } else {
      json += ",\"data\":";
      AppendFlatJson(&json, o.tensor.view());
      json.push_back('}');
    }
  }
  json += "]}";

  KsEncodedResponse enc;
  // As Triton: without any binary bytes the reply stays plain JSON (a zero-size binary output needs no bytes).
  if (binary_bytes == 0) {
    enc.body = std::move(json);
    return enc;
  }
  enc.header_length = json.size();
  enc.body = std::move(json);
  enc.body.reserve(enc.body.size() + binary_bytes);
  for (const KsInferOutput& o : response.outputs) {
    if (o.binary && o.tensor.nbytes()) enc.body.append(static_cast<const char*>(o.tensor.data()), o.tensor.nbytes());
  }
  return enc;
}

std::string EncodeKsError(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(&out, message);
  out.push_back('}');
  return out;
}

}  // namespace ferry::protocol
