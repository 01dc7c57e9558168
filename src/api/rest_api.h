// RestApi: the daemon's HTTP front. Routes every request to the TF Serving REST API, the KServe v2 protocol
// (with the binary tensor and model repository extensions) or Ferry's own management endpoints, and answers
// through the Responder. Takes plain http::HttpRequest structs, so it runs without sockets in tests.
//
// Threads: Handle runs on an HTTP I/O thread; it decodes the request, picks the version (holding its handle) and
// hands inference to the version's worker, which encodes and sends the reply. Repository operations (uploads,
// load/unload, config edits) run on a small bounded OperationQueue, never on the I/O thread.
//
// Errors are always {"error": "..."} with the status of the table in README.md (400 malformed, 404 unknown,
// 405 wrong method, 409 exists, 413 too large, 501 unsupported, 503 not ready or queue full).
// Thread safety: Handle may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/operation_queue.h"
#include "auth/token_set.h"
#include "ferry/server.h"
#include "http/http_server.h"
#include "http/http_types.h"

namespace ferry::api {

// One finished request, for the access log.
struct AccessRecord {
  std::string method;
  std::string path;
  int status = 0;
  size_t bytes_in = 0;
  size_t bytes_out = 0;
  double seconds = 0;
  std::string protocol;     // "tfs", "kserve", "ferry", or "" for unrouted requests
  std::string model;        // "" when the request names none
  std::string version;      // the version that answered, or "" (not resolved)
  std::string token;        // the name of the bearer token that was accepted, or ""
  std::string client;       // HTTPS: the subject of the client's verified certificate, or ""
  bool management = false;  // a repository change (upload, delete, config edit, load/unload): for the audit log
};

struct RestApiOptions {
  std::string server_version = "0.0.0";
  size_t max_request_bytes = 64u << 20;  // bytes; bodies of every request but uploads
  size_t max_upload_bytes = 1u << 30;    // bytes; PUT/POST of model versions
  // Optional; called once per answered request, on the thread that answered. Must be thread-safe.
  std::function<void(const AccessRecord&)> on_access;
  // Repository operations (uploads, deletes, config edits, load/unload) run on this many threads; at most
  // repository_queue of them wait, more get 503.
  int repository_threads = 2;
  size_t repository_queue = 64;
  // The DNS-rebinding and cross-site guard of the management routes (uploads, deletes, config, the KServe
  // repository extension), for a server on a loopback address: when non-empty, such a request is refused with
  // 403 unless its Host names one of these host names (any port), any Origin names one too, and any
  // Sec-Fetch-Site is not "cross-site". Lower-case, IPv6 in brackets: {"localhost", "127.0.0.1", "[::1]"}.
  std::vector<std::string> management_hosts;
  // Bearer tokens: while this returns a set, every route but health and server metadata needs a token whose
  // scope and models allow it (401 with WWW-Authenticate without a valid one, 403 out of scope). Called once per
  // request (a reloaded set applies at once); must be thread-safe. Unset or nullptr: no authentication.
  std::function<std::shared_ptr<const auth::TokenSet>()> tokens;
  // Without tokens: whether the management routes are open (to management_hosts) or answer 403 (a server on a
  // non-loopback address, where anyone who reaches the port could replace its models).
  bool management_without_tokens = true;
};

class RestApi {
 public:
  // REQUIRES: server outlives the RestApi and every reply still pending.
  RestApi(Server* server, RestApiOptions options);

  void Handle(http::HttpRequest request, http::Responder respond);

  // How the HTTP server receives a request's body (HttpServerOptions::body_policy): model uploads get
  // max_upload_bytes and are streamed to a file at the top of the repository (a dot name, so scans ignore it,
  // on the repository's filesystem, so the upload is renamed into place rather than copied); every other request
  // gets max_request_bytes in memory.
  http::BodyPolicy BodyPolicy(std::string_view method, std::string_view path) const;

  // Graceful shutdown: from now on every new request gets 503 {"error": "server is shutting down"}; requests
  // already handed in are answered normally.
  void SetShuttingDown() { shutting_down_ = true; }
  // Requests handed to Handle and not answered yet.
  int64_t in_flight() const { return in_flight_->load(); }

 private:
  // The management_hosts guard; FailedPrecondition with the reason when the request is refused.
  Status CheckManagementOrigin(const http::HttpRequest& request) const;

  Server* server_;
  RestApiOptions options_;
  std::unique_ptr<OperationQueue> operations_;
  std::atomic<bool> shutting_down_{false};
  // Shared with the responders, which may run after the RestApi is gone (a reply finishing past shutdown).
  std::shared_ptr<std::atomic<int64_t>> in_flight_ = std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace ferry::api
