// HttpServer: the HTTP/1.1 server of the daemon, over Boost.Beast's message parser and Boost.Asio sockets (both
// private to this module: no Beast or Asio header, type or exception escapes it).
//
// Every request, whatever its method or path, goes to one Handler as a plain HttpRequest; the handler answers
// through its Responder, possibly later and from another thread. Requests of one connection are handled one
// after the other, so pipelined requests are answered in order. The server itself answers, without calling the
// handler, and logs each through on_refusal:
//   400  malformed framing as RFC 9112 says (a bad request line or header field, a bare LF, a negative,
//        overflowing, repeated or comma-listed Content-Length, Content-Length with Transfer-Encoding, a transfer
//        coding other than a final "chunked", an invalid chunk size), a bad percent-encoding in the path, an
//        HTTP/1.1 request without Host, a corrupt gzip/deflate body; the connection is closed;
//   405  TRACE and CONNECT (never echoed);
//   408  a request whose header is not complete header_timeout_ms after its first byte, or whose body arrives
//        slower than the minimum rate (see body_timeout_ms); the connection is closed;
//   413  a body over the route's limit (Content-Length checked before any body byte is read, and the decoded
//        size of a compressed body while it is decoded); closed;
//   414 / 431  a request line over max_request_line_bytes / a header over max_header_bytes or with more than
//        max_header_count fields; closed;
//   415  a Content-Encoding other than gzip, deflate or identity;
//   417  an Expect other than 100-continue (100-continue is answered with "100 Continue" before the body is
//        read, or with the final 413/415 instead when the body would be refused);
//   500  the handler threw (handlers should not; a safety net);
//   503  the in-memory body budget is exhausted (with Retry-After; closed), or the server is stopping (see Stop).
// Connections beyond max_connections are accepted and closed at once (after a best-effort 503); when the process
// runs out of file descriptors the accept loop backs off (from 10 ms up to 1 s) instead of spinning. An idle
// keep-alive connection is closed after idle_timeout_ms.
//
// Responses: Content-Length framing; the body is compressed with gzip or deflate when the request's
// Accept-Encoding asks for it and the body has at least compress_min_bytes (Vary: Accept-Encoding is set on
// every response that could have been compressed).
//
// TLS: with tls.cert_file set the server speaks HTTPS only (TLS 1.2 or 1.3, through OpenSSL): the handshake must
// finish within header_timeout_ms; a failed one is reported through on_refusal (status 0) and closes the
// connection. With tls.client_ca_file, clients are asked for a certificate signed by one of its CAs (refused at the
// handshake without one when require_client_cert). ReloadTls swaps the certificate for new connections.
//
// Threads: `threads` I/O threads, each running its own event loop; a connection stays on one of them. Handlers
// run on the I/O thread of their connection. Responders post the reply to that thread (the body is compressed
// and written there).
//
// Thread safety: Start/Stop/port may be called from any thread; Stop and the destructor must not be called from
// inside a handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/status.h"
#include "http/http_types.h"

namespace ferry::http {

// How the body of one request is received.
struct BodyPolicy {
  uint64_t max_bytes = 64u << 20;  // bytes, after decoding; larger bodies get 413
  // Non-empty: the body is streamed to a new file in this directory (HttpRequest::body_file) instead of memory,
  // and does not count against max_body_memory_bytes.
  std::string spool_dir;
};

// One request or connection the server refused itself, for the log.
struct Refusal {
  int status = 0;      // the HTTP status sent, or 0 when the connection was closed without one
  std::string reason;  // the message (also the body's "error")
  std::string peer;    // "127.0.0.1:53211"
  std::string method;  // "" when the request line was not read
  std::string target;  // raw request target, "" when not read
};

// HTTPS. Files are PEM and read when the server starts (and on ReloadTls); an empty cert_file means plain HTTP.
struct TlsOptions {
  std::string cert_file;            // the server's certificate, followed by its intermediate CAs
  std::string key_file;             // the private key of cert_file (not encrypted)
  std::string client_ca_file;       // non-empty: clients are asked for a certificate signed by one of these CAs
  bool require_client_cert = true;  // with client_ca_file: refuse clients without a valid certificate

  bool enabled() const { return !cert_file.empty(); }
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // address to bind; "0.0.0.0" or "::" for all interfaces
  uint16_t port = 8501;            // TCP port; 0 takes a free one (see port())
  int threads = 2;                 // I/O threads, 1..256

  size_t max_body_bytes = 64u << 20;  // bytes; the body limit of routes body_policy does not decide
  // Optional: the policy of a request by method and percent-decoded path (e.g. a larger, spooled limit for
  // uploads); replaces max_body_bytes when set. Called on an I/O thread; must be thread-safe and quick.
  std::function<BodyPolicy(std::string_view method, std::string_view path)> body_policy;

  size_t max_request_line_bytes = 8 * 1024;  // bytes of the request line, CRLF included; more gets 414
  size_t max_header_bytes = 32 * 1024;       // bytes of request line plus header fields; more gets 431
  size_t max_header_count = 100;             // header fields; more gets 431
  // Bytes of request bodies held in memory at once by all connections together (spooled bodies excluded).
  // A request that would go over gets 503 with Retry-After. REQUIRES: >= every in-memory route limit.
  uint64_t max_body_memory_bytes = 1ull << 30;
  int header_timeout_ms = 30000;  // from a request's first byte to the end of its header; then 408
  // A body (or a response being written) may take body_timeout_ms plus one second per min_body_bytes_per_second
  // bytes received (sent) so far; a slower client gets 408 (its response is abandoned).
  int body_timeout_ms = 30000;
  uint64_t min_body_bytes_per_second = 16 * 1024;
  int idle_timeout_ms = 60000;       // a keep-alive connection with no request in progress is closed after this
  int max_connections = 1024;        // open client connections; more are closed at once
  size_t compress_min_bytes = 1024;  // smallest response body compressed when Accept-Encoding asks
  int stop_grace_ms = 2000;          // milliseconds Stop() waits for replies still being written

  // Optional: called once per refusal (see above), on an I/O thread. Must be thread-safe and quick.
  std::function<void(const Refusal&)> on_refusal;

  TlsOptions tls;  // HTTPS when tls.enabled()
};

class HttpServer {
 public:
  // Binds, starts listening and starts the I/O threads; returns once the port accepts connections. The handler
  // is copied and called until Stop(). Fails with InvalidArgument for bad options or host and Unavailable when
  // the bind fails (e.g. the port is in use).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, Handler handler);

  ~HttpServer();  // Stops.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting connections. Requests whose handler has not answered yet get
  // 503 {"error": "server is shutting down"}; their Responders become no-ops. Replies being written get up to
  // stop_grace_ms to finish; then every connection is closed and the I/O threads end. Handlers already running
  // may still be running when Stop returns (they only see their Responder turn into a no-op). Idempotent.
  void Stop();

  // Reads the certificate, key and client CAs again (e.g. on SIGHUP): connections accepted from now on use them,
  // open ones keep theirs. On error (FailedPrecondition when the server was started without TLS, InvalidArgument
  // for files that do not load or a key that does not match) the previous ones stay. Thread-safe.
  Status ReloadTls(const TlsOptions& tls);

  uint16_t port() const;    // the bound port (the one the kernel picked when options.port was 0)
  int connections() const;  // open client connections

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::http
