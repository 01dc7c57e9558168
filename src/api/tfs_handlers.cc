// TF Serving REST API: model status, metadata and predict (api_rest.md; shapes of the replies as TF Serving
// prints its protos, see ../shared/reference/protocols.md part 1).
#include <nlohmann/json.hpp>

#include "api/api_internal.h"
#include "protocol/tfserving_codec.h"

namespace ferry::api {

namespace {

using Json = nlohmann::ordered_json;

// TensorFlow's DataType enum names, as the metadata API prints them.
const char* TfDtypeName(DataType t) {
  switch (t) {
    case DataType::kFloat:
      return "DT_FLOAT";
    case DataType::kDouble:
      return "DT_DOUBLE";
    case DataType::kInt32:
      return "DT_INT32";
    case DataType::kUInt8:
      return "DT_UINT8";
    case DataType::kInt16:
      return "DT_INT16";
    case DataType::kInt8:
      return "DT_INT8";
    case DataType::kString:
      return "DT_STRING";
    case DataType::kInt64:
      return "DT_INT64";
    case DataType::kBool:
      return "DT_BOOL";
    case DataType::kUInt16:
      return "DT_UINT16";
    case DataType::kFloat16:
      return "DT_HALF";
    case DataType::kUInt32:
      return "DT_UINT32";
    case DataType::kUInt64:
      return "DT_UINT64";
    case DataType::kBFloat16:
      return "DT_BFLOAT16";
    case DataType::kUndefined:
      break;
  }
  return "DT_INVALID";
}

// Picks the version a predict or metadata request names, with TF Serving's error texts.
Result<VersionRef> Resolve(Call& call, const std::string& model, const std::optional<std::string>& version_text,
                           const std::optional<std::string>& label) {
  const Server& server = *call.server;
  std::optional<int64_t> version;
  if (version_text) {
    version = ParseInt64(*version_text);
    if (!version) return InvalidArgument("Failed to convert version: {} to numeric.", *version_text);
  }
  Result<VersionRef> handle = server.AcquireVersion(model, version, label);
  if (handle.ok() || handle.status().code() != StatusCode::kNotFound) return handle;
  if (!server.GetModelStatus(model).ok()) return NotFound("Servable not found for request: Latest({})", model);
  if (label) {
    Result<std::map<std::string, int64_t>> labels = server.GetLabels(model);
    if (!labels.ok() || !labels->count(*label)) return NotFound("Unrecognized servable version label: {}", *label);
    return NotFound("Servable not found for request: Specific({}, {})", model, labels->at(*label));
  }
  if (version) return NotFound("Servable not found for request: Specific({}, {})", model, *version);
  return NotFound("Servable not found for request: Latest({})", model);
}

Json VersionStatusJson(const VersionStatus& v) {
  Json status;
  const bool failed = v.state == VersionState::kFailed;
  status["error_code"] = failed ? "UNKNOWN" : "OK";
  status["error_message"] = failed ? v.error : "";
  Json j;
  j["version"] = std::to_string(v.version);
  // TF Serving's proto has no FAILED state: a failed load is END with the error in its status.
  j["state"] = failed ? "END" : VersionStateName(v.state);
  j["status"] = std::move(status);
  return j;
}

Json TensorInfoJson(const TensorInfo& s) {
  Json dims = Json::array();
  for (const DimInfo& d : s.shape) {
    dims.push_back(Json{{"size", std::to_string(d.size >= 0 ? d.size : -1)}, {"name", d.name}});
  }
  Json shape;
  if (s.has_shape) shape["dim"] = std::move(dims);
  shape["unknown_rank"] = !s.has_shape;
  return Json{{"dtype", TfDtypeName(s.dtype)}, {"tensor_shape", std::move(shape)}, {"name", s.name}};
}

}  // namespace

void TfsStatus(Call& call, const std::string& model, std::optional<std::string> version,
               std::optional<std::string> label) {
  const Server& server = *call.server;
  Result<ModelStatus> status = server.GetModelStatus(model);
  if (status.ok() && status->versions.empty() && !status->error.empty()) {
    // In the repository, but nothing can be served until its own problem (a config.yaml that does not parse) is
    // fixed: say so, rather than that the model does not exist.
    return call.respond(ErrorReply(503, fmt::format("model {} cannot be served: {}", model, status->error)));
  }
  if (!status.ok() || status->versions.empty()) {
    return call.respond(ErrorReply(404, fmt::format("Could not find any versions of model {}", model)));
  }
  std::optional<int64_t> wanted;
  if (version) {
    wanted = ParseInt64(*version);
    if (!wanted)
      return call.respond(ErrorReply(400, fmt::format("Failed to convert version: {} to numeric.", *version)));
  } else if (label) {
    Result<std::map<std::string, int64_t>> labels = server.GetLabels(model);
    if (!labels.ok() || !labels->count(*label)) {
      return call.respond(ErrorReply(404, fmt::format("Unrecognized servable version label: {}", *label)));
    }
    wanted = labels->at(*label);
  }
  Json list = Json::array();
  for (const VersionStatus& v : status->versions) {
    if (!wanted || v.version == *wanted) list.push_back(VersionStatusJson(v));
  }
  if (list.empty()) {
    return call.respond(ErrorReply(404, fmt::format("Could not find version {} of model {}", *wanted, model)));
  }
  call.respond(JsonReply(200, Json{{"model_version_status", std::move(list)}}.dump(1)));
}

void TfsMetadata(Call& call, const std::string& model, std::optional<std::string> version,
                 std::optional<std::string> label) {
  Result<VersionRef> handle = Resolve(call, model, version, label);
  if (!handle.ok()) return call.respond(StatusReply(handle.status()));
  const ServedVersion& v = **handle;
  call.info->version = std::to_string(v.version);
  Json inputs = Json::object(), outputs = Json::object();
  for (const TensorInfo& s : v.inputs) inputs[s.name] = TensorInfoJson(s);
  for (const TensorInfo& s : v.outputs) outputs[s.name] = TensorInfoJson(s);
  Json signature{{"inputs", std::move(inputs)},
                 {"outputs", std::move(outputs)},
                 {"method_name", "tensorflow/serving/predict"},
                 {"defaults", Json::object()}};
  Json reply{{"model_spec", {{"name", model}, {"signature_name", ""}, {"version", std::to_string(v.version)}}},
             {"metadata", {{"signature_def", {{"signature_def", {{"serving_default", std::move(signature)}}}}}}}};
  call.respond(JsonReply(200, reply.dump(1)));
}

void TfsPredict(Call& call, const std::string& model, std::optional<std::string> version,
                std::optional<std::string> label) {
  // TF Serving's order: JSON first (so bad JSON to an unknown model is 400), then the model, the signature,
  // the tensors.
  Result<protocol::TfsPredictBody> body = protocol::TfsPredictBody::Parse(call.request->body);
  if (!body.ok()) return call.respond(StatusReply(body.status()));
  Result<VersionRef> handle = Resolve(call, model, version, label);
  if (!handle.ok()) return call.respond(StatusReply(handle.status()));
  const ServedVersion& v = **handle;
  call.info->version = std::to_string(v.version);
  const std::string& signature = body->signature_name();
  if (!signature.empty() && signature != protocol::kTfsDefaultSignature) {
    return call.respond(
        ErrorReply(400, fmt::format("Serving signature name: \"{}\" not found in signature def", signature)));
  }
  Result<std::map<std::string, Tensor>> inputs = body->DecodeInputs(InputSpecs(v));
  if (!inputs.ok()) return call.respond(StatusReply(inputs.status()));
  protocol::TfsFormat format = body->format();
  RunOnWorker(
      call.server, *handle, std::move(*inputs),
      [format](Result<std::map<std::string, Tensor>> outputs) {
        if (!outputs.ok()) return StatusReply(outputs.status());
        Result<std::string> encoded = protocol::EncodeTfsPredictResponse(format, *outputs);
        if (!encoded.ok()) return StatusReply(encoded.status());
        return JsonReply(200, std::move(*encoded));
      },
      call.respond, RequestTimeoutUs(*call.request));
}

}  // namespace ferry::api
