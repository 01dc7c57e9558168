// Plain request/response structs for the HTTP front end, and the callback types that connect a handler to the
// server. Nothing here depends on the HTTP library, so handlers are unit-tested without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ferry::http {

// A request body the server streamed to a file instead of memory (routes whose BodyPolicy names a spool
// directory: model uploads). The file is removed when the last reference goes, unless the handler moved it
// away first (a rename within the same filesystem is the cheap way to keep it). Thread-safe to share.
class SpooledFile {
 public:
  SpooledFile(std::string path, uint64_t size) : path_(std::move(path)), size_(size) {}
  ~SpooledFile();
  SpooledFile(const SpooledFile&) = delete;
  SpooledFile& operator=(const SpooledFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }  // bytes, after Content-Encoding was decoded

 private:
  std::string path_;
  uint64_t size_;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string path;    // percent-decoded path, without the query ("/v1/models/m:predict")
  std::string query;   // raw query string after '?', still percent-encoded (decode per component)
  std::map<std::string, std::string> headers;  // names lower-cased; repeated headers joined with ", "
  // The body, with any Content-Encoding (gzip, deflate) already decoded; at most the route's limit. Empty when
  // body_file holds it.
  std::string body;
  std::shared_ptr<const SpooledFile> body_file;  // set instead of `body` for spooled routes
  // Keeps the body's bytes counted against the server's in-memory body budget while any copy of the request
  // lives; opaque to handlers.
  std::shared_ptr<const void> body_lease;
  // HTTPS with client certificates: the subject of the client's verified certificate ("CN=team-a,O=Example"),
  // for logs. Empty otherwise.
  std::string client_subject;

  uint64_t body_size() const { return body_file ? body_file->size() : body.size(); }
};

struct HttpResponse {
  int status = 200;
  // Content-Type defaults to application/json when absent. Content-Length, Transfer-Encoding,
  // Content-Encoding and Connection are the server's and ignored here (except "Connection: close", which
  // closes the connection after the reply); a header whose name or value holds CR, LF or NUL is dropped.
  std::map<std::string, std::string> headers;
  std::string body;
};

// Sends the response. Call it once, from any thread, now or later; calls after the first (or after the server
// stopped and answered the request itself) are ignored. Cheap to copy; safe to outlive the server.
using Responder = std::function<void(HttpResponse)>;

// Handles one request. Runs on one of the server's I/O threads, possibly many at once, so it must be
// thread-safe; it must not block for long (hand slow work to another thread and answer through the Responder):
// every connection of that I/O thread waits meanwhile.
using Handler = std::function<void(HttpRequest, Responder)>;

}  // namespace ferry::http
