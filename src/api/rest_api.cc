#include "api/rest_api.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "api/access_rules.h"
#include "api/api_internal.h"
#include "metrics/metrics.h"

namespace ferry::api {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    out.emplace_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

const http::HttpResponse& MethodNotAllowed() {
  static const http::HttpResponse r = ErrorReply(405, "Method Not Allowed");
  return r;
}

// TF Serving answers paths under /v1/ that match no route with 400 (http_rest_api_handler.cc).
void Malformed(Call& call) {
  call.respond(ErrorReply(400, "Malformed request: " + call.request->method + " " + call.request->path));
}

// The TF Serving grammar plus Ferry's management routes, all under /v1/models.
void RouteV1(Call& call) {
  const std::string& method = call.request->method;
  const std::string& path = call.request->path;
  call.info->protocol = "tfs";
  if (!IStartsWith(path, "/v1/models")) return Malformed(call);
  std::string_view rest = std::string_view(path).substr(std::string_view("/v1/models").size());
  if (rest.empty()) {
    if (method != "GET") return call.respond(MethodNotAllowed());
    return call.respond(ErrorReply(400, "Missing model name in request."));
  }
  if (rest[0] != '/') return Malformed(call);
  rest.remove_prefix(1);
  std::string verb;
  size_t colon = rest.find(':');
  if (colon != std::string_view::npos) {
    verb = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  std::vector<std::string> segs = Split(rest);
  for (const std::string& s : segs) {
    if (s.empty()) return Malformed(call);
  }
  const std::string model = segs[0];
  call.info->model = model;
  std::optional<std::string> version, label;
  size_t i = 1;
  if (segs.size() >= 3 && IEquals(segs[1], "versions")) {
    if (!AllDigits(segs[2])) return Malformed(call);
    version = segs[2];
    i = 3;
  } else if (segs.size() >= 3 && IEquals(segs[1], "labels")) {
    label = segs[2];
    i = 3;
  }
  const size_t tail = segs.size() - i;

  if (!verb.empty()) {
    if (tail != 0) return Malformed(call);
    if (IEquals(verb, "predict")) {
      if (method != "POST") return call.respond(MethodNotAllowed());
      return TfsPredict(call, model, version, label);
    }
    if (IEquals(verb, "classify") || IEquals(verb, "regress")) {
      if (method != "POST") return call.respond(MethodNotAllowed());
      return call.respond(
          ErrorReply(501, verb + " is not supported: ONNX models have no tf.Example signatures; use :predict"));
    }
    return Malformed(call);
  }
  if (tail == 0) {
    if (version && method == "PUT") {
      call.info->protocol = "ferry";
      return RunOffIoThread(call, [model, version](Call& c) { PutVersion(c, model, version); });
    }
    if (version && method == "DELETE") {
      call.info->protocol = "ferry";
      return RunOffIoThread(call, [model, version](Call& c) { DeleteVersion(c, model, *version); });
    }
    if (method != "GET") return call.respond(MethodNotAllowed());
    return TfsStatus(call, model, version, label);
  }
  if (tail == 1 && IEquals(segs[i], "metadata")) {
    if (method != "GET") return call.respond(MethodNotAllowed());
    return TfsMetadata(call, model, version, label);
  }
  if (i == 1 && tail == 1 && IEquals(segs[1], "versions")) {
    call.info->protocol = "ferry";
    if (method != "POST") return call.respond(MethodNotAllowed());
    return RunOffIoThread(call, [model](Call& c) { PutVersion(c, model, std::nullopt); });
  }
  if (i == 1 && tail == 1 && IEquals(segs[1], "config")) {
    call.info->protocol = "ferry";
    if (method == "GET") return GetConfig(call, model);
    if (method == "PUT") return RunOffIoThread(call, [model](Call& c) { PutConfig(c, model); });
    return call.respond(MethodNotAllowed());
  }
  return Malformed(call);
}

void NotFoundRoute(Call& call) { call.respond(ErrorReply(404, "Not Found")); }

// KServe v2 routes, matched as Triton matches them (case-sensitive; versions are [0-9]+).
void RouteV2(Call& call) {
  const std::string& method = call.request->method;
  const std::string& path = call.request->path;
  call.info->protocol = "kserve";
  auto only = [&](const char* allowed) { return method == allowed; };
  if (path == "/v2") {
    if (!only("GET")) return call.respond(MethodNotAllowed());
    return KsServerMetadata(call);
  }
  if (path == "/v2/health/live" || path == "/v2/health/ready") {
    if (!only("GET")) return call.respond(MethodNotAllowed());
    return KsHealth(call, path == "/v2/health/ready");
  }
  std::vector<std::string> segs = Split(std::string_view(path).substr(4));  // after "/v2/"
  if (segs.size() == 2 && segs[0] == "repository" && segs[1] == "index") {
    if (!only("POST")) return call.respond(MethodNotAllowed());
    return KsRepositoryIndex(call);
  }
  if (segs.size() == 4 && segs[0] == "repository" && segs[1] == "models" && !segs[2].empty() &&
      (segs[3] == "load" || segs[3] == "unload")) {
    call.info->model = segs[2];
    if (!only("POST")) return call.respond(MethodNotAllowed());
    const std::string model = segs[2];
    const bool load = segs[3] == "load";
    return RunOffIoThread(call, [model, load](Call& c) { KsRepositoryLoad(c, model, load); });
  }
  if (segs.size() == 2 && segs[0] == "models" && segs[1] == "stats") {
    if (!only("GET")) return call.respond(MethodNotAllowed());
    return KsStatistics(call, std::nullopt, std::nullopt);
  }
  if (segs.size() >= 2 && segs[0] == "models" && !segs[1].empty() && segs[1] != "stats") {
    const std::string& model = segs[1];
    std::optional<std::string> version;
    size_t i = 2;
    if (segs.size() >= 4 && segs[2] == "versions") {
      if (!AllDigits(segs[3])) return NotFoundRoute(call);
      version = segs[3];
      i = 4;
    }
    call.info->model = model;
    if (i == segs.size()) {
      if (!only("GET")) return call.respond(MethodNotAllowed());
      return KsModelMetadata(call, model, version);
    }
    if (i + 1 == segs.size() && segs[i] == "ready") {
      if (!only("GET")) return call.respond(MethodNotAllowed());
      return KsModelReady(call, model, version);
    }
    if (i + 1 == segs.size() && segs[i] == "stats") {
      if (!only("GET")) return call.respond(MethodNotAllowed());
      return KsStatistics(call, model, version);
    }
    if (i + 1 == segs.size() && segs[i] == "infer") {
      if (!only("POST")) return call.respond(MethodNotAllowed());
      return KsInfer(call, model, version);
    }
  }
  return NotFoundRoute(call);
}

bool IsUploadRoute(std::string_view method, std::string_view path) {
  if (method != "PUT" && method != "POST") return false;
  if (!IStartsWith(path, "/v1/models/")) return false;
  std::vector<std::string> segs = Split(path.substr(std::string_view("/v1/models/").size()));
  if (method == "POST") return segs.size() == 2 && IEquals(segs[1], "versions");
  return segs.size() == 3 && IEquals(segs[1], "versions") && segs[2].find(':') == std::string::npos;
}

// PUT/GET /v1/models/{m}/config: a config.yaml, at most kMaxModelConfigBytes.
bool IsConfigRoute(std::string_view path) {
  if (!IStartsWith(path, "/v1/models/")) return false;
  std::vector<std::string> segs = Split(path.substr(std::string_view("/v1/models/").size()));
  return segs.size() == 2 && IEquals(segs[1], "config");
}

// The host name of a Host value or of an Origin's authority: "LocalHost:8501" -> "localhost", "[::1]:8501" ->
// "[::1]".
std::string HostName(std::string_view authority) {
  size_t end = authority.size();
  if (!authority.empty() && authority[0] == '[') {
    end = authority.find(']');
    end = end == std::string_view::npos ? authority.size() : end + 1;
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    end = colon;
  }
  std::string name(authority.substr(0, end));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

// Error messages name files by their place in the repository, never by the server's absolute path: clients have
// no business knowing where the repository lives. "/srv/models/m/1/model.onnx" -> "<repository>/m/1/model.onnx".
void HideRepositoryPath(std::string* body, const std::string& repository) {
  if (repository.empty()) return;
  for (size_t at = body->find(repository); at != std::string::npos; at = body->find(repository, at)) {
    body->replace(at, repository.size(), "<repository>");
  }
}

// Checks the request's bearer token against what the route needs; *name gets the token's name once the token is
// recognized (the access log names it even when refused). InvalidArgument (401) when missing or unknown,
// FailedPrecondition (403) when its scope or models do not allow the route.
Status Authorize(const auth::TokenSet& tokens, const http::HttpRequest& request, const Access& access,
                 std::string* name) {
  auto it = request.headers.find("authorization");
  std::string_view value = it == request.headers.end() ? std::string_view() : std::string_view(it->second);
  if (value.size() < 7 || !IEquals(value.substr(0, 7), "Bearer ")) {
    return InvalidArgument("this server needs a bearer token (Authorization: Bearer <token>)");
  }
  value.remove_prefix(7);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  const auth::Token* token = tokens.Find(value);
  if (token == nullptr) return InvalidArgument("the bearer token is not valid");
  *name = token->name;
  if (!token->Allows(access.scope)) {
    return Status(StatusCode::kFailedPrecondition,
                  fmt::format("token \"{}\" has no {} scope", token->name, auth::ScopeName(access.scope)));
  }
  if (access.server_wide ? !token->CoversServer() : !token->CoversModel(access.model)) {
    return Status(
        StatusCode::kFailedPrecondition,
        access.server_wide
            ? fmt::format("token \"{}\" is limited to some models; this route covers all of them", token->name)
            : fmt::format("token \"{}\" does not cover model \"{}\"", token->name, access.model));
  }
  return Status::Ok();
}

}  // namespace

Status RestApi::CheckManagementOrigin(const http::HttpRequest& request) const {
  const std::vector<std::string>& allowed = options_.management_hosts;
  auto is_allowed = [&](std::string_view authority) {
    return std::find(allowed.begin(), allowed.end(), HostName(authority)) != allowed.end();
  };
  auto header = [&](const char* name) -> const std::string* {
    auto it = request.headers.find(name);
    return it == request.headers.end() ? nullptr : &it->second;
  };
  const std::string* host = header("host");
  if (host == nullptr || !is_allowed(*host)) {
    return Status(StatusCode::kFailedPrecondition,
                  fmt::format("management requests must be addressed to this machine (Host: localhost, 127.0.0.1 or "
                              "[::1]); got Host \"{}\"",
                              host ? host->substr(0, 100) : std::string()));
  }
  if (const std::string* origin = header("origin")) {
    const std::string_view o = *origin;
    const size_t scheme = o.find("://");
    if (scheme == std::string_view::npos || !is_allowed(o.substr(scheme + 3))) {
      return Status(StatusCode::kFailedPrecondition, "cross-origin management requests are refused");
    }
  }
  if (const std::string* site = header("sec-fetch-site"); site != nullptr && IEquals(*site, "cross-site")) {
    return Status(StatusCode::kFailedPrecondition, "cross-site management requests are refused");
  }
  return Status::Ok();
}

RestApi::RestApi(Server* server, RestApiOptions options)
    : server_(server),
      options_(std::move(options)),
      operations_(std::make_unique<OperationQueue>(std::max(1, options_.repository_threads),
                                                   std::max<size_t>(1, options_.repository_queue))) {}

http::BodyPolicy RestApi::BodyPolicy(std::string_view method, std::string_view path) const {
  if (IsUploadRoute(method, path)) return http::BodyPolicy{options_.max_upload_bytes, server_->RepositoryPath()};
  if (IsConfigRoute(path))
    return http::BodyPolicy{std::min<size_t>(options_.max_request_bytes, server_->MaxConfigBytes()), ""};
  return http::BodyPolicy{options_.max_request_bytes, ""};
}

void RestApi::Handle(http::HttpRequest request, http::Responder respond) {
  auto start = std::chrono::steady_clock::now();
  auto info = std::make_shared<RequestInfo>();
  auto req = std::make_shared<const http::HttpRequest>(std::move(request));
  if (!IsUploadRoute(req->method, req->path) && req->body.size() > options_.max_request_bytes) {
    // The HTTP layer applies BodyLimit; this covers a server set up without it.
    respond(ErrorReply(413, fmt::format("request body of {} bytes exceeds the limit of {} bytes", req->body.size(),
                                        options_.max_request_bytes)));
    return;
  }
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto on_access = options_.on_access;
  auto in_flight = in_flight_;
  ++*in_flight;
  Server* server = server_;
  server->RequestStarted();
  std::string repository = server_->RepositoryPath();
  http::Responder wrapped = [respond, info, req, start, answered, on_access, in_flight, server,
                             repository](http::HttpResponse r) {
    if (answered->exchange(true)) return;
    if (r.status >= 400) HideRepositoryPath(&r.body, repository);
    AccessRecord rec;
    rec.method = req->method;
    rec.path = req->path;
    rec.status = r.status;
    rec.bytes_in = req->body_size();
    rec.bytes_out = r.body.size();
    rec.protocol = info->protocol;
    rec.model = info->model;
    rec.version = info->version;
    rec.token = info->token;
    rec.client = req->client_subject;
    rec.management = info->management;
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Model and version labels only for requests that reached a version (unknown names must not add series).
    const bool resolved = !rec.version.empty();
    server->RequestAnswered(
        RequestRecord{rec.protocol, resolved ? rec.model : "", rec.version, rec.status, rec.seconds});
    if (on_access) on_access(rec);
    // Everything that uses the server is done before the reply goes out: whoever waits for the reply may tear
    // the server down at once (tests do).
    respond(std::move(r));
    --*in_flight;  // last: shutdown waits for this, so nothing here runs after the daemon tears down
  };
  Call call{server_, req.get(), wrapped, info, shutting_down_.load(), options_.server_version, req, operations_.get()};
  // `req` stays alive in the wrapped responder until the reply is sent; handlers that answer later copy what
  // they need.
  if (call.shutting_down) return call.respond(ErrorReply(503, "server is shutting down"));
  const Access access = RequiredAccess(req->method, req->path);
  info->management = access.management;
  std::shared_ptr<const auth::TokenSet> tokens = options_.tokens ? options_.tokens() : nullptr;
  if (tokens != nullptr) {
    if (!access.open) {
      Status allowed = Authorize(*tokens, *req, access, &info->token);
      if (allowed.code() == StatusCode::kFailedPrecondition) return call.respond(ErrorReply(403, allowed.message()));
      if (!allowed.ok()) {
        http::HttpResponse r = ErrorReply(401, allowed.message());
        r.headers["WWW-Authenticate"] = "Bearer realm=\"ferryd\"";
        return call.respond(std::move(r));
      }
    }
  } else if (access.repository) {
    if (!options_.management_without_tokens) {
      return call.respond(ErrorReply(403,
                                     "management routes are disabled on a non-loopback address without "
                                     "tokens: set tokens_file in ferryd.yaml (ferryd token create --help)"));
    }
    if (!options_.management_hosts.empty()) {
      if (Status s = CheckManagementOrigin(*req); !s.ok()) return call.respond(ErrorReply(403, s.message()));
    }
  }
  const std::string& path = req->path;
  if (IStartsWith(path, "/v1/")) return RouteV1(call);
  if (path == "/metrics") {
    if (req->method != "GET") return call.respond(MethodNotAllowed());
    http::HttpResponse r;
    r.headers["Content-Type"] = metrics::kContentType;
    r.body = server_->RenderMetrics();
    return call.respond(std::move(r));
  }
  if (path == "/v2" || path.rfind("/v2/", 0) == 0) return RouteV2(call);
  NotFoundRoute(call);
}

}  // namespace ferry::api
