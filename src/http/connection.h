// Internal to src/http: one client connection of HttpServer and the per-thread event loop it lives on.
//
// A connection reads one request at a time: the request line and header go through Beast's parser, which the
// connection feeds itself (so that each read can be checked: bare LF, request-line length); the header is then
// checked against the limits and the route's BodyPolicy before any body byte is read; the body streams through a
// BodySink; the request goes to the handler, and nothing more is read until its reply has been written, so
// pipelined requests are answered in order. Deadlines (idle, header, body rate, write) are plain time points
// checked by the loop's sweep timer, so a request costs no timer operations.
//
// Threads: everything here runs on the loop's thread, except Responders (any thread), which post to it.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/thread_annotations.h"
#include "http/body_sink.h"
#include "http/http_server.h"
#include "http/request_target.h"

namespace ferry::http::internal {

namespace net = boost::asio;
namespace beast_http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// A Beast body type that hands the body's wire bytes to the connection's BodySink (set after the header).
struct SinkBody {
  using value_type = BodySink*;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(beast_http::header<isRequest, Fields>&, value_type& sink) : sink_(sink) {}
    void init(const boost::optional<std::uint64_t>&, boost::system::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec);
    void finish(boost::system::error_code& ec) { ec = {}; }

   private:
    value_type& sink_;
  };
};

class Connection;

// What every connection and Responder shares. Outlives the I/O threads (Responders may hold it longer).
struct ServerCore {
  ServerCore(HttpServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        budget(std::make_shared<MemoryBudget>(options.max_body_memory_bytes)) {}

  const HttpServerOptions options;
  const Handler handler;
  const std::shared_ptr<MemoryBudget> budget;  // shared with the requests' body leases, which may outlive us
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  // Held shared by a Responder while it posts to a loop, exclusively by Stop when the loops go away: no post
  // ever reaches a destroyed io_context.
  SharedMutex loops_mu;
  bool loops_running GUARDED_BY(loops_mu) = true;

  void Refused(const Refusal& refusal) const {
    if (options.on_refusal) options.on_refusal(refusal);
  }

  // The TLS context new connections use (null: plain HTTP); ReloadTls replaces it.
  std::shared_ptr<net::ssl::context> tls() const {
    MutexLock lock(tls_mu);
    return tls_context;
  }
  void set_tls(std::shared_ptr<net::ssl::context> context) {
    MutexLock lock(tls_mu);
    tls_context = std::move(context);
  }

 private:
  mutable Mutex tls_mu;
  std::shared_ptr<net::ssl::context> tls_context GUARDED_BY(tls_mu);
};

// One I/O thread's event loop and the connections it owns.
struct Loop {
  net::io_context context{1};
  std::vector<std::shared_ptr<Connection>> connections;  // only touched on this loop's thread
  std::unique_ptr<net::steady_timer> sweep;
};

// The state of one request's reply, shared by the connection and the request's Responder.
struct ReplySlot {
  std::atomic<bool> answered{false};
  std::weak_ptr<Connection> connection;
  std::shared_ptr<ServerCore> core;
  net::io_context* context = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `tls` null: plain HTTP; otherwise the connection starts with a TLS handshake and holds the context.
  Connection(std::shared_ptr<ServerCore> core, Loop* loop, tcp::socket socket, std::shared_ptr<net::ssl::context> tls);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Called by the loop's sweep with the current time: acts on a passed deadline.
  void CheckDeadline(Clock::time_point now);
  // Stop(): answers a request the handler holds with 503, lets a reply being written finish, closes the rest.
  void Shutdown();
  // The handler's answer (on this loop's thread).
  void OnReply(const std::shared_ptr<ReplySlot>& slot, HttpResponse response);

  size_t loop_index = 0;  // position in loop->connections

 private:
  enum class Phase { kHandshake, kIdle, kHeader, kBody, kHandler, kWriting, kLingering, kClosed };

  void OnHandshake(const boost::system::error_code& ec);
  void BeginRequest();
  void Read();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void Parse();
  bool SkipLeadingEmptyLines();  // false when it refused the request
  bool CheckHeaderBytes();       // bare LF and request-line length, before the parser sees them
  bool OnHeader();               // false when the request was refused
  void OnMessage();
  void Dispatch(HttpRequest request);
  void Refuse(int status, const std::string& reason, std::vector<std::pair<std::string, std::string>> extra = {});
  void RefuseParse(const boost::system::error_code& ec);
  void RefuseSink(const Status& status);
  static void PostReply(const std::shared_ptr<ReplySlot>& slot, HttpResponse response);
  void WriteResponse(HttpResponse response, bool close);
  void OnWritten(const boost::system::error_code& ec, bool close);
  void Linger();
  void Close();
  // Writes to the client through TLS when it is on.
  template <class Buffers, class Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler);

  std::shared_ptr<ServerCore> core_;
  Loop* loop_;
  tcp::socket socket_;
  std::shared_ptr<net::ssl::context> tls_context_;       // kept alive for tls_
  std::unique_ptr<net::ssl::stream<tcp::socket&>> tls_;  // over socket_; null for plain HTTP
  std::string client_subject_;                           // of the client's verified certificate
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<SinkBody>> parser_;
  std::unique_ptr<BodySink> sink_;

  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point body_start_;
  bool reading_ = false;           // a read is in flight
  bool header_handled_ = false;    // OnHeader ran for the current request
  bool continue_pending_ = false;  // "100 Continue" is due before the body is read
  size_t scanned_ = 0;             // buffered header bytes already checked by CheckHeaderBytes
  size_t header_consumed_ = 0;     // header bytes the parser has consumed (complete lines)
  int empty_lines_ = 0;            // CRLFs skipped before the request line
  bool write_in_flight_ = false;
  bool shutdown_ = false;

  // The current request, for the reply.
  std::string method_;
  std::string target_log_;  // the raw target (its first 256 bytes), for refusal logs
  RequestTarget target_;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool head_ = false;
  ContentCoding response_coding_ = ContentCoding::kIdentity;
  std::shared_ptr<ReplySlot> slot_;

  // The reply being written.
  std::string out_head_;
  std::string out_body_;
  uint64_t lingered_ = 0;
};

template <class Buffers, class Handler>
void Connection::AsyncWrite(const Buffers& buffers, Handler&& handler) {
  if (tls_) {
    net::async_write(*tls_, buffers, std::forward<Handler>(handler));
  } else {
    net::async_write(socket_, buffers, std::forward<Handler>(handler));
  }
}

template <class ConstBufferSequence>
std::size_t SinkBody::reader::put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
  std::size_t used = 0;
  for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
    net::const_buffer b = *it;
    if (sink_ == nullptr || !sink_->Write(static_cast<const char*>(b.data()), b.size()).ok()) {
      ec = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
      return used;
    }
    used += b.size();
  }
  ec = {};
  return used;
}

}  // namespace ferry::http::internal
