// Ferry's own management endpoints: upload (PUT a version, POST the next one), delete, and config.yaml.
#include <nlohmann/json.hpp>

#include "api/api_internal.h"

namespace ferry::api {

namespace {

using Json = nlohmann::ordered_json;

}  // namespace

void PutVersion(Call& call, const std::string& model, std::optional<std::string> version_text) {
  std::optional<int64_t> version;
  if (version_text) {
    version = ParseInt64(*version_text);
    if (!version || *version < 1) {
      return call.respond(
          ErrorReply(400, fmt::format("invalid version \"{}\": versions are positive integers", *version_text)));
    }
  }
  const http::HttpRequest& request = *call.request;
  Result<UploadResult> uploaded = request.body_file
                                      ? call.server->PutVersionFile(model, version, request.body_file->path())
                                      : call.server->PutVersion(model, version, request.body);
  if (!uploaded.ok()) {
    // An upload's ResourceExhausted is a storage limit (max_versions_per_model, max_repository_bytes): 507
    // Insufficient Storage (RFC 4918 11.5), not the 503 + Retry-After of a full queue, since retrying soon won't
    // help.
    if (uploaded.status().code() == StatusCode::kResourceExhausted) {
      return call.respond(ErrorReply(507, uploaded.status().message()));
    }
    return call.respond(StatusReply(uploaded.status()));
  }
  call.info->version = std::to_string(uploaded->version);
  Json j{{"model", model}, {"version", uploaded->version}};
  if (uploaded->served) {
    j["state"] = VersionStateName(uploaded->state);
    if (!uploaded->error.empty()) j["error"] = uploaded->error;
  } else {
    j["state"] = "NOT_SERVED";
    j["reason"] = "stored; the model's version_policy does not select this version";
  }
  call.respond(JsonReply(201, j.dump()));
}

void DeleteVersion(Call& call, const std::string& model, const std::string& version_text) {
  std::optional<int64_t> version = ParseInt64(version_text);
  if (!version || *version < 1) {
    return call.respond(ErrorReply(404, fmt::format("version {} of model \"{}\" not found", version_text, model)));
  }
  call.info->version = std::to_string(*version);
  Status s = call.server->DeleteVersion(model, *version);
  if (!s.ok()) return call.respond(StatusReply(s));
  call.respond(JsonReply(200, Json{{"model", model}, {"version", *version}}.dump()));
}

void GetConfig(Call& call, const std::string& model) {
  Result<std::string> text = call.server->GetConfigText(model);
  if (!text.ok()) return call.respond(StatusReply(text.status()));
  http::HttpResponse r;
  r.status = 200;
  r.headers["Content-Type"] = "application/yaml";
  r.body = std::move(*text);
  call.respond(std::move(r));
}

void PutConfig(Call& call, const std::string& model) {
  Status s = call.server->PutConfig(model, call.request->body);
  if (!s.ok()) return call.respond(StatusReply(s));
  http::HttpResponse r;
  r.status = 200;
  r.headers["Content-Type"] = "application/yaml";
  r.body = call.request->body;
  call.respond(std::move(r));
}

}  // namespace ferry::api
