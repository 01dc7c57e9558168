#include "api/access_rules.h"

namespace ferry::api {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The first path segment of `rest`, up to '/' or (TF Serving verbs) ':'.
std::string_view FirstSegment(std::string_view rest, bool stop_at_colon) {
  return rest.substr(0, rest.find_first_of(stop_at_colon ? "/:" : "/"));
}

Access ServerWide() {
  Access a;
  a.server_wide = true;
  return a;
}

Access OnModel(std::string_view model, auth::Scope scope) {
  if (model.empty()) return ServerWide();
  Access a;
  a.model = std::string(model);
  a.scope = scope;
  return a;
}

}  // namespace

Access RequiredAccess(std::string_view method, std::string_view path) {
  if (path == "/v2" || path == "/v2/health/live" || path == "/v2/health/ready") {
    Access a;
    a.open = true;
    return a;
  }
  if (StartsWith(path, "/v1/models/")) {
    const std::string_view rest = path.substr(std::string_view("/v1/models/").size());
    const std::string_view model = FirstSegment(rest, true);
    const std::string_view tail = rest.substr(model.size());
    const size_t colon = tail.rfind(':');
    if (colon != std::string_view::npos && tail.find('/', colon) == std::string_view::npos) {
      return OnModel(model, auth::kInfer);  // :predict, :classify, :regress
    }
    const bool versions = StartsWith(tail, "/versions");
    const bool config = tail == "/config";
    if ((versions && (method == "PUT" || method == "POST" || method == "DELETE")) || (config && method == "PUT")) {
      Access a = OnModel(model, auth::kManage);
      a.management = a.repository = true;
      return a;
    }
    Access a = OnModel(model, auth::kRead);
    a.repository = config;
    return a;
  }
  if (StartsWith(path, "/v2/models/") && path != "/v2/models/stats") {
    const std::string_view rest = path.substr(std::string_view("/v2/models/").size());
    const std::string_view model = FirstSegment(rest, false);
    const bool infer = path.size() >= 6 && path.substr(path.size() - 6) == "/infer";
    return OnModel(model, infer ? auth::kInfer : auth::kRead);
  }
  if (StartsWith(path, "/v2/repository/models/")) {
    const std::string_view rest = path.substr(std::string_view("/v2/repository/models/").size());
    Access a = OnModel(FirstSegment(rest, false), auth::kManage);
    a.management = !a.server_wide;
    a.repository = true;
    return a;
  }
  Access a = ServerWide();
  a.repository = StartsWith(path, "/v2/repository/");  // the index
  return a;
}

}  // namespace ferry::api
