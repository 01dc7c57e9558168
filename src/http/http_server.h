// HttpServer: the HTTP/1.1 listener of the daemon, an adapter over cpprestsdk (which stays behind the pimpl: no
// cpprest header, macro or exception escapes this module).
//
// Every request, whatever its method or path, goes to one Handler as a plain HttpRequest; the handler answers
// through its Responder, possibly later and from another thread. The server itself answers only:
//   413 {"error": ...}  when the body is larger than max_body_bytes (Content-Length checked before reading,
//                       then the bytes actually received); the handler is not called;
//   400 {"error": ...}  for a malformed Content-Length, path encoding or an unreadable body;
//   500 {"error": ...}  when the handler throws (handlers should not; this is a safety net);
//   503 {"error": ...}  to every request still unanswered when Stop() runs (see Stop).
//
// Threads: cpprest runs socket I/O, body reads and handlers on one process-wide pool of 40 threads
// (crossplat::threadpool, shared with every other cpprest user in the process). A handler that blocks holds one
// of them; 40 blocked handlers stall the server, so hand slow work off and answer through the Responder.
// Limits of cpprest worth knowing: it writes no response before the whole declared request body has arrived (a
// 413 still lets the client upload everything; the adapter discards it in 64 KiB pieces, so memory stays bounded,
// and then closes the connection), and port 0 cannot be used because the bound port is not reported.
//
// Thread safety: Start/Stop/port may be called from any thread; Stop and the destructor must not be called from
// inside a handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/http_types.h"

namespace ferry::http {

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // address to bind; "0.0.0.0" for all interfaces
  // TCP port, 1..65535. REQUIRES: != 0: cpprestsdk cannot bind port 0 and report the port it got.
  uint16_t port = 8501;
  size_t max_body_bytes = 64u << 20;  // bytes; larger request bodies get 413
  // Optional: the body limit of one request by method and percent-decoded path (e.g. a larger one for
  // uploads); replaces max_body_bytes when set. Called on a pool thread; must be thread-safe and quick.
  std::function<size_t(const std::string& method, const std::string& path)> body_limit;
  int request_timeout_s = 120;        // seconds cpprest allows for reading a request / sending a reply
  int stop_grace_ms = 2000;           // milliseconds Stop() waits for its 503 answers to be written
  // Threads of cpprest's process-wide I/O pool; 0 keeps cpprest's default (40). Takes effect only for the first
  // server of the process, before anything else used cpprest. Fewer threads than 40 matter on small machines:
  // every reply wakes a pool thread, and 40 of them on 2 cores preempt the inference threads
  // (bench/RESULTS.md). Handlers must then never block a pool thread for long.
  int io_threads = 0;
};

class HttpServer {
 public:
  // Binds and starts listening; returns once the port accepts connections. The handler is copied and called
  // until Stop(). Fails with InvalidArgument for a bad host/port and Unavailable when the bind fails
  // (e.g. the port is in use).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, Handler handler);

  ~HttpServer();  // Stops.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting connections and waits for the listener to close. Requests whose handler has not answered
  // yet get 503 {"error": "server is shutting down"} (Stop waits up to stop_grace_ms for those to be written
  // before closing the sockets); their Responders become no-ops, so a handler that never
  // answers costs nothing but the memory it holds. Handlers already running may still be running when Stop
  // returns (they only see their Responder turn into a no-op). Idempotent.
  void Stop();

  uint16_t port() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::http
