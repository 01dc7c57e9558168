// KServe v2 / Open Inference Protocol: health, server and model metadata, readiness, infer (JSON and the binary
// tensor extension) and the model repository extension. Error texts follow Triton where protocols.md quotes
// them; status codes follow the spec and the table in README.md.
#include <nlohmann/json.hpp>

#include "api/api_internal.h"
#include "protocol/kserve_codec.h"

namespace ferry::api {

namespace {

using Json = nlohmann::ordered_json;

Status Unavailable(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }

// The version an infer/metadata/ready request names, with Triton's texts.
Result<VersionRef> Resolve(Call& call, const std::string& model, const std::optional<std::string>& version_text) {
  const Server& server = *call.server;
  std::optional<int64_t> version;
  if (version_text) {
    version = ParseInt64(*version_text);
    if (!version) return NotFound("Request for unknown model: '{}' version {} is not found", model, *version_text);
  }
  Result<VersionRef> handle = server.AcquireVersion(model, version, std::nullopt);
  if (handle.ok()) return handle;
  Result<ModelStatus> status = server.GetModelStatus(model);
  if (!status.ok() || !status->in_repository) {
    return NotFound("Request for unknown model: '{}' is not found", model);
  }
  if (version) {
    bool known = false;
    for (const VersionStatus& v : status->versions) known |= v.version == *version;
    if (!known) return NotFound("Request for unknown model: '{}' version {} is not found", model, *version);
    return Unavailable(fmt::format("Request for unknown model: '{}' version {} is not at ready state ({})", model,
                                   *version, handle.status().message()));
  }
  if (handle.status().code() == StatusCode::kNotFound) return handle.status();
  return Unavailable(
      fmt::format("Request for unknown model: '{}' has no available versions ({})", model, handle.status().message()));
}

http::HttpResponse EmptyReply(int status) {
  http::HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain";
  return r;
}

Json TensorMetadata(const TensorInfo& s) {
  Json shape = Json::array();
  for (const DimInfo& d : s.shape) shape.push_back(d.size >= 0 ? d.size : -1);
  std::string_view dtype = protocol::KsDatatypeName(s.dtype);
  return Json{{"name", s.name}, {"datatype", dtype.empty() ? "BYTES" : std::string(dtype)}, {"shape", shape}};
}

// Parses an optional JSON object body (index, load, unload); "" is an empty object.
Result<Json> OptionalObjectBody(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("failed to parse the request JSON buffer");
  if (!j.is_object()) return InvalidArgument("the request body must be a JSON object");
  return j;
}

}  // namespace

void KsServerMetadata(Call& call) {
  Json j{{"name", "ferry"},
         {"version", call.server_version},
         {"extensions", {"binary_tensor_data", "model_repository", "statistics"}}};
  call.respond(JsonReply(200, j.dump()));
}

void KsHealth(Call& call, bool ready_probe) {
  if (call.shutting_down) return call.respond(ErrorReply(503, "Server exiting"));
  if (!ready_probe) return call.respond(EmptyReply(200));
  call.respond(EmptyReply(call.server->Ready() ? 200 : 400));
}

void KsModelMetadata(Call& call, const std::string& model, std::optional<std::string> version) {
  Result<VersionRef> handle = Resolve(call, model, version);
  if (!handle.ok()) return call.respond(StatusReply(handle.status()));
  const ServedVersion& v = **handle;
  call.info->version = std::to_string(v.version);
  Json versions = Json::array();
  if (version) {
    versions.push_back(std::to_string(v.version));
  } else {
    Result<ModelStatus> status = call.server->GetModelStatus(model);
    if (status.ok()) {
      for (const VersionStatus& s : status->versions) {
        if (s.state == VersionState::kAvailable) versions.push_back(std::to_string(s.version));
      }
    }
  }
  Json inputs = Json::array(), outputs = Json::array();
  for (const TensorInfo& s : v.inputs) inputs.push_back(TensorMetadata(s));
  for (const TensorInfo& s : v.outputs) outputs.push_back(TensorMetadata(s));
  Json j{{"name", model}, {"versions", versions}, {"platform", "onnx"}, {"inputs", inputs}, {"outputs", outputs}};
  call.respond(JsonReply(200, j.dump()));
}

void KsModelReady(Call& call, const std::string& model, std::optional<std::string> version) {
  Result<VersionRef> handle = Resolve(call, model, version);
  if (!handle.ok()) return call.respond(StatusReply(handle.status()));
  call.info->version = std::to_string((*handle)->version);
  call.respond(EmptyReply(200));
}

void KsInfer(Call& call, const std::string& model, std::optional<std::string> version) {
  // Triton's order: the model first (an unknown model is 404 whatever the body), then the body.
  Result<VersionRef> handle = Resolve(call, model, version);
  if (!handle.ok()) return call.respond(StatusReply(handle.status()));
  const ServedVersion& v = **handle;
  call.info->version = std::to_string(v.version);
  std::optional<std::string_view> header_length;
  auto it = call.request->headers.find("inference-header-content-length");
  if (it != call.request->headers.end()) header_length = it->second;
  std::vector<protocol::TensorSpec> input_specs = InputSpecs(v);
  // Binary inputs alias the request body (kept alive by their tensors): no copy between socket and kernel.
  Result<protocol::KsInferRequest> request = protocol::DecodeKsInferRequest(
      std::shared_ptr<const std::string>(call.shared_request, &call.shared_request->body), header_length, &input_specs);
  if (!request.ok()) return call.respond(StatusReply(request.status()));
  Status fits = protocol::CheckKsRequestAgainstModel(*request, input_specs, OutputSpecs(v), model);
  if (!fits.ok()) return call.respond(StatusReply(fits));
  std::map<std::string, Tensor> inputs = protocol::KsInputTensors(*request);
  // What the reply needs of the request, without its input tensors.
  auto wanted = std::make_shared<protocol::KsInferRequest>();
  wanted->id = request->id;
  wanted->binary_data_output = request->binary_data_output;
  wanted->outputs = std::move(request->outputs);
  std::string model_name = model, version_name = std::to_string(v.version);
  // Triton's request parameter "timeout" (microseconds), else the X-Request-Timeout-Us header.
  std::optional<int64_t> timeout_us = RequestTimeoutUs(*call.request);
  if (auto p = request->parameters.find("timeout"); p != request->parameters.end()) {
    if (const int64_t* t = std::get_if<int64_t>(&p->second); t && *t >= 0) {
      timeout_us = *t;
    } else {
      return call.respond(ErrorReply(400, "parameter 'timeout' must be a non-negative integer (microseconds)"));
    }
  }
  RunOnWorker(
      call.server, *handle, std::move(inputs),
      [wanted, model_name, version_name](Result<std::map<std::string, Tensor>> produced) {
        if (!produced.ok()) return StatusReply(produced.status());
        Result<std::vector<protocol::KsInferOutput>> outputs = protocol::SelectKsOutputs(*wanted, *produced);
        if (!outputs.ok()) return StatusReply(outputs.status());
        protocol::KsInferResponse response{model_name, version_name, wanted->id, std::move(*outputs)};
        Result<protocol::KsEncodedResponse> encoded = protocol::EncodeKsInferResponse(response);
        if (!encoded.ok()) return StatusReply(encoded.status());
        http::HttpResponse r;
        r.status = 200;
        r.body = std::move(encoded->body);
        if (encoded->header_length) {
          r.headers["Content-Type"] = "application/octet-stream";
          r.headers["Inference-Header-Content-Length"] = std::to_string(*encoded->header_length);
        } else {
          r.headers["Content-Type"] = "application/json";
        }
        return r;
      },
      call.respond, timeout_us);
}

void KsRepositoryIndex(Call& call) {
  Result<Json> body = OptionalObjectBody(call.request->body);
  if (!body.ok()) return call.respond(StatusReply(body.status()));
  bool ready_only = false;
  if (body->contains("ready")) {
    if (!(*body)["ready"].is_boolean()) {
      return call.respond(ErrorReply(400, "Invalid value for 'ready': expected a boolean"));
    }
    ready_only = (*body)["ready"].get<bool>();
  }
  Json list = Json::array();
  for (const IndexEntry& e : call.server->Index()) {
    if (ready_only && e.state != "READY") continue;
    Json j{{"name", e.name}};
    if (e.version) j["version"] = std::to_string(*e.version);
    if (!e.state.empty()) j["state"] = e.state;
    if (!e.reason.empty()) j["reason"] = e.reason;
    list.push_back(std::move(j));
  }
  call.respond(JsonReply(200, list.dump()));
}

void KsRepositoryLoad(Call& call, const std::string& model, bool load) {
  Result<Json> body = OptionalObjectBody(call.request->body);
  if (!body.ok()) return call.respond(StatusReply(body.status()));
  if (body->contains("parameters")) {
    const Json& params = (*body)["parameters"];
    if (!params.is_object()) return call.respond(ErrorReply(400, "'parameters' must be a JSON object"));
    for (const auto& [key, value] : params.items()) {
      if (load && (key == "config" || key.rfind("file:", 0) == 0)) {
        return call.respond(
            ErrorReply(501, fmt::format("load parameter '{}' is not supported: upload versions with PUT "
                                        "/v1/models/{}/versions/{{v}} and configs with PUT /v1/models/{}/config",
                                        key, model, model)));
      }
      if (!load && key == "unload_dependents" && !value.is_boolean()) {
        return call.respond(ErrorReply(400, "Invalid value for 'unload_dependents': expected a boolean"));
      }
    }
  }
  Status s = load ? call.server->LoadModel(model) : call.server->UnloadModel(model);
  if (!s.ok()) return call.respond(StatusReply(s));
  call.respond(JsonReply(200, ""));
}

namespace {

Json DurationJson(const DurationTotals& d) { return Json{{"count", d.count}, {"ns", d.ns}}; }

Json VersionStatsJson(const VersionStatistics& st) {
  Json batches = Json::array();
  for (const BatchStatistics& b : st.batches) {
    batches.push_back(Json{{"batch_size", b.batch_size},
                           {"compute_input", DurationJson(b.compute_input)},
                           {"compute_infer", DurationJson(b.compute_infer)},
                           {"compute_output", DurationJson(b.compute_output)}});
  }
  Json memory = Json::array();
  for (const VersionStatistics::DeviceMemory& m : st.memory)
    memory.push_back(Json{{"type", m.type}, {"id", m.id}, {"byte_size", m.bytes}});
  return Json{{"name", st.model},
              {"version", std::to_string(st.version)},
              {"last_inference", st.last_inference_ms},
              {"inference_count", st.inference_count},
              {"execution_count", st.execution_count},
              {"inference_stats",
               {{"success", DurationJson(st.success)},
                {"fail", DurationJson(st.fail)},
                {"queue", DurationJson(st.queue)},
                {"compute_input", DurationJson(st.compute_input)},
                {"compute_infer", DurationJson(st.compute_infer)},
                {"compute_output", DurationJson(st.compute_output)},
                {"cache_hit", DurationJson(DurationTotals{})},
                {"cache_miss", DurationJson(DurationTotals{})}}},
              {"response_stats", Json::object()},
              {"batch_stats", batches},
              {"memory_usage", memory}};
}

}  // namespace

void KsStatistics(Call& call, std::optional<std::string> model, std::optional<std::string> version) {
  const Server& server = *call.server;
  Json list = Json::array();
  if (model && version) {
    Result<VersionRef> handle = Resolve(call, *model, version);
    if (!handle.ok()) return call.respond(StatusReply(handle.status()));
    call.info->version = std::to_string((*handle)->version);
    list.push_back(VersionStatsJson(server.Statistics(**handle)));
  } else {
    bool known = !model;
    for (const ModelStatus& m : server.GetStatus()) {
      if (model && m.name != *model) continue;
      known = known || m.in_repository;
      for (const VersionStatus& v : m.versions) {
        if (v.state != VersionState::kAvailable) continue;
        Result<VersionRef> handle = server.AcquireVersion(m.name, v.version, std::nullopt);
        if (handle.ok()) list.push_back(VersionStatsJson(server.Statistics(**handle)));
      }
    }
    if (model && (!known || list.empty())) {
      return call.respond(ErrorReply(404, fmt::format("requested model '{}' is not available", *model)));
    }
  }
  call.respond(JsonReply(200, Json{{"model_stats", list}}.dump()));
}

}  // namespace ferry::api
