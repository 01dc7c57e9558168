// Plain request/response structs for the HTTP front end, and the callback types that connect a handler to the
// server. Nothing here depends on the HTTP library, so handlers are unit-tested without sockets.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace ferry::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string path;    // percent-decoded path, without the query ("/v1/models/m:predict")
  std::string query;   // raw query string after '?', still percent-encoded (decode per component)
  std::map<std::string, std::string> headers;  // names lower-cased; repeated headers joined with ", "
  std::string body;                            // raw bytes, at most HttpServerOptions::max_body_bytes
};

struct HttpResponse {
  int status = 200;
  // Content-Type defaults to application/json when absent. Content-Length and Transfer-Encoding are set by the
  // server and ignored here.
  std::map<std::string, std::string> headers;
  std::string body;
};

// Sends the response. Call it once, from any thread, now or later; calls after the first (or after the server
// stopped and answered the request itself) are ignored. Cheap to copy; safe to outlive the server.
using Responder = std::function<void(HttpResponse)>;

// Handles one request. Runs on one of the HTTP library's pool threads, possibly many at once, so it must be
// thread-safe; it should not block for long (hand slow work to another thread and answer through the Responder).
using Handler = std::function<void(HttpRequest, Responder)>;

}  // namespace ferry::http
